import assert from "node:assert/strict";
import { createHandler } from "./handler.ts";
import { presignedV2, signed, signedV2, testPipeline } from "./_test_util.ts";

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

Deno.test("handler: SigV2 requests reach the backend re-signed with SigV4, credentials removed", async () => {
  const { handle, seen } = handlerFor();
  const put = await handle(
    signedV2("PUT", "/data/k", {
      body: "hello",
      headers: { "content-type": "text/plain", "x-amz-meta-a": "b" },
    }),
  );
  assert.equal(put.status, 200, await put.text());
  const pre = await handle(presignedV2("GET", "/data/k?versionId=3"));
  assert.equal(pre.status, 200, await pre.text());
  assert.equal(seen.length, 2);
  for (const s of seen) {
    assert.match(s.headers.get("authorization")!, /^AWS4-HMAC-SHA256 Credential=backend-ak\//);
    assert.equal(s.headers.get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  }
  assert.equal(seen[0].url, "http://backend.test:9000/be-data/k");
  assert.equal(seen[0].headers.get("x-amz-meta-a"), "b");
  assert.equal(new TextDecoder().decode(seen[0].body), "hello");
  assert.equal(
    seen[1].url,
    "http://backend.test:9000/be-data/k?versionId=3",
    "AWSAccessKeyId, Expires and Signature are not forwarded",
  );
});
