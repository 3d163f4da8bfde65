// osp side by side with NGINX's nginx-s3-gateway, on the same backend, the
// same load generator and the same cores. Each proxy runs as its users run
// it:
//
// - osp: `main.ts` with the flags of docs/operating.md, a config module
//   (full SigV4 verification against a static keystore, a validator,
//   re-signing for the backend), info-level access logs on stdout into a
//   file, metrics on their own port. Columns: as is, `--log-level warn`,
//   `--access-log-sample 0` (errors only; named with --columns), `--threads 2`.
// - nginx-s3-gateway: rendered by ../shared/peers/render-nginx-s3-gateway.sh (beside the checkout)
//   (KEEPALIVE=32, "+ keepalive", and as shipped, without upstream
//   keep-alive), started with the command its README gives (plus
//   `-g "daemon off;"`, so that nginx stays our child). It verifies nothing
//   from clients and is sent unsigned requests; it re-signs GET/HEAD for one
//   bucket, path style. Access log on (a file), error log at info, as shipped.
// - direct: the backend itself, no proxy (for reference, and the ÷ direct of
//   the large GET).
//
// Backends: the no-op backend (bench/noop_backend.ts, own process) always;
// with `--rgw` also a throwaway Ceph RGW (tests/_rgw.ts) with a user, a
// bucket and 1 KiB, 1 MiB and 256 MiB objects written with the no-op
// backend's byte pattern, so that every body can be checked the same way.
//
// Load: wrk (one thread; where it is not installed, or with `--generator
// load`, bench/load.ts) for the 1 KiB and 1 MiB rows; bench/load.ts for the
// 256 MiB GET. wrk's requests to osp are header-signed (SigV4 with the
// client key): one signature computed before each run and replayed for its
// few seconds (well inside osp's 15-minute clock skew; osp caches no
// verification result, so a replayed request costs it what a fresh one
// does), which keeps the generator cheap. bench/load.ts signs every request
// itself. Every response is checked: status 200 and the body byte for byte
// against the pattern (wrk: a Lua `response` callback; load.ts: memcmp), so
// its length too; each round also fetches the large object once more, untimed,
// through every proxy with its SHA-256 checked.
//
// Runs are interleaved: for each row, round r runs every column once, in an
// order rotated by r; the table gives medians (3 rounds of 5 s for the small
// rows, 5 rounds for the large GET; "Every run" also gives wrk's p90 and
// p99.9). Proxy CPU = utime + stime (/proc/PID/stat fields 14 + 15) over the run: osp's process (all its
// threads and isolates), nginx's worker processes; per request = that ÷
// requests; page faults per request likewise (minor faults, field 10). RSS:
// /proc/PID/status VmRSS (nginx: master + workers) idle after the warm-up
// (`--warm-up N`, 30000: per backend, each proxy first serves N/10 1 MiB
// GETs and then N 1 KiB GETs, untimed, so that osp's JIT has compiled its
// request path), and the peak (VmHWM, reset through clear_refs just before)
// during one 256 MiB GET. A run during which other processes used more than
// `--noisy` cores is run again (up to `--retries` times; the quietest kept).
//
//   deno task bench:peers                  # no-op backend, ~7 minutes
//   deno task bench:peers --rgw            # and a throwaway Ceph RGW
//   deno task bench:peers --quick          # a smoke run of seconds
//   flags: --rounds N (3) --big-rounds N (5) --duration S (5) --warm-up N (30000)
//          --big-mib N (256)
//          --generator wrk|load --no-shipped --only-rgw --noisy CORES (0.3)
//          --retries N (1) --out FILE (bench/results/peers.md)
//          --base DIR: also run osp (and osp `--threads 2`) from another checkout
//            (e.g. `git worktree add /tmp/osp-base main`), interleaved with the others
//          --columns id,id…: only these columns (gwka gw osp osp-warn osp-errlog osp-reducer
//            osp-t2 osp-base osp-t2-base direct; osp-reducer, osp without --no-memory-reducer,
//            and osp-errlog, osp `--access-log-sample 0`, only when named); --no-big: skip
//            the large GET
//          --perf DIR: after each 1 KiB and 1 MiB row, one more run per proxy under
//            perf (call graphs, bench/_perf.ts; not in the medians, as perf adds CPU),
//            kept in DIR; the report splits each cell's median CPU per request by its
//            shares: sending, receiving, page faults, the rest of the kernel, user
//            space by binary
//
// Nothing is installed here: without nginx (and its njs module, and envsubst)
// the gateway columns are skipped with a message; without wrk, bench/load.ts
// drives every row. Exits 1 when a response failed a check.
import { type Job, startLoadGenerator } from "./load.ts";
import {
  childrenOf,
  clockTicksPerSecond,
  cmdline,
  cpuTicks,
  freePort,
  type Proc,
  resetPeakRss,
  spawnDeno,
  statFields,
  statusKb,
  which,
} from "./_procs.ts";
import { runWrk, type WrkResult } from "./_wrk.ts";
import { signHeaders } from "../tests/_sign.ts";
import { perfRecord, type PerfSplit, perfSplit } from "./_perf.ts";

// ---------------------------------------------------------------- options

