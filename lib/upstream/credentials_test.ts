import assert from "node:assert/strict";
import { type ProxyConfig, resolveConfig } from "../config/config.ts";
import { Credentials, parseFetchedCredentials, sameCredentials } from "./credentials.ts";
import { S3Error } from "../request/errors.ts";

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function config(extra: Partial<ProxyConfig> = {}) {
  return resolveConfig({
    cosMap: {
      static: { host: "rgw", port: 7480, accessKey: "BAK", secretKey: "BSK" },
      iam: { host: "cos", port: 443, apiKey: "STATIC-API-KEY" },
      dynamic: { host: "rgw", port: 7480, ttl: 60 },
      other: { host: "rgw", port: 7480, ttl: 60 },
      uncached: { host: "rgw", port: 7480, ttl: 0 },
    },
    hmacKeystore: [{ accessKey: "stored", secretKey: "stored-secret" }],
    bucketCredsFetcher: () => {
      throw new Error("not expected");
    },
    httpPort: 0,
    ...extra,
  });
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

function assertThrowsS3(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof S3Error, `expected S3Error, got ${err}`);
    assert.equal(err.code, code);
    return true;
  });
}

Deno.test("parseFetchedCredentials: an {accessKey, secretKey} object", () => {
  assert.deepEqual(parseFetchedCredentials({ accessKey: "a", secretKey: "s" }), {
    kind: "hmac",
    accessKey: "a",
    secretKey: "s",
  });
});

Deno.test("parseFetchedCredentials: a JSON string {access_key, secret_key}", () => {
  assert.deepEqual(parseFetchedCredentials('{"access_key":"a","secret_key":"s"}'), {
    kind: "hmac",
    accessKey: "a",
    secretKey: "s",
  });
  assert.deepEqual(parseFetchedCredentials('  { "access_key": "a", "secret_key": "s" }'), {
    kind: "hmac",
    accessKey: "a",
    secretKey: "s",
  });
});

Deno.test("parseFetchedCredentials: any other string is an API key", () => {
  assert.deepEqual(parseFetchedCredentials("my-api-key"), { kind: "apiKey", apiKey: "my-api-key" });
});

Deno.test("parseFetchedCredentials: garbage is InternalError", () => {
  for (
    const value of [
      42,
      {},
      [],
      null,
      undefined,
      true,
      "",
      "{bad json",
      "{}",
      '{"access_key":"a"}',
      '{"access_key":"a","secret_key":""}',
      { accessKey: "a" },
      { accessKey: "a", secretKey: 1 },
      { accessKey: "", secretKey: "s" },
      { access_key: "a", secret_key: "s" },
    ]
  ) {
    assertThrowsS3(() => parseFetchedCredentials(value), "InternalError");
  }
});

Deno.test("credentials: secretFor finds keystore secrets without calling the fetcher", async () => {
  let calls = 0;
  const creds = new Credentials(config({
    hmacFetcher: () => {
      calls++;
      return "fetched";
    },
  }));
  assert.equal(await creds.secretFor("stored"), "stored-secret");
  assert.equal(calls, 0);
});

Deno.test("credentials: secretFor without a fetcher returns null for unknown keys", async () => {
  const creds = new Credentials(config());
  assert.equal(await creds.secretFor("unknown"), null);
});

Deno.test("credentials: hmacFetcher is called once for concurrent lookups and cached for secretCacheTtl", async () => {
  const clock = manualClock();
  const asked: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const creds = new Credentials(config({
    clock: clock.now,
    secretCacheTtl: 10,
    hmacFetcher: async (ak) => {
      asked.push(ak);
      await gate;
      return `secret-of-${ak}`;
    },
  }));
  const lookups = Promise.all(Array.from({ length: 20 }, () => creds.secretFor("client")));
  release();
  assert.deepEqual(await lookups, Array(20).fill("secret-of-client"));
  assert.deepEqual(asked, ["client"]);

  clock.advance(9_999);
  assert.equal(await creds.secretFor("client"), "secret-of-client");
  assert.deepEqual(asked, ["client"]);

  clock.advance(1);
  assert.equal(await creds.secretFor("client"), "secret-of-client");
  assert.deepEqual(asked, ["client", "client"]);

  assert.equal(await creds.secretFor("other"), "secret-of-other");
  assert.deepEqual(asked, ["client", "client", "other"]);
});

