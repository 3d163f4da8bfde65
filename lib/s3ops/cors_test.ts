import assert from "node:assert/strict";
import type { BucketConfig, ProxyConfig } from "../config/config.ts";
import { createHandler } from "../request/handler.ts";
import { type Backend, signed, testPipeline } from "../request/_test_util.ts";
import { matchRule, parseCorsXml } from "./cors.ts";

const APP = "https://app.example.com";
const RULES = [{
  allowedOrigins: [APP, "https://*.tenant.example"],
  allowedMethods: ["GET", "PUT", "HEAD"],
  allowedHeaders: ["content-type", "x-amz-*"],
  exposeHeaders: ["x-amz-meta-note"],
  maxAgeSeconds: 600,
}];

function proxy(
  options: { config?: Partial<ProxyConfig>; bucket?: Partial<BucketConfig>; backend?: Backend } =
    {},
) {
  const { pipeline, seen } = testPipeline({
    config: { cors: RULES, ...options.config },
    bucket: options.bucket,
    backend: options.backend,
  });
  const handler = createHandler(pipeline);
  return { handle: (r: Request) => handler(r, { remoteIp: "10.0.0.1" }), seen };
}

function options(path: string, headers: Record<string, string>): Request {
  return new Request(`http://proxy.test:8080${path}`, { method: "OPTIONS", headers });
}

Deno.test("cors: rules match S3's way (one * per pattern, headers case-insensitive)", () => {
  const q = { origin: APP, method: "PUT", headers: ["x-amz-date", "content-type"] };
  assert.equal(matchRule(RULES, q), RULES[0]);
  assert.equal(matchRule(RULES, { ...q, origin: "https://a.tenant.example" }), RULES[0]);
  assert.equal(matchRule(RULES, { ...q, origin: "https://tenant.example" }), undefined);
  assert.equal(matchRule(RULES, { ...q, origin: "https://app.example.com.evil" }), undefined);
  assert.equal(matchRule(RULES, { ...q, method: "DELETE" }), undefined);
  assert.equal(matchRule(RULES, { ...q, headers: ["authorization"] }), undefined);
  assert.equal(matchRule(RULES, { ...q, origin: "null" }), undefined);
});

Deno.test("cors: a preflight is answered from the rules, unauthenticated, without the backend", async () => {
  const { handle, seen } = proxy();
  for (const path of ["/data/k", "/data/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"]) {
    const res = await handle(options(path, {
      origin: APP,
      "access-control-request-method": "PUT",
      "access-control-request-headers": "Content-Type, X-Amz-Date",
    }));
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("access-control-allow-origin"), APP);
    assert.equal(res.headers.get("access-control-allow-methods"), "GET, PUT, HEAD");
    assert.equal(res.headers.get("access-control-allow-headers"), "content-type, x-amz-date");
    assert.equal(res.headers.get("access-control-max-age"), "600");
    assert.match(
      res.headers.get("access-control-expose-headers")!,
      /ETag.*x-amz-request-id.*x-amz-meta-note/,
    );
    assert.match(res.headers.get("vary")!, /Origin/);
    assert.equal(await res.text(), "");
  }
  assert.equal(seen.length, 0);
});

Deno.test("cors: a preflight no rule allows, or for an unknown bucket, is 403 CORSResponse", async () => {
  const { handle, seen } = proxy();
  const cases: [string, Record<string, string>][] = [
    ["/data/k", { origin: "https://evil.example", "access-control-request-method": "GET" }],
    ["/data/k", { origin: APP, "access-control-request-method": "DELETE" }],
    ["/data/k", {
      origin: APP,
      "access-control-request-method": "PUT",
      "access-control-request-headers": "authorization",
    }],
    ["/data/k", { origin: "null", "access-control-request-method": "GET" }],
    ["/nosuchbucket/k", { origin: APP, "access-control-request-method": "GET" }],
    ["/a%2Fb/k", { origin: APP, "access-control-request-method": "GET" }],
    ["/", { origin: APP, "access-control-request-method": "GET" }],
  ];
  for (const [path, headers] of cases) {
    const res = await handle(options(path, headers));
    assert.equal(res.status, 403, `${path} ${JSON.stringify(headers)}`);
    assert.match(await res.text(), /<Code>AccessForbidden<\/Code><Message>CORSResponse: /);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
  }
  const bare = await handle(options("/data/k", { origin: APP }));
  assert.equal(bare.status, 400);
  assert.match(await bare.text(), /<Code>BadRequest<\/Code>/);
  assert.equal(seen.length, 0);
});