function parseOptions(args: string[]) {
  const o = {
    quick: false,
    rgw: false,
    onlyRgw: false,
    rounds: 3,
    bigRounds: 5,
    durationS: 5,
    warmUp: 30_000,
    bigMib: 256,
    generator: "auto" as "auto" | "wrk" | "load",
    shipped: true,
    noisy: 0.3,
    retries: 1,
    out: new URL("./results/peers.md", import.meta.url).pathname,
    base: undefined as string | undefined,
    columns: undefined as Set<string> | undefined,
    big: true,
    perf: undefined as string | undefined,
  };
  const explicit = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      explicit.add(a);
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--rgw") o.rgw = true;
    else if (a === "--only-rgw") o.rgw = o.onlyRgw = true;
    else if (a === "--rounds") o.rounds = Number(value());
    else if (a === "--big-rounds") o.bigRounds = Number(value());
    else if (a === "--duration") o.durationS = Number(value());
    else if (a === "--warm-up") o.warmUp = Number(value());
    else if (a === "--big-mib") o.bigMib = Number(value());
    else if (a === "--generator") {
      const g = value();
      if (g !== "wrk" && g !== "load" && g !== "auto") throw new Error("--generator wrk|load");
      o.generator = g;
    } else if (a === "--no-shipped") o.shipped = false;
    else if (a === "--noisy") o.noisy = Number(value());
    else if (a === "--retries") o.retries = Number(value());
    else if (a === "--out") o.out = value();
    else if (a === "--base") o.base = value().replace(/\/+$/, "");
    else if (a === "--columns") o.columns = new Set(value().split(","));
    else if (a === "--no-big") o.big = false;
    else if (a === "--perf") o.perf = value().replace(/\/+$/, "");
    else if (a === "--help" || a === "-h") {
      console.log(
        "deno run -A bench/peers.ts [--quick] [--rgw | --only-rgw] [--rounds N] [--big-rounds N]\n" +
          "  [--duration S] [--warm-up N] [--big-mib N] [--generator wrk|load] [--no-shipped] [--noisy CORES]\n" +
          "  [--retries N] [--out FILE] [--base DIR] [--columns id,id…] [--no-big] [--perf DIR]",
      );
      Deno.exit(0);
    } else throw new Error(`unknown flag ${a}`);
  }
  if (o.quick) {
    if (!explicit.has("--rounds")) o.rounds = 1;
    if (!explicit.has("--big-rounds")) o.bigRounds = 1;
    if (!explicit.has("--duration")) o.durationS = 1;
    if (!explicit.has("--warm-up")) o.warmUp = 1000;
    if (!explicit.has("--big-mib")) o.bigMib = 64;
    if (!explicit.has("--retries")) o.retries = 0;
  }
  for (
    const [k, v] of Object.entries({ rounds: o.rounds, bigRounds: o.bigRounds, warmUp: o.warmUp })
  ) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`${k} must be a whole number > 0`);
  }
  // wrk takes whole seconds.
  if (!(Number.isInteger(o.durationS) && o.durationS > 0)) {
    throw new Error("--duration must be a whole number of seconds > 0");
  }
  if (!(o.bigMib > 0)) throw new Error("--big-mib must be > 0");
  return o;
}

const opts = parseOptions(Deno.args);
const here = (p: string) => new URL(p, import.meta.url).pathname;
const REPO = here("..");
const RENDER = new URL("../../shared/peers/render-nginx-s3-gateway.sh", import.meta.url).pathname;
const BUCKET = "bench";
const KiB = 1024;
const MiB = 1024 * KiB;
const BIG = Math.round(opts.bigMib * MiB);
const CLIENT = { accessKey: "bench-client", secretKey: "bench-client-secret" };
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const log = (s: string) => console.error(`::: ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- /proc

const CLK_TCK = await clockTicksPerSecond();

/** `read(pid)`, or 0 once the process is gone. */
function orZero(read: (pid: number) => number, pid: number): number {
  try {
    return read(pid);
  } catch {
    return 0;
  }
}

/** {@linkcode cpuTicks}, 0 once the process is gone. */
const ticksOf = (pid: number) => orZero(cpuTicks, pid);
/** Minor page faults of a process (stat(5) field 10), 0 once it is gone. */
const minorFaults = (pid: number) => orZero((p) => Number(statFields(p)[7]), pid);

/** This process's CPU plus that of its children already waited for (wrk runs). */
function selfTicks(): { own: number; children: number } {
  const f = statFields("self");
  return { own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

/** {@linkcode statusKb}, 0 when the field is missing or the process is gone. */
function kbOf(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    return statusKb(pid, field) || 0;
  } catch {
    return 0;
  }
}

/**
 * Machine-wide busy (user + nice + system + irq + softirq) and steal ticks,
 * /proc/stat. Softirq is in: the loopback networking a process does inline
 * shows in /proc/stat as softirq but in that process's own stime, so the sum
 * of all processes' times matches busy only with it (measured here).
 */
function machineTicks(): { busy: number; steal: number } {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  return { busy: f[0] + f[1] + f[2] + f[5] + f[6], steal: f[7] ?? 0 };
}

/** CPU of the kernel's threads (children of kthreadd, pid 2): ksoftirqd, kworkers… */
function kernelThreadTicks(): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const f = statFields(Number(e.name));
      if (f[1] === "2" || e.name === "2") n += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return n;
}

// ---------------------------------------------------------------- helpers

async function runText(cmd: string, args: string[]): Promise<string> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", cwd: REPO })
      .output();
    // A failed command (a base that is no git checkout) says nothing, not its error.
    return o.success ? new TextDecoder().decode(o.stdout).trim() : "";
  } catch {
    return "";
  }
}

/** Polls `url` until it answers 200; throws when `exited()` or after `ms`. */
async function waitHttp(url: string, exited: () => boolean, what: string, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (exited()) throw new Error(`${what} exited while starting`);
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      if (r.status === 200) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`${what} not ready after ${ms} ms (${url})`);
}

/** Starts `command` (stdout dropped, stderr shown) and waits until `readyUrl` answers 200. */
async function spawnReady(
  command: string,
  args: string[],
  options: { cwd?: string; readyUrl: string; what: string },
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let exited = false;
  child.status.then(() => exited = true);
  await waitHttp(options.readyUrl, () => exited, options.what);
  return child;
}

async function stopChild(child: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM") {
  try {
    child.kill(signal);
  } catch { /* gone */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 15_000);
  await child.status;
  clearTimeout(timer);
}

// ---------------------------------------------------------------- targets

type Creds = { accessKey: string; secretKey: string };
type OspId =
  | "osp"
  | "osp-warn"
  | "osp-errlog"
  | "osp-reducer"
  | "osp-t2"
  | "osp-base"
  | "osp-t2-base";

interface Target {
  id: "gwka" | "gw" | OspId | "direct";
  port: number;
  /** Path before `/k-<size>`: `/bench` (osp, direct) or empty (the gateway's one bucket). */
  prefix: string;
  /** Signing key, or null: unsigned requests. */
  creds: Creds | null;
  /** Processes whose CPU is the proxy's (osp: its process; nginx: its workers). */
  cpuPids(): number[];
  /** Processes whose RSS is the proxy's (osp: its process; nginx: master + workers). */
  rssPids(): number[];
  /** Every process of it (for the machine-load accounting). */
  allPids(): number[];
  stop(): Promise<void>;
  /** Access-log file. */
  accessLog?: string;
}

const LABEL: Record<Target["id"], string> = {
  gwka: "nginx-s3-gateway + keepalive",
  gw: "nginx-s3-gateway (shipped)",
  osp: "osp",
  "osp-warn": "osp `--log-level warn`",
  "osp-errlog": "osp `--access-log-sample 0`",
  "osp-reducer": "osp with V8's memory reducer",
  "osp-t2": "osp `--threads 2`",
  "osp-base": "osp (base)",
  "osp-t2-base": "osp `--threads 2` (base)",
  direct: "direct (no proxy)",
};
const ORDER: Target["id"][] = [
  "gwka",
  "gw",
  "osp-base",
  "osp",
  "osp-warn",
  "osp-errlog",
  "osp-reducer",
  "osp-t2-base",
  "osp-t2",
  "direct",
];
/**
 * Whether a column runs (`--columns`; osp-reducer and osp-errlog only when
 * named there, the base columns only with `--base`).
 */
const wanted = (id: Target["id"]) =>
  (opts.columns === undefined
    ? id !== "osp-reducer" && id !== "osp-errlog"
    : opts.columns.has(id)) &&
  (opts.base !== undefined || !id.endsWith("-base"));

/** Why the gateway cannot run here, or null. */
async function gatewayMissing(): Promise<string | null> {
  const missing: string[] = [];
  if (!(await which("nginx"))) missing.push("nginx");
  try {
    Deno.statSync("/usr/lib/nginx/modules/ngx_http_js_module.so");
  } catch {
    missing.push("libnginx-mod-http-js");
  }
  try {
    Deno.statSync("/usr/lib/nginx/modules/ngx_http_xslt_filter_module.so");
  } catch {
    missing.push("libnginx-mod-http-xslt-filter");
  }
  if (!(await which("envsubst"))) missing.push("gettext-base (envsubst)");
  try {
    Deno.statSync(RENDER);
  } catch {
    missing.push(RENDER);
  }
  return missing.length ? `missing: ${missing.join(", ")}` : null;
}

async function startGateway(
  id: "gwka" | "gw",
  keepalive: number,
  backendPort: number,
  creds: Creds,
  dir: string,
): Promise<Target> {
  const port = freePort();
  const render = await new Deno.Command("bash", {
    args: [RENDER, id, String(port), String(keepalive), String(backendPort), BUCKET],
    env: {
      OUT_DIR: dir,
      BACKEND_ACCESS_KEY: creds.accessKey,
      BACKEND_SECRET_KEY: creds.secretKey,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = `${dir}/${id}`;
  if (!render.success) {
    throw new Error(
      `render-nginx-s3-gateway.sh ${id} failed: ${new TextDecoder().decode(render.stderr)}`,
    );
  }
  const child = await spawnReady("bash", [
    "-c",
    `source "${d}/env.sh" && exec nginx -p "${d}" -c "${d}/nginx.conf" -e "${d}/logs/error.log" -g "daemon off;"`,
  ], { readyUrl: `http://127.0.0.1:${port}/health`, what: `nginx (${id})` });
  const master = child.pid;
  // Its processes do not change while it runs (no reload): looked up once.
  const children = childrenOf(master);
  const workers = children.filter((p) => cmdline(p).includes("worker process"));
  if (workers.length === 0) throw new Error(`nginx (${id}): no worker process found`);
  return {
    id,
    port,
    prefix: "",
    creds: null,
    cpuPids: () => workers,
    rssPids: () => [master, ...workers],
    allPids: () => [master, ...children],
    stop: () => stopChild(child, "SIGQUIT"),
    accessLog: `${d}/logs/access.log`,
  };
}

