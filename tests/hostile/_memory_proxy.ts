// The proxy for memory_test.ts, in its own process: serve() from mod.ts in
// front of one path-style backend, plus a control listener whose GET runs a
// full GC (--v8-flags=--expose-gc) and answers Deno.memoryUsage() as JSON.
// Prints {"port":…,"control":…} once listening.
//   deno run --v8-flags=--expose-gc -A tests/hostile/_memory_proxy.ts <backend-port>
import { serve } from "../../mod.ts";

const server = serve({
  httpPort: 0,
  hostname: "127.0.0.1",
  logLevel: "error",
  hmacKeystore: [{ accessKey: "bench-client", secretKey: "bench-client-secret" }],
  validator: (token) => token === "bench-client",
  cosMap: {
    bench: {
      host: "127.0.0.1",
      port: Number(Deno.args[0]),
      tls: false,
      addressingStyle: "path",
      accessKey: "bench-backend",
      secretKey: "bench-backend-secret",
    },
  },
});
const gc = (globalThis as { gc?: () => void }).gc;
const control = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async () => {
  // Several passes with pauses: stream and socket resources are released by
  // finalizers and by ops that settle after the first pass.
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  return Response.json(Deno.memoryUsage());
});
console.log(JSON.stringify({ port: server.http!.port, control: control.addr.port }));
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  Deno.exit(0);
});
await server.finished;
