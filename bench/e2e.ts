// End-to-end benchmark: osp (own process, bench/proxy_process.ts) in front of
// the no-op S3 backend (own process, bench/noop_backend.ts), driven by a load
// generator (own process, bench/load.ts: raw HTTP/1.1, SigV4 per request,
// bodies checked). Every measurement is taken direct to the backend and
// through the proxy in the same run, interleaved (direct, proxy, direct,
// proxy…); medians and ratios are reported against the targets. Writes a
// Markdown report to stdout and to bench/results/latest.md; exits 1 when a
// request failed a check.
//
//   deno run -A bench/e2e.ts              # 1 GiB throughput, 5 GiB RSS, 5 s loads
//   deno run -A bench/e2e.ts --quick      # 256 MiB, 256 MiB, 2 s loads
//   flags: --gib N (throughput size) --big-gib N (RSS size) --duration S
//          --rounds N (small-object runs; 3) --big-rounds N (large; 5) --concurrency 1,16,64 --out FILE --rgw --threads N
//          --proxy-v8-flags --flag,--other (V8 flags of the proxy process)
// (`--threads N`: the proxy runs N isolates; bench/threads.ts compares 1 and N
// on small GETs alone.)
//
// Proxy CPU comes from /proc/<pid>/stat (utime+stime, all threads) deltas over
// each run; peak RSS from /proc/<pid>/status VmHWM, reset before each big
// transfer through /proc/<pid>/clear_refs, cross-checked by sampling VmRSS
// every 100 ms. `--rgw` runs the same measurements against a throwaway Ceph
// RGW (tests/_rgw.ts) instead of the no-op backend.
import { type Job, type Result, startLoadGenerator } from "./load.ts";
import {
  clockTicksPerSecond,
  cpuTicks,
  type Proc,
  resetPeakRss,
  rssSplit,
  spawnDeno,
  statusKb,
} from "./_procs.ts";

// ---------------------------------------------------------------- options

function parseOptions(args: string[]) {
  const o = {
    quick: false,
    rgw: false,
    gib: 1,
    bigGib: 5,
    durationS: 5,
    rounds: 3,
    // The large-transfer figures swing most (the direct one too): more runs, a steadier median.
    bigRounds: 5,
    concurrency: [1, 16, 64],
    threads: 1,
    /** V8 flags for the proxy process (`--v8-flags=` of `deno run`), to measure their effect. */
    proxyV8Flags: "",
    out: new URL("./results/latest.md", import.meta.url).pathname,
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
    else if (a === "--gib") o.gib = Number(value());
    else if (a === "--big-gib") o.bigGib = Number(value());
    else if (a === "--duration") o.durationS = Number(value());
    else if (a === "--rounds") o.rounds = Number(value());
    else if (a === "--big-rounds") o.bigRounds = Number(value());
    else if (a === "--concurrency") o.concurrency = value().split(",").map(Number);
    else if (a === "--out") o.out = value();
    else if (a === "--threads") o.threads = Number(value());
    else if (a === "--proxy-v8-flags") o.proxyV8Flags = value();
    else if (a === "--help" || a === "-h") {
      console.log(
        "deno run -A bench/e2e.ts [--quick] [--gib N] [--big-gib N] [--duration S] [--rounds N]\n" +
          "  [--big-rounds N] [--concurrency 1,16,64] [--out FILE] [--rgw] [--threads N]\n" +
          "  [--proxy-v8-flags --flag,--other-flag]",
      );
      Deno.exit(0);
    } else throw new Error(`unknown flag ${a}`);
  }
  if (o.quick) {
    if (!explicit.has("--gib")) o.gib = 0.25;
    if (!explicit.has("--big-gib")) o.bigGib = 0.25;
    if (!explicit.has("--duration")) o.durationS = 2;
  }
  // The throwaway RGW stores objects in a 2 GiB memstore and garbage-collects
  // overwritten data hours later: keep what one run writes well under that.
  if (o.rgw && !explicit.has("--gib")) o.gib = Math.min(o.gib, 0.125);
  if (o.rgw && !explicit.has("--big-gib")) o.bigGib = Math.min(o.bigGib, 0.125);
  for (const [k, v] of Object.entries({ gib: o.gib, bigGib: o.bigGib, durationS: o.durationS })) {
    if (!(v > 0)) throw new Error(`${k} must be > 0`);
  }
  for (const [k, v] of Object.entries({ rounds: o.rounds, bigRounds: o.bigRounds })) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`${k} must be a whole number > 0`);
  }
  return o;
}

