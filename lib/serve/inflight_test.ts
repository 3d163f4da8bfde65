import assert from "node:assert/strict";
import { InFlight } from "./inflight.ts";

Deno.test("InFlight counts what is added and deleted, and reuses free slots", () => {
  const inflight = new InFlight();
  const a = new AbortController();
  const b = new AbortController();
  const slotA = inflight.add(a);
  const slotB = inflight.add(b);
  assert.notEqual(slotA, slotB);
  assert.equal(inflight.size, 2);
  inflight.delete(slotA, a);
  assert.equal(inflight.size, 1);
  const c = new AbortController();
  assert.equal(inflight.add(c), slotA, "a free slot is taken before the array grows");
  assert.equal(inflight.size, 2);
});

Deno.test("InFlight: deleting twice, or after the slot was reused, removes nothing else", () => {
  const inflight = new InFlight();
  const a = new AbortController();
  const slot = inflight.add(a);
  inflight.delete(slot, a);
  inflight.delete(slot, a);
  assert.equal(inflight.size, 0);
  const b = new AbortController();
  assert.equal(inflight.add(b), slot);
  inflight.delete(slot, a); // a's late second settlement
  assert.equal(inflight.size, 1);
  inflight.abortAll("stop");
  assert.equal(b.signal.aborted, true, "b is still tracked");
});

Deno.test("InFlight.abortAll aborts the requests in flight only, with the reason", () => {
  const inflight = new InFlight();
  const done = new AbortController();
  const open = [new AbortController(), new AbortController()];
  inflight.delete(inflight.add(done), done);
  for (const a of open) inflight.add(a);
  inflight.abortAll("shutdown grace period over");
  assert.equal(done.signal.aborted, false);
  for (const a of open) assert.equal(a.signal.reason, "shutdown grace period over");
});
