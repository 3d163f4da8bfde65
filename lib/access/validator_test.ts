import assert from "node:assert/strict";
import { Authorizer } from "./validator.ts";
import {
  type ProxyConfig,
  resolveConfig,
  type Validator,
  type ValidatorRequest,
} from "../config/config.ts";
import { S3Error } from "../request/errors.ts";

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function authorizer(extra: Partial<ProxyConfig> = {}): Authorizer {
  return new Authorizer(resolveConfig({
    cosMap: { logs: { host: "rgw", port: 7480, accessKey: "a", secretKey: "s" } },
    hmacKeystore: [{ accessKey: "client", secretKey: "secret" }],
    httpPort: 0,
    ...extra,
  }));
}

function request(overrides: Partial<ValidatorRequest> = {}): ValidatorRequest {
  return {
    method: "GET",
    operation: "GetObject",
    bucket: "logs",
    key: "2024/01/app.log",
    query: {},
    headers: { host: "proxy" },
    sourceIp: "10.0.0.1",
    ...overrides,
  };
}

const TTL = { ttlMs: 60_000 };

/** A validator that records its calls and answers with `decide`. */
function recording(decide: (token: string, bucket: string, r: ValidatorRequest) => unknown): {
  validator: Validator;
  calls: [string, string, ValidatorRequest][];
} {
  const calls: [string, string, ValidatorRequest][] = [];
  const validator = ((token: string, bucket: string, r: ValidatorRequest) => {
    calls.push([token, bucket, r]);
    return decide(token, bucket, r);
  }) as Validator;
  return { validator, calls };
}

async function assertRejectsS3(promise: Promise<unknown>, code: string): Promise<S3Error> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof S3Error, `expected S3Error, got ${caught}`);
  assert.equal(caught.code, code);
  return caught;
}

Deno.test("authorizer: without a validator every request is allowed", async () => {
  const auth = authorizer();
  assert.equal(await auth.allowed("anyone", request(), TTL), true);
  await auth.require("anyone", request({ operation: "DeleteObject", method: "DELETE" }), TTL);
});

Deno.test("authorizer: the validator sees token, bucket and the request", async () => {
  const { validator, calls } = recording(() => true);
  const auth = authorizer({ validator });
  const r = request();
  assert.equal(await auth.allowed("alice", r, TTL), true);
  assert.deepEqual(calls, [["alice", "logs", r]]);
});

Deno.test("authorizer: decisions are cached per (token, bucket, method, operation, key, query, headers, source IP) for ttl", async () => {
  const clock = manualClock();
  const { validator, calls } = recording((token) => token === "alice");
  const auth = authorizer({ validator, clock: clock.now });

  assert.equal(await auth.allowed("alice", request(), TTL), true);
  assert.equal(await auth.allowed("alice", request(), TTL), true);
  assert.equal(calls.length, 1);

  // Each input the validator is shown makes its own entry: a yes for one
  // version, header or address is not a yes for another.
  const variants: Partial<ValidatorRequest>[] = [
    { query: { versionId: "1" } },
    { sourceIp: "10.0.0.2" },
    { headers: { host: "proxy", "x-amz-acl": "public-read" } },
    { bucket: "other" },
    { method: "HEAD" },
    { operation: "GetObjectTagging" },
    { key: "2024/01/other.log" },
    { key: undefined, operation: "ListObjectsV2" },
  ];
  for (const v of variants) await auth.allowed("alice", request(v), TTL);
  assert.equal(calls.length, 1 + variants.length);
  for (const v of variants) await auth.allowed("alice", request(v), TTL);
  assert.equal(calls.length, 1 + variants.length);

  // Expiry after ttl.
  clock.advance(59_999);
  await auth.allowed("alice", request(), TTL);
  assert.equal(calls.length, 1 + variants.length);
  clock.advance(1);
  await auth.allowed("alice", request(), TTL);
  assert.equal(calls.length, 2 + variants.length);
});

