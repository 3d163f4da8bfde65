// The floor under osp's per-request cost: minimal relays with no osp code,
// next to osp itself, for 1 KiB GETs (or PUTs) from the no-op backend. Each
// relay runs in its own process; the load generator (bench/load.ts) and the
// backend in theirs; proxy CPU per request from /proc/<pid>/stat.
//
//   deno run -A bench/relay_floor.ts [--variants fetch,serve-socket,socket-socket,osp,nginx,…]
//     [--method GET|PUT] [--concurrency 16] [--rounds 3] [--duration 5]
//     [--generator load|wrk] [--warm-up S (1)] [--v8-flags F (for every Deno relay)]
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
//   nginx          nginx (one worker, access log to a file) proxy_pass to the
//                  backend with `keepalive 32`: the same relay, not in Deno
//                  (skipped with a message where nginx is not installed)
//   serve-static   no relay: Deno.serve answers the 1 KiB from memory
//   socket-static  no relay: Deno.listen, hand-parsed, answers it from memory
//   nginx-static   no relay: nginx answers the 1 KiB from a file
// Load: bench/load.ts (the default), or wrk with `--generator wrk` (the
// generator bench/peers.ts uses against nginx-s3-gateway; every answer's
// status and body checked, wrk's p50/p99). Both send header-signed requests
// with the bench client's key, which only osp reads.
// CPU is split into user and system (kernel) time; system time is mostly
// the loopback socket work, which every variant does.
// A relay is started with `--relay <variant> <backend-port>` (this file).
import { benchJob, type Result, startLoadGenerator } from "./load.ts";
import {
  childrenOf,
  cmdline,
  freePort,
  median,
  type Proc,
  spawnDeno,
  statFields,
  waitFor,
  which,
} from "./_procs.ts";
import { runWrk } from "./_wrk.ts";
import { signHeaders } from "../tests/_sign.ts";
import { Transport } from "../lib/upstream/transport.ts";
import { HeaderList, upstreamRequest } from "../lib/upstream/upstream_request.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** A path beside this file. */
const here = (p: string) => new URL(p, import.meta.url).pathname;
/** The 1 KiB object of the servers that relay nothing: the no-op backend's bytes. */
const OBJECT = new Uint8Array(1024).map((_, i) => (i * 31 + 7) & 0xff);

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
  if (variant === "socket-socket" || variant === "socket-static") {
    const staticAnswer = () =>
      Promise.resolve({
        status: 200,
        headers: [["content-length", "1024"], ["etag", '"1024"']] as [string, string][],
        body: OBJECT,
      });
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
            const r = variant === "socket-static"
              ? await staticAnswer()
              : await exchange(requestBytes(method, target.split("?")[0], body));
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
  } else if (variant === "serve-static") {
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: (a) => console.log(JSON.stringify({ port: a.port })),
    }, () =>
      new Response(OBJECT, {
        headers: { "content-type": "application/octet-stream", etag: '"1024"' },
      }));
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
    generator: "load" as "load" | "wrk",
    warmUpS: 1,
    v8Flags: "",
  };
  for (let i = 0; i < Deno.args.length; i++) {
    const a = Deno.args[i];
    const v = () => Deno.args[++i];
    if (a === "--variants") opts.variants = v().split(",");
    else if (a === "--method") opts.method = v() as "GET" | "PUT";
    else if (a === "--concurrency") opts.concurrency = Number(v());
    else if (a === "--rounds") opts.rounds = Number(v());
    else if (a === "--duration") opts.durationS = Number(v());
    else if (a === "--generator") opts.generator = v() as "load" | "wrk";
    else if (a === "--warm-up") opts.warmUpS = Number(v());
    else if (a === "--v8-flags") opts.v8Flags = v();
    else throw new Error(`unknown flag ${a}`);
  }
  if (opts.generator === "wrk" && opts.method !== "GET") {
    throw new Error("--generator wrk: GET only");
  }
  if (opts.generator === "wrk" && !(await which("wrk"))) throw new Error("--generator wrk: no wrk");
  if (opts.variants.some((v) => v.startsWith("nginx")) && !(await which("nginx"))) {
    console.error("relay_floor: nginx is not installed; the nginx variants are skipped");
    opts.variants = opts.variants.filter((v) => !v.startsWith("nginx"));
  }
  /** User and system CPU of some processes, in clock ticks (1/100 s). */
  const cpuTicks = (pids: number[]) => {
    let user = 0, system = 0;
    for (const pid of pids) {
      const f = statFields(pid);
      user += Number(f[11]);
      system += Number(f[12]);
    }
    return { user, system };
  };
  const tmp = await Deno.makeTempDir({ prefix: "relay-floor-" });
  await Deno.chmod(tmp, 0o755); // nginx's worker (nobody, under root) reads its files here
  const backend = await spawnDeno(["run", "--allow-net", here("./noop_backend.ts")]);
  backend.lines.drain();
  const backendPort = backend.first.port as number;
  const load = await startLoadGenerator();
  const run = async (port: number, durationMs: number) => {
    if (opts.generator === "wrk") {
      const url = `http://127.0.0.1:${port}/bench/obj-1024`;
      const headers: Record<string, string> = {};
      const signed = signHeaders("GET", url, {
        accessKey: "bench-client",
        secretKey: "bench-client-secret",
        payloadHash: "UNSIGNED-PAYLOAD",
      });
      for (const [k, v] of Object.entries(signed)) if (k !== "host") headers[k] = v;
      return await runWrk(url, {
        size: 1024,
        concurrency: opts.concurrency,
        seconds: Math.max(1, Math.round(durationMs / 1000)),
        headers,
        dir: tmp,
      });
    }
    // (The relays pass the no-op backend's ETag through.)
    const r: Result = await load.run(benchJob(port, {
      method: opts.method,
      concurrency: opts.concurrency,
      durationMs,
      hashEvery: 10,
    }));
    return r;
  };
  const rows = new Map<
    string,
    { us: number[]; user: number[]; system: number[]; rps: number[]; p50: number[]; p99: number[] }
  >();
  for (let round = 0; round < opts.rounds; round++) {
    for (const variant of opts.variants) {
      const relay = variant === "nginx" || variant === "nginx-static"
        ? await startNginx(backendPort, `${tmp}/${variant}`, { static: variant === "nginx-static" })
        : await startDenoRelay(variant, backendPort, { v8Flags: opts.v8Flags });
      await run(relay.port, opts.warmUpS * 1000);
      const before = cpuTicks(relay.cpuPids);
      const res = await run(relay.port, opts.durationS * 1000);
      const after = cpuTicks(relay.cpuPids);
      await relay.stop();
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
  await Deno.remove(tmp, { recursive: true });
  console.log(
    `1 KiB ${opts.method}, c=${opts.concurrency}, ${opts.rounds} rounds of ${opts.durationS} s after ${opts.warmUpS} s of warm-up, generator ${opts.generator}${
      opts.v8Flags ? `, Deno relays with --v8-flags=${opts.v8Flags}` : ""
    }, ${navigator.hardwareConcurrency} CPUs\n`,
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

/** A running relay: where it listens, whose CPU to count, how to stop it. */
interface Relay {
  port: number;
  cpuPids: number[];
  stop(): Promise<void>;
}

/** A Deno relay of this file (or osp, bench/proxy_process.ts) in a process of its own. */
async function startDenoRelay(
  variant: string,
  backendPort: number,
  options: { v8Flags: string },
): Promise<Relay> {
  const flags = options.v8Flags === "" ? [] : [`--v8-flags=${options.v8Flags}`];
  const args = variant === "osp"
    ? [
      "run",
      "-A",
      ...flags,
      here("./proxy_process.ts"),
      String(backendPort),
      "--log-level",
      "warn",
    ]
    : ["run", "-A", ...flags, here("./relay_floor.ts"), "--relay", variant, String(backendPort)];
  const relay: Proc = await spawnDeno(args);
  relay.lines.drain();
  return {
    port: relay.first.port as number,
    cpuPids: [relay.child.pid],
    stop: async () => {
      relay.child.kill("SIGTERM");
      await relay.child.status;
    },
  };
}

/**
 * nginx as the same relay (one worker, upstream keep-alive, an access log),
 * or with `static`, answering the object from a file of its own.
 */
async function startNginx(
  backendPort: number,
  dir: string,
  options: { static: boolean },
): Promise<Relay> {
  await Deno.mkdir(`${dir}/temp`, { recursive: true });
  await Deno.mkdir(`${dir}/www/bench`, { recursive: true });
  await Deno.writeFile(
    `${dir}/www/bench/obj-1024`,
    OBJECT,
  );
  const location = options.static ? `root ${dir}/www;` : `proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";`;
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/temp/body; proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fcgi; uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 32; }
  server {
    listen 127.0.0.1:${port};
    location / {
      ${location}
    }
  }
}
`,
  );
  const child = new Deno.Command("nginx", {
    args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`, "-g", "daemon off;"],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitFor(port);
  const workers = childrenOf(child.pid).filter((p) => cmdline(p).includes("worker process"));
  if (workers.length === 0) throw new Error("nginx: no worker process found");
  return {
    port,
    cpuPids: workers,
    stop: async () => {
      child.kill("SIGQUIT");
      await child.status;
    },
  };
}