const opts = parseOptions(Deno.args);
const GiB = 1024 ** 3;
const BIG = Math.round(opts.gib * GiB);
const HUGE = Math.round(opts.bigGib * GiB);
const SMALL = 1024;
const here = (p: string) => new URL(p, import.meta.url).pathname;

// ---------------------------------------------------------------- /proc

const CLK_TCK = await clockTicksPerSecond();

/** Machine-wide busy and steal ticks (/proc/stat). */
function machineTicks(): { busy: number; steal: number } {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = f;
  // irq/softirq left out: loopback traffic of our own processes lands there.
  void irq, softirq;
  return { busy: user + nice + system, steal: steal ?? 0 };
}

// ---------------------------------------------------------------- processes

async function stop(p: Proc): Promise<void> {
  try {
    p.child.kill("SIGTERM");
  } catch { /* gone */ }
  const timer = setTimeout(() => {
    try {
      p.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 5000);
  await p.child.status;
  clearTimeout(timer);
}

// ---------------------------------------------------------------- backend

interface Target {
  name: "direct" | "proxy";
  port: number;
  accessKey: string;
  secretKey: string;
}

const BUCKET = "bench";
const CLIENT = { accessKey: "bench-client", secretKey: "bench-client-secret" };
let backendDesc: string;
let backendPort: number;
let backendCreds = { accessKey: "bench-backend", secretKey: "bench-backend-secret" };
let backendPids: number[] = [];
let backendProc: Proc | undefined;
let rgw: { stop(): Promise<void> } | undefined;

if (opts.rgw) {
  const { rgwInstalled, startOwnedRgw } = await import("../tests/_rgw.ts");
  if (!rgwInstalled()) {
    throw new Error("--rgw: Ceph (radosgw, ceph-mon, ceph-osd…) is not installed");
  }
  console.error("::: starting a throwaway Ceph RGW (tests/_rgw.ts)…");
  const cluster = await startOwnedRgw();
  rgw = cluster;
  const user = await cluster.createUser("osp-bench");
  backendCreds = { accessKey: user.accessKey, secretKey: user.secretKey };
  backendPort = cluster.port;
  backendDesc = "Ceph RGW (memstore, throwaway single-host cluster from tests/_rgw.ts)";
  // Every daemon of the cluster counts as ours in the load accounting.
  try {
    backendPids = Deno.readTextFileSync(`${cluster.state().dir}/pids`).trim().split(/\s+/)
      .map(Number).filter((n) => n > 0);
  } catch { /* accounting only */ }
} else {
  backendProc = await spawnDeno(["run", "--allow-net", here("./noop_backend.ts")]);
  backendProc.lines.drain();
  backendPort = backendProc.first.port as number;
  backendPids = [backendProc.pid];
  backendDesc = "no-op S3 backend (`bench/noop_backend.ts`: GET generates bytes, PUT discards)";
}

const startProxy = async (): Promise<Proc> => {
  const p = await spawnDeno([
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    ...(opts.threads > 1 ? ["--unstable-net"] : []),
    ...(opts.proxyV8Flags === "" ? [] : [`--v8-flags=${opts.proxyV8Flags}`]),
    here("./proxy_process.ts"),
    String(backendPort),
    "--threads",
    String(opts.threads),
    "--bucket",
    BUCKET,
    "--backend-key",
    backendCreds.accessKey,
    "--backend-secret",
    backendCreds.secretKey,
    "--client-key",
    CLIENT.accessKey,
    "--client-secret",
    CLIENT.secretKey,
  ]);
  p.lines.drain();
  return p;
};
let proxy = await startProxy();
let proxyPid = proxy.first.pid as number;
const freshIdleRssKb = statusKb(proxyPid, "VmRSS");
const freshSplit = rssSplit(proxyPid);
const load = await startLoadGenerator();

const direct: Target = { name: "direct", port: backendPort, ...backendCreds };
let viaProxy: Target = { name: "proxy", port: proxy.first.port as number, ...CLIENT };

let failures = 0;
const failureNotes: string[] = [];

async function run(
  target: Target,
  job: Omit<Job, "cmd" | "host" | "port" | "accessKey" | "secretKey" | "path">,
): Promise<Result & { cpuTicks: number; otherCores: number }> {
  const full: Job = {
    cmd: "run",
    host: "127.0.0.1",
    port: target.port,
    accessKey: target.accessKey,
    secretKey: target.secretKey,
    path: `/${BUCKET}/k-${job.size}`,
    ...job,
  };
  if (opts.rgw && full.method === "PUT") full.expectEtag = null; // RGW answers an MD5
  const machineBefore = machineTicks().busy;
  const oursBefore = ours();
  const tBefore = performance.now();
  const before = cpuTicks(proxyPid);
  const result = await load.run(full);
  const after = cpuTicks(proxyPid);
  // Can dip below 0: our processes' stime includes softirq work /proc/stat books apart.
  const otherCores = Math.max(
    0,
    (machineTicks().busy - machineBefore - (ours() - oursBefore)) / CLK_TCK /
      ((performance.now() - tBefore) / 1000),
  );
  // JSON turns NaN (no successful request) into null.
  for (const k of ["p50", "p99", "max"] as const) result[k] ??= NaN;
  if (result.errors > 0) {
    failures += result.errors;
    failureNotes.push(
      `${target.name} ${job.method} ${job.size} B c=${job.concurrency}: ${result.errors}/${result.requests} failed, first: ${result.firstError}`,
    );
  }
  return { ...result, cpuTicks: after - before, otherCores };
}

// ---------------------------------------------------------------- measure

const median = (xs: number[]) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mbps = (r: Result, size: number) => r.errors ? NaN : size / (r.p50 / 1000) / 1e6;
const log = (s: string) => console.error(`::: ${s}`);

const startedAt = new Date();
const loadavgBefore = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
let retiredTicks = 0; // CPU of proxy processes already stopped
const ours = () =>
  retiredTicks +
  [proxyPid, load.pid, Deno.pid, ...backendPids].reduce((s, pid) => {
    try {
      return s + cpuTicks(pid);
    } catch {
      return s;
    }
  }, 0);
const machine0 = machineTicks();
const ours0 = ours();
const t0 = performance.now();

if (opts.rgw) {
  // GETs need the objects; PUT them direct first (the generator's pattern).
  log("rgw: creating the bucket and seeding objects");
  const { signHeaders } = await import("../tests/_sign.ts");
  const url = `http://127.0.0.1:${backendPort}/${BUCKET}`;
  const res = await fetch(url, { method: "PUT", headers: signHeaders("PUT", url, backendCreds) });
  await res.body?.cancel();
  if (!res.ok && res.status !== 409) throw new Error(`create bucket: ${res.status}`);
  for (const size of new Set([SMALL, BIG, HUGE, 64 << 20])) {
    await run(direct, {
      method: "PUT",
      size,
      concurrency: 1,
      count: 1,
      hashEvery: 0,
      putPayload: "unsigned",
    });
  }
}

log("warm-up");
for (const t of [direct, viaProxy]) {
  for (const method of ["GET", "PUT"] as const) {
    await run(t, { method, size: SMALL, concurrency: 16, durationMs: 1000, hashEvery: 10 });
    await run(t, { method, size: 64 << 20, concurrency: 1, count: 1, hashEvery: 1 });
  }
}

// 1. Large-object throughput.
const large: Record<string, { direct: number[]; proxy: number[]; other: number[] }> = {};
for (const method of ["GET", "PUT"] as const) {
  large[method] = { direct: [], proxy: [], other: [] };
  for (let r = 0; r < opts.bigRounds; r++) {
    for (const t of [direct, viaProxy]) {
      log(`${method} ${opts.gib} GiB ${t.name} round ${r + 1}/${opts.bigRounds}`);
      const res = await run(t, {
        method,
        size: BIG,
        concurrency: 1,
        count: 1,
        hashEvery: 0,
        putPayload: "unsigned",
      });
      large[method][t.name].push(mbps(res, BIG));
      large[method].other.push(res.otherCores);
    }
  }
}
// The SHA-256 sample of the large GET: one extra, untimed request each way.
log(`GET ${opts.gib} GiB SHA-256 check`);
let largeHashed = 0;
for (const t of [direct, viaProxy]) {
  const r = await run(t, { method: "GET", size: BIG, concurrency: 1, count: 1, hashEvery: 1 });
  largeHashed += r.hashed;
}

// 2. Small objects.
interface SmallRow {
  rps: number[];
  p50: number[];
  p99: number[];
  cpuUs: number[];
  cpuPct: number[];
  other: number[];
  requests: number;
  hashed: number;
}
const small: Record<string, Record<string, SmallRow>> = {};
for (const method of ["GET", "PUT"] as const) {
  for (const c of opts.concurrency) {
    const key = `${method} c=${c}`;
    small[key] = {};
    for (let r = 0; r < opts.rounds; r++) {
      for (const t of [direct, viaProxy]) {
        log(`${method} 1 KiB c=${c} ${t.name} round ${r + 1}/${opts.rounds}`);
        const res = await run(t, {
          method,
          size: SMALL,
          concurrency: c,
          durationMs: opts.durationS * 1000,
          hashEvery: 10,
          putPayload: "sha256",
        });
        const row = small[key][t.name] ??= {
          rps: [],
          p50: [],
          p99: [],
          cpuUs: [],
          cpuPct: [],
          other: [],
          requests: 0,
          hashed: 0,
        };
        row.rps.push(res.requests / res.seconds);
        row.p50.push(res.p50);
        row.p99.push(res.p99);
        row.cpuUs.push(res.cpuTicks * 1e6 / CLK_TCK / res.requests);
        row.cpuPct.push(res.cpuTicks / CLK_TCK / res.seconds * 100);
        row.requests += res.requests;
        row.other.push(res.otherCores);
        row.hashed += res.hashed;
      }
    }
  }
}

// 3. Peak RSS of the proxy during huge transfers, in a fresh proxy process
// (the one above has grown its heap serving up to 64 connections).
const usedRssKb = statusKb(proxyPid, "VmRSS");
const usedHwmKb = statusKb(proxyPid, "VmHWM");
retiredTicks += cpuTicks(proxyPid);
await stop(proxy);
proxy = await startProxy();
proxyPid = proxy.first.pid as number;
viaProxy = { name: "proxy", port: proxy.first.port as number, ...CLIENT };
log("fresh proxy: warm-up");
for (const method of ["GET", "PUT"] as const) {
  await run(viaProxy, { method, size: SMALL, concurrency: 1, count: 200, hashEvery: 10 });
  await run(viaProxy, { method, size: 64 << 20, concurrency: 1, count: 1, hashEvery: 0 });
}
const idleRssKb = statusKb(proxyPid, "VmRSS");
const warmSplit = rssSplit(proxyPid);
const rss: Record<
  string,
  { beforeKb: number; hwmKb: number; sampledKb: number; mbps: number; reset: boolean }
> = {};
for (const method of ["GET", "PUT"] as const) {
  log(`${method} ${opts.bigGib} GiB through the proxy (peak RSS)`);
  const reset = resetPeakRss(proxyPid);
  const beforeKb = statusKb(proxyPid, "VmRSS");
  let sampled = beforeKb;
  const sampler = setInterval(() => {
    sampled = Math.max(sampled, statusKb(proxyPid, "VmRSS"));
  }, 100);
  const res = await run(viaProxy, {
    method,
    size: HUGE,
    concurrency: 1,
    count: 1,
    hashEvery: 0,
    putPayload: "unsigned",
  });
  clearInterval(sampler);
  sampled = Math.max(sampled, statusKb(proxyPid, "VmRSS"));
  rss[method] = {
    beforeKb,
    hwmKb: statusKb(proxyPid, "VmHWM"),
    sampledKb: sampled,
    mbps: mbps(res, HUGE),
    reset,
  };
}

const endSplit = rssSplit(proxyPid);
const elapsedS = (performance.now() - t0) / 1000;
const machine1 = machineTicks();
const ours1 = ours();
const loadavgAfter = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");

await load.exit();
await stop(proxy);
if (backendProc) await stop(backendProc);
await rgw?.stop();

// ---------------------------------------------------------------- report

const nproc = navigator.hardwareConcurrency;
const git = async (...args: string[]) => {
  try {
    const o = await new Deno.Command("git", {
      args,
      stdout: "piped",
      stderr: "null",
      cwd: here(".."),
    })
      .output();
    return new TextDecoder().decode(o.stdout).trim();
  } catch {
    return "";
  }
};
const head = await git("rev-parse", "--short", "HEAD");
const dirty = (await git("diff", "--name-only", "HEAD", "--", "lib", "mod.ts")).split("\n")
  .filter(Boolean);
const cpuModel = /^model name\s*:\s*(.*)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ??
  "unknown";
const kernel = Deno.osRelease();
const otherCores = Math.max(
  0,
  ((machine1.busy - machine0.busy) - (ours1 - ours0)) / CLK_TCK / elapsedS,
);
const stealPct = (machine1.steal - machine0.steal) / CLK_TCK / elapsedS / nproc * 100;
const f0 = (x: number) => Number.isNaN(x) ? "–" : x.toFixed(0);
const f1 = (x: number) => Number.isNaN(x) ? "–" : x.toFixed(1);
const f2 = (x: number) => Number.isNaN(x) ? "–" : x.toFixed(2);
const pct = (x: number) => Number.isNaN(x) ? "–" : `${(x * 100).toFixed(0)}%`;
const verdict = (ok: boolean | undefined) => ok === undefined ? "n/a" : ok ? "PASS" : "FAIL";
const sizeLabel = (bytes: number) =>
  bytes >= GiB ? `${+(bytes / GiB).toFixed(2)} GiB` : `${+(bytes / 2 ** 20).toFixed(0)} MiB`;
const cmdline = ["deno run -A bench/e2e.ts", ...Deno.args].join(" ");

const out: string[] = [];
const p = (s = "") => out.push(s);
p(`# osp end-to-end benchmark`);
p();
p(`- date: ${startedAt.toISOString()}; took ${f0(elapsedS)} s`);
p(
  `- machine: ${nproc} CPUs (nproc), ${cpuModel}, Linux ${kernel}, Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`,
);
p(`- command: \`${cmdline}\``);
p(
  `- code: git ${head || "?"}${
    dirty.length
      ? ` + uncommitted changes in ${dirty.join(", ")} (the working tree was measured)`
      : ""
  }`,
);
p(`- backend: ${backendDesc}, own process, 127.0.0.1`);
p(
  `- proxy: \`bench/proxy_process.ts\` (serve() from mod.ts), own process: header SigV4 verified against a static keystore, validator, re-signed for the backend; 1 bucket, path style, plain HTTP, logLevel warn, threads ${opts.threads}${
    opts.proxyV8Flags === "" ? "" : `, \`--v8-flags=${opts.proxyV8Flags}\``
  }`,
);
p(
  `- load: \`bench/load.ts\`, own process: raw HTTP/1.1 keep-alive, one connection per concurrent request, every request SigV4-signed (cached signing key); GET bodies compared byte for byte with the expected pattern and their length checked, SHA-256 checked on 1 in 10 small GETs and on one extra untimed ${
    sizeLabel(BIG)
  } GET each way; PUTs must answer 200${
    opts.rgw ? "" : ` with the ETag the no-op backend derives from the byte count it received`
  }`,
);
p(
  `- machine load: loadavg ${loadavgBefore} before, ${loadavgAfter} after; other processes used ${
    f2(otherCores)
  } cores on average during the run; steal ${f1(stealPct)}%${
    otherCores > 0.25 ? " — **noisy: other work was running, treat the figures with care**" : ""
  }`,
);
p(
  `- all three processes share the same ${nproc} cores; through the proxy a request costs CPU in three processes instead of two`,
);
p();
p(
  `## Large objects: ${
    sizeLabel(BIG)
  } (MB/s = 10^6 bytes/s, median of ${opts.bigRounds} interleaved runs)`,
);
p();
p(
  `| transfer | direct MB/s (runs) | proxy MB/s (runs) | proxy ÷ direct | target | result | other load, cores (max) |`,
);
p(`| --- | ---: | ---: | ---: | --- | --- | ---: |`);
const largeRatio: Record<string, number> = {};
for (const method of ["GET", "PUT"]) {
  const d = median(large[method].direct);
  const x = median(large[method].proxy);
  largeRatio[method] = x / d;
  const label = method === "GET"
    ? `GET ${sizeLabel(BIG)}`
    : `PUT ${sizeLabel(BIG)} (UNSIGNED-PAYLOAD, Content-Length)`;
  p(
    `| ${label} | ${f0(d)} (${large[method].direct.map(f0).join(", ")}) | ${f0(x)} (${
      large[method].proxy.map(f0).join(", ")
    }) | ${pct(x / d)} | ≥ 85% | ${verdict(Number.isNaN(x / d) ? false : x / d >= 0.85)} | ${
      f2(Math.max(...large[method].other))
    } |`,
  );
}
p();
p(
  `## Small objects: 1 KiB, ${opts.durationS} s per run, median of ${opts.rounds} interleaved runs`,
);
p();
p(
  `| op | conc. | direct req/s | proxy req/s | proxy ÷ direct | p50 ms direct / proxy | p99 ms direct / proxy | added p99 ms | proxy CPU µs/req | proxy CPU % of a core | other load, cores (max) |`,
);
p(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
for (const [key, rows] of Object.entries(small)) {
  const [method, c] = key.split(" c=");
  const d = rows.direct;
  const x = rows.proxy;
  p(
    `| ${method} | ${c} | ${f0(median(d.rps))} | ${f0(median(x.rps))} | ${
      pct(median(x.rps) / median(d.rps))
    } | ${f2(median(d.p50))} / ${f2(median(x.p50))} | ${f2(median(d.p99))} / ${
      f2(median(x.p99))
    } | ${f2(median(x.p99) - median(d.p99))} | ${f0(median(x.cpuUs))} | ${
      f0(median(x.cpuPct))
    }% | ${f2(Math.max(...d.other, ...x.other))} |`,
  );
}
p();
const smallRequests = Object.values(small).reduce(
  (s, rows) => s + rows.direct.requests + rows.proxy.requests,
  0,
);
const smallHashed = Object.values(small).reduce(
  (s, rows) => s + rows.direct.hashed + rows.proxy.hashed,
  0,
);
p(
  `${smallRequests} small requests; ${smallHashed} GET bodies SHA-256-checked, ${largeHashed} large GET bodies SHA-256-checked. 1 vs N isolates (\`threads\`): \`bench/threads.ts\`.`,
);
p();
p(`## Peak RSS of the proxy: ${sizeLabel(HUGE)} through the proxy`);
p();
p(
  `A fresh proxy process: ${f0(freshIdleRssKb * 1024 / 1e6)} MB RSS at start, ${
    f0(idleRssKb * 1024 / 1e6)
  } MB after a short warm-up (200 small GETs and PUTs, one 64 MiB GET and PUT), then the transfers below. VmHWM ${
    rss.GET?.reset
      ? "reset before each transfer (clear_refs)"
      : "NOT reset (clear_refs refused): lifetime peak"
  }; sampled = max VmRSS every 100 ms. MB = 10^6 bytes. The target is judged on the peak; the RSS the V8 heap keeps from the warm-up varies between runs (so does the peak), "peak − before" is what the transfer itself added. For comparison, the proxy that served all the runs above ended at ${
    f0(usedRssKb * 1024 / 1e6)
  } MB RSS (lifetime peak ${
    f0(usedHwmKb * 1024 / 1e6)
  } MB). Of the fresh proxy's RSS, ${freshSplit}; after the warm-up, ${warmSplit}; after the transfers, ${endSplit} (file-backed pages are the deno executable's code, shared with every Deno process).`,
);
p();
p(
  `| transfer | MB/s | RSS before MB | peak RSS (VmHWM) MB | peak − before MB | sampled max RSS MB | target | result |`,
);
p(`| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |`);
for (const method of ["GET", "PUT"]) {
  const r = rss[method];
  const mb = r.hwmKb * 1024 / 1e6;
  p(
    `| ${method} ${sizeLabel(HUGE)} | ${f0(r.mbps)} | ${f0(r.beforeKb * 1024 / 1e6)} | ${
      f0(mb)
    } | ${f0((r.hwmKb - r.beforeKb) * 1024 / 1e6)} | ${f0(r.sampledKb * 1024 / 1e6)} | ≤ 100 MB | ${
      verdict(mb <= 100)
    }${HUGE < 5 * GiB ? " (size < 5 GiB)" : ""} |`,
  );
}
p();
p(`## Targets`);
p();
p(`| target | measured | result |`);
p(`| --- | ---: | --- |`);
for (const method of ["GET", "PUT"]) {
  p(
    `| ${method} ${sizeLabel(BIG)} through the proxy ≥ 85% of direct | ${
      pct(largeRatio[method])
    } | ${verdict(largeRatio[method] >= 0.85)} |`,
  );
}
for (const c of opts.concurrency) {
  const x = small[`GET c=${c}`].proxy;
  p(
    `| proxy CPU ≤ 100 µs per 1 KiB GET (c=${c}) | ${f0(median(x.cpuUs))} µs | ${
      verdict(median(x.cpuUs) <= 100)
    } |`,
  );
}
if (opts.concurrency.includes(16)) {
  for (const method of ["GET", "PUT"]) {
    const rows = small[`${method} c=16`];
    const added = median(rows.proxy.p99) - median(rows.direct.p99);
    p(
      `| added p99 latency ≤ 2 ms, 1 KiB ${method}, c=16 | ${f2(added)} ms | ${
        verdict(added <= 2)
      } |`,
    );
  }
}
for (const method of ["GET", "PUT"]) {
  const mb = rss[method].hwmKb * 1024 / 1e6;
  p(
    `| proxy peak RSS ≤ 100 MB, ${method} ${sizeLabel(HUGE)} | ${f0(mb)} MB | ${
      verdict(mb <= 100)
    }${HUGE < 5 * GiB ? " (size < 5 GiB)" : ""} |`,
  );
}
if (failures) {
  p();
  p(`## Check failures`);
  p();
  for (const n of failureNotes) p(`- ${n}`);
}

const text = out.join("\n") + "\n";
console.log(text);
const outDir = opts.out.includes("/") ? opts.out.slice(0, opts.out.lastIndexOf("/")) : ".";
await Deno.mkdir(outDir || "/", { recursive: true });
await Deno.writeTextFile(opts.out, text);
log(`written to ${opts.out}`);
if (failures) Deno.exit(1);
