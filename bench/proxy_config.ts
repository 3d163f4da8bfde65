// The config of bench/proxy_process.ts as a module, so that its worker
// isolates (`--threads N`, N > 1) can import it for the validator (the one
// callback): it is built from the flags proxy_process.ts received, which it
// hands over in the environment variable OSP_BENCH_FLAGS.
import type { LogLevel, ProxyConfig } from "../mod.ts";

/** The proxy's config from its command-line flags (`--name value` pairs). */
export function benchConfig(args: string[]): ProxyConfig {
  const flag = (name: string, fallback: string): string => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
  };
  const bucket = flag("bucket", "bench");
  const clientKey = flag("client-key", "bench-client");
  return {
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: flag("log-level", "warn") as LogLevel,
    threads: Number(flag("threads", "1")),
    hmacKeystore: [{
      accessKey: clientKey,
      secretKey: flag("client-secret", "bench-client-secret"),
    }],
    validator: (token) => token === clientKey,
    cosMap: {
      [bucket]: {
        host: flag("backend-host", "127.0.0.1"),
        port: Number(args[0]),
        tls: false,
        addressingStyle: "path",
        backendBucket: flag("backend-bucket", bucket),
        accessKey: flag("backend-key", "bench-backend"),
        secretKey: flag("backend-secret", "bench-backend-secret"),
      },
    },
  };
}

export default (): ProxyConfig => benchConfig(JSON.parse(Deno.env.get("OSP_BENCH_FLAGS") ?? "[]"));