Deno.test("authorizer: a denial is cached too", async () => {
  const { validator, calls } = recording(() => false);
  const auth = authorizer({ validator });
  assert.equal(await auth.allowed("mallory", request(), TTL), false);
  assert.equal(await auth.allowed("mallory", request(), TTL), false);
  assert.equal(calls.length, 1);
});

Deno.test("authorizer: ttl 0 asks the validator every time", async () => {
  const { validator, calls } = recording(() => true);
  const auth = authorizer({ validator });
  await auth.allowed("alice", request(), { ttlMs: 0 });
  await auth.allowed("alice", request(), { ttlMs: 0 });
  assert.equal(calls.length, 2);
});

Deno.test("authorizer: another token is never served from the cache", async () => {
  const { validator, calls } = recording((token) => token === "alice");
  const auth = authorizer({ validator });
  assert.equal(await auth.allowed("alice", request(), TTL), true);
  assert.equal(await auth.allowed("bob", request(), TTL), false);
  assert.equal(await auth.allowed("alice", request(), TTL), true);
  assert.equal(await auth.allowed("bob", request(), TTL), false);
  assert.deepEqual(calls.map(([token]) => token), ["alice", "bob"]);
});

Deno.test("authorizer: a key that looks like another cache identity does not collide", async () => {
  const { validator } = recording((_token, _bucket, r) => r.key === "public/x");
  const auth = authorizer({ validator });
  assert.equal(await auth.allowed("alice", request({ key: "public/x" }), TTL), true);
  // No key vs. the key "null" are different requests.
  assert.equal(await auth.allowed("alice", request({ key: undefined }), TTL), false);
  assert.equal(await auth.allowed("alice", request({ key: "null" }), TTL), false);
  assert.equal(
    await auth.allowed("alice", request({ bucket: 'logs","GET', key: "public/x" }), TTL),
    true,
  );
});

Deno.test("authorizer: concurrent identical checks share one validator call", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let calls = 0;
  const auth = authorizer({
    validator: async () => {
      calls++;
      await gate;
      return true;
    },
  });
  const all = Promise.all(Array.from({ length: 10 }, () => auth.allowed("alice", request(), TTL)));
  release();
  assert.deepEqual(await all, Array(10).fill(true));
  assert.equal(calls, 1);
});

Deno.test("authorizer: a throwing validator is InternalError, never allowed, not cached", async () => {
  let calls = 0;
  const cause = new Error("policy service down");
  const auth = authorizer({
    validator: () => {
      calls++;
      if (calls <= 2) throw cause;
      return true;
    },
  });
  const err = await assertRejectsS3(auth.allowed("alice", request(), TTL), "InternalError");
  assert.equal(err.cause, cause);
  await assertRejectsS3(auth.require("alice", request(), TTL), "InternalError");
  assert.equal(await auth.allowed("alice", request(), TTL), true);
  assert.equal(calls, 3);
});

Deno.test("authorizer: an async rejecting validator is InternalError", async () => {
  const auth = authorizer({ validator: () => Promise.reject(new Error("nope")) });
  await assertRejectsS3(auth.allowed("alice", request(), TTL), "InternalError");
});

Deno.test("authorizer: a non-boolean decision is InternalError", async () => {
  for (const value of [1, "true", null, undefined, {}, 0]) {
    const auth = authorizer({ validator: (() => value) as unknown as Validator });
    await assertRejectsS3(auth.allowed("alice", request(), TTL), "InternalError");
    await assertRejectsS3(auth.require("alice", request(), TTL), "InternalError");
  }
});

Deno.test("authorizer: require throws AccessDenied on false and passes on true", async () => {
  const { validator } = recording((token) => token === "alice");
  const auth = authorizer({ validator });
  await auth.require("alice", request(), TTL);
  const err = await assertRejectsS3(auth.require("bob", request(), TTL), "AccessDenied");
  assert.equal(err.status, 403);
});
