// Small-GET throughput of osp with 1 isolate vs N isolates (`threads`): the
// no-op backend (bench/noop_backend.ts), the proxy (bench/proxy_process.ts
// --threads T, own process, restarted for every run) and the load generator
// (bench/load.ts: raw HTTP/1.1 keep-alive, one connection per concurrent
// request, SigV4 per request, bodies checked) all run on this machine, so
// they share its cores. Runs are interleaved (1, N, N, 1, 1, N…) and medians
// reported. Prints a Markdown table on stdout.
//
//   deno run -A bench/threads.ts [--threads 1,2] [--concurrency 16,64] [--rounds 3]
//     [--duration S] [--size BYTES]
import { benchJob, type Result, startLoadGenerator } from "./load.ts";
import { type Proc, spawnDeno } from "./_procs.ts";

const opts = { threads: [1, 2], concurrency: [16, 64], rounds: 3, durationS: 5, size: 1024 };
for (let i = 0; i < Deno.args.length; i++) {
  const a = Deno.args[i];
  const v = () => Deno.args[++i];
  if (a === "--threads") opts.threads = v().split(",").map(Number);
  else if (a === "--concurrency") opts.concurrency = v().split(",").map(Number);
  else if (a === "--rounds") opts.rounds = Number(v());
  else if (a === "--duration") opts.durationS = Number(v());
  else if (a === "--size") opts.size = Number(v());
  else throw new Error(`unknown flag ${a}`);
}
const here = (p: string) => new URL(p, import.meta.url).pathname;
const CLK_TCK = 100;

async function stop(p: Proc): Promise<void> {
  try {
    p.child.kill("SIGTERM");
  } catch { /* gone */ }
  await p.child.status;
}

function cpuTicks(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** Machine-wide busy ticks (user + nice + system, /proc/stat). */
function machineBusy(): number {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  return f[0] + f[1] + f[2];
}

const loadavg = () => Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
const loadBefore = loadavg();

const backend = await spawnDeno(["run", "--allow-net", here("./noop_backend.ts")]);
backend.lines.drain();
const backendPort = backend.first.port as number;
const load = await startLoadGenerator();

async function run(port: number, concurrency: number, durationMs: number): Promise<Result> {
  const answer = await load.run(benchJob(port, {
    path: `/bench/k-${opts.size}`,
    size: opts.size,
    concurrency,
    durationMs,
    hashEvery: 10,
  }));
  if (answer.errors > 0) throw new Error(`${answer.errors} failed: ${answer.firstError}`);
  return answer;
}

interface Row {
  rps: number[];
  p50: number[];
  p99: number[];
  cpu: number[];
  other: number[];
  rest: number[];
}
const rows = new Map<string, Row>();
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

for (let r = 0; r < opts.rounds; r++) {
  const order = r % 2 === 0 ? opts.threads : [...opts.threads].reverse();
  for (const threads of order) {
    const proxy = await spawnDeno([
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--unstable-net",
      here("./proxy_process.ts"),
      String(backendPort),
      "--threads",
      String(threads),
    ]);
    proxy.lines.drain();
    const pid = proxy.first.pid as number;
    const port = proxy.first.port as number;
    // Workers start after the main isolate listens; let them, then warm up.
    await new Promise((res) => setTimeout(res, 1500));
    await run(port, 16, 1000);
    for (const c of opts.concurrency) {
      console.error(`::: round ${r + 1}/${opts.rounds}, threads ${threads}, c=${c}`);
      const ours = () => [pid, load.pid, backend.child.pid].reduce((n, p) => n + cpuTicks(p), 0);
      const before = cpuTicks(pid);
      const rest = () => cpuTicks(load.pid) + cpuTicks(backend.child.pid);
      const [machine0, ours0, rest0] = [machineBusy(), ours(), rest()];
      const res = await run(port, c, opts.durationS * 1000);
      const cpu = (cpuTicks(pid) - before) / CLK_TCK / res.seconds * 100;
      // Cores busy with anything but our three processes (noise).
      const other = Math.max(
        0,
        (machineBusy() - machine0 - (ours() - ours0)) / CLK_TCK / res.seconds,
      );
      const key = `${threads}|${c}`;
      const row = rows.get(key) ?? { rps: [], p50: [], p99: [], cpu: [], other: [], rest: [] };
      rows.set(key, row);
      row.rps.push(res.requests / res.seconds);
      row.p50.push(res.p50);
      row.p99.push(res.p99);
      row.cpu.push(cpu);
      row.other.push(other);
      row.rest.push((rest() - rest0) / CLK_TCK / res.seconds * 100);
    }
    await stop(proxy);
  }
}
await load.exit();
await stop(backend);

const f0 = (x: number) => x.toFixed(0);
const f2 = (x: number) => x.toFixed(2);
console.log(
  `${navigator.hardwareConcurrency} CPUs; GET ${opts.size} B, ${opts.durationS} s per run, ` +
    `median of ${opts.rounds} interleaved runs (each run's value in parentheses); ` +
    `loadavg ${loadBefore} before, ${loadavg()} after\n`,
);
console.log(
  `| threads | conc. | req/s | p50 ms | p99 ms | proxy CPU % of a core | load generator + backend CPU % | other load, cores (max) |`,
);
console.log(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
for (const c of opts.concurrency) {
  for (const threads of opts.threads) {
    const row = rows.get(`${threads}|${c}`)!;
    console.log(
      `| ${threads} | ${c} | ${f0(median(row.rps))} (${row.rps.map(f0).join(", ")}) | ${
        f2(median(row.p50))
      } | ${f2(median(row.p99))} | ${f0(median(row.cpu))}% | ${f0(median(row.rest))}% | ${
        f2(Math.max(...row.other))
      } |`,
    );
  }
}
