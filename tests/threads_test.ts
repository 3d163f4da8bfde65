// threads > 1: main.ts --threads 2 runs two isolates on one port (SO_REUSEPORT,
// hence --unstable-net). Requests spread over both, metrics are merged exactly
// on the one /metrics, a presigned URL's use cap holds across isolates, SIGHUP
// reloads every isolate, SIGTERM lets in-flight downloads on every isolate
// finish and exits 0; serve() refuses threads > 1 without a config module,
// and a worker whose module lacks a callback the main isolate has fails the
// server instead of serving without it.
import assert from "node:assert/strict";
import { serve } from "../mod.ts";
import { presignUrl, signHeaders } from "./_sign.ts";
import { type MainProcess, startMain } from "./_main.ts";
import { denoEval } from "./_deno_eval.ts";

const KEY = { accessKey: "thr-ak", secretKey: "thr-secret" };
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const MOD = new URL("../mod.ts", import.meta.url).href;
const PERMISSIONS = ["-A", "--unstable-net"];

/** The bytes the backend answers for `path`: distinct per object, 4 KiB. */
function objectBytes(path: string): string {
  return `${path}|`.repeat(Math.ceil(4096 / (path.length + 1))).slice(0, 4096);
}

/**
 * A backend counting the requests it gets: `/data/<key>` answers
 * objectBytes(`/data/<key>`); `/slow/<key>` streams 128 KiB in two halves,
 * 600 ms apart.
 */
function backend() {
  let requests = 0;
  const half = new Uint8Array(64 * 1024).fill(0x61);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    requests++;
    const path = new URL(req.url).pathname;
    if (!path.startsWith("/slow/")) return new Response(objectBytes(path));
    return new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(half);
          await new Promise((r) => setTimeout(r, 600));
          c.enqueue(half);
          c.close();
        },
      }),
      { headers: { "content-length": String(2 * half.length) } },
    );
  });
  return {
    port: server.addr.port,
    get requests() {
      return requests;
    },
    close: () => server.shutdown(),
  };
}

/** A config module whose validator denies the buckets in `deny`; `extra` adds fields. */
function configModule(backendPort: number, deny: string[], extra = ""): string {
  return `
const deny = ${JSON.stringify(deny)};
const bucket = { host: "127.0.0.1", port: ${backendPort}, tls: false, addressingStyle: "path",
  accessKey: "x", secretKey: "y" };
export default () => ({
  hostname: "127.0.0.1",
  logLevel: "info",
  maxPresignUrlUsageAttempts: 3,
  ${extra}
  hmacKeystore: [{ accessKey: "${KEY.accessKey}", secretKey: "${KEY.secretKey}" }],
  validator: (_token, bucket) => !deny.includes(bucket),
  cosMap: { data: bucket, slow: bucket },
});
`;
}

/** The value of one series in a Prometheus text exposition. */
function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

/** A fetch on a connection of its own: the kernel picks the isolate per connection. */
async function fresh(url: string, init: RequestInit = {}): Promise<Response> {
  const client = Deno.createHttpClient({});
  try {
    const res = await fetch(url, { ...init, client });
    const body = new Uint8Array(await res.arrayBuffer());
    return new Response(body, { status: res.status, headers: res.headers });
  } finally {
    client.close();
  }
}

async function startThreads(
  path: string,
  extra: string[] = [],
): Promise<{ main: MainProcess; metricsUrl: string }> {
  const main = await startMain(
    ["--config", path, "--http-port", "0", "--metrics-port", "0", "--threads", "2", ...extra],
    { permissions: PERMISSIONS },
  );
  const metricsUrl =
    (await main.waitFor(/"msg":"metrics listening","url":"(http:[^"]+)\/metrics"/))[1];
  await main.waitFor(/"msg":"all isolates listening","isolates":2/);
  return { main, metricsUrl };
}

/** Requests served by isolate 0 and isolate 1, from the merged metrics. */
function servedBy(text: string): number[] {
  return [0, 1].map((i) => value(text, `osp_isolate_requests_total{isolate="${i}"}`) ?? 0);
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return Number(m![1]) * 1024;
}

