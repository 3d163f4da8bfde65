// Fresh proxies, one after another, alternating between V8 flag sets: each is
// warmed up as bench/peers.ts warms osp up (1 MiB GETs, then 1 KiB GETs, c=16,
// no-op backend), then measured on 1 KiB GETs (3 runs) and 1 MiB GETs (2
// runs) at c=16. Per process: proxy CPU per request, p99, RSS, and from V8's
// --trace-gc-nvp the scavenges of the measured runs (median pause, bytes
// promoted per scavenge) and the mark-compacts among them. A process whose
// median scavenge promotes more than 1 MB is counted as in the slow mode
// (docs/performance.md, "Pretenuring: one process in three was slow"): one
// whose young objects are kept alive by pretenured old ones, so that every
// scavenge copies and promotes megabytes and the old generation fills.
//
//   deno run -A bench/gc_modes.ts [--pairs N (4)] [--warm-big N (3000)]
//     [--sets "default;--no-allocation-site-pretenuring"]
// A set is a comma-separated list of V8 flags added to --no-memory-reducer
// and --trace-gc-nvp ("default": none). bench/proxy_process.ts is the proxy
// (serve() from mod.ts, log level warn); bench/load.ts drives it.
import { cpuTicks, type GcRecord, gcRecord, median, spawnDeno, statusKb } from "./_procs.ts";
import { benchJob, startLoadGenerator } from "./load.ts";

const opts = { pairs: 4, warmBig: 3000, sets: ["default", "--no-allocation-site-pretenuring"] };
for (let i = 0; i < Deno.args.length; i++) {
  const a = Deno.args[i];
  const v = () => Deno.args[++i];
  if (a === "--pairs") opts.pairs = Number(v());
  else if (a === "--warm-big") opts.warmBig = Number(v());
  else if (a === "--sets") opts.sets = v().split(";");
  else throw new Error(`unknown flag ${a}`);
}

const here = (path: string) => new URL(path, import.meta.url).pathname;

const backend = await spawnDeno(["run", "--allow-net", here("./noop_backend.ts")]);
const backendPort = backend.first.port as number;
const gen = await startLoadGenerator();
const rows: string[] = [];
const slow = new Map<string, number>();

async function measure(set: string): Promise<string> {
  const extra = set === "default" ? [] : set.split(",");
  const v8 = ["--no-memory-reducer", "--trace-gc-nvp", ...extra].join(",");
  const proxy = await spawnDeno([
    "run",
    "-A",
    `--v8-flags=${v8}`,
    here("./proxy_process.ts"),
    String(backendPort),
  ]);
  const gcs: GcRecord[] = [];
  proxy.lines.each((line) => {
    const gc = gcRecord(line);
    if (gc !== undefined) gcs.push(gc);
  });
  const port = proxy.first.port as number;
  const small = { path: "/bench/k-1024", size: 1024 };
  const big = { path: "/bench/k-1048576", size: 1048576 };
  if (opts.warmBig > 0) await gen.run(benchJob(port, { ...big, count: opts.warmBig }));
  await gen.run(benchJob(port, { ...small, count: 30000 }));
  const run = async (target: typeof small, runs: number) => {
    const cpu: number[] = [];
    const p99: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = cpuTicks(proxy.pid);
      const res = await gen.run(benchJob(port, { ...target, durationMs: 4000 }));
      if (res.errors > 0) throw new Error(`${res.errors} errors: ${res.firstError}`);
      cpu.push((cpuTicks(proxy.pid) - t0) * 10000 / res.requests);
      p99.push(res.p99);
    }
    return { cpu: median(cpu), p99: median(p99) };
  };
  const from = gcs.length;
  const s = await run(small, 3);
  const measured = gcs.slice(from);
  const b = await run(big, 2);
  const rss = statusKb(proxy.pid, "VmRSS") >> 10;
  proxy.child.kill("SIGTERM");
  await proxy.child.status;
  const scavenges = measured.filter((g) => g.gc === "s");
  const promoted = median(scavenges.map((g) => g.promoted));
  if (promoted > 1e6) slow.set(set, (slow.get(set) ?? 0) + 1);
  return `| ${set} | ${s.cpu.toFixed(0)} | ${s.p99.toFixed(2)} | ${
    median(scavenges.map((g) => g.pause)).toFixed(2)
  } | ${(promoted / 1e6).toFixed(2)} | ${measured.length - scavenges.length} | ${
    b.cpu.toFixed(0)
  } | ${rss} |`;
}

console.log(
  "| V8 flags | 1 KiB GET CPU µs | p99 ms | scavenge pause ms | MB promoted per scavenge | mark-compacts | 1 MiB GET CPU µs | RSS MiB |",
);
console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
for (let p = 0; p < opts.pairs; p++) {
  // Alternating, starting with a different set each pair.
  const order = p % 2 === 0 ? opts.sets : [...opts.sets].reverse();
  for (const set of order) {
    const row = await measure(set);
    rows.push(row);
    console.log(row);
  }
}
console.log(
  `\nslow-mode processes: ${
    opts.sets.map((set) => `${set} ${slow.get(set) ?? 0} of ${opts.pairs}`).join(", ")
  }`,
);
await gen.exit();
backend.child.kill("SIGTERM");
await backend.child.status;
