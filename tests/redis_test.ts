// The presigned URL use cap shared through Redis: two osp instances on one
// private redis-server count the same URL together, counters expire with the
// URL, a Redis outage fails closed (503) for capped presigned URLs only, and
// counting resumes when Redis is back.
import assert from "node:assert/strict";
import { checkConfig, serve } from "../mod.ts";
import type { ProxyServer } from "../mod.ts";
import { REDIS_KEY_PREFIX } from "../lib/access/redis_use_counter.ts";
import { countingBackend } from "./_backend.ts";
import { presignUrl, signHeaders } from "./_sign.ts";

const REDIS_SERVER = "/usr/bin/redis-server";
const CLIENT = { accessKey: "client-ak", secretKey: "client-secret" };
/** The host every URL is signed for; requests go to either instance with this Host header. */
const PUBLIC_HOST = "osp.test:8080";
const MAX_USES = 3;

function redisInstalled(): boolean {
  try {
    return Deno.statSync(REDIS_SERVER).isFile;
  } catch {
    return false;
  }
}

const SKIP_REDIS = !redisInstalled() && Deno.env.get("CI") !== "true";
if (SKIP_REDIS) {
  console.log(
    "%cSKIP: Redis tests — redis-server is not installed (apt-get install -y redis-server). " +
      "With CI=true this is a failure.",
    "color: yellow; font-weight: bold",
  );
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Sends one command to Redis and returns its one-line reply, e.g. `+PONG` or `:1999`. */
async function redisCommand(port: number, ...args: string[]): Promise<string> {
  const enc = new TextEncoder();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const parts = args.map((a) => `$${enc.encode(a).length}\r\n${a}\r\n`);
    await conn.write(enc.encode(`*${args.length}\r\n${parts.join("")}`));
    let reply = "";
    const buf = new Uint8Array(4096);
    while (!reply.includes("\r\n")) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("redis closed the connection");
      reply += new TextDecoder().decode(buf.subarray(0, n));
    }
    return reply.slice(0, reply.indexOf("\r\n"));
  } finally {
    conn.close();
  }
}

