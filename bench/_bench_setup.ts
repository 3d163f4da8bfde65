// What bench/handler_bench.ts and bench/alloc.ts both build their handler
// from: the client's credentials, the headers @aws-sdk/client-s3 sends, and
// the proxy config (plain data, so each checkout resolves it with its own
// lib/).

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
