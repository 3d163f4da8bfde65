import assert from "node:assert/strict";
import { createHandler } from "./handler.ts";
import { signed, testPipeline } from "./_test_util.ts";

function handlerFor(config: object = {}) {
  const { pipeline, seen } = testPipeline({ config });
  const counts = new Map<string, Map<string, number>>();
  const handler = createHandler({ ...pipeline, requestCounts: counts });
  const conn = { remoteIp: "10.0.0.1", completed: Promise.resolve() };
  return { handle: (r: Request) => handler(r, conn), seen, counts };
}

Deno.test("handler: a request runs every stage and the backend's answer comes back with a request id", async () => {
  const { handle, seen, counts } = handlerFor();
  const response = await handle(signed("GET", "/data/k"));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "backend body");
  assert.match(response.headers.get("x-amz-request-id")!, /^[0-9A-F]{16}$/);
  assert.equal(seen.length, 1);
  await Promise.resolve();
  assert.equal(counts.get("data")?.get("GetObject"), 1);
});

Deno.test("handler: a refusal from any stage is S3 XML, rendered once, and nothing is sent", async () => {
  const { handle, seen } = handlerFor({ validator: () => false });
  for (
    const [request, status, code] of [
      [signed("GET", "/data/k"), 403, "AccessDenied"],
      [signed("GET", "/a%2Fb/k"), 400, "InvalidBucketName"],
      [signed("GET", "/data/k?versionId=1&versionId=2"), 400, "InvalidArgument"],
      [new Request("http://proxy.test:8080/data/k"), 403, "AccessDenied"],
    ] as const
  ) {
    const response = await handle(request);
    assert.equal(response.status, status);
    const text = await response.text();
    assert.match(text, new RegExp(`<Code>${code}</Code>`));
    assert.match(
      text,
      new RegExp(`<RequestId>${response.headers.get("x-amz-request-id")}</RequestId>`),
    );
    assert.equal(response.headers.get("server"), "osp");
  }
  assert.equal(seen.length, 0);
});