/** A private redis-server on `port`, without persistence. */
async function startRedis(port: number): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(REDIS_SERVER, {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 10_000;
  while (true) {
    try {
      if (await redisCommand(port, "PING") === "+PONG") return child;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`redis-server did not answer PING on port ${port}`, { cause: err });
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopRedis(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
  await child.status;
}

async function s3Error(res: Response): Promise<{ status: number; code: string; message: string }> {
  const text = await res.text();
  assert.equal(res.headers.get("content-type"), "application/xml", text);
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? "";
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? "";
  return { status: res.status, code, message };
}

Deno.test("redis: store config is validated with its field path", () => {
  const base = {
    httpPort: 0,
    hmacKeystore: [CLIENT],
    cosMap: { data: { host: "127.0.0.1", port: 1, accessKey: "a", secretKey: "b" } },
  };
  assert.deepEqual(checkConfig({ ...base, store: { redis: "redis://127.0.0.1:6379" } }), []);
  assert.deepEqual(
    checkConfig({ ...base, store: { redis: "rediss://u:p@redis.internal:6380/2" } }),
    [],
  );
  assert.deepEqual(checkConfig({ ...base, store: { redis: "http://127.0.0.1:6379" } }), [
    "store.redis must be a redis:// URL (or rediss:// for TLS)",
  ]);
  assert.deepEqual(checkConfig({ ...base, store: {} }), ["store.redis is required"]);
  assert.deepEqual(checkConfig({ ...base, store: "redis://x" }), ["store must be {redis}"]);
  assert.deepEqual(checkConfig({ ...base, store: { redis: "redis://x", ttl: 1 } }), [
    "store.ttl is not a known field",
  ]);
});

Deno.test({
  name: "redis: the presigned URL use cap is shared by two instances and fails closed",
  ignore: SKIP_REDIS,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if (!redisInstalled()) assert.fail(`${REDIS_SERVER} is missing (apt-get install redis-server)`);
    const redisPort = freePort();
    let redis = await startRedis(redisPort);
    const backend = countingBackend();
    const config = {
      httpPort: 0,
      hostname: "127.0.0.1",
      logLevel: "error" as const,
      hmacKeystore: [CLIENT],
      maxPresignUrlUsageAttempts: MAX_USES,
      store: { redis: `redis://127.0.0.1:${redisPort}` },
      cosMap: {
        data: {
          host: "127.0.0.1",
          port: backend.port,
          tls: false,
          addressingStyle: "path" as const,
          accessKey: "backend-ak",
          secretKey: "backend-secret",
        },
      },
    };
    const proxies: ProxyServer[] = [serve(config), serve(config)];
    const client = Deno.createHttpClient({ allowHost: true });
    /** Sends `url` (signed for PUBLIC_HOST) to instance `i`. */
    const send = (i: number, url: string, headers: Record<string, string> = {}) =>
      fetch(url.replace(`http://${PUBLIC_HOST}`, `http://127.0.0.1:${proxies[i].http!.port}`), {
        client,
        headers: { ...headers, host: PUBLIC_HOST },
      });
    let n = 0;
    const presign = (expires = 300) =>
      presignUrl("GET", `http://${PUBLIC_HOST}/data/object-${++n}.txt`, { ...CLIENT, expires });
    const keyOf = (url: string) =>
      REDIS_KEY_PREFIX + new URL(url).searchParams.get("X-Amz-Signature")!;

    /** Uses `url` alternately on both instances; returns the statuses. */
    async function useAlternately(url: string, times: number): Promise<Response[]> {
      const out: Response[] = [];
      for (let i = 0; i < times; i++) out.push(await send(i % 2, url));
      return out;
    }

    async function assertCapShared(url: string) {
      const before = backend.requests.length;
      const responses = await useAlternately(url, MAX_USES + 2);
      for (const res of responses.slice(0, MAX_USES)) {
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "backend-ok");
      }
      for (const res of responses.slice(MAX_USES)) {
        assert.deepEqual(await s3Error(res), {
          status: 403,
          code: "AccessDenied",
          message: "presigned URL use limit reached",
        });
      }
      assert.equal(
        backend.requests.length - before,
        MAX_USES,
        "only the allowed uses reach the backend",
      );
      // Every use is counted, the refused ones too.
      assert.equal(await redisCommand(redisPort, "INCRBY", keyOf(url), "0"), `:${MAX_USES + 2}`);
    }

    try {
      await t.step("exactly N uses succeed across both instances, then 403", async () => {
        await assertCapShared(presign());
      });

      await t.step("the counter expires with the URL", async () => {
        const expires = 2;
        const url = presign(expires);
        const res = await send(0, url);
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const key = keyOf(url);
        const ttl = Number((await redisCommand(redisPort, "PTTL", key)).slice(1));
        assert.ok(ttl > 0 && ttl <= expires * 1000, `PTTL ${ttl} is within the URL's ${expires} s`);
        const deadline = Date.now() + expires * 1000 + 2000;
        while (await redisCommand(redisPort, "EXISTS", key) === ":1") {
          assert.ok(Date.now() < deadline, "the counter is gone once the URL has expired");
          await new Promise((r) => setTimeout(r, 100));
        }
        // The URL itself has expired too: refused before counting.
        const late = await send(1, url);
        assert.equal(late.status, 403);
        await late.body?.cancel();
        assert.equal(await redisCommand(redisPort, "EXISTS", key), ":0");
      });

      await t.step("redis down: presigned → 503, header-signed still 200", async () => {
        await stopRedis(redis);
        const before = backend.requests.length;
        for (const i of [0, 1]) {
          const started = performance.now();
          const res = await send(i, presign());
          const elapsed = performance.now() - started;
          const error = await s3Error(res);
          assert.equal(error.status, 503);
          assert.equal(error.code, "ServiceUnavailable");
          assert.match(error.message, /presigned URL use count unavailable/);
          assert.ok(elapsed < 3000, `answered in ${elapsed.toFixed(0)} ms`);
        }
        assert.equal(backend.requests.length, before, "no presigned request reached the backend");
        for (const i of [0, 1]) {
          const url = `http://${PUBLIC_HOST}/data/header-signed.txt`;
          const res = await send(i, url, signHeaders("GET", url, CLIENT));
          assert.equal(res.status, 200);
          assert.equal(await res.text(), "backend-ok");
        }
        assert.equal(backend.requests.length, before + 2);
      });

      await t.step("redis back: both instances reconnect and count again", async () => {
        redis = await startRedis(redisPort);
        for (const i of [0, 1]) {
          const deadline = Date.now() + 10_000;
          while (true) {
            const res = await send(i, presign());
            await res.body?.cancel();
            if (res.status === 200) break;
            assert.equal(res.status, 503);
            assert.ok(Date.now() < deadline, `instance ${i} reconnected to redis`);
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        await assertCapShared(presign());
      });
    } finally {
      client.close();
      await Promise.all(proxies.map((p) => p.shutdown()));
      await backend.close();
      await stopRedis(redis);
    }
  },
});
