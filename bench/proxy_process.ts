// The proxy under test for bench/e2e.ts, in its own process: serve() from
// ../mod.ts in front of one path-style, plain-HTTP backend bucket, with full
// client signature verification (static keystore), a validator and
// re-signing for the backend. Prints `{"port":…,"pid":…}` once listening;
// SIGTERM (or SIGINT) shuts it down gracefully and exits. CPU and memory are
// read by the harness from /proc/<pid>.
//   deno run --allow-net --allow-env --allow-read bench/proxy_process.ts <backend-port> \
//     [--bucket bench] [--backend-bucket name] [--backend-key k --backend-secret s] \
//     [--client-key k --client-secret s] [--log-level warn] [--threads N]
// `--threads N` with N > 1 runs N isolates on the port and needs --unstable-net;
// the workers import bench/proxy_config.ts, which rebuilds the config from
// these flags (handed over in OSP_BENCH_FLAGS).
import { serve } from "../mod.ts";
import { benchConfig } from "./proxy_config.ts";

const backendPort = Number(Deno.args[0]);
if (!Number.isInteger(backendPort) || backendPort <= 0) {
  console.error("usage: proxy_process.ts <backend-port> [flags]");
  Deno.exit(2);
}
Deno.env.set("OSP_BENCH_FLAGS", JSON.stringify(Deno.args));
const server = serve(benchConfig(Deno.args), {
  configModule: new URL("./proxy_config.ts", import.meta.url),
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
