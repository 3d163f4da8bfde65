import assert from "node:assert/strict";
import { backendOrigins, BackendProbe, type ProbeConnection } from "./backend_probe.ts";
import { resolveConfig } from "../config/config.ts";

/** A port nothing listens on: bound, then released. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A connect that records its calls and succeeds at once (or when `release` is called). */
function fakeConnect(options: { hold?: boolean } = {}) {
  const calls: { hostname: string; port: number }[] = [];
  const closed: number[] = [];
  const waiting: (() => void)[] = [];
  const connect = (o: { hostname: string; port: number; signal: AbortSignal }) => {
    const n = calls.push({ hostname: o.hostname, port: o.port });
    const conn: ProbeConnection = { close: () => void closed.push(n) };
    if (!options.hold) return Promise.resolve(conn);
    return new Promise<ProbeConnection>((resolve) => waiting.push(() => resolve(conn)));
  };
  return { connect, calls, closed, release: () => waiting.splice(0).forEach((f) => f()) };
}

Deno.test("backend_probe: an open listener is reachable, and the connection is closed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const origin = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const accepted = listener.accept();
  try {
    const result = await new BackendProbe().check([origin]);
    assert.deepEqual(Object.keys(result), [origin]);
    assert.equal(result[origin].reachable, true);
    assert.equal(result[origin].error, undefined);
    assert.ok(result[origin].ms >= 0 && result[origin].ms < 2000);
    const conn = await accepted;
    // The probe closed its side: the accepted connection reads EOF.
    assert.equal(await conn.read(new Uint8Array(1)), null);
    conn.close();
  } finally {
    listener.close();
  }
});

Deno.test("backend_probe: a closed port is unreachable with an error", async () => {
  const origin = `http://127.0.0.1:${closedPort()}`;
  const result = await new BackendProbe().check([origin]);
  assert.equal(result[origin].reachable, false);
  assert.match(result[origin].error ?? "", /refused/i);
});

Deno.test("backend_probe: a connect that hangs is unreachable once the timeout is over", async () => {
  let signal: AbortSignal | undefined;
  const probe = new BackendProbe({
    timeoutMs: 50,
    connect: (o) => {
      signal = o.signal;
      return new Promise<ProbeConnection>(() => {});
    },
  });
  const started = performance.now();
  const result = await probe.check(["https://10.255.255.1:443"]);
  const took = performance.now() - started;
  assert.deepEqual(result["https://10.255.255.1:443"], {
    reachable: false,
    ms: result["https://10.255.255.1:443"].ms,
    error: "TimedOut: no connection within 50 ms",
  });
  assert.ok(took >= 45 && took < 1000, `took ${took} ms`);
  assert.equal(signal?.aborted, true, "the connect is told to give up");
});

Deno.test("backend_probe: a connect that succeeds after the timeout is still closed", async () => {
  const fake = fakeConnect({ hold: true });
  const probe = new BackendProbe({ timeoutMs: 20, connect: fake.connect });
  const result = await probe.check(["http://backend:9000"]);
  assert.equal(result["http://backend:9000"].reachable, false);
  fake.release();
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(fake.closed, [1]);
});

Deno.test("backend_probe: a result is reused within the TTL, probed again after it", async () => {
  let now = 1000;
  const fake = fakeConnect();
  const probe = new BackendProbe({ ttlMs: 5000, clock: () => now, connect: fake.connect });
  const origins = ["http://a.example:9000", "https://b.example:443"];
  const first = await probe.check(origins);
  assert.equal(fake.calls.length, 2);
  assert.deepEqual(fake.closed, [1, 2]);
  now += 4999;
  assert.deepEqual(await probe.check(origins), first);
  assert.equal(fake.calls.length, 2, "no new connection within the TTL");
  now += 1;
  await probe.check(origins);
  assert.equal(fake.calls.length, 4, "probed again once the TTL is over");
  // A new origin (say after a reload) is probed at once; cached ones are not.
  now += 10;
  await probe.check([...origins, "http://c.example:80"]);
  assert.equal(fake.calls.length, 5);
  assert.deepEqual(fake.calls[4], { hostname: "c.example", port: 80 });
});

Deno.test("backend_probe: concurrent checks share one probe per origin", async () => {
  const fake = fakeConnect({ hold: true });
  const probe = new BackendProbe({ connect: fake.connect });
  const checks = Array.from({ length: 20 }, () => probe.check(["http://a.example:9000"]));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(fake.calls.length, 1, "one connection for twenty checks in flight");
  fake.release();
  const results = await Promise.all(checks);
  for (const r of results) assert.equal(r["http://a.example:9000"].reachable, true);
  assert.equal(fake.calls.length, 1);
});

Deno.test("backend_probe: origins are parsed into hostname and port", async () => {
  const fake = fakeConnect();
  const probe = new BackendProbe({ connect: fake.connect });
  const result = await probe.check([
    "http://[::1]:9000",
    "https://s3.example",
    "http://s3.example",
    "http://[::1]:9000",
    "ftp://s3.example:21",
    "not an origin",
  ]);
  assert.deepEqual(fake.calls, [
    { hostname: "::1", port: 9000 },
    { hostname: "s3.example", port: 443 },
    { hostname: "s3.example", port: 80 },
  ]);
  assert.equal(Object.keys(result).length, 5);
  assert.equal(result["ftp://s3.example:21"].reachable, false);
  assert.match(result["ftp://s3.example:21"].error ?? "", /^invalid origin: /);
  assert.match(result["not an origin"].error ?? "", /^invalid origin: /);
});

Deno.test("backend_probe: a connect that throws is reported, not thrown", async () => {
  const probe = new BackendProbe({
    clock: () => 0,
    connect: () => {
      throw new Deno.errors.PermissionDenied("net access denied");
    },
  });
  const result = await probe.check(["http://a.example:1"]);
  assert.deepEqual(result["http://a.example:1"], {
    reachable: false,
    ms: 0,
    error: "PermissionDenied: net access denied",
  });
});

Deno.test("backend_probe: backendOrigins gives what the proxy connects to", () => {
  const config = resolveConfig({
    httpPort: 0,
    skipSignatureValidation: true,
    cosMap: {
      photos: { host: "s3.example", port: 443, accessKey: "a", secretKey: "s" },
      logs: {
        host: "s3.example",
        port: 443,
        backendBucket: "prod-logs",
        accessKey: "a",
        secretKey: "s",
      },
      minio: {
        host: "127.0.0.1",
        port: 9000,
        tls: false,
        addressingStyle: "path",
        accessKey: "a",
        secretKey: "s",
      },
      minio2: {
        host: "127.0.0.1",
        port: 9000,
        tls: false,
        addressingStyle: "path",
        accessKey: "a",
        secretKey: "s",
      },
      v6: {
        host: "[::1]",
        port: 7480,
        tls: false,
        addressingStyle: "path",
        accessKey: "a",
        secretKey: "s",
      },
      "*": { host: "rgw.example", port: 7480, tls: false, accessKey: "a", secretKey: "s" },
    },
  });
  assert.deepEqual(backendOrigins(config.buckets.values()), [
    "http://127.0.0.1:9000",
    "http://[::1]:7480",
    "http://rgw.example:7480",
    "https://photos.s3.example:443",
    "https://prod-logs.s3.example:443",
  ]);
});
