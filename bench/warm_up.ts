// How a fresh osp warms up: bench/proxy_process.ts (info-level access log)
// in front of the no-op backend, run with --v8-flags=--trace-opt,--trace-deopt,
// serves 1 KiB GETs at c=16 from bench/load.ts in back-to-back rounds; per
// round, the requests served so far, the proxy's CPU per request split by
// thread (the isolate's own thread, "deno", and V8's background workers,
// where its compiler and parallel GC run), and how many optimizing compiles
// (Maglev and TurboFan) V8 had finished by then. A benchmark that starts
// timing before the count stops climbing measures the compiler, not the
// steady state (docs/performance.md, "JIT warm-up and idle periods");
// bench/peers.ts warms each proxy up for that reason.
// `--idle-after N --idle S` leaves the proxy idle for S seconds after round N:
// V8's memory reducer then runs full GCs in which objects that optimized code
// holds weakly (the maps of per-request objects among them) die, and that
// code is thrown away ("embedded weak objects cleared", counted from
// --trace-deopt), so the next requests warm up again. `--mib-round N` makes
// round N GET 1 MiB objects instead. `--gap S` leaves it idle for S seconds
// before every round after the first (bench/peers.ts's interleaving does
// that to each column). `--proxy-v8-flags=F` adds V8 flags to the
// proxy's (e.g. `--proxy-v8-flags=--no-memory-reducer`).
//
//   deno run -A bench/warm_up.ts [--rounds 10] [--duration 5] [--concurrency 16]
//     [--size 1024] [--idle-after N --idle 30] [--mib-round N] [--gap S]
//     [--proxy-v8-flags=F]
import { parseArgs } from "node:util";
import { clockTicksPerSecond, cpuTicks, spawnDeno, statusKb } from "./_procs.ts";
import { benchJob, startLoadGenerator } from "./load.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "10" },
    duration: { type: "string", default: "5" },
    concurrency: { type: "string", default: "16" },
    size: { type: "string", default: "1024" },
    "idle-after": { type: "string", default: "0" },
    idle: { type: "string", default: "30" },
    "mib-round": { type: "string", default: "0" },
    gap: { type: "string", default: "0" },
    "proxy-v8-flags": { type: "string", default: "" },
  },
});
const opts = {
  rounds: Number(flags.rounds),
  durationMs: Number(flags.duration) * 1000,
  concurrency: Number(flags.concurrency),
  size: Number(flags.size),
  idleAfter: Number(flags["idle-after"]),
  idleS: Number(flags.idle),
  mibRound: Number(flags["mib-round"]),
  gapS: Number(flags.gap),
  v8Flags: flags["proxy-v8-flags"],
};
const here = (p: string) => new URL(p, import.meta.url).pathname;
const CLK_TCK = await clockTicksPerSecond();

const backend = await spawnDeno(["run", "--allow-net", here("./noop_backend.ts")]);
backend.lines.drain();
const load = await startLoadGenerator();
const proxy = await spawnDeno([
  "run",
  "-A",
  `--v8-flags=--trace-opt,--trace-deopt${opts.v8Flags ? `,${opts.v8Flags}` : ""}`,
  here("./proxy_process.ts"),
  String(backend.first.port),
]);
let optimized = 0;
let weakDeopts = 0;
proxy.lines.each((line) => {
  // One line per optimizing compile (Maglev or TurboFan); TurboFan's also
  // print "completed optimizing" as they are installed.
  if (line.startsWith("[completed compiling ")) optimized++;
  else if (line.includes("reason: embedded weak objects cleared")) weakDeopts++;
});

/** CPU ticks by thread name (digits at the end dropped: "V8 DefaultWorker"). */
function threadTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/\d+$/, "");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks.set(name, (ticks.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
  }
  return ticks;
}

console.log(
  `${opts.size} B GETs at c=${opts.concurrency}, rounds of ${
    opts.durationMs / 1000
  } s, a fresh proxy${opts.v8Flags ? ` with --v8-flags=${opts.v8Flags}` : ""}\n`,
);
console.log(
  "| round | requests served by its end | req/s | proxy CPU µs/request | isolate thread | V8 workers | other threads | p99 ms | RSS at its end, MiB | optimizing compiles (Maglev, TurboFan) by its end | optimized code thrown away (weak objects cleared) |",
);
console.log("| --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
let served = 0;
const rssMib = () => (statusKb(proxy.pid, "VmRSS") / 1024).toFixed(0);
for (let round = 1; round <= opts.rounds; round++) {
  if (round === opts.idleAfter + 1 && opts.idleAfter > 0) {
    const before = rssMib();
    await new Promise((resolve) => setTimeout(resolve, opts.idleS * 1000));
    console.log(`| idle ${opts.idleS} s: RSS ${before} → ${rssMib()} MiB |`);
  }
  if (round > 1 && opts.gapS > 0) {
    await new Promise((resolve) => setTimeout(resolve, opts.gapS * 1000));
  }
  const before = threadTicks(proxy.pid);
  const total0 = cpuTicks(proxy.pid);
  const size = round === opts.mibRound ? 1 << 20 : opts.size;
  const r = await load.run(benchJob(proxy.first.port as number, {
    path: `/bench/obj-${size}`,
    size,
    concurrency: opts.concurrency,
    durationMs: opts.durationMs,
  }));
  if (r.errors) throw new Error(`round ${round}: ${r.errors} errors, ${r.firstError}`);
  const after = threadTicks(proxy.pid);
  const total1 = cpuTicks(proxy.pid);
  served += r.requests;
  const us = (ticks: number) => (ticks / CLK_TCK * 1e6 / r.requests).toFixed(0);
  const of = (match: (name: string) => boolean) => {
    let sum = 0;
    for (const [name, t] of after) if (match(name)) sum += t - (before.get(name) ?? 0);
    return sum;
  };
  const isolate = of((n) => n === "deno");
  const workers = of((n) => n.startsWith("V8 "));
  const all = total1 - total0;
  console.log(
    `| ${round}${size === opts.size ? "" : ` (${size} B GETs)`} | ${served} | ${
      (r.requests / r.seconds).toFixed(0)
    } | ${us(all)} | ${us(isolate)} | ${us(workers)} | ${
      us(Math.max(0, all - isolate - workers))
    } | ${r.p99.toFixed(2)} | ${rssMib()} | ${optimized} | ${weakDeopts} |`,
  );
}
await load.exit();
proxy.child.kill("SIGTERM");
backend.child.kill("SIGTERM");
Deno.exit(0);
