// Bytes that osp's own JavaScript allocates per small request, in process, by
// stage (and the time each took, without GC): what fills V8's young generation and so sets how often it is
// scavenged (the pauses behind the p99: docs/performance.md, "After the GC
// pass"). Each case runs many requests one after another and reads V8's
// used heap before and after, in a process whose young generation is large
// enough that no GC runs in between (the script starts itself again with
// --min/--max-semi-space-size=256). Cases, each a 1 KiB GET signed as
// @aws-sdk/client-s3 signs it:
//
// - route … present: the stages of bench/stages_bench.ts, each with the ones
//   before it, in front of a canned backend (subtract the case above);
// - handler, canned backend: the whole handler, exchange and access-log line
//   included;
// - handler, no-op backend: the same through osp's own HTTP/1 client to
//   bench/noop_backend.ts in another process (sockets, response head parsing
//   and pooling included).
//
// What Deno.serve allocates for the client's side is not counted:
// bench/promotion.ts gives the whole process's figure under load. `--root DIR`
// measures another checkout's lib/ (before and after, in one run: give both,
// they alternate round by round).
//
//   deno run -A bench/alloc.ts [--root DIR …] [--rounds 3] [--requests 500]
import { parseArgs } from "node:util";
import { median, spawnDeno } from "./_procs.ts";
import {
  BENCH_CLIENT,
  benchHandlerConfig,
  SDK_HEADERS,
  stageRunner,
  STAGES,
} from "./_bench_setup.ts";

const FLAGS = "--expose-gc,--min-semi-space-size=256,--max-semi-space-size=256";
/** Calls before each measurement: enough for V8 to optimise the hot functions. */
const WARM_UP = 20_000;
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    root: { type: "string", multiple: true },
    rounds: { type: "string", default: "3" },
    requests: { type: "string", default: "500" },
    child: { type: "string" },
    backend: { type: "string" },
  },
});

if (flags.child !== undefined) {
  await child(flags.child, Number(flags.backend), Number(flags.requests));
} else {
  await parent();
}

/** Runs each checkout's measurement in fresh processes, alternating, and prints the medians. */
async function parent(): Promise<void> {
  const roots = flags.root ?? [here];
  const backend = await spawnDeno(["run", "--allow-net", `${here}/bench/noop_backend.ts`]);
  const port = backend.first.port;
  backend.lines.drain();
  const results = new Map<string, Map<string, number[]>>();
  try {
    for (let round = 0; round < Number(flags.rounds); round++) {
      for (const root of roots) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            `--v8-flags=${FLAGS}`,
            import.meta.filename!,
            "--child",
            root,
            "--backend",
            String(port),
            "--requests",
            flags.requests!,
          ],
          stderr: "inherit",
        }).output();
        if (!out.success) throw new Error(`the measurement of ${root} failed`);
        const byCase = results.get(root) ?? new Map<string, number[]>();
        results.set(root, byCase);
        for (
          const [name, bytes] of Object.entries(JSON.parse(new TextDecoder().decode(out.stdout)))
        ) {
          byCase.set(name, [...byCase.get(name) ?? [], bytes as number]);
        }
      }
    }
  } finally {
    backend.child.kill();
    await backend.child.status;
  }
  const all = [...results.values().next().value!.keys()];
  for (
    const [unit, cases] of [
      ["bytes allocated per request", all.filter((n) => !n.endsWith(" µs"))],
      [
        "µs per request (JavaScript only: no GC runs during a measurement)",
        all.filter((n) => n.endsWith(" µs")),
      ],
    ] as const
  ) {
    console.log(`\n${unit}: median (each round)\n`);
    console.log(`| case | ${roots.join(" | ")} |`);
    console.log(`| --- |${" --: |".repeat(roots.length)}`);
    for (const name of cases) {
      const cells = roots.map((r) => {
        const xs = results.get(r)!.get(name)!;
        const round = (x: number) => unit.startsWith("µs") ? x.toFixed(1) : String(Math.round(x));
        return `${round(median(xs))} (${xs.map(round).join(", ")})`;
      });
      console.log(`| ${name.replace(/ µs$/, "")} | ${cells.join(" | ")} |`);
    }
  }
}

