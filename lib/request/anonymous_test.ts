import assert from "node:assert/strict";
import type { ValidatorRequest } from "../config/config.ts";
import { createHandler } from "./handler.ts";
import { createHash } from "node:crypto";
import { type BackendSeen, BASE, CLIENT, signed, testPipeline } from "./_test_util.ts";

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

/** A bucket that sends its anonymous operations unsigned, with no static identity of its own. */
function unsignedProxy(validator?: (token: string | null, r: ValidatorRequest) => boolean) {
  const asked: [string | null, string, string][] = [];
  const { pipeline, seen } = testPipeline({
    config: {
      cosMap: {
        "*": {
          host: "backend.test",
          port: 9000,
          tls: false,
          addressingStyle: "path",
          ttl: 0,
          backendCredentials: { [CLIENT.accessKey]: { accessKey: "own-ak", secretKey: "own-sk" } },
          anonymous: ["GetObject", "ListObjectsV2", "PutObject", "DeleteObject"],
          anonymousAs: "anonymous",
        },
      },
      validator: (token, bucket, r) => {
        asked.push([token, bucket, r.operation]);
        return validator?.(token, r) ?? true;
      },
    },
  });
  const handler = createHandler(pipeline);
  const handle = (request: Request) => handler(request, { remoteIp: "10.0.0.1" });
  return { handle, seen, asked };
}

/** Asserts that a backend request carries no authorization of any kind. */
function assertUnsigned(seen: BackendSeen): void {
  const names = [...seen.headers.keys()];
  for (
    const name of ["authorization", "x-amz-date", "x-amz-security-token", "ibm-service-instance-id"]
  ) {
    assert.ok(!names.includes(name), `${name} in ${names.join(", ")}`);
  }
  const query = new URL(seen.url).searchParams;
  for (const name of query.keys()) {
    assert.doesNotMatch(name, /^x-amz-|^awsaccesskeyid$|^signature$/i);
  }
}

Deno.test('anonymous: with anonymousAs "anonymous" the request reaches the backend unsigned', async () => {
  const { handle, seen, asked } = unsignedProxy();
  const get = await handle(
    new Request(`${BASE}/pub/a/b.txt`, { headers: { "x-amz-meta-a": "1" } }),
  );
  assert.equal(get.status, 200);
  assert.equal(await get.text(), "backend body");
  const put = await handle(
    new Request(`${BASE}/pub/k`, {
      method: "PUT",
      body: "payload",
      headers: { "content-length": "7" },
    }),
  );
  assert.equal(put.status, 200);
  await put.body?.cancel();
  const del = await handle(new Request(`${BASE}/pub/k`, { method: "DELETE" }));
  assert.equal(del.status, 200);
  await del.body?.cancel();
  // Presign parameters that are not credentials (a date, a session token) are not sent on.
  const odd = await handle(
    new Request(`${BASE}/pub?list-type=2&X-Amz-Date=20250115T123000Z&X-Amz-Security-Token=t`),
  );
  assert.equal(odd.status, 200);
  await odd.body?.cancel();
  assert.deepEqual(asked, [
    [null, "pub", "GetObject"],
    [null, "pub", "PutObject"],
    [null, "pub", "DeleteObject"],
    [null, "pub", "ListObjectsV2"],
  ]);
  assert.deepEqual(seen.map((s) => [s.method, s.url]), [
    ["GET", "http://backend.test:9000/pub/a/b.txt"],
    ["PUT", "http://backend.test:9000/pub/k"],
    ["DELETE", "http://backend.test:9000/pub/k"],
    ["GET", "http://backend.test:9000/pub?list-type=2"],
  ]);
  for (const s of seen) assertUnsigned(s);
  assert.equal(seen[0].headers.get("x-amz-meta-a"), "1");
  assert.equal(new TextDecoder().decode(seen[1].body), "payload");
  assert.equal(seen[1].headers.has("x-amz-content-sha256"), false);
});

Deno.test('anonymous: with anonymousAs "anonymous" a literal payload hash still goes, signed callers keep their identity', async () => {
  const { handle, seen } = unsignedProxy();
  const hash = createHash("sha256").update("payload").digest("hex");
  const put = await handle(
    new Request(`${BASE}/pub/k`, {
      method: "PUT",
      body: "payload",
      headers: { "x-amz-content-sha256": hash, "content-length": "7" },
    }),
  );
  assert.equal(put.status, 200);
  await put.body?.cancel();
  assertUnsigned(seen[0]);
  assert.equal(seen[0].headers.get("x-amz-content-sha256"), hash);
  assert.equal(new TextDecoder().decode(seen[0].body), "payload");
  const get = await handle(signed("GET", "/pub/k"));
  assert.equal(get.status, 200);
  await get.body?.cancel();
  assert.match(seen[1].headers.get("authorization")!, /^AWS4-HMAC-SHA256 Credential=own-ak\//);
});

Deno.test('anonymous: with anonymousAs "anonymous" the same checks apply and nothing refused is sent', async () => {
  const { handle, seen } = unsignedProxy((_t, r) => r.key !== "secret");
  const cases: [string, RequestInit][] = [
    ["/pub/secret", {}],
    ["/pub/k", { method: "HEAD" }],
    ["/pub?acl", {}],
    ["/", {}],
    ["/pub/k", { method: "PUT", body: "x", headers: { "x-amz-acl": "public-read" } }],
    ["/pub/k", { method: "PUT", body: "", headers: { "x-amz-copy-source": "/other/k" } }],
    ["/pub/k", { headers: { "x-amz-security-token": "t" } }],
    ["/pub/k?x-amz-acl=public-read", {}],
    ["/pub/k", { headers: { "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER" } }],
  ];
  for (const [path, init] of cases) {
    const res = await handle(new Request(`${BASE}${path}`, init));
    assert.equal(
      res.status,
      403,
      `${init.method ?? "GET"} ${path} ${JSON.stringify(init.headers)}`,
    );
    await res.body?.cancel();
  }
  assert.equal(seen.length, 0);
});