async function startOsp(
  id: OspId,
  backendPort: number,
  creds: Creds,
  dir: string,
): Promise<Target> {
  const config = `${dir}/osp.config.ts`;
  await Deno.writeTextFile(
    config,
    `// Written by bench/peers.ts: one path-style bucket on the backend under test.
export default {
  hostname: "127.0.0.1",
  hmacKeystore: [${JSON.stringify(CLIENT)}],
  validator: (token: string) => token === ${JSON.stringify(CLIENT.accessKey)},
  cosMap: {
    ${BUCKET}: {
      host: "127.0.0.1",
      port: ${backendPort},
      tls: false,
      addressingStyle: "path",
      accessKey: ${JSON.stringify(creds.accessKey)},
      secretKey: ${JSON.stringify(creds.secretKey)},
    },
  },
};
`,
  );
  const port = freePort();
  const metricsPort = freePort();
  const accessLog = `${dir}/${id}.stdout.log`;
  const flags = id === "osp-warn"
    ? ["--log-level", "warn"]
    : id === "osp-errlog"
    ? ["--access-log-sample", "0"]
    : id === "osp-t2" || id === "osp-t2-base"
    ? ["--threads", "2"]
    : [];
  const root = id.endsWith("-base") ? opts.base! : REPO;
  const denoArgs = [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--unstable-no-legacy-abort",
    // As docs/operating.md runs it; osp-reducer leaves V8's memory reducer on.
    ...(id === "osp-reducer"
      ? ["--v8-flags=--no-allocation-site-pretenuring"]
      : ["--v8-flags=--no-memory-reducer,--no-allocation-site-pretenuring"]),
    ...(flags[0] === "--threads" ? ["--unstable-net"] : []),
    `${root}/main.ts`,
    "--config",
    config,
    "--http-port",
    String(port),
    "--metrics-port",
    String(metricsPort),
    ...flags,
  ];
  // `exec`, so that the child's pid is osp's; stdout (the access log) into a file.
  const child = await spawnReady(
    "sh",
    ["-c", `exec "$0" "$@" > "${accessLog}"`, Deno.execPath(), ...denoArgs],
    { cwd: root, readyUrl: `http://127.0.0.1:${metricsPort}/readyz`, what: id },
  );
  const pid = child.pid;
  return {
    id,
    port,
    prefix: `/${BUCKET}`,
    creds: CLIENT,
    cpuPids: () => [pid],
    rssPids: () => [pid],
    allPids: () => [pid],
    stop: () => stopChild(child),
    accessLog,
  };
}

// ---------------------------------------------------------------- backends

interface Backend {
  name: "noop" | "rgw";
  desc: string;
  port: number;
  creds: Creds;
  pids: number[];
  stop(): Promise<void>;
}

async function startNoop(): Promise<Backend> {
  const p: Proc = await spawnDeno(["run", "--allow-net", here("./noop_backend.ts")]);
  p.lines.drain();
  return {
    name: "noop",
    desc: "no-op S3 backend (`bench/noop_backend.ts`: GET generates the pattern bytes)",
    port: p.first.port as number,
    creds: { accessKey: "bench-backend", secretKey: "bench-backend-secret" },
    pids: [p.pid],
    stop: () => stopChild(p.child),
  };
}

