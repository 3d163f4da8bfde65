import assert from "node:assert/strict";
import type { ProxyConfig } from "../config/config.ts";
import { S3Error } from "./errors.ts";
import { type Outbound, prepare } from "./prepare.ts";
import { admitted, freshState, signed, testPipeline } from "./_test_util.ts";

async function prepared(request: Request, config: Partial<ProxyConfig> = {}) {
  const { pipeline } = testPipeline({ config });
  const state = freshState();
  const admission = await admitted(pipeline, request, state);
  return await prepare(pipeline, admission, { body: request.body, state });
}

function outbound(value: Outbound | Response): Outbound {
  assert.ok(!(value instanceof Response), "expected an Outbound");
  return value;
}

Deno.test("prepare: a plain request becomes an Outbound with its credentials and body plan", async () => {
  const out = outbound(await prepared(signed("PUT", "/data/k", { body: "hello" })));
  assert.deepEqual(out.creds, {
    kind: "hmac",
    accessKey: "backend-ak",
    secretKey: "backend-secret",
  });
  assert.equal(out.plan.contentLength, 5);
  assert.equal(out.copySource, undefined);
  assert.deepEqual(out.deniedDeletes, []);
});

Deno.test("prepare: a copy gets its source authorized as GetObject and forwarded in the client's form", async () => {
  const asked: string[] = [];
  const out = outbound(
    await prepared(
      signed("PUT", "/data/copy", { headers: { "x-amz-copy-source": "data/dir/a%20b" } }),
      {
        validator: (_t, b, r) => {
          asked.push(`${r.operation} ${b} ${r.key}`);
          return true;
        },
      },
    ),
  );
  assert.deepEqual(asked, ["CopyObject data copy", "GetObject data dir/a b"]);
  assert.equal(out.copySource, "be-data/dir/a%20b");
  await assert.rejects(
    () =>
      prepared(signed("PUT", "/data/copy", { headers: { "x-amz-copy-source": "/data/k" } }), {
        validator: (_t, _b, r) => r.operation !== "GetObject",
      }),
    (e: unknown) => e instanceof S3Error && e.code === "AccessDenied",
  );
});

Deno.test("prepare: x-amz-copy-source on an operation that is no copy is InvalidRequest", async () => {
  await assert.rejects(
    () => prepared(signed("PUT", "/data/k?acl", { headers: { "x-amz-copy-source": "/data/k" } })),
    (e: unknown) => e instanceof S3Error && e.code === "InvalidRequest",
  );
});

Deno.test("prepare: DeleteObjects sends only the allowed keys; all refused is answered by osp", async () => {
  const xml = "<Delete><Object><Key>keep</Key></Object><Object><Key>go</Key></Object></Delete>";
  const validator = (_t: string | null, _b: string, r: { operation: string; key?: string }) =>
    r.operation !== "DeleteObject" || r.key === "go";
  const out = outbound(
    await prepared(signed("POST", "/data?delete", { body: xml }), { validator }),
  );
  assert.deepEqual(out.deniedDeletes, [{ key: "keep" }]);
  const sent = await new Response(out.plan.body(null, {} as never)).text();
  assert.match(sent, /<Key>go<\/Key>/);
  assert.doesNotMatch(sent, /keep/);
  assert.equal(out.plan.headerEdits["content-md5"] !== undefined, true);

  const none = await prepared(signed("POST", "/data?delete", { body: xml }), {
    validator: (_t, _b, r) => r.operation !== "DeleteObject",
  });
  assert.ok(none instanceof Response);
  assert.match(await none.text(), /<Code>AccessDenied<\/Code>.*<Code>AccessDenied<\/Code>/);
});

Deno.test("prepare: only ListBuckets is served without a bucket", async () => {
  const list = await prepared(signed("GET", "/"));
  assert.ok(list instanceof Response);
  assert.match(await list.text(), /<Name>data<\/Name>/);
  await assert.rejects(
    () => prepared(signed("DELETE", "/")),
    (e: unknown) => e instanceof S3Error && e.code === "MethodNotAllowed",
  );
});