Deno.test("threads: 2 isolates via the CLI share the load, the metrics and the presign cap", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "osp-threads-" });
  const be = backend();
  const path = `${dir}/osp.config.ts`;
  await Deno.writeTextFile(path, configModule(be.port, []));
  const { main, metricsUrl } = await startThreads(path);
  try {
    const url = (p: string) => `${main.base}${p}`;
    const metrics = async () => await (await fetch(`${metricsUrl}/metrics`)).text();

    await t.step("/readyz is ready once both isolates listen", async () => {
      const res = await fetch(`${metricsUrl}/readyz?verbose`);
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.deepEqual(body.details.isolates, { total: 2, listening: 2 });
    });

    const N = 200;
    await t.step(
      `${N} concurrent signed GETs: right bytes, both isolates, exact metrics`,
      async () => {
        const before = be.requests;
        const results = await Promise.all(Array.from({ length: N }, async (_, i) => {
          const p = `/data/object-${i}`;
          const res = await fresh(url(p), { headers: signHeaders("GET", url(p), KEY) });
          return { status: res.status, body: await res.text(), expected: objectBytes(p) };
        }));
        for (const r of results) {
          assert.equal(r.status, 200);
          assert.equal(r.body, r.expected);
        }
        assert.equal(be.requests - before, N);
        const text = await metrics();
        assert.equal(
          value(text, 'osp_requests_total{operation="GetObject",bucket="data",status="200"}'),
          N,
        );
        const main0 = value(text, 'osp_isolate_requests_total{isolate="0"}') ?? 0;
        const worker1 = value(text, 'osp_isolate_requests_total{isolate="1"}') ?? 0;
        assert.ok(
          main0 > 0 && worker1 > 0,
          `both isolates served requests (${main0} + ${worker1})`,
        );
        assert.equal(main0 + worker1, N);
        assert.equal(
          value(text, 'osp_request_duration_seconds_count{operation="GetObject",bucket="data"}'),
          N,
        );
        assert.equal(
          value(text, 'osp_transfer_bytes_total{direction="tx",bucket="data"}'),
          N * 4096,
        );
        assert.equal(value(text, "osp_active_requests"), 0);
        // Process-wide gauges are taken once, not summed over the isolates.
        const memory = value(text, "osp_memory_bytes")!;
        const rss = rssBytes(main.child.pid);
        assert.ok(memory > rss * 0.6 && memory < rss * 1.4, `memory ${memory} vs RSS ${rss}`);
        assert.equal(text.match(/^osp_build_info\{/gm)?.length, 1);
        assert.match(text, /^osp_build_info\{[^}]*\} 1$/m);
      },
    );

    await t.step("a presigned URL capped at 3 works exactly 3 times across isolates", async () => {
      const served0 = servedBy(await metrics());
      for (const key of ["p1", "p2", "p3"]) {
        const presigned = presignUrl("GET", url(`/data/${key}`), { ...KEY, expires: 60 });
        const statuses = await Promise.all(
          Array.from({ length: 10 }, async () => (await fresh(presigned)).status),
        );
        assert.equal(statuses.filter((s) => s === 200).length, 3, `${key}: ${statuses}`);
        assert.equal(statuses.filter((s) => s === 403).length, 7, `${key}: ${statuses}`);
      }
      const text = await metrics();
      const served = servedBy(text).map((n, i) => n - served0[i]);
      assert.ok(served[0] > 0 && served[1] > 0, `attempts reached both isolates (${served})`);
      assert.equal(value(text, 'osp_presigned_url_hits_total{bucket="data"}'), 9);
      assert.equal(value(text, 'osp_presigned_url_rejected_total{bucket="data"}'), 21);
    });

    await t.step("SIGHUP reloads the config in every isolate", async () => {
      await Deno.writeTextFile(path, configModule(be.port, ["data"]));
      main.child.kill("SIGHUP");
      await main.waitFor(/"msg":"config reloaded","buckets":2,"isolates":2/);
      const served0 = servedBy(await metrics());
      const statuses = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
        const p = `/data/after-reload-${i}`;
        return (await fresh(url(p), { headers: signHeaders("GET", url(p), KEY) })).status;
      }));
      assert.deepEqual(new Set(statuses), new Set([403]));
      const served = servedBy(await metrics()).map((n, i) => n - served0[i]);
      assert.ok(served[0] > 0 && served[1] > 0, `both isolates denied (${served})`);
    });

    await t.step("SIGTERM lets downloads on every isolate finish, then exits 0", async () => {
      const downloads = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
        const p = `/slow/object-${i}`;
        const client = Deno.createHttpClient({});
        const res = await fetch(url(p), { headers: signHeaders("GET", url(p), KEY), client });
        assert.equal(res.status, 200);
        return { res, client };
      }));
      const started = performance.now();
      main.child.kill("SIGTERM");
      for (const { res, client } of downloads) {
        assert.equal((await res.arrayBuffer()).byteLength, 128 * 1024);
        client.close();
      }
      const status = await main.child.status;
      const seconds = (performance.now() - started) / 1000;
      assert.equal(status.code, 0);
      assert.ok(seconds < 5, `exited after ${seconds.toFixed(1)} s`);
      await assert.rejects(fetch(url("/data/x")), "no longer accepting");
    });
  } finally {
    try {
      main.child.kill("SIGKILL");
    } catch { /* already exited */ }
    await main.child.status;
    await main.release();
    await be.close();
    await Deno.remove(dir, { recursive: true });
  }
});

const REDIS_SERVER = "/usr/bin/redis-server";