async function startRgw(): Promise<Backend> {
  const { rgwInstalled, startOwnedRgw } = await import("../tests/_rgw.ts");
  if (!rgwInstalled()) {
    throw new Error("--rgw: Ceph (radosgw, ceph-mon, ceph-osd…) is not installed");
  }
  log("starting a throwaway Ceph RGW (tests/_rgw.ts)…");
  const cluster = await startOwnedRgw();
  const user = await cluster.createUser("osp-peers");
  let pids: number[] = [];
  try {
    pids = Deno.readTextFileSync(`${cluster.state().dir}/pids`).trim().split(/\s+/)
      .map(Number).filter((n) => n > 0);
  } catch { /* accounting only */ }
  return {
    name: "rgw",
    desc: "Ceph RGW (memstore, throwaway single-host cluster from tests/_rgw.ts)",
    port: cluster.port,
    creds: { accessKey: user.accessKey, secretKey: user.secretKey },
    pids,
    stop: () => cluster.stop(),
  };
}

// ---------------------------------------------------------------- load

const useWrk = opts.generator === "wrk" ||
  (opts.generator === "auto" && await which("wrk"));
if (opts.generator === "wrk" && !(await which("wrk"))) throw new Error("--generator wrk: no wrk");
const load = await startLoadGenerator();

/**
 * What one run measured, whichever generator ran it; p90 and p999 are NaN
 * where the generator does not give them (bench/load.ts).
 */
interface Gen extends WrkResult {
  hashed: number;
  /** Generator CPU ticks. */
  genTicks: number;
}

async function loadJob(job: Job): Promise<Gen> {
  const before = ticksOf(load.pid);
  const r = await load.run(job);
  return {
    requests: r.requests,
    errors: r.errors,
    firstError: r.firstError,
    seconds: r.seconds,
    p50: r.p50 ?? NaN,
    p90: NaN,
    p99: r.p99 ?? NaN,
    p999: NaN,
    hashed: r.hashed,
    genTicks: ticksOf(load.pid) - before,
  };
}

function loadGet(
  t: Target,
  size: number,
  run: { concurrency: number; durationMs?: number; count?: number; hashEvery: number },
): Promise<Gen> {
  return loadJob({
    cmd: "run",
    method: "GET",
    host: "127.0.0.1",
    port: t.port,
    path: `${t.prefix}/k-${size}`,
    size,
    accessKey: t.creds?.accessKey ?? "",
    secretKey: t.creds?.secretKey ?? "",
    unsigned: t.creds === null,
    ...run,
  });
}

let tmp = "";

async function wrkGet(t: Target, size: number, concurrency: number, seconds: number) {
  const url = `http://127.0.0.1:${t.port}${t.prefix}/k-${size}`;
  const headers: Record<string, string> = {};
  if (t.creds) {
    const h = signHeaders("GET", url, { ...t.creds, payloadHash: EMPTY_SHA256 });
    for (const [k, v] of Object.entries(h)) if (k !== "host") headers[k] = v; // wrk sends Host
  }
  const before = selfTicks().children;
  const r = await runWrk(url, { size, concurrency, seconds, headers, dir: tmp });
  return { ...r, hashed: 0, genTicks: selfTicks().children - before } satisfies Gen;
}

const WARM_UP_CAP_S = 90;

/** The 1 MiB GETs of the warm-up: a tenth as many as the 1 KiB ones. */
function warmUpMib(): number {
  return Math.ceil(opts.warmUp / 10);
}

/**
 * Runs of 2 s at c=16 until `requests` GETs of `size` bytes were served (or
 * WARM_UP_CAP_S passed); the first failure, if any.
 */
async function warmUp(t: Target, size: number, requests: number): Promise<string | undefined> {
  const until = Date.now() + WARM_UP_CAP_S * 1000;
  for (let served = 0; served < requests && Date.now() < until;) {
    const w = await smallRun(t, size, 16, 2);
    if (w.errors) return w.firstError ?? `${w.errors} errors`;
    served += w.requests;
  }
  return undefined;
}

/** A timed run of `concurrency` connections GETting one object for `seconds`. */
function smallRun(t: Target, size: number, concurrency: number, seconds: number): Promise<Gen> {
  return useWrk
    ? wrkGet(t, size, concurrency, seconds)
    : loadGet(t, size, { concurrency, durationMs: seconds * 1000, hashEvery: 10 });
}

// ---------------------------------------------------------------- accounting

let targets: Target[] = [];
let backend: Backend | undefined;

/** CPU of every process of ours: this one (and the wrk runs it waited for), proxies, backend, load. */
function ours(): number {
  const s = selfTicks();
  let n = s.own + s.children + ticksOf(load.pid);
  for (const t of targets) for (const p of t.allPids()) n += ticksOf(p);
  for (const p of backend?.pids ?? []) n += ticksOf(p);
  return n;
}

interface Measured extends Gen {
  proxyTicks: number;
  /** The proxy's minor page faults over the run (/proc/PID/stat field 10). */
  proxyFaults: number;
  /** Cores other processes kept busy during the run. */
  other: number;
  /** Runs made (a noisy one is made again): the quietest is kept. */
  attempts: number;
}

const failures: string[] = [];

/** Runs `go` with the proxy's CPU measured around it; again while the machine is noisy. */
async function measured(
  t: Target,
  what: string,
  go: () => Promise<Gen>,
  options: { perfFile?: string } = {},
): Promise<Measured> {
  let best: Measured | undefined;
  let made = 0;
  for (let attempt = 0; attempt <= opts.retries; attempt++) {
    made++;
    if (attempt > 0) {
      log(`  other load ${best!.other.toFixed(2)} cores: again in 3 s`);
      await sleep(3000);
    }
    const pids = t.cpuPids();
    const sum = () => pids.reduce((s, p) => s + ticksOf(p), 0);
    const faults = () => pids.reduce((s, p) => s + minorFaults(p), 0);
    const faults0 = faults();
    // Sampled for most of the run (perf starts at once; the load a moment later).
    const perf = options.perfFile === undefined || pids.length === 0
      ? undefined
      : perfRecord(pids, { seconds: Math.max(1, opts.durationS - 1), file: options.perfFile });
    const m0 = machineTicks().busy;
    const k0 = kernelThreadTicks();
    const o0 = ours();
    const p0 = sum();
    const t0 = performance.now();
    const g = await go();
    await perf;
    const p1 = sum();
    const faults1 = faults();
    const secs = (performance.now() - t0) / 1000;
    // Kernel threads count as ours: under load, loopback networking runs in ksoftirqd.
    const mine = ours() - o0 + kernelThreadTicks() - k0;
    const other = Math.max(0, (machineTicks().busy - m0 - mine) / CLK_TCK / secs);
    const m: Measured = {
      ...g,
      proxyTicks: p1 - p0,
      proxyFaults: faults1 - faults0,
      other,
      attempts: 0,
    };
    if (!best || m.other < best.other) best = m;
    if (g.errors > 0) break; // a failed check is reported, not retried away
    if (other <= opts.noisy) break;
  }
  best!.attempts = made;
  if (best!.errors > 0) {
    failures.push(
      `${LABEL[t.id]}, ${what}: ${best!.errors}/${best!.requests} failed, first: ${
        best!.firstError
      }`,
    );
  }
  return best!;
}

