// The proxy under test for bench/e2e.ts, in its own process: serve() from
// ../mod.ts in front of one path-style, plain-HTTP backend bucket, with full
// client signature verification (static keystore), a validator and
// re-signing for the backend. Prints `{"port":…,"pid":…}` once listening;
// SIGTERM (or SIGINT) shuts it down gracefully and exits. CPU and memory are
// read by the harness from /proc/<pid>.
//   deno run --allow-net --allow-env --allow-read bench/proxy_process.ts <backend-port> \
//     [--bucket bench] [--backend-bucket name] [--backend-key k --backend-secret s] \
//     [--client-key k --client-secret s] [--log-level warn]
import { serve } from "../mod.ts";
import type { LogLevel } from "../mod.ts";

function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

const backendPort = Number(Deno.args[0]);
if (!Number.isInteger(backendPort) || backendPort <= 0) {
  console.error("usage: proxy_process.ts <backend-port> [flags]");
  Deno.exit(2);
}
const bucket = flag("bucket", "bench");
const clientKey = flag("client-key", "bench-client");

const server = serve({
  httpPort: 0,
  hostname: "127.0.0.1",
  logLevel: flag("log-level", "warn") as LogLevel,
  hmacKeystore: [{ accessKey: clientKey, secretKey: flag("client-secret", "bench-client-secret") }],
  validator: (token) => token === clientKey,
  cosMap: {
    [bucket]: {
      host: flag("backend-host", "127.0.0.1"),
      port: backendPort,
      tls: false,
      addressingStyle: "path",
      backendBucket: flag("backend-bucket", bucket),
      accessKey: flag("backend-key", "bench-backend"),
      secretKey: flag("backend-secret", "bench-backend-secret"),
    },
  },
});

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.shutdown();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
console.log(JSON.stringify({ port: server.http!.port, pid: Deno.pid }));
await server.finished;
