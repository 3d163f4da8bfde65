import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { postForm, type PostFormOptions } from "../../tests/_sign.ts";
import type { BucketConfig, ProxyConfig } from "../config/config.ts";
import { createHandler } from "./handler.ts";
import { BASE, CLIENT, NOW, testPipeline } from "./_test_util.ts";
import type { ValidatorRequest } from "../config/config.ts";

// Form uploads go out through osp's own HTTP/1.1 client: the backend is a real local server.
interface Seen {
  method: string;
  url: string;
  headers: Headers;
  body: Uint8Array;
}
const seenByBackend: Seen[] = [];
const backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
  const body = new Uint8Array(await req.arrayBuffer());
  const url = new URL(req.url);
  seenByBackend.push({
    method: req.method,
    url: `http://backend.test:9000${url.pathname}`,
    headers: req.headers,
    body,
  });
  return new Response(null, { status: 200, headers: { etag: '"abc"' } });
});
addEventListener("unload", () => backend.shutdown());

function handlerFor(config: Partial<ProxyConfig> = {}, bucket: Partial<BucketConfig> = {}) {
  const { pipeline } = testPipeline({
    config,
    bucket: { host: "127.0.0.1", port: backend.addr.port, ...bucket },
  });
  const handler = createHandler(pipeline);
  const conn = { remoteIp: "10.0.0.1", completed: Promise.resolve() };
  seenByBackend.length = 0;
  return { handle: (r: Request) => handler(r, conn), seen: seenByBackend };
}

function formRequest(
  options: Partial<PostFormOptions> & { path?: string; host?: string } = {},
): Request {
  const { body, contentType } = postForm({
    ...CLIENT,
    time: NOW,
    bucket: "data",
    fields: { key: "up/${filename}", "Content-Type": "text/plain", "x-amz-meta-note": "hi" },
    file: "hello form",
    filename: "a.txt",
    conditions: undefined,
    ...options,
  });
  return new Request(BASE + (options.path ?? "/data"), {
    method: "POST",
    headers: { "content-type": contentType, "content-length": String(body.length) },
    body,
  });
}

const BOTO_CONDITIONS = (extra: unknown[] = []) => [
  { bucket: "data" },
  ["starts-with", "$key", "up/"],
  { "Content-Type": "text/plain" },
  ["starts-with", "$x-amz-meta-note", ""],
  { "x-amz-algorithm": "AWS4-HMAC-SHA256" },
  { "x-amz-credential": `${CLIENT.accessKey}/20250115/us-east-1/s3/aws4_request` },
  { "x-amz-date": "20250115T123000Z" },
  ...extra,
];

async function code(response: Response): Promise<string> {
  return /<Code>([^<]*)<\/Code>/.exec(await response.text())?.[1] ?? "";
}