// ---------------------------------------------------------------- measure

interface SmallCell {
  rps: number[];
  cpuUs: number[];
  faults: number[];
  /** With `--perf`: the split of a run under perf, and the cell's median CPU per request. */
  perf?: { split: PerfSplit; cpuUs: number };
  p50: number[];
  p90: number[];
  p99: number[];
  p999: number[];
  genUs: number[];
  other: number[];
  requests: number;
  attempts: number;
}
interface BigCell {
  mbps: number[];
  cpuMs: number[];
  rssBeforeMb: number[];
  peakMb: number[];
  sampledMb: number[];
  other: number[];
  hashed: number;
  attempts: number;
}
interface Section {
  backend: Backend["name"];
  desc: string;
  small: { key: string; size: number; concurrency: number; cells: Map<string, SmallCell> }[];
  big: Map<string, BigCell>;
  idleMb: Map<string, number>;
  startMb: Map<string, number>;
  /** After the small and medium rows, before the large GET. */
  afterRowsMb: Map<string, number>;
  logLines: Map<string, number>;
  gatewayNote?: string;
}

const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rotate = <T>(
  xs: T[],
  r: number,
) => [...xs.slice(r % xs.length), ...xs.slice(0, r % xs.length)];
const rssMb = (pids: number[], field: "VmRSS" | "VmHWM") =>
  pids.reduce((s, p) => s + kbOf(p, field), 0) * 1024 / 1e6;

async function countLines(path: string): Promise<number> {
  let n = 0;
  let f: Deno.FsFile | undefined;
  try {
    f = await Deno.open(path);
    const buf = new Uint8Array(1 << 20);
    for (;;) {
      const k = await f.read(buf);
      if (k === null) break;
      for (let i = 0; i < k; i++) if (buf[i] === 10) n++;
    }
  } catch {
    return NaN;
  } finally {
    f?.close();
  }
  return n;
}

async function seedRgw(b: Backend) {
  log("rgw: creating the bucket and writing the objects");
  const url = `http://127.0.0.1:${b.port}/${BUCKET}`;
  const res = await fetch(url, { method: "PUT", headers: signHeaders("PUT", url, b.creds) });
  await res.body?.cancel();
  if (!res.ok && res.status !== 409) throw new Error(`create bucket: ${res.status}`);
  for (const size of [KiB, MiB, BIG]) {
    const r = await loadJob({
      cmd: "run",
      method: "PUT",
      host: "127.0.0.1",
      port: b.port,
      path: `/${BUCKET}/k-${size}`,
      size,
      ...b.creds,
      concurrency: 1,
      count: 1,
      hashEvery: 0,
      putPayload: "unsigned",
      expectEtag: null,
    });
    if (r.errors) throw new Error(`PUT k-${size} to RGW: ${r.firstError}`);
  }
}

