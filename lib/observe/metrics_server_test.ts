import assert from "node:assert/strict";
import { Metrics } from "./metrics.ts";
import { startMetricsServer } from "./metrics_server.ts";

/** Starts a server on a free port, runs `fn` against its base URL, and always shuts it down. */
async function withServer(
  options: {
    ready: () => boolean;
    readyDetails?: () => Promise<Record<string, unknown>>;
    metrics?: Metrics;
  },
  fn: (base: string, metrics: Metrics) => Promise<void>,
): Promise<void> {
  const metrics = options.metrics ?? new Metrics({ version: "0.0.0-test" });
  const server = startMetricsServer({ port: 0, hostname: "127.0.0.1", metrics, ...options });
  assert.equal(server.addr.hostname, "127.0.0.1");
  assert.ok(server.addr.port > 0);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, metrics);
  } finally {
    await server.shutdown();
  }
}

async function get(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; type: string | null; body: string; headers: Headers }> {
  const res = await fetch(url, init);
  return {
    status: res.status,
    type: res.headers.get("content-type"),
    body: await res.text(),
    headers: res.headers,
  };
}

Deno.test("metrics_server: /metrics serves the Prometheus text format", async () => {
  await withServer({ ready: () => true }, async (base, metrics) => {
    metrics.requestStarted();
    metrics.requestFinished({
      operation: "ListObjectsV2",
      bucket: "logs",
      status: 200,
      durationMs: 5,
      upstreamMs: 4,
      bytesIn: 0,
      bytesOut: 321,
    });
    const res = await get(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.type ?? "", /^text\/plain; version=0\.0\.4/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.match(
      res.body,
      /^osp_requests_total\{operation="ListObjectsV2",bucket="logs",status="200"\} 1$/m,
    );
    assert.match(res.body, /^osp_build_info\{version="0\.0\.0-test",deno="[^"]+"\} 1$/m);
    assert.match(res.body, /^osp_memory_bytes \d+$/m);
    assert.match(res.body, /^osp_active_requests 0$/m);
  });
});

Deno.test("metrics_server: /healthz is alive whatever readiness says", async () => {
  await withServer({ ready: () => false }, async (base) => {
    const res = await get(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.body, "ok");
  });
});

Deno.test("metrics_server: /readyz follows ready()", async () => {
  let ready = false;
  await withServer({ ready: () => ready }, async (base) => {
    let res = await get(`${base}/readyz`);
    assert.equal(res.status, 503);
    assert.equal(res.body, "not ready");
    ready = true;
    res = await get(`${base}/readyz`);
    assert.equal(res.status, 200);
    assert.equal(res.body, "ready");
  });
  await withServer({
    ready: () => {
      throw new Error("broken");
    },
  }, async (base) => {
    assert.equal((await get(`${base}/readyz`)).status, 503, "a throwing ready() is not ready");
  });
});

Deno.test("metrics_server: /readyz?verbose returns JSON details", async () => {
  let ready = true;
  let calls = 0;
  const readyDetails = () => {
    calls++;
    return Promise.resolve({ backends: { "http://rgw:8000": { reachable: ready } } });
  };
  await withServer({ ready: () => ready, readyDetails }, async (base) => {
    let res = await get(`${base}/readyz?verbose`);
    assert.equal(res.status, 200);
    assert.equal(res.type, "application/json");
    assert.deepEqual(JSON.parse(res.body), {
      ready: true,
      details: { backends: { "http://rgw:8000": { reachable: true } } },
    });
    ready = false;
    res = await get(`${base}/readyz?verbose=1`);
    assert.equal(res.status, 503);
    assert.deepEqual(JSON.parse(res.body), {
      ready: false,
      details: { backends: { "http://rgw:8000": { reachable: false } } },
    });
    const before = calls;
    res = await get(`${base}/readyz`);
    assert.equal(res.body, "not ready");
    assert.equal(calls, before, "details are fetched only for verbose probes");
    res = await get(`${base}/readyz?verbose=false`);
    assert.equal(res.body, "not ready");
  });
  await withServer({ ready: () => true }, async (base) => {
    const res = await get(`${base}/readyz?verbose`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { ready: true, details: {} });
  });
  await withServer({
    ready: () => true,
    readyDetails: () => Promise.reject(new Error("probe failed")),
  }, async (base) => {
    const res = await get(`${base}/readyz?verbose`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { ready: true, details: { error: "probe failed" } });
  });
});

Deno.test("metrics_server: unknown paths are 404, other methods 405, HEAD works", async () => {
  await withServer({ ready: () => true }, async (base) => {
    for (const path of ["/nope", "/", "/metrics/x", "/healthz/"]) {
      assert.equal((await get(`${base}${path}`)).status, 404, path);
    }
    const post = await get(`${base}/metrics`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    const head = await get(`${base}/healthz`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
  });
});

Deno.test("metrics_server: shutdown closes the listener", async () => {
  const metrics = new Metrics({ version: "x" });
  const server = startMetricsServer({ port: 0, hostname: "127.0.0.1", metrics, ready: () => true });
  const base = `http://127.0.0.1:${server.addr.port}`;
  assert.equal((await get(`${base}/healthz`)).status, 200);
  await server.shutdown();
  await assert.rejects(fetch(`${base}/healthz`));
});

Deno.test("metrics_server: two servers with their own Metrics run side by side", async () => {
  const a = new Metrics({ version: "a" });
  const b = new Metrics({ version: "b" });
  await withServer({ ready: () => true, metrics: a }, async (baseA) => {
    await withServer({ ready: () => false, metrics: b }, async (baseB) => {
      assert.match((await get(`${baseA}/metrics`)).body, /version="a"/);
      assert.doesNotMatch((await get(`${baseA}/metrics`)).body, /version="b"/);
      assert.match((await get(`${baseB}/metrics`)).body, /version="b"/);
      assert.equal((await get(`${baseA}/readyz`)).status, 200);
      assert.equal((await get(`${baseB}/readyz`)).status, 503);
    });
  });
});
