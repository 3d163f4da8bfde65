import assert from "node:assert/strict";
import { headerSnapshot } from "./header_snapshot.ts";

Deno.test("headerSnapshot: what forEach and get give, read once per Headers", () => {
  const headers = new Headers([
    ["X-Amz-Date", "20250115T123000Z"],
    ["host", "example.test"],
    ["x-amz-meta-a", "1"],
    ["X-Amz-Meta-A", "2"],
    ["accept", " text/plain "],
  ]);
  const walked: [string, string][] = [];
  headers.forEach((value, name) => walked.push([name, value]));
  const snapshot = headerSnapshot(headers);
  assert.deepEqual(snapshot.list, walked);
  for (const name of ["x-amz-date", "X-Amz-Date", "x-amz-meta-a", "accept", "absent"]) {
    assert.equal(snapshot.get(name), headers.get(name), name);
  }
  assert.equal(headerSnapshot(headers), snapshot, "one snapshot per Headers object");
  assert.notEqual(headerSnapshot(new Headers(headers)), snapshot);
});