async function section(name: Backend["name"], gwMissing: string | null): Promise<Section> {
  tmp = await Deno.makeTempDir({ prefix: `osp-peers-${name}-` });
  // nginx's workers run as nobody: they must reach their temp files under it.
  await Deno.chmod(tmp, 0o755);
  backend = name === "noop" ? await startNoop() : await startRgw();
  const b = backend;
  if (name === "rgw") await seedRgw(b);
  const sec: Section = {
    backend: name,
    desc: b.desc,
    small: [],
    big: new Map(),
    idleMb: new Map(),
    startMb: new Map(),
    afterRowsMb: new Map(),
    logLines: new Map(),
    gatewayNote: gwMissing ?? undefined,
  };
  targets = [];
  let ok = false;
  try {
    if (!gwMissing) {
      if (wanted("gwka")) targets.push(await startGateway("gwka", 32, b.port, b.creds, tmp));
      if (opts.shipped && wanted("gw")) {
        targets.push(await startGateway("gw", 0, b.port, b.creds, tmp));
      }
    }
    for (const id of ORDER) {
      if (id.startsWith("osp") && wanted(id)) {
        targets.push(await startOsp(id as OspId, b.port, b.creds, tmp));
      }
    }
    if (wanted("direct")) {
      targets.push({
        id: "direct",
        port: b.port,
        prefix: `/${BUCKET}`,
        creds: b.creds,
        cpuPids: () => [],
        rssPids: () => [],
        allPids: () => [],
        stop: () => Promise.resolve(),
      });
    }
    const proxies = targets.filter((t) => t.id !== "direct");
    for (const t of proxies) sec.startMb.set(t.id, rssMb(t.rssPids(), "VmRSS"));

    // Until V8 has compiled osp's request path: a fresh osp spends far more
    // CPU per request for its first tens of thousands of requests
    // (docs/performance.md, "JIT warm-up and idle periods"). 1 MiB GETs first, as the first
    // ones re-optimize code the small ones share, then 1 KiB GETs.
    for (const t of proxies) {
      log(`${name}: warm-up, ${t.id}, ${warmUpMib()} 1 MiB GETs`);
      const w = await warmUp(t, MiB, warmUpMib());
      if (w) failures.push(`${LABEL[t.id]}, warm-up 1 MiB: ${w}`);
    }
    for (const t of targets) {
      const requests = t.id === "direct" ? 1000 : opts.warmUp; // no JIT behind "direct"
      log(`${name}: warm-up, ${t.id}, ${requests} 1 KiB GETs`);
      const w = await warmUp(t, KiB, requests);
      if (w) failures.push(`${LABEL[t.id]}, warm-up 1 KiB: ${w}`);
    }
    for (const t of proxies) sec.idleMb.set(t.id, rssMb(t.rssPids(), "VmRSS"));
    for (const t of opts.big ? targets : []) {
      log(`${name}: warm-up, ${t.id}, ${opts.bigMib} MiB GET`);
      const w = await loadGet(t, BIG, { concurrency: 1, count: 1, hashEvery: 1 });
      if (w.errors) failures.push(`${LABEL[t.id]}, warm-up ${BIG} B: ${w.firstError}`);
    }

    // Small and medium objects: for each row, rounds of every column, rotated.
    const rows = name === "noop" ? [[KiB, 16], [KiB, 64], [MiB, 16]] : [[KiB, 16], [MiB, 16]];
    for (const [size, c] of rows) {
      const key = `${size}|${c}`;
      const cells = new Map<string, SmallCell>();
      sec.small.push({ key, size, concurrency: c, cells });
      const what = `${size === KiB ? "1 KiB" : "1 MiB"} GET c=${c}`;
      for (let r = 0; r < opts.rounds; r++) {
        for (const t of rotate(targets, r)) {
          log(`${name}: ${what}, ${t.id}, round ${r + 1}/${opts.rounds}`);
          const m = await measured(t, what, () => smallRun(t, size, c, opts.durationS));
          const cell = cells.get(t.id) ?? {
            rps: [],
            cpuUs: [],
            faults: [],
            p50: [],
            p90: [],
            p99: [],
            p999: [],
            genUs: [],
            other: [],
            requests: 0,
            attempts: 0,
          };
          cells.set(t.id, cell);
          cell.rps.push(m.requests / m.seconds);
          cell.cpuUs.push(
            t.id === "direct" ? NaN : m.proxyTicks / CLK_TCK * 1e6 / m.requests,
          );
          cell.faults.push(t.id === "direct" ? NaN : m.proxyFaults / m.requests);
          cell.p50.push(m.p50);
          cell.p90.push(m.p90);
          cell.p99.push(m.p99);
          cell.p999.push(m.p999);
          cell.genUs.push(m.genTicks / CLK_TCK * 1e6 / m.requests);
          cell.other.push(m.other);
          cell.requests += m.requests;
          cell.attempts += m.attempts;
        }
      }
      // With --perf: one more run per proxy, under perf, not in the medians.
      for (const t of perfDir === undefined ? [] : proxies) {
        log(`${name}: ${what}, ${t.id}, under perf`);
        const file = `${perfDir}/${name}-${size}-c${c}-${t.id}.data`;
        await measured(t, `${what} (perf)`, () => smallRun(t, size, c, opts.durationS), {
          perfFile: file,
        });
        const cell = cells.get(t.id)!;
        cell.perf = { split: await perfSplit(file), cpuUs: median(cell.cpuUs) };
      }
    }
    for (const t of proxies) sec.afterRowsMb.set(t.id, rssMb(t.rssPids(), "VmRSS"));

    // The large GET: MB/s, CPU and peak RSS per GET; then one untimed GET with its SHA-256.
    for (let r = 0; r < (opts.big ? opts.bigRounds : 0); r++) {
      for (const t of rotate(targets, r)) {
        log(`${name}: ${opts.bigMib} MiB GET, ${t.id}, round ${r + 1}/${opts.bigRounds}`);
        const pids = t.rssPids();
        const before = rssMb(pids, "VmRSS");
        const reset = pids.every(resetPeakRss);
        let sampled = before;
        const sampler = setInterval(() => {
          sampled = Math.max(sampled, rssMb(pids, "VmRSS"));
        }, 100);
        const m = await measured(
          t,
          `${opts.bigMib} MiB GET`,
          () => loadGet(t, BIG, { concurrency: 1, count: 1, hashEvery: 0 }),
        );
        clearInterval(sampler);
        sampled = Math.max(sampled, rssMb(pids, "VmRSS"));
        const hashedRun = await loadGet(t, BIG, { concurrency: 1, count: 1, hashEvery: 1 });
        if (hashedRun.errors) {
          failures.push(`${LABEL[t.id]}, ${opts.bigMib} MiB SHA-256 GET: ${hashedRun.firstError}`);
        }
        const cell = sec.big.get(t.id) ?? {
          mbps: [],
          cpuMs: [],
          rssBeforeMb: [],
          peakMb: [],
          sampledMb: [],
          other: [],
          hashed: 0,
          attempts: 0,
        };
        sec.big.set(t.id, cell);
        cell.mbps.push(m.errors ? NaN : BIG / (m.p50 / 1000) / 1e6);
        cell.cpuMs.push(t.id === "direct" ? NaN : m.proxyTicks / CLK_TCK * 1000);
        cell.rssBeforeMb.push(pids.length ? before : NaN);
        cell.peakMb.push(pids.length && reset ? rssMb(pids, "VmHWM") : NaN);
        cell.sampledMb.push(pids.length ? sampled : NaN);
        cell.other.push(m.other);
        cell.hashed += hashedRun.hashed;
        cell.attempts += m.attempts;
      }
    }
    ok = true;
  } finally {
    for (const t of targets) await t.stop();
    for (const t of targets) {
      if (t.accessLog) sec.logLines.set(t.id, await countLines(t.accessLog));
    }
    targets = [];
    await b.stop();
    backend = undefined;
    if (ok) await Deno.remove(tmp, { recursive: true }).catch(() => {});
    else log(`kept ${tmp} (logs of the failed section)`);
  }
  return sec;
}

// ---------------------------------------------------------------- run

const startedAt = new Date();
const t0 = performance.now();
const loadavgBefore = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const steal0 = machineTicks().steal;
const gwMissing = await gatewayMissing();
let perfDir = opts.perf;
if (perfDir !== undefined) {
  if (await which("perf")) await Deno.mkdir(perfDir, { recursive: true });
  else {
    log("--perf skipped: perf is not installed (apt-get install -y linux-perf)");
    perfDir = undefined;
  }
}
if (gwMissing) {
  log(
    `nginx-s3-gateway skipped (${gwMissing}); to include it: apt-get install -y nginx ` +
      `libnginx-mod-http-js libnginx-mod-http-xslt-filter gettext-base`,
  );
}
if (!useWrk) log("load generator: bench/load.ts (wrk not installed or --generator load)");
const sections: Section[] = [];
const onSignal = () => {
  log("interrupted: stopping what was started");
  Promise.all(targets.map((t) => t.stop())).finally(async () => {
    await backend?.stop();
    Deno.exit(130);
  });
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);
try {
  if (!opts.onlyRgw) sections.push(await section("noop", gwMissing));
  if (opts.rgw) sections.push(await section("rgw", gwMissing));
} finally {
  await load.exit();
}
const elapsedS = (performance.now() - t0) / 1000;
const stealPct = (machineTicks().steal - steal0) / CLK_TCK / elapsedS /
  navigator.hardwareConcurrency * 100;
