// A CPU profile of the proxy under load: bench/proxy_process.ts runs with
// --inspect, the V8 sampling profiler (Chrome DevTools Protocol, as Deno
// 2.9's `deno run` has no --cpu-prof) records while bench/load.ts drives
// 1 KiB requests from the no-op backend, and the time per request is printed
// per file and per function (self and inclusive). The raw profile goes to
// bench/results/last.cpuprofile (open it in Chrome DevTools).
// Sampling slows the proxy; read the figures as shares, not as absolute cost.
//
//   deno run -A bench/profile.ts [--method GET|PUT] [--size 1024] [--concurrency 16]
//     [--duration 5] [--top 40] [--heap | --heap-all]
// `--heap` records V8's sampling heap profiler instead, keeping the samples
// of objects a scavenge did not free (those a major GC collected, and those
// still alive at the end): bytes per request by allocating function, that is
// what each request promotes to the old generation, the cost behind the
// scavenge pauses. Raw profile: bench/results/last.heapprofile. `--heap-all`
// keeps every sample instead: all the bytes each request allocates, what
// fills the young generation (the profiler keeps V8 from folding
// allocations, so read the figures as shares; bench/promotion.ts gives the
// total without it).
import { benchJob, type Result, startLoadGenerator } from "./load.ts";
import { spawnDeno } from "./_procs.ts";

const opts = {
  method: "GET" as "GET" | "PUT",
  size: 1024,
  concurrency: 16,
  durationS: 5,
  top: 40,
  heap: false,
  heapAll: false,
};
for (let i = 0; i < Deno.args.length; i++) {
  const a = Deno.args[i];
  const v = () => Deno.args[++i];
  if (a === "--method") opts.method = v() as "GET" | "PUT";
  else if (a === "--size") opts.size = Number(v());
  else if (a === "--concurrency") opts.concurrency = Number(v());
  else if (a === "--duration") opts.durationS = Number(v());
  else if (a === "--top") opts.top = Number(v());
  else if (a === "--heap") opts.heap = true;
  else if (a === "--heap-all") opts.heap = opts.heapAll = true;
  else throw new Error(`unknown flag ${a}`);
}
const here = (p: string) => new URL(p, import.meta.url).pathname;

const backend = await spawnDeno(["run", "--allow-net", here("./noop_backend.ts")]);
backend.lines.drain();
const load = await startLoadGenerator();
const inspect = "127.0.0.1:9339";
const proxy = await spawnDeno([
  "run",
  "-A",
  `--inspect=${inspect}`,
  here("./proxy_process.ts"),
  String(backend.first.port),
]);
proxy.lines.drain();

async function run(durationMs: number): Promise<Result> {
  const job = benchJob(proxy.first.port as number, {
    method: opts.method,
    path: `/bench/obj-${opts.size}`,
    size: opts.size,
    concurrency: opts.concurrency,
    durationMs,
  });
  return await load.run(job);
}

await run(1000); // warm-up
const [target] = await (await fetch(`http://${inspect}/json`)).json();
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve) => ws.onopen = resolve);
let nextId = 0;
const waiting = new Map<number, (result: unknown) => void>();
ws.onmessage = (e) => {
  const message = JSON.parse(e.data);
  waiting.get(message.id)?.(message.result);
  waiting.delete(message.id);
};
// deno-lint-ignore no-explicit-any
const call = (method: string, params = {}): Promise<any> =>
  new Promise((resolve) => {
    const id = ++nextId;
    waiting.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });
