// What bench/handler_bench.ts and bench/alloc.ts both build their handler
// from: the client's credentials, the headers @aws-sdk/client-s3 sends, and
// the proxy config (plain data, so each checkout resolves it with its own
// lib/); and the stage runner of bench/stages_bench.ts and bench/alloc.ts.

/** The client's credentials (in the keystore, and allowed by the validator). */
export const BENCH_CLIENT = { accessKey: "bench-client", secretKey: "bench-client-secret" };

/** What @aws-sdk/client-s3 sends besides the signature headers. */
export const SDK_HEADERS = {
  "user-agent": "aws-sdk-js/3.936.0 ua/2.1 os/linux#6.1 lang/js md/deno#2.9.6 api/s3#3.936.0",
  "x-amz-user-agent": "aws-sdk-js/3.936.0",
  "amz-sdk-invocation-id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  "amz-sdk-request": "attempt=1; max=3",
};

/** A config with one path-style bucket, `bench`, on 127.0.0.1:`port`. */
export function benchHandlerConfig(
  options: { port: number; now: number; logLevel?: "info" | "warn"; fetch?: typeof fetch },
) {
  return {
    httpPort: 0,
    logLevel: options.logLevel ?? "warn",
    clock: () => options.now,
    hmacKeystore: [BENCH_CLIENT],
    validator: (token: string | null) => token === BENCH_CLIENT.accessKey,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    cosMap: {
      bench: {
        host: "127.0.0.1",
        port: options.port,
        tls: false,
        addressingStyle: "path" as const,
        accessKey: "bench-backend",
        secretKey: "bench-backend-secret",
      },
    },
  };
}

/** osp's request stages, in the order a request goes through them. */
export const STAGES = ["route", "admit", "prepare", "forward", "present"] as const;

/** One of {@linkcode STAGES}. */
export type Stage = typeof STAGES[number];

// deno-lint-ignore no-explicit-any
type Fn = (...args: any[]) => any;

/**
 * What {@linkcode stageRunner} calls: a checkout's stage functions and test
 * helpers (lib/request/*.ts and lib/request/_test_util.ts), passed in, as
 * bench/alloc.ts imports them from other checkouts, whose types may differ
 * from this one's.
 */
export interface StageLib {
  route: Fn;
  admit: Fn;
  prepare: Fn;
  forward: Fn;
  present: Fn;
  freshState: Fn;
  targetOf: Fn;
}

/**
 * Runs one request through the stages up to `stage` (a stage needs its
 * predecessor's value, so each case includes the ones before it), its
 * answer's body cancelled: the cases of bench/stages_bench.ts and
 * bench/alloc.ts.
 */
export function stageRunner(
  lib: StageLib,
  options: { pipeline: unknown; request: Request },
): (stage: Stage) => Promise<void> {
  const { pipeline, request } = options;
  const input = { method: request.method, headers: request.headers, target: lib.targetOf(request) };
  return async (stage) => {
    const state = lib.freshState();
    const routed = await lib.route(pipeline, input, state);
    if (stage === "route") return;
    const admission = await lib.admit(pipeline, routed, state);
    if (stage === "admit") return;
    const outbound = await lib.prepare(pipeline, admission, { body: null, state });
    if (stage === "prepare") return;
    const response: Response = await lib.forward(pipeline, outbound, { state });
    if (stage === "forward") return void await response.body?.cancel();
    const shown: Response = await lib.present(pipeline, outbound, response, { url: request.url });
    await shown.body?.cancel();
  };
}