/** Sends one command to Redis: a status reply as is (`+PONG`), a bulk reply's data (`10`). */
async function redisCommand(port: number, ...args: string[]): Promise<string> {
  const enc = new TextEncoder();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const parts = args.map((a) => `$${enc.encode(a).length}\r\n${a}\r\n`);
    await conn.write(enc.encode(`*${args.length}\r\n${parts.join("")}`));
    let reply = "";
    const buf = new Uint8Array(4096);
    const bulk = () => reply.startsWith("$") && !reply.startsWith("$-1");
    while (!reply.endsWith("\r\n") || (bulk() && reply.split("\r\n").length < 3)) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("redis closed the connection");
      reply += new TextDecoder().decode(buf.subarray(0, n));
    }
    return bulk() ? reply.split("\r\n")[1] : reply.trimEnd();
  } finally {
    conn.close();
  }
}

Deno.test({
  name: "threads: with a Redis store every isolate counts presigned URL uses in Redis",
  ignore: (() => {
    try {
      return !Deno.statSync(REDIS_SERVER).isFile;
    } catch {
      return true;
    }
  })(),
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const redisPort = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const redis = new Deno.Command(REDIS_SERVER, {
      args: [
        "--port",
        String(redisPort),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const dir = await Deno.makeTempDir({ prefix: "osp-threads-" });
    const be = backend();
    let main: MainProcess | undefined;
    try {
      for (let i = 0;; i++) {
        try {
          if (await redisCommand(redisPort, "PING") === "+PONG") break;
        } catch (err) {
          if (i > 200) throw err;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const path = `${dir}/osp.config.ts`;
      await Deno.writeTextFile(
        path,
        configModule(be.port, [], `store: { redis: "redis://127.0.0.1:${redisPort}" },`),
      );
      const started = await startThreads(path);
      main = started.main;
      const metrics = async () => await (await fetch(`${started.metricsUrl}/metrics`)).text();
      const served0 = servedBy(await metrics());
      for (const key of ["r1", "r2", "r3"]) {
        const presigned = presignUrl("GET", `${main.base}/data/${key}`, { ...KEY, expires: 60 });
        const statuses = await Promise.all(
          Array.from({ length: 10 }, async () => (await fresh(presigned)).status),
        );
        assert.equal(statuses.filter((s) => s === 200).length, 3, `${key}: ${statuses}`);
        assert.equal(statuses.filter((s) => s === 403).length, 7, `${key}: ${statuses}`);
        const signature = new URL(presigned).searchParams.get("X-Amz-Signature")!;
        assert.equal(await redisCommand(redisPort, "GET", `osp:presign:${signature}`), "10");
      }
      const served = servedBy(await metrics()).map((n, i) => n - served0[i]);
      assert.ok(served[0] > 0 && served[1] > 0, `attempts reached both isolates (${served})`);
      main.child.kill("SIGTERM");
      assert.equal((await main.child.status).code, 0);
    } finally {
      try {
        main?.child.kill("SIGKILL");
      } catch { /* already exited */ }
      await main?.child.status;
      await main?.release();
      redis.kill("SIGKILL");
      await redis.status;
      await be.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("threads: serve() without configModule is a TypeError naming threads", () => {
  assert.throws(
    () =>
      serve({
        httpPort: 0,
        hostname: "127.0.0.1",
        threads: 2,
        validator: () => true,
        hmacKeystore: [KEY],
        cosMap: {},
      }),
    (err: unknown) =>
      err instanceof TypeError && /threads/.test(err.message) && /configModule/.test(err.message),
  );
});

Deno.test("threads: without --unstable-net main.ts says why and exits 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osp-threads-" });
  try {
    const path = `${dir}/osp.config.ts`;
    await Deno.writeTextFile(path, configModule(9, []));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--config", path, "--http-port", "0", "--threads", "2"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1);
    const err = new TextDecoder().decode(out.stderr);
    assert.match(err, /threads is 2/);
    assert.match(err, /--unstable-net/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("threads: a worker whose module lacks the validator fails the server", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osp-threads-" });
  try {
    const module = `${dir}/no-validator.config.ts`;
    await Deno.writeTextFile(
      module,
      `export default { hmacKeystore: [${JSON.stringify(KEY)}], cosMap: {}, httpPort: 0 };`,
    );
    const program = `
      import { serve } from ${JSON.stringify(MOD)};
      const server = serve({ httpPort: 0, hostname: "127.0.0.1", logLevel: "error", threads: 2,
        hmacKeystore: [${JSON.stringify(KEY)}], cosMap: {}, validator: () => false },
        { configModule: ${JSON.stringify(module)} });
      try {
        await server.finished;
        console.log("finished");
      } catch (err) {
        console.log("rejected: " + err.message);
      }
    `;
    const { stdout: text } = await denoEval(program, {
      flags: ["--unstable-net"],
      cwd: new URL("..", import.meta.url).pathname,
    });
    assert.match(text, /rejected: isolate 1 failed to start: .*lacks validator/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