Deno.test("credentials: secretCacheTtl 0 asks the fetcher every time", async () => {
  let calls = 0;
  const creds = new Credentials(config({
    secretCacheTtl: 0,
    hmacFetcher: () => `s${++calls}`,
  }));
  assert.equal(await creds.secretFor("client"), "s1");
  assert.equal(await creds.secretFor("client"), "s2");
});

Deno.test("credentials: a fetcher answering null or undefined means unknown", async () => {
  const creds = new Credentials(config({
    hmacFetcher: (ak) => ak === "null" ? null : undefined,
  }));
  assert.equal(await creds.secretFor("null"), null);
  assert.equal(await creds.secretFor("undefined"), null);
});

Deno.test("credentials: a throwing hmacFetcher is InternalError and is not cached", async () => {
  let calls = 0;
  const cause = new Error("db down");
  const creds = new Credentials(config({
    hmacFetcher: () => {
      calls++;
      if (calls === 1) throw cause;
      return "recovered";
    },
  }));
  const err = await assertRejectsS3(creds.secretFor("client"), "InternalError");
  assert.equal(err.cause, cause);
  assert.equal(await creds.secretFor("client"), "recovered");
  assert.equal(calls, 2);
});

Deno.test("credentials: an async rejecting hmacFetcher is InternalError", async () => {
  const creds = new Credentials(config({
    hmacFetcher: () => Promise.reject(new Error("nope")),
  }));
  await assertRejectsS3(creds.secretFor("client"), "InternalError");
});

Deno.test("credentials: an hmacFetcher returning a non-string is InternalError", async () => {
  for (const value of [42, "", { secret: "x" }]) {
    const creds = new Credentials(config({
      hmacFetcher: (() => value) as unknown as ProxyConfig["hmacFetcher"],
    }));
    await assertRejectsS3(creds.secretFor("client"), "InternalError");
  }
});

Deno.test("credentials: static bucket credentials are returned without the fetcher", async () => {
  const resolved = config();
  const creds = new Credentials(resolved);
  assert.ok(!(creds.backendFor("t", resolved.buckets.get("static")!) instanceof Promise));
  assert.deepEqual(await creds.backendFor("t", resolved.buckets.get("static")!), {
    kind: "hmac",
    accessKey: "BAK",
    secretKey: "BSK",
  });
  assert.deepEqual(await creds.backendFor("t", resolved.buckets.get("iam")!), {
    kind: "apiKey",
    apiKey: "STATIC-API-KEY",
  });
});

Deno.test("credentials: backendFor caches per (token, bucket) for the bucket ttl", async () => {
  const clock = manualClock();
  const calls: string[] = [];
  const resolved = config({
    clock: clock.now,
    bucketCredsFetcher: (token, bucket) => {
      calls.push(`${token}@${bucket}`);
      return { accessKey: `ak-${token}-${bucket}`, secretKey: `sk-${token}-${bucket}` };
    },
  });
  const creds = new Credentials(resolved);
  const dynamic = resolved.buckets.get("dynamic")!;
  const other = resolved.buckets.get("other")!;

  const first = await creds.backendFor("alice", dynamic);
  assert.deepEqual(first, {
    kind: "hmac",
    accessKey: "ak-alice-dynamic",
    secretKey: "sk-alice-dynamic",
  });
  await creds.backendFor("alice", dynamic);
  assert.deepEqual(calls, ["alice@dynamic"]);

  // Another bucket, same token: its own lookup.
  assert.deepEqual(await creds.backendFor("alice", other), {
    kind: "hmac",
    accessKey: "ak-alice-other",
    secretKey: "sk-alice-other",
  });
  assert.deepEqual(calls, ["alice@dynamic", "alice@other"]);

  // Expires after the bucket ttl (60 s).
  clock.advance(59_999);
  await creds.backendFor("alice", dynamic);
  assert.equal(calls.length, 2);
  clock.advance(1);
  await creds.backendFor("alice", dynamic);
  assert.deepEqual(calls, ["alice@dynamic", "alice@other", "alice@dynamic"]);
});

