// `/readyz?verbose` on the metrics listener reports each backend's
// reachability, while the readiness status ignores it.
import assert from "node:assert/strict";
import { serve } from "../mod.ts";
import { countingBackend } from "./_backend.ts";

Deno.test("readyz: ?verbose reports backend reachability; the status stays 200", async () => {
  const backend = countingBackend();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const bucket = { host: "127.0.0.1", tls: false, addressingStyle: "path" as const };
  const keys = { accessKey: "rz-backend", secretKey: "rz-backend-secret" };
  const proxy = serve({
    httpPort: 0,
    metricsPort: 0,
    hostname: "127.0.0.1",
    logLevel: "error",
    hmacKeystore: [{ accessKey: "rz", secretKey: "rz-secret" }],
    cosMap: {
      up: { ...bucket, port: backend.port, ...keys },
      alsoUp: { ...bucket, port: backend.port, ...keys },
      down: { ...bucket, port: closedPort, ...keys },
    },
  });
  const up = `http://127.0.0.1:${backend.port}`;
  const down = `http://127.0.0.1:${closedPort}`;
  try {
    const res = await fetch(`http://127.0.0.1:${proxy.metrics!.port}/readyz?verbose`);
    assert.equal(res.status, 200, "a backend outage does not make the proxy unready");
    const body = await res.json();
    assert.equal(body.ready, true);
    assert.equal(body.details.buckets, 3);
    assert.deepEqual(Object.keys(body.details.backends).sort(), [down, up].sort());
    assert.equal(body.details.backends[up].reachable, true);
    assert.equal(typeof body.details.backends[up].ms, "number");
    assert.equal(body.details.backends[down].reachable, false);
    assert.equal(typeof body.details.backends[down].error, "string");

    const plain = await fetch(`http://127.0.0.1:${proxy.metrics!.port}/readyz`);
    assert.equal(plain.status, 200);
    assert.equal(await plain.text(), "ready");
  } finally {
    await proxy.shutdown();
    await backend.close();
  }
});