Deno.test("post: a verified form becomes a PUT of the file to its key, answered 204", async () => {
  const asked: ValidatorRequest[] = [];
  const { handle, seen } = handlerFor({
    validator: (_t, _b, r) => {
      asked.push(r);
      return true;
    },
  });
  const response = await handle(formRequest({ conditions: BOTO_CONDITIONS() }));
  assert.equal(response.status, 204, await response.clone().text());
  assert.equal(response.headers.get("etag"), '"abc"');
  assert.equal(response.headers.get("location"), `${BASE}/data/up/a.txt`);
  assert.equal(seen.length, 1);
  const put = seen[0];
  assert.equal(put.method, "PUT");
  assert.equal(put.url, "http://backend.test:9000/be-data/up/a.txt");
  assert.equal(new TextDecoder().decode(put.body), "hello form");
  assert.equal(put.headers.get("content-type"), "text/plain");
  assert.equal(put.headers.get("x-amz-meta-note"), "hi");
  assert.equal(
    put.headers.get("x-amz-content-sha256"),
    createHash("sha256").update("hello form").digest("hex"),
  );
  assert.match(put.headers.get("authorization")!, /Credential=backend-ak\//);
  assert.equal(asked.length, 1);
  assert.equal(asked[0].operation, "PutObject");
  assert.equal(asked[0].key, "up/a.txt");
  assert.equal(asked[0].method, "PUT");
});

Deno.test("post: success_action_status 201 answers a PostResponse, 200 an empty 200", async () => {
  const { handle } = handlerFor();
  const r201 = await handle(
    formRequest({ fields: { key: "k1", success_action_status: "201" } }),
  );
  assert.equal(r201.status, 201);
  const xml = await r201.text();
  assert.match(xml, /<PostResponse><Location>http:\/\/proxy.test:8080\/data\/k1<\/Location>/);
  assert.match(xml, /<Bucket>data<\/Bucket><Key>k1<\/Key><ETag>&quot;abc&quot;<\/ETag>/);
  const r200 = await handle(formRequest({ fields: { key: "k2", success_action_status: "200" } }));
  assert.equal(r200.status, 200);
  assert.equal(await r200.text(), "");
});

Deno.test("post: success_action_redirect answers 303 with bucket, key and etag", async () => {
  const { handle } = handlerFor();
  const response = await handle(
    formRequest({
      fields: { key: "a b", success_action_redirect: "https://app.example/done?x=1" },
    }),
  );
  assert.equal(response.status, 303);
  const location = new URL(response.headers.get("location")!);
  assert.equal(location.origin + location.pathname, "https://app.example/done");
  assert.equal(location.searchParams.get("x"), "1");
  assert.equal(location.searchParams.get("bucket"), "data");
  assert.equal(location.searchParams.get("key"), "a b");
  assert.equal(location.searchParams.get("etag"), '"abc"');
});

Deno.test("post: policy violations are refused and nothing reaches the backend", async () => {
  const { handle, seen } = handlerFor();
  const cases: [Request, number, string][] = [
    [formRequest({ expiration: NOW - 1000 }), 403, "AccessDenied"],
    [
      formRequest({ conditions: BOTO_CONDITIONS(), fields: { key: "other/x" } }),
      403,
      "AccessDenied",
    ],
    [
      formRequest({ conditions: BOTO_CONDITIONS([["content-length-range", 0, 3]]) }),
      400,
      "EntityTooLarge",
    ],
    [
      formRequest({ conditions: BOTO_CONDITIONS([["content-length-range", 100, 200]]) }),
      400,
      "EntityTooSmall",
    ],
    [
      formRequest({
        conditions: BOTO_CONDITIONS(),
        fields: {
          key: "up/${filename}",
          "Content-Type": "text/plain",
          "x-amz-meta-note": "",
          acl: "public-read",
        },
      }),
      403,
      "AccessDenied",
    ],
    [formRequest({ tamper: (p) => p.replace(/.$/, "") + "A" }), 403, "SignatureDoesNotMatch"],
    [formRequest({ signature: "0".repeat(64) }), 403, "SignatureDoesNotMatch"],
    [formRequest({ secretKey: "wrong" }), 403, "SignatureDoesNotMatch"],
    [formRequest({ accessKey: "nobody" }), 403, "InvalidAccessKeyId"],
    [formRequest({ conditions: [{ bucket: "other" }] }), 403, "AccessDenied"],
  ];
  for (const [request, status, expected] of cases) {
    const response = await handle(request);
    assert.equal(response.status, status);
    assert.equal(await code(response), expected);
  }
  assert.equal(seen.length, 0);
});

Deno.test("post: the validator's no, and the presign use cap keyed on the form's signature", async () => {
  const refused = handlerFor({ validator: () => false });
  const no = await refused.handle(formRequest());
  assert.equal(no.status, 403);
  assert.equal(refused.seen.length, 0);
  const capped = handlerFor({ maxPresignUrlUsageAttempts: 1 });
  assert.equal((await capped.handle(formRequest())).status, 204);
  const again = await capped.handle(formRequest());
  assert.equal(again.status, 403);
  assert.match(await again.text(), /use limit/);
  assert.equal(capped.seen.length, 1);
});

const TAGGING = "<Tagging><TagSet><Tag><Key>team</Key><Value>a b&amp;c</Value></Tag>" +
  "<Tag><Key>env</Key><Value>prod</Value></Tag></TagSet></Tagging>";

Deno.test("post: a tagging field goes out as x-amz-tagging once PutObject and PutObjectTagging are allowed", async () => {
  const asked: ValidatorRequest[] = [];
  const { handle, seen } = handlerFor({
    validator: (_t, _b, r) => {
      asked.push(r);
      return true;
    },
  });
  const fields = {
    key: "up/t.txt",
    "Content-Type": "text/plain",
    "x-amz-meta-note": "",
    tagging: TAGGING,
  };
  const response = await handle(
    formRequest({ fields, conditions: BOTO_CONDITIONS([{ tagging: TAGGING }]) }),
  );
  assert.equal(response.status, 204, await response.clone().text());
  assert.equal(seen.length, 1);
  assert.equal(seen[0].headers.get("x-amz-tagging"), "team=a%20b%26c&env=prod");
  assert.deepEqual(asked.map((r) => r.operation), ["PutObject", "PutObjectTagging"]);
  assert.equal(asked[1].headers["x-amz-tagging"], "team=a%20b%26c&env=prod");
  assert.equal(asked[1].key, "up/t.txt");
});

Deno.test("post: a tagging field refused, malformed or not in the policy sends nothing", async () => {
  const { handle, seen } = handlerFor({
    validator: (_t, _b, r) => r.operation !== "PutObjectTagging",
  });
  const form = (tagging: string, extra: unknown[] = [{ tagging }]) =>
    formRequest({
      fields: { key: "up/t.txt", "Content-Type": "text/plain", "x-amz-meta-note": "", tagging },
      conditions: BOTO_CONDITIONS(extra),
    });
  const tooMany = "<Tagging><TagSet>" +
    Array.from({ length: 11 }, (_, i) => `<Tag><Key>k${i}</Key><Value>v</Value></Tag>`).join("") +
    "</TagSet></Tagging>";
  const cases: [Request, number, string][] = [
    [form(TAGGING), 403, "AccessDenied"],
    [form(TAGGING, []), 403, "AccessDenied"],
    [form("<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>"), 400, "MalformedXML"],
    [form("team=a"), 400, "MalformedXML"],
    [form(tooMany), 400, "InvalidTag"],
  ];
  for (const [request, status, expected] of cases) {
    const response = await handle(request);
    const text = await response.text();
    assert.equal(response.status, status, text);
    assert.match(text, new RegExp(`<Code>${expected}</Code>`));
  }
  const uncovered = await handle(form(TAGGING, []));
  assert.match(await uncovered.text(), /Extra input fields: tagging/);
  assert.equal(seen.length, 0);
});

Deno.test("post: a body cut short never reaches the backend whole", async () => {
  const { handle, seen } = handlerFor();
  const full = formRequest();
  const bytes = new Uint8Array(await full.arrayBuffer());
  const response = await handle(
    new Request(BASE + "/data", {
      method: "POST",
      headers: {
        "content-type": full.headers.get("content-type")!,
        "content-length": String(bytes.length),
      },
      body: bytes.slice(0, bytes.length - 8),
    }),
  );
  assert.equal(response.status, 400);
  assert.equal(await code(response), "IncompleteBody");
  assert.equal(seen.length, 0);
});

Deno.test("post: a virtual-host form and the default route", async () => {
  const { handle, seen } = handlerFor({ virtualHostSuffixes: ["proxy.test"] });
  const { body, contentType } = postForm({
    ...CLIENT,
    time: NOW,
    bucket: "data",
    fields: { key: "v/k" },
    file: "x",
  });
  const response = await handle(
    new Request("http://data.proxy.test:8080/", {
      method: "POST",
      headers: {
        host: "data.proxy.test:8080",
        "content-type": contentType,
        "content-length": String(body.length),
      },
      body,
    }),
  );
  assert.equal(response.status, 204, await response.clone().text());
  assert.equal(seen[0].url, "http://backend.test:9000/be-data/v/k");
  assert.equal(response.headers.get("location"), "http://data.proxy.test:8080/v/k");
});

// SigV2 forms (ceph/s3-tests, boto3 with signature_version 's3'): AWSAccessKeyId,
// policy, signature = base64(HMAC-SHA1(secret, policy)).
const V2_CONDITIONS = (extra: unknown[] = []) => [
  { bucket: "data" },
  ["starts-with", "$key", "up/"],
  { "Content-Type": "text/plain" },
  ["starts-with", "$x-amz-meta-note", ""],
  ...extra,
];

Deno.test("post: a SigV2 form is verified and becomes the PUT of its file", async () => {
  const asked: ValidatorRequest[] = [];
  const { handle, seen } = handlerFor({
    validator: (_t, _b, r) => {
      asked.push(r);
      return true;
    },
  });
  const response = await handle(formRequest({ sigVersion: 2, conditions: V2_CONDITIONS() }));
  assert.equal(response.status, 204, await response.clone().text());
  assert.equal(seen.length, 1);
  assert.equal(seen[0].method, "PUT");
  assert.equal(seen[0].url, "http://backend.test:9000/be-data/up/a.txt");
  assert.equal(new TextDecoder().decode(seen[0].body), "hello form");
  assert.equal(seen[0].headers.get("content-type"), "text/plain");
  assert.equal(seen[0].headers.get("x-amz-meta-note"), "hi");
  assert.match(seen[0].headers.get("authorization")!, /Credential=backend-ak\//);
  assert.equal(asked.length, 1);
  assert.equal(asked[0].operation, "PutObject");
  assert.equal(asked[0].key, "up/a.txt");
});

Deno.test("post: SigV2 forms: wrong signature, tampered policy, expiry, conditions, sigV2 off", async () => {
  const { handle, seen } = handlerFor();
  const v2 = (options: Partial<PostFormOptions> = {}) =>
    formRequest({ sigVersion: 2, conditions: V2_CONDITIONS(), ...options });
  const cases: [Request, number, string][] = [
    [v2({ secretKey: "wrong" }), 403, "SignatureDoesNotMatch"],
    [v2({ signature: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" }), 403, "SignatureDoesNotMatch"],
    [v2({ signature: "" }), 403, "SignatureDoesNotMatch"],
    [v2({ tamper: (p) => p.replace(/.$/, "") + "A" }), 403, "SignatureDoesNotMatch"],
    [v2({ accessKey: "nobody" }), 403, "InvalidAccessKeyId"],
    [v2({ expiration: NOW - 1000 }), 403, "AccessDenied"],
    [v2({ conditions: V2_CONDITIONS().slice(0, 3) }), 403, "AccessDenied"],
    [v2({ conditions: V2_CONDITIONS([["content-length-range", 0, 3]]) }), 400, "EntityTooLarge"],
    [v2({ fields: { key: "up/x", bucket: "other" }, conditions: [] }), 403, "AccessDenied"],
  ];
  for (const [request, status, expected] of cases) {
    const response = await handle(request);
    assert.equal(response.status, status);
    assert.equal(await code(response), expected);
  }
  const off = handlerFor({ sigV2: false });
  const disabled = await off.handle(v2());
  assert.equal(disabled.status, 403);
  assert.match(await disabled.text(), /Signature Version 2 is disabled/);
  assert.equal(seen.length + off.seen.length, 0);
});

Deno.test("post: a SigV2 form's fields are case-insensitive; mixed with SigV4 is refused", async () => {
  const { handle, seen } = handlerFor();
  const request = formRequest({ sigVersion: 2, conditions: V2_CONDITIONS() });
  const text = new TextDecoder().decode(await request.arrayBuffer())
    .replace('name="AWSAccessKeyId"', 'name="awsaccesskeyid"')
    .replace('name="signature"', 'name="Signature"')
    .replace('name="policy"', 'name="Policy"');
  const body = new TextEncoder().encode(text);
  const response = await handle(
    new Request(BASE + "/data", {
      method: "POST",
      headers: {
        "content-type": request.headers.get("content-type")!,
        "content-length": String(body.length),
      },
      body,
    }),
  );
  assert.equal(response.status, 204, await response.clone().text());
  assert.equal(seen.length, 1);
  const mixed = await handle(
    formRequest({
      sigVersion: 2,
      conditions: V2_CONDITIONS(),
      fields: {
        key: "up/${filename}",
        "Content-Type": "text/plain",
        "x-amz-meta-note": "hi",
        "x-amz-signature": "0".repeat(64),
      },
    }),
  );
  assert.equal(mixed.status, 400);
  assert.equal(await code(mixed), "InvalidArgument");
});

Deno.test("post: the presign use cap keys on a SigV2 form's signature", async () => {
  const capped = handlerFor({ maxPresignUrlUsageAttempts: 1 });
  const form = () => formRequest({ sigVersion: 2, conditions: V2_CONDITIONS() });
  assert.equal((await capped.handle(form())).status, 204);
  const again = await capped.handle(form());
  assert.equal(again.status, 403);
  assert.match(await again.text(), /use limit/);
  assert.equal(capped.seen.length, 1);
});

Deno.test("post: a form without credentials nor policy is 403, unless the bucket is public-write", async () => {
  const anonymousForm = (fields: Record<string, string> = { key: "pub/${filename}" }) =>
    formRequest({ sigVersion: 0, fields });
  const closed = handlerFor();
  const refused = await closed.handle(anonymousForm());
  assert.equal(refused.status, 403);
  assert.equal(await code(refused), "AccessDenied");
  assert.equal(closed.seen.length, 0);

  const asked: [string | null, ValidatorRequest][] = [];
  const open = handlerFor({
    validator: (token, _b, r) => {
      asked.push([token, r]);
      return true;
    },
  }, { anonymous: ["PutObject"] });
  const ok = await open.handle(anonymousForm({ key: "pub/${filename}", "Content-Type": "text/x" }));
  assert.equal(ok.status, 204, await ok.clone().text());
  assert.equal(open.seen.length, 1);
  assert.equal(open.seen[0].url, "http://backend.test:9000/be-data/pub/a.txt");
  assert.equal(open.seen[0].headers.get("content-type"), "text/x");
  assert.equal(new TextDecoder().decode(open.seen[0].body), "hello form");
  assert.deepEqual(asked.map(([t, r]) => [t, r.operation, r.key]), [
    [null, "PutObject", "pub/a.txt"],
  ]);
  // An ACL (x-amz-acl) is refused to anonymous callers as for an unsigned PUT.
  const acl = await open.handle(anonymousForm({ key: "pub/x", acl: "public-read" }));
  assert.equal(acl.status, 403);
  // So are tags (x-amz-tagging).
  const tagged = await open.handle(anonymousForm({ key: "pub/x", tagging: TAGGING }));
  assert.equal(tagged.status, 403);
  assert.match(await tagged.text(), /may not carry x-amz-tagging/);
  // A policy without credentials is not anonymous: its credentials are missing.
  const noCreds = await open.handle(anonymousForm({ key: "pub/x", policy: "e30=" }));
  assert.equal(noCreds.status, 400);
  assert.equal(open.seen.length, 1);
});

Deno.test('post: on a bucket with anonymousAs "anonymous" an anonymous form is an unsigned PUT', async () => {
  const open = handlerFor({}, { anonymous: ["PutObject"], anonymousAs: "anonymous" });
  const form = formRequest({ sigVersion: 0, fields: { key: "pub/${filename}" } });
  const ok = await open.handle(form);
  assert.equal(ok.status, 204, await ok.clone().text());
  assert.equal(open.seen.length, 1);
  const put = open.seen[0];
  assert.equal(put.method, "PUT");
  assert.equal(put.url, "http://backend.test:9000/be-data/pub/a.txt");
  for (const name of ["authorization", "x-amz-date", "x-amz-security-token"]) {
    assert.equal(put.headers.has(name), false, name);
  }
  assert.equal(new TextDecoder().decode(put.body), "hello form");
  // A signed form on the same bucket is still signed with the bucket's identity.
  const signedForm = await open.handle(formRequest({ conditions: BOTO_CONDITIONS() }));
  assert.equal(signedForm.status, 204, await signedForm.clone().text());
  assert.match(open.seen[1].headers.get("authorization")!, /Credential=backend-ak\//);
});