const loadavgAfter = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

// ---------------------------------------------------------------- report

const f0 = (x: number) => Number.isNaN(x) ? "–" : x.toFixed(0);
const f1 = (x: number) => Number.isNaN(x) ? "–" : x.toFixed(1);
const f2 = (x: number) => Number.isNaN(x) ? "–" : x.toFixed(2);
const sizeLabel = (n: number) => n >= MiB ? `${+(n / MiB).toFixed(0)} MiB` : `${n / KiB} KiB`;
const head = await runText("git", ["rev-parse", "--short", "HEAD"]);
const baseHead = opts.base === undefined
  ? ""
  : await runText("git", ["-C", opts.base, "rev-parse", "--short", "HEAD"]);
const dirty = (await runText("git", ["status", "--porcelain", "--", "lib", "main.ts", "mod.ts"]))
  .split("\n").filter(Boolean).map((l) => l.slice(3));
const cpuModel = /^model name\s*:\s*(.*)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ??
  "unknown";
const pkg = async (name: string) =>
  (await runText("dpkg-query", ["-W", "-f", "${Version}", name])) || "?";
const columns = ORDER.filter((id) =>
  sections.some((s) =>
    s.small.some((row) => row.cells.has(id)) || s.big.has(id) || s.idleMb.has(id)
  )
);
const cmdline0 = ["deno run -A bench/peers.ts", ...Deno.args].join(" ");

const out: string[] = [];
const p = (s = "") => out.push(s);
p(`# osp and nginx-s3-gateway, side by side`);
p();
p(`- date: ${startedAt.toISOString()}; took ${f0(elapsedS)} s; command: \`${cmdline0}\``);
p(
  `- code: osp ${head || "?"}${
    dirty.length ? ` + uncommitted changes in ${dirty.join(", ")} (the working tree ran)` : ""
  }${
    opts.base === undefined ? "" : `; base columns: ${opts.base} at ${baseHead || "?"}`
  }; nginx ${await pkg("nginx")}, njs ${await pkg("libnginx-mod-http-js")}${
    useWrk ? `, wrk ${await pkg("wrk")}` : ""
  }, Deno ${Deno.version.deno}`,
);
p(
  `- machine: ${navigator.hardwareConcurrency} CPUs, ${cpuModel}, Linux ${Deno.osRelease()}; loadavg ${loadavgBefore} before, ${loadavgAfter} after; steal ${
    f1(stealPct)
  }%; everything (generator, proxies, backend) on these same cores`,
);
p(
  `- load: ${
    useWrk
      ? "wrk -t1 (1 KiB and 1 MiB rows; osp gets one header-signed request, signed just before each run and replayed; the gateway unsigned ones; a Lua check of every status and body, byte for byte)"
      : "bench/load.ts (every row; osp gets SigV4 per request, the gateway unsigned requests; every body compared byte for byte, SHA-256 on 1 in 10)"
  }, and bench/load.ts for the ${opts.bigMib} MiB GET (one at a time, body compared byte for byte; one more untimed GET per column and round with its SHA-256 checked)`,
);
p(
  `- warm-up: each proxy first serves ${warmUpMib()} 1 MiB GETs and then ${opts.warmUp} 1 KiB GETs (c=16; in runs of 2 s, at most ${WARM_UP_CAP_S} s each) per backend, untimed\n` +
    `- runs: ${opts.durationS} s each, ${opts.rounds} round(s) per row (${opts.bigRounds} for the ${opts.bigMib} MiB GET), columns interleaved (rotated each round), medians shown; ${
      opts.retries
        ? `a run during which other processes kept more than ${opts.noisy} cores busy was run again (at most ${opts.retries} more time(s), the quietest kept)`
        : "no run repeated for noise"
    }`,
);
p(
  `- proxy CPU: utime + stime from /proc (osp: its process, every thread and isolate; nginx: its worker) over the run ÷ requests; RSS: VmRSS (nginx: master + worker) after the warm-up, and VmHWM (reset just before) during one ${opts.bigMib} MiB GET, median over the rounds`,
);
p();

const cellOf = (s: Section, key: string, id: string) =>
  s.small.find((row) => row.key === key)?.cells.get(id);
const ms = (x: number) => Number.isNaN(x) ? "–" : `${f2(x)} ms`;
const us = (x: number) => Number.isNaN(x) ? "–" : `${f0(x)} µs`;
type Row = [string, (s: Section, id: string) => string];
const rowsFor = (s: Section): Row[] => {
  const bk = s.backend === "noop" ? "no-op backend" : "RGW";
  const small = (key: string, f: (c: SmallCell) => string) => (sec: Section, id: string) => {
    const c = cellOf(sec, key, id);
    return c ? f(c) : "–";
  };
  const k1 = `${KiB}|16`;
  const k64 = `${KiB}|64`;
  const m16 = `${MiB}|16`;
  const bigDirect = median(s.big.get("direct")?.mbps ?? []);
  const big = (sec: Section, id: string) => {
    const c = sec.big.get(id);
    if (!c) return "–";
    const mb = median(c.mbps);
    const ratio = id === "direct" ? "" : ` (${f2(mb / bigDirect)}×)`;
    return `${f0(mb)} MB/s${ratio}${id === "direct" ? "" : `; ${f0(median(c.cpuMs))} ms`}`;
  };
  const rss = (sec: Section, id: string) => {
    const c = sec.big.get(id);
    const idle = sec.idleMb.get(id);
    if (!c || idle === undefined) return "–";
    return `${f0(idle)} / ${f0(median(c.peakMb))} MB`;
  };
  const rows: Row[] = [
    [`1 KiB GET, ${bk}, c=16: req/s`, small(k1, (c) => f0(median(c.rps)))],
  ];
  if (s.backend === "noop") {
    rows.push(
      [`same: proxy CPU per request`, small(k1, (c) => us(median(c.cpuUs)))],
      [`same: p99`, small(k1, (c) => ms(median(c.p99)))],
      [`1 KiB GET, ${bk}, c=64: req/s`, small(k64, (c) => f0(median(c.rps)))],
      [
        `same: CPU per request; p99`,
        small(k64, (c) => `${us(median(c.cpuUs))}; ${ms(median(c.p99))}`),
      ],
    );
  } else {
    rows[0] = [
      `1 KiB GET, ${bk}, c=16: req/s; CPU per request`,
      small(k1, (c) => `${f0(median(c.rps))}; ${us(median(c.cpuUs))}`),
    ];
  }
  rows.push(
    [
      `1 MiB GET, ${bk}, c=16: req/s; CPU per request`,
      small(m16, (c) => `${f0(median(c.rps))}; ${us(median(c.cpuUs))}`),
    ],
    [`${sizeLabel(BIG)} GET, ${bk}: MB/s (÷ direct); CPU per GET`, big],
    [`RSS warmed up / peak during ${sizeLabel(BIG)} GET (${bk})`, rss],
  );
  return rows;
};