Deno.test("cors: answers to requests with an Origin carry the rule's headers, errors too; the backend's are dropped", async () => {
  const { handle } = proxy({
    config: { validator: (_t, _b, r) => r.key !== "secret" },
    backend: () =>
      new Response("hello", {
        headers: { etag: '"e"', "access-control-allow-origin": "*", "access-control-max-age": "9" },
      }),
  });
  const get = signed("GET", "/data/k", { headers: { origin: APP } });
  const res = await handle(get);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), APP);
  assert.equal(res.headers.get("access-control-allow-credentials"), "true");
  assert.equal(
    res.headers.get("access-control-max-age"),
    null,
    "the backend's CORS headers are dropped",
  );
  assert.match(res.headers.get("access-control-expose-headers")!, /ETag/);
  assert.match(res.headers.get("vary")!, /Origin/);
  assert.equal(await res.text(), "hello");

  const denied = await handle(signed("GET", "/data/secret", { headers: { origin: APP } }));
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.get("access-control-allow-origin"), APP);
  assert.match(await denied.text(), /<Code>AccessDenied<\/Code>/);

  const other = await handle(
    signed("GET", "/data/k", { headers: { origin: "https://evil.example" } }),
  );
  assert.equal(other.headers.get("access-control-allow-origin"), null);
  assert.equal(other.headers.get("access-control-max-age"), null);
  await other.body?.cancel();
});

Deno.test('cors: "backend" rules are read from the bucket, cached, and dropped after PutBucketCors', async () => {
  let rules =
    `<CORSConfiguration><CORSRule><AllowedOrigin>${APP}</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`;
  const { handle, seen } = proxy({
    bucket: { ttl: 300, cors: "backend" },
    backend: (s) => {
      if (s.url.endsWith("?cors=") && s.method === "GET") return new Response(rules);
      return new Response(null, { status: 200 });
    },
  });
  const ask = (method: string) =>
    handle(options("/data/k", { origin: APP, "access-control-request-method": method }));
  assert.equal((await ask("GET")).status, 200);
  assert.equal((await ask("PUT")).status, 403);
  const reads = () => seen.filter((s) => s.url.endsWith("?cors=") && s.method === "GET").length;
  assert.equal(reads(), 1, "cached");
  assert.match(seen[0].headers.get("authorization")!, /Credential=backend-ak\//);
  rules = rules.replace("<AllowedMethod>GET</AllowedMethod>", "<AllowedMethod>PUT</AllowedMethod>");
  const put = await handle(signed("PUT", "/data?cors", { body: rules }));
  assert.equal(put.status, 200);
  assert.equal((await ask("PUT")).status, 200);
  assert.equal(reads(), 2, "read again after PutBucketCors");
});

Deno.test("cors: a CORSConfiguration document becomes rules", () => {
  assert.deepEqual(
    parseCorsXml(
      `<CORSConfiguration><CORSRule><ID>a</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>30</MaxAgeSeconds></CORSRule></CORSConfiguration>`,
    ),
    [{
      allowedOrigins: ["*"],
      allowedMethods: ["GET", "HEAD"],
      allowedHeaders: ["*"],
      exposeHeaders: ["ETag"],
      maxAgeSeconds: 30,
    }],
  );
});
