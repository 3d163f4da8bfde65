import assert from "node:assert/strict";
import type { ValidatorRequest } from "../config/config.ts";
import { createHandler } from "./handler.ts";
import { testPipeline } from "./_test_util.ts";

const PUBLIC = {
  host: "backend.test",
  port: 9000,
  tls: false,
  addressingStyle: "path" as const,
  accessKey: "public-ak",
  secretKey: "public-secret",
  ttl: 0,
  anonymous: ["GetObject", "HeadObject", "ListObjectsV2"],
};

function proxy(validator?: (token: string | null, bucket: string, r: ValidatorRequest) => boolean) {
  const asked: [string | null, string, string][] = [];
  const { pipeline, seen } = testPipeline({
    config: {
      cosMap: { public: PUBLIC, data: { ...PUBLIC, anonymous: [] } },
      validator: (token, bucket, r) => {
        asked.push([token, bucket, r.operation]);
        return validator?.(token, bucket, r) ?? true;
      },
    },
  });
  const handler = createHandler(pipeline);
  const handle = (path: string, init: RequestInit = {}) =>
    handler(new Request(`http://proxy.test:8080${path}`, init), { remoteIp: "10.0.0.1" });
  return { handle, seen, asked };
}

Deno.test("anonymous: a listed operation is re-signed with the bucket's identity, the validator asked with null", async () => {
  const { handle, seen, asked } = proxy();
  const res = await handle("/public/a/b.txt");
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "backend body");
  assert.deepEqual(asked, [[null, "public", "GetObject"]]);
  assert.equal(seen.length, 1);
  assert.match(seen[0].headers.get("authorization")!, /^AWS4-HMAC-SHA256 Credential=public-ak\//);
  const list = await handle("/public?list-type=2&prefix=a%2F");
  assert.equal(list.status, 200);
  await list.body?.cancel();
});

Deno.test("anonymous: what the bucket does not list, or the validator refuses, is AccessDenied and never sent", async () => {
  const { handle, seen } = proxy((token, _b, r) => token !== null || r.operation !== "HeadObject");
  const cases: [string, RequestInit][] = [
    ["/public/k", { method: "PUT", body: "x" }],
    ["/public/k", { method: "DELETE" }],
    ["/public?acl", {}],
    ["/public/k", { method: "HEAD" }],
    ["/data/k", {}],
    ["/", {}],
    ["/public/k", { headers: { "x-amz-acl": "public-read" } }],
    ["/public/k", { headers: { "x-amz-copy-source": "/data/secret" } }],
    ["/public/k?x-amz-acl=public-read", {}],
    ["/public/k", { headers: { "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER" } }],
  ];
  for (const [path, init] of cases) {
    const res = await handle(path, init);
    assert.equal(
      res.status,
      403,
      `${init.method ?? "GET"} ${path} ${JSON.stringify(init.headers)}`,
    );
    if (init.method !== "HEAD") assert.match(await res.text(), /<Code>AccessDenied<\/Code>/);
  }
  assert.equal(seen.length, 0);
});

Deno.test("anonymous: harmless x-amz headers and the integrity checks still apply", async () => {
  const { handle, seen } = proxy();
  const ok = await handle("/public/k", {
    headers: { "x-amz-user-agent": "sdk", "x-amz-meta-a": "1" },
  });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  const dup = await handle("/public/k?versionId=a&versionId=b");
  assert.equal(dup.status, 400);
  assert.match(await dup.text(), /<Code>InvalidArgument<\/Code>/);
  const badName = await handle("/a%2Fb/k");
  assert.equal(badName.status, 400);
  await badName.body?.cancel();
  assert.equal(seen.length, 1);
});