if (opts.heap) await heapProfile();
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 100 });
await call("Profiler.start");
const result = await run(opts.durationS * 1000);
const { profile } = await call("Profiler.stop");
save("last.cpuprofile", profile);

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const nodes = new Map<number, Node>(profile.nodes.map((n: Node) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of nodes.values()) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<number, number>();
profile.samples.forEach((id: number, i: number) =>
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
);
const fnName = (n: Node) => {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(lib|bench)\//, "$1/").replace(/^file:\/\/.*\//, "");
  return `${f.functionName || "(anonymous)"} ${file}${f.url ? `:${f.lineNumber + 1}` : ""}`;
};
const fileOf = (n: Node) => {
  const f = n.callFrame;
  if (f.url === "") {
    return f.functionName.startsWith("op_") ? `op ${f.functionName}` : f.functionName;
  }
  return f.url.replace(/^.*\/(lib)\//, "$1/").replace(/^(ext:[a-z_]+)\/.*$/, "$1");
};
const bySelf = new Map<string, number>();
const byFile = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const node = nodes.get(id)!;
  total += us;
  bySelf.set(fnName(node), (bySelf.get(fnName(node)) ?? 0) + us);
  byFile.set(fileOf(node), (byFile.get(fileOf(node)) ?? 0) + us);
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const name = fnName(nodes.get(at)!);
    if (!seen.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    seen.add(name);
  }
}
const perRequest = (us: number) => (us / result.requests).toFixed(1).padStart(7);
const top = (m: Map<string, number>) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, opts.top).map(([k, us]) => `${perRequest(us)}  ${k}`)
    .join("\n");
console.log(
  `${opts.method} ${opts.size} B, c=${opts.concurrency}: ${result.requests} requests, ${
    (result.requests / result.seconds).toFixed(0)
  } req/s under the profiler, ${result.errors} errors; sampled ${(total / 1e6).toFixed(2)} s = ${
    perRequest(total).trim()
  } µs per request (idle included)\n`,
);
console.log(`## µs per request by file (self)\n${top(byFile)}\n`);
console.log(`## µs per request by function (self)\n${top(bySelf)}\n`);
console.log(`## µs per request by function (inclusive)\n${top(inclusive)}`);
await stop();

/** Ends the run: the load generator, the proxy and the backend. */
async function stop(): Promise<never> {
  await load.exit();
  proxy.child.kill("SIGTERM");
  backend.child.kill("SIGTERM");
  Deno.exit(0);
}

/** Closes the inspector session and writes a profile to bench/results/. */
function save(name: string, profile: unknown): void {
  ws.close();
  Deno.mkdirSync(here("./results"), { recursive: true });
  Deno.writeTextFileSync(here(`./results/${name}`), JSON.stringify(profile));
}

/** The `--heap` report: bytes per request that outlived a scavenge (or, `--heap-all`, all), by allocating function. */
async function heapProfile(): Promise<never> {
  await call("HeapProfiler.enable");
  await call("HeapProfiler.collectGarbage");
  await call("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: opts.heapAll,
  });
  const result = await run(opts.durationS * 1000);
  const { profile } = await call("HeapProfiler.stopSampling");
  save("last.heapprofile", profile);
  interface HeapNode {
    callFrame: { functionName: string; url: string; lineNumber: number };
    selfSize: number;
    children: HeapNode[];
  }
  const self = new Map<string, number>();
  const stacks = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode, path: string[]) => {
    const f = n.callFrame;
    const file = f.url.replace(/^.*\/(lib|bench)\//, "$1/").replace(/^file:\/\/.*\//, "");
    const name = `${f.functionName || "(anonymous)"} ${file}${f.url ? `:${f.lineNumber + 1}` : ""}`;
    const here = [...path, name];
    if (n.selfSize > 0) {
      total += n.selfSize;
      self.set(name, (self.get(name) ?? 0) + n.selfSize);
      const stack = here.slice(-4).join(" < ");
      stacks.set(stack, (stacks.get(stack) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, []);
  const perRequest = (bytes: number) => (bytes / result.requests).toFixed(1).padStart(8);
  const top = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, opts.top)
      .map(([k, bytes]) => `${perRequest(bytes)}  ${k}`).join("\n");
  console.log(
    `${opts.method} ${opts.size} B, c=${opts.concurrency}: ${result.requests} requests, ${
      (result.requests / result.seconds).toFixed(0)
    } req/s under the profiler; ${perRequest(total).trim()} bytes per request ${
      opts.heapAll ? "allocated" : "outlived a scavenge"
    }\n`,
  );
  console.log(`## bytes per request by allocating function\n${top(self)}\n`);
  console.log(`## bytes per request by stack (innermost last 4 frames)\n${top(stacks)}`);
  return await stop();
}
