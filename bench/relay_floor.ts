// The floor under osp's per-request cost: minimal relays with no osp code,
// next to osp itself, for 1 KiB GETs (or PUTs) from the no-op backend. Each
// relay runs in its own process; the load generator (bench/load.ts) and the
// backend in theirs; proxy CPU per request from /proc/<pid>/stat.
//
//   deno run -A bench/relay_floor.ts [--variants fetch,serve-socket,socket-socket,osp]
//     [--method GET|PUT] [--concurrency 16] [--rounds 3] [--duration 5]
//
// Variants:
//   fetch          Deno.serve → fetch (pooled Deno.HttpClient) → return the response
//   serve-socket   Deno.serve → one keep-alive socket per request in flight
//                  (Deno.connect, pooled), answer read whole
//   socket-socket  Deno.listen + hand-parsed HTTP/1.1 → the same pooled sockets
//   serve-transport Deno.serve → osp's own Transport (lib/upstream/transport.ts: its
//                  pooled HTTP/1.1 client, with the header timeout osp sets),
//                  request headers copied into a list; no SigV4, no validator
//   osp            bench/proxy_process.ts: verify, authorize, re-sign, forward
// CPU is split into user and system (kernel) time; system time is mostly
// the loopback socket work, which every variant does.
// A relay is started with `--relay <variant> <backend-port>` (this file).
import { benchJob, type Result, startLoadGenerator } from "./load.ts";
import { type Proc, spawnDeno } from "./_procs.ts";
import { Transport } from "../lib/upstream/transport.ts";
import { HeaderList, upstreamRequest } from "../lib/upstream/upstream_request.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ------------------------------------------------------------ relay mode
if (Deno.args[0] === "--relay") {
  const variant = Deno.args[1];
  const backendPort = Number(Deno.args[2]);
  const origin = `http://127.0.0.1:${backendPort}`;
  const idle: { conn: Deno.TcpConn; buf: Uint8Array; len: number }[] = [];
  const headEnd = (b: Uint8Array, len: number) => {
    for (let i = 3; i < len; i++) {
      if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) return i + 1;
    }
    return -1;
  };
  /** One request over a pooled socket; the answer (Content-Length framed) read whole. */
  const exchange = async (request: Uint8Array) => {
    const s = idle.pop() ??
      {
        conn: await Deno.connect({ hostname: "127.0.0.1", port: backendPort }),
        buf: new Uint8Array(65536),
        len: 0,
      };
    for (let o = 0; o < request.length;) o += await s.conn.write(request.subarray(o));
    let end = headEnd(s.buf, s.len);
    while (end < 0) {
      const n = await s.conn.read(s.buf.subarray(s.len));
      if (n === null) throw new Error("backend closed");
      s.len += n;
      end = headEnd(s.buf, s.len);
    }
    const lines = dec.decode(s.buf.subarray(0, end - 4)).split("\r\n");
    const headers: [string, string][] = [];
    let length = 0;
    for (const line of lines.slice(1)) {
      const c = line.indexOf(":");
      const name = line.slice(0, c).toLowerCase();
      const value = line.slice(c + 1).trim();
      if (name === "content-length") length = Number(value);
      headers.push([name, value]);
    }
    while (s.len < end + length) {
      const n = await s.conn.read(s.buf.subarray(s.len));
      if (n === null) throw new Error("backend closed");
      s.len += n;
    }
    const body = s.buf.slice(end, end + length);
    s.buf.copyWithin(0, end + length, s.len);
    s.len -= end + length;
    idle.push(s);
    return { status: Number(lines[0].slice(9, 12)), headers, body };
  };
  const requestBytes = (method: string, path: string, body: Uint8Array) => {
    const head = enc.encode(
      `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${backendPort}\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    const out = new Uint8Array(head.length + body.length);
    out.set(head);
    out.set(body, head.length);
    return out;
  };
  const pathOf = (url: string) => url.slice(url.indexOf("/", 8)).split("?")[0];
  if (variant === "socket-socket") {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    console.log(JSON.stringify({ port: (listener.addr as Deno.NetAddr).port }));
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(65536);
        let len = 0;
        try {
          while (true) {
            let end = headEnd(buf, len);
            while (end < 0) {
              const n = await conn.read(buf.subarray(len));
              if (n === null) return;
              len += n;
              end = headEnd(buf, len);
            }
            const lines = dec.decode(buf.subarray(0, end - 4)).split("\r\n");
            const [method, target] = lines[0].split(" ");
            const length = Number(/\r\ncontent-length: *(\d+)/i.exec(lines.join("\r\n"))?.[1] ?? 0);
            while (len < end + length) {
              const n = await conn.read(buf.subarray(len));
              if (n === null) return;
              len += n;
            }
            const body = buf.slice(end, end + length);
            buf.copyWithin(0, end + length, len);
            len -= end + length;
            const r = await exchange(requestBytes(method, target.split("?")[0], body));
            let head = `HTTP/1.1 ${r.status} OK\r\n`;
            for (const [k, v] of r.headers) head += `${k}: ${v}\r\n`;
            const h = enc.encode(head + "\r\n");
            const out = new Uint8Array(h.length + r.body.length);
            out.set(h);
            out.set(r.body, h.length);
            for (let o = 0; o < out.length;) o += await conn.write(out.subarray(o));
          }
        } catch {
          /* client gone */
        } finally {
          try {
            conn.close();
          } catch { /* closed */ }
        }
      })();
    }
  } else if (variant === "serve-transport") {
    const transport = new Transport();
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: (a) => console.log(JSON.stringify({ port: a.port })),
    }, async (req) => {
      const headers = new HeaderList();
      req.headers.forEach((value, name) => {
        if (name !== "host" && name !== "content-length") headers.set(name, value);
      });
      headers.set("host", `127.0.0.1:${backendPort}`);
      // (Not an object literal with a `headers` getter: that kept every
      // request alive until a full GC; docs/performance.md, "After the GC pass".)
      const upstream = upstreamRequest(
        { method: req.method, origin, pathAndQuery: pathOf(req.url) },
        headers,
      );
      const length = Number(req.headers.get("content-length") ?? 0);
      return await transport.send(upstream, {
        body: length > 0 ? req.body : null,
        contentLength: length,
        verify: true,
        headerTimeoutMs: 30_000,
      });
    });
  } else {
    const client = Deno.createHttpClient({ allowHost: true });
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: (a) => console.log(JSON.stringify({ port: a.port })),
    }, async (req) => {
      const body = req.body === null ? new Uint8Array(0) : new Uint8Array(await req.arrayBuffer());
      if (variant === "fetch") {
        const r = await fetch(origin + pathOf(req.url), {
          method: req.method,
          headers: { "accept-encoding": "identity" },
          body: body.length > 0 ? body : undefined,
          client,
        });
        return new Response(r.body, { status: r.status, headers: r.headers });
      }
      const r = await exchange(requestBytes(req.method, pathOf(req.url), body));
      return new Response(r.body, { status: r.status, headers: r.headers });
    });
  }
} else {
  // ---------------------------------------------------------- harness mode
  const opts = {
    variants: ["fetch", "serve-socket", "socket-socket", "serve-transport", "osp"],
    method: "GET" as "GET" | "PUT",
    concurrency: 16,
    rounds: 3,
    durationS: 5,
  };
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    const v = () => Deno.args[++i];
    if (a === "--variants") opts.variants = v().split(",");
    else if (a === "--method") opts.method = v() as "GET" | "PUT";
    else if (a === "--concurrency") opts.concurrency = Number(v());
    else if (a === "--rounds") opts.rounds = Number(v());
    else if (a === "--duration") opts.durationS = Number(v());
    else throw new Error(`unknown flag ${a}`);
  }
  const here = (p: string) => new URL(p, import.meta.url).pathname;
  /** User and system CPU of a process, in clock ticks (1/100 s). */
  const cpuTicks = (pid: number) => {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(f[11]), system: Number(f[12]) };
  };
  const backend = await spawnDeno(["run", "--allow-net", here("./noop_backend.ts")]);
  backend.lines.drain();
  const load = await startLoadGenerator();
  const run = async (port: number, durationMs: number): Promise<Result> => {
    // (The relays pass the no-op backend's ETag through.)
    const job = benchJob(port, {
      method: opts.method,
      concurrency: opts.concurrency,
      durationMs,
      hashEvery: 10,
    });
    return await load.run(job);
  };
  const rows = new Map<
    string,
    { us: number[]; user: number[]; system: number[]; rps: number[]; p50: number[]; p99: number[] }
  >();
  for (let round = 0; round < opts.rounds; round++) {
    for (const variant of opts.variants) {
      const args = variant === "osp"
        ? [
          "run",
          "-A",
          here("./proxy_process.ts"),
          String(backend.first.port),
          "--log-level",
          "warn",
        ]
        : ["run", "-A", here("./relay_floor.ts"), "--relay", variant, String(backend.first.port)];
      const relay: Proc = await spawnDeno(args);
      relay.lines.drain();
      const port = relay.first.port as number;
      await run(port, 1000); // warm-up
      const before = cpuTicks(relay.child.pid);
      const res = await run(port, opts.durationS * 1000);
      const after = cpuTicks(relay.child.pid);
      relay.child.kill("SIGTERM");
      await relay.child.status;
      if (res.errors > 0) throw new Error(`${variant}: ${res.errors} errors, ${res.firstError}`);
      const row = rows.get(variant) ??
        { us: [], user: [], system: [], rps: [], p50: [], p99: [] };
      const perRequest = (ticks: number) => ticks * 1e4 / res.requests;
      row.us.push(perRequest(after.user + after.system - before.user - before.system));
      row.user.push(perRequest(after.user - before.user));
      row.system.push(perRequest(after.system - before.system));
      row.rps.push(res.requests / res.seconds);
      row.p50.push(res.p50);
      row.p99.push(res.p99);
      rows.set(variant, row);
    }
  }
  await load.exit();
  backend.child.kill("SIGTERM");
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  console.log(
    `1 KiB ${opts.method}, c=${opts.concurrency}, ${opts.rounds} rounds of ${opts.durationS} s, ${navigator.hardwareConcurrency} CPUs\n`,
  );
  console.log(
    "| relay | CPU µs/req (runs) | user | system | req/s | p50 ms | p99 ms | p99 ÷ p50 |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const [variant, row] of rows) {
    console.log(
      `| ${variant} | ${median(row.us).toFixed(0)} (${
        row.us.map((x) => x.toFixed(0)).join(", ")
      }) | ${median(row.user).toFixed(0)} | ${median(row.system).toFixed(0)} | ${
        median(row.rps).toFixed(0)
      } | ${median(row.p50).toFixed(2)} | ${median(row.p99).toFixed(2)} | ${
        median(row.p99.map((p99, i) => p99 / row.p50[i])).toFixed(1)
      } |`,
    );
  }
  Deno.exit(0);
}