Deno.test("credentials: backendFor never returns one token's creds to another token", async () => {
  const resolved = config({
    bucketCredsFetcher: async (token) => {
      await new Promise((resolve) => setTimeout(resolve, token === "alice" ? 5 : 0));
      return JSON.stringify({ access_key: `ak-${token}`, secret_key: `sk-${token}` });
    },
  });
  const creds = new Credentials(resolved);
  const dynamic = resolved.buckets.get("dynamic")!;
  const tokens = ["alice", "bob", "alice", "carol", "bob", "alice"];
  const results = await Promise.all(tokens.map((t) => creds.backendFor(t, dynamic)));
  results.forEach((r, i) => {
    assert.deepEqual(r, {
      kind: "hmac",
      accessKey: `ak-${tokens[i]}`,
      secretKey: `sk-${tokens[i]}`,
    });
  });
  // And again from the cache.
  for (const t of ["carol", "alice", "bob"]) {
    assert.deepEqual(await creds.backendFor(t, dynamic), {
      kind: "hmac",
      accessKey: `ak-${t}`,
      secretKey: `sk-${t}`,
    });
  }
});

Deno.test("credentials: bucket ttl 0 asks the fetcher every time", async () => {
  let calls = 0;
  const resolved = config({ bucketCredsFetcher: () => `api-${++calls}` });
  const creds = new Credentials(resolved);
  const uncached = resolved.buckets.get("uncached")!;
  assert.deepEqual(await creds.backendFor("t", uncached), { kind: "apiKey", apiKey: "api-1" });
  assert.deepEqual(await creds.backendFor("t", uncached), { kind: "apiKey", apiKey: "api-2" });
});

Deno.test("credentials: a throwing bucketCredsFetcher or garbage is InternalError, not cached", async () => {
  let calls = 0;
  const resolved = config({
    bucketCredsFetcher: () => {
      calls++;
      if (calls === 1) throw new Error("iam down");
      if (calls === 2) return 42 as unknown as string;
      return "api-key";
    },
  });
  const creds = new Credentials(resolved);
  const dynamic = resolved.buckets.get("dynamic")!;
  // (A fetched identity is a promise; config ones are plain values.)
  await assertRejectsS3(Promise.resolve(creds.backendFor("t", dynamic)), "InternalError");
  await assertRejectsS3(Promise.resolve(creds.backendFor("t", dynamic)), "InternalError");
  assert.deepEqual(await creds.backendFor("t", dynamic), { kind: "apiKey", apiKey: "api-key" });
  assert.equal(calls, 3);
});

Deno.test('credentials: anonymousAs "anonymous" gives a null token no identity, a signed one its own', async () => {
  let fetched = 0;
  const cfg = resolveConfig({
    cosMap: {
      open: {
        host: "rgw",
        port: 7480,
        accessKey: "BAK",
        secretKey: "BSK",
        anonymous: ["GetObject"],
        anonymousAs: "anonymous",
      },
      fetched: { host: "rgw", port: 7480, anonymous: ["GetObject"], anonymousAs: "anonymous" },
      resigned: { host: "rgw", port: 7480, accessKey: "BAK", secretKey: "BSK" },
    },
    bucketCredsFetcher: () => {
      fetched++;
      return { accessKey: "FAK", secretKey: "FSK" };
    },
    hmacKeystore: [{ accessKey: "alice", secretKey: "alice-secret" }],
    httpPort: 0,
  });
  const creds = new Credentials(cfg);
  const bucket = (name: string) => cfg.buckets.get(name)!;
  assert.deepEqual(await creds.backendFor(null, bucket("open")), { kind: "anonymous" });
  assert.deepEqual(await creds.backendFor(null, bucket("fetched")), { kind: "anonymous" });
  assert.equal(fetched, 0, "an anonymous request never asks bucketCredsFetcher");
  assert.deepEqual(await creds.backendFor("alice", bucket("open")), {
    kind: "hmac",
    accessKey: "BAK",
    secretKey: "BSK",
  });
  assert.deepEqual(await creds.backendFor("alice", bucket("fetched")), {
    kind: "hmac",
    accessKey: "FAK",
    secretKey: "FSK",
  });
  assert.deepEqual(await creds.backendFor(null, bucket("resigned")), {
    kind: "hmac",
    accessKey: "BAK",
    secretKey: "BSK",
  });
  assert.equal(sameCredentials({ kind: "anonymous" }, { kind: "anonymous" }), true);
  assert.equal(
    sameCredentials({ kind: "anonymous" }, { kind: "hmac", accessKey: "BAK", secretKey: "BSK" }),
    false,
  );
});