/** In a process of its own: bytes per request of each case, as JSON on stdout. */
async function child(root: string, backendPort: number, requests: number): Promise<void> {
  const lib = (path: string) => import(`${root}/lib/${path}`);
  const { resolveConfig } = await lib("config/config.ts");
  const { createHandler } = await lib("request/handler.ts");
  const { createLogger } = await lib("observe/log.ts");
  const { Transport } = await lib("upstream/transport.ts");
  const { MemoryUseCounter } = await lib("access/use_counter.ts");
  const { admit } = await lib("request/admit.ts");
  const { forward } = await lib("request/forward.ts");
  const { prepare } = await lib("request/prepare.ts");
  const { present } = await lib("request/present.ts");
  const { route } = await lib("request/route.ts");
  const { freshState, signed, targetOf, testPipeline } = await lib("request/_test_util.ts");
  const { signHeaders } = await import(`${here}/tests/_sign.ts`);

  const OBJECT = new Uint8Array(1024);
  const results: Record<string, number> = {};
  /** Bytes of used heap per call of `fn`, after a warm-up. */
  async function measure(name: string, fn: () => Promise<unknown>): Promise<void> {
    // Optimised, as under load: the unoptimised code allocates far more.
    for (let i = 0; i < WARM_UP; i++) await fn();
    (globalThis as unknown as { gc(): void }).gc();
    const before = Deno.memoryUsage().heapUsed;
    const started = performance.now();
    for (let i = 0; i < requests; i++) await fn();
    const us = (performance.now() - started) * 1000 / requests;
    results[name] = (Deno.memoryUsage().heapUsed - before) / requests;
    results[`${name} µs`] = us;
  }

  // The stages, as bench/stages_bench.ts runs them.
  const { pipeline } = testPipeline({
    config: { validator: () => true },
    bucket: { ttl: 300 },
    backend: () => new Response(OBJECT, { headers: { "content-length": "1024", etag: '"e"' } }),
  });
  const upTo = stageRunner(
    { route, admit, prepare, forward, present, freshState, targetOf },
    { pipeline, request: signed("GET", "/data/photos/2024/IMG_0042.jpg?versionId=3") },
  );
  for (const stage of STAGES) await measure(`up to ${stage}`, () => upTo(stage));

  // The whole handler, canned and through the HTTP/1 client, as bench/handler_bench.ts builds it.
  const now = Date.now();
  const url = `http://127.0.0.1:8080/bench/photos/2024/k-1024`;
  const headers = signHeaders("GET", url, { ...BENCH_CLIENT, time: now, headers: SDK_HEADERS });
  const conn = { remoteIp: "127.0.0.1", completed: Promise.resolve() };
  // Info-level access lines, as users run it, to a sink (writing them is bench/log_cost.ts's).
  const logger = createLogger({ level: "info", write: () => {} });
  const canned = () =>
    Promise.resolve(
      new Response(OBJECT, { headers: { "content-length": "1024", etag: '"get"' } }),
    );
  await measure("an empty async call", async () => {});
  await measure("the input: new Request(url, { headers })", () => {
    new Request(url, { headers });
    return Promise.resolve();
  });
  for (
    const [name, transport] of [
      ["handler, canned backend", new Transport({ fetch: canned as typeof fetch })],
      ["handler, no-op backend (HTTP/1 client)", new Transport()],
    ] as const
  ) {
    const config = resolveConfig(
      benchHandlerConfig({ port: backendPort, now, logLevel: "info" }),
    );
    const handler = createHandler({
      config,
      logger,
      transport,
      useCounter: new MemoryUseCounter(),
    });
    const first = await handler(new Request(url, { headers }), conn);
    if (first.status !== 200) throw new Error(`${name}: ${first.status} ${await first.text()}`);
    await first.bytes();
    await measure(name, async () => {
      const response = await handler(new Request(url, { headers }), conn);
      await response.bytes();
    });
  }
  console.log(JSON.stringify(results));
  Deno.exit(0);
}