p(`| row | ${columns.map((id) => LABEL[id]).join(" | ")} |`);
p(`|---|${columns.map(() => "---:").join("|")}|`);
for (const s of sections) {
  for (const [label, f] of rowsFor(s)) {
    p(`| ${label} | ${columns.map((id) => f(s, id)).join(" | ")} |`);
  }
}
p();
if (!opts.rgw) p(`RGW rows: \`--rgw\`.`);
for (const s of sections) {
  if (s.gatewayNote) p(`${s.backend}: nginx-s3-gateway skipped (${s.gatewayNote}).`);
}
p();
p(`## Every run`);
p();
p(
  `Per cell: median (each round's value). "other" = the most cores other processes (not ours, not kernel threads) kept busy during one of its runs; "gen" = the load generator's CPU per request; "runs" = runs made, noisy ones run again included.`,
);
for (const s of sections) {
  p();
  p(`### ${s.desc}`);
  p();
  p(
    `| row | column | req/s | proxy CPU µs/req | page faults/req | p50 ms | p90 ms | p99 ms | p99.9 ms | gen µs/req | other | runs |`,
  );
  p(`|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
  for (const row of s.small) {
    for (const id of columns) {
      const c = row.cells.get(id);
      if (!c) continue;
      const list = (xs: number[], f: (x: number) => string) =>
        `${f(median(xs))} (${xs.map(f).join(", ")})`;
      p(
        `| ${sizeLabel(row.size)} c=${row.concurrency} | ${LABEL[id]} | ${list(c.rps, f0)} | ${
          list(c.cpuUs, f0)
        } | ${f1(median(c.faults))} | ${f2(median(c.p50))} | ${f2(median(c.p90))} | ${
          list(c.p99, f2)
        } | ${f2(median(c.p999))} | ${f0(median(c.genUs))} | ${
          f2(Math.max(...c.other))
        } | ${c.attempts} |`,
      );
    }
  }
  p();
  p(
    `| ${
      sizeLabel(BIG)
    } GET | MB/s | proxy CPU ms | RSS warmed up → before GET → peak (VmHWM) MB | sampled max RSS MB | SHA-256 checked | other | runs |`,
  );
  p(`|---|---:|---:|---:|---:|---:|---:|---:|`);
  for (const id of columns) {
    const c = s.big.get(id);
    if (!c) continue;
    p(
      `| ${LABEL[id]} | ${f0(median(c.mbps))} (${c.mbps.map(f0).join(", ")}) | ${
        f0(median(c.cpuMs))
      } (${c.cpuMs.map(f0).join(", ")}) | ${f0(s.idleMb.get(id) ?? NaN)} → ${
        f0(median(c.rssBeforeMb))
      } → ${f0(median(c.peakMb))} | ${f0(Math.max(...c.sampledMb))} | ${c.hashed} | ${
        f2(Math.max(...c.other))
      } | ${c.attempts} |`,
    );
  }
  perfTable(s);
  const lines = [...s.logLines].map(([id, n]) => `${LABEL[id as Target["id"]]} ${n}`);
  p();
  p(
    `RSS at start (before any request) → after the 1 KiB and 1 MiB rows, MB: ${
      [...s.startMb].map(([id, mb]) =>
        `${LABEL[id as Target["id"]]} ${f0(mb)} → ${f0(s.afterRowsMb.get(id) ?? NaN)}`
      ).join(", ")
    }. Access-log lines written: ${lines.join(", ")}.`,
  );
}

/** With `--perf`: each cell's median CPU per request split by the shares of its run under perf. */
function perfTable(s: Section): void {
  const cells = s.small.flatMap((row) =>
    columns.flatMap((id) => {
      const perf = row.cells.get(id)?.perf;
      return perf ? [{ row, id, perf }] : [];
    })
  );
  if (cells.length === 0) return;
  p();
  p(
    `Where the proxy's CPU goes (\`--perf\`: one more run per cell under perf with call graphs, not in the medians; the median CPU per request above split by that run's sample shares, µs; a send includes the loopback delivery the kernel makes on the sender's CPU; faults inside a receive count in both):`,
  );
  p();
  p(`| row | column | CPU | send (of it, copying out) | receive | page faults | other kernel | user, by binary |`);
  p(`|---|---|---:|---:|---:|---:|---:|---|`);
  for (const { row, id, perf: { split, cpuUs } } of cells) {
    const us = (share: number) => f0(share * cpuUs / 100);
    const user = [...split.user].filter(([, share]) => share >= 1).sort((a, b) => b[1] - a[1])
      .map(([dso, share]) => `${dso} ${us(share)}`).join(", ");
    p(
      `| ${sizeLabel(row.size)} c=${row.concurrency} | ${LABEL[id]} | ${f0(cpuUs)} | ${
        us(split.send)
      } (${us(split.sendCopy)}) | ${us(split.receive)} | ${us(split.pageFaults)} | ${
        us(split.otherKernel)
      } | ${user} |`,
    );
  }
}

if (failures.length) {
  p();
  p(`## Check failures`);
  p();
  for (const f of failures) p(`- ${f}`);
}

const text = out.join("\n") + "\n";
console.log(text);
await Deno.mkdir(opts.out.slice(0, opts.out.lastIndexOf("/")) || "/", { recursive: true });
await Deno.writeTextFile(opts.out, text);
log(`written to ${opts.out}`);
Deno.exit(failures.length ? 1 : 0);
