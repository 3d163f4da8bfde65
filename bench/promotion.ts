// What each small request leaves for V8's young-generation GC: osp
// (bench/proxy_process.ts, info-level access log) in front of the no-op
// backend, 1 KiB GETs (or PUTs) from bench/load.ts, the proxy run with
// --v8-flags=--trace-gc-nvp. Per run: req/s, p99, the scavenges (count, total
// and median pause), the bytes they promoted to the old generation per
// request, and the bytes each request allocated (V8's `allocated`, summed
// over every GC of the run: what fills the young generation and so sets how
// often it is scavenged). Bytes that outlive a scavenge are copied again by the next and
// then promoted, and only a full GC frees them: each scavenge takes longer,
// and every request in flight waits for it (docs/performance.md, "After the GC
// pass"). `--base DIR` runs a second checkout's proxy too,
// interleaved round by round.
//
//   deno run -A bench/promotion.ts [--base DIR] [--method GET|PUT] [--rounds 3]
//     [--duration 5] [--concurrency 16]
import { parseArgs } from "node:util";
import { gcRecord, median, type Proc, spawnDeno } from "./_procs.ts";
import { benchJob, type Result, startLoadGenerator } from "./load.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    base: { type: "string" },
    method: { type: "string", default: "GET" },
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
    concurrency: { type: "string", default: "16" },
  },
});
const opts = {
  base: flags.base,
  method: flags.method as "GET" | "PUT",
  rounds: Number(flags.rounds),
  durationS: Number(flags.duration),
  concurrency: Number(flags.concurrency),
};
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const roots = [...(opts.base === undefined ? [] : [["base", opts.base]]), ["this", here]];

const backend = await spawnDeno(["run", "--allow-net", `${here}/bench/noop_backend.ts`]);
backend.lines.drain();
const load = await startLoadGenerator();

function drive(port: number, durationMs: number): Promise<Result> {
  return load.run(
    benchJob(port, { method: opts.method, concurrency: opts.concurrency, durationMs }),
  );
}

interface Run {
  rps: number;
  p99: number;
  scavenges: number;
  scavengeMs: number;
  medianPauseMs: number;
  promotedPerRequest: number;
  allocatedPerRequest: number;
}

async function measure(root: string): Promise<Run> {
  const proxy: Proc = await spawnDeno([
    "run",
    "-A",
    "--v8-flags=--trace-gc-nvp",
    `${root}/bench/proxy_process.ts`,
    String(backend.first.port),
    "--log-level",
    "info",
  ]);
  // The first line may be a log line: the port comes in the one that has it.
  let port = proxy.first.port as number | undefined;
  while (port === undefined) {
    try {
      port = JSON.parse(await proxy.lines.next()).port;
    } catch { /* a GC or log line */ }
  }
  let lines: string[] = [];
  proxy.lines.each((line) => lines.push(line));
  await drive(port, 2000); // warm-up
  lines = [];
  const result = await drive(port, opts.durationS * 1000);
  proxy.child.kill("SIGTERM");
  await proxy.child.status;
  const pauses: number[] = [];
  let promoted = 0;
  let allocated = 0;
  for (const line of lines) {
    const gc = gcRecord(line); // none for a log line, or one broken into by it
    if (gc === undefined) continue;
    allocated += gc.allocated ?? 0;
    if (gc.gc !== "s") continue;
    pauses.push(gc.pause);
    promoted += gc.promoted;
  }
  pauses.sort((a, b) => a - b);
  return {
    rps: result.requests / result.seconds,
    p99: result.p99,
    scavenges: pauses.length,
    scavengeMs: pauses.reduce((a, b) => a + b, 0),
    medianPauseMs: pauses[pauses.length >> 1] ?? 0,
    promotedPerRequest: promoted / Math.max(1, result.requests),
    allocatedPerRequest: allocated / Math.max(1, result.requests),
  };
}

const runs = new Map<string, Run[]>(roots.map(([name]) => [name, []]));
for (let round = 0; round < opts.rounds; round++) {
  for (const [name, root] of round % 2 === 0 ? roots : [...roots].reverse()) {
    const run = await measure(root);
    runs.get(name)!.push(run);
    console.error(`round ${round + 1} ${name}: ${JSON.stringify(run)}`);
  }
}
console.log(
  `| proxy | req/s | p99 ms | scavenges | scavenge ms | median pause ms | promoted B/request | allocated B/request |`,
);
console.log(`| --- | --: | --: | --: | --: | --: | --: | --: |`);
for (const [name, list] of runs) {
  const m = (f: (r: Run) => number, digits: number) => median(list.map(f)).toFixed(digits);
  console.log(
    `| ${name} | ${m((r) => r.rps, 0)} | ${m((r) => r.p99, 2)} | ${m((r) => r.scavenges, 0)} | ${
      m((r) => r.scavengeMs, 0)
    } | ${m((r) => r.medianPauseMs, 2)} | ${m((r) => r.promotedPerRequest, 0)} | ${
      m((r) => r.allocatedPerRequest, 0)
    } |`,
  );
}
await load.exit();
backend.child.kill("SIGTERM");
Deno.exit(0);
