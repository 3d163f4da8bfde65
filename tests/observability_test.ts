// Metrics on their own listener, health endpoints, one JSON log line per
// request, and no secret of any kind in the logs.
import assert from "node:assert/strict";
import { serve } from "../mod.ts";
import { countingBackend } from "./_backend.ts";
import { presignUrl, presignV2Url, signHeaders, signV2Headers } from "./_sign.ts";

const STATIC = { accessKey: "obs-static", secretKey: "obs-static-SECRET-1" };
const FETCHED = { accessKey: "obs-fetched", secretKey: "obs-fetched-SECRET-2" };
const BACKEND_SECRET = "obs-backend-SECRET-3";
const FETCHED_BACKEND_SECRET = "obs-backend-fetched-SECRET-4";
const API_KEY = "obs-ibm-APIKEY-5";
const BEARER = "obs-iam-BEARER-6";
const WRONG = "obs-WRONG-secret-7";

function capture(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const [log, error, warn] = [console.log, console.error, console.warn];
  console.log = console.error = console.warn = (...args: unknown[]) =>
    lines.push(args.map(String).join(" "));
  return {
    lines,
    restore: () => ([console.log, console.error, console.warn] = [log, error, warn]),
  };
}

Deno.test("observability: metrics, health and request logs without secrets", async () => {
  const backend = countingBackend();
  const iam = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () =>
    Response.json({
      access_token: BEARER,
      token_type: "Bearer",
      expires_in: 3600,
      expiration: Math.floor(Date.now() / 1000) + 3600,
    }));
  const out = capture();
  const base = {
    host: "127.0.0.1",
    port: backend.port,
    tls: false,
    addressingStyle: "path" as const,
  };
  const proxy = serve({
    httpPort: 0,
    metricsPort: 0,
    hostname: "127.0.0.1",
    logLevel: "debug",
    hmacKeystore: [STATIC],
    hmacFetcher: (ak) => (ak === FETCHED.accessKey ? FETCHED.secretKey : null),
    bucketCredsFetcher: () => ({
      accessKey: "obs-backend-fetched",
      secretKey: FETCHED_BACKEND_SECRET,
    }),
    iamEndpoint: `http://127.0.0.1:${iam.addr.port}/identity/token`,
    validator: (_t, bucket) => bucket !== "denied",
    cosMap: {
      data: { ...base, accessKey: "obs-backend", secretKey: BACKEND_SECRET },
      fetched: base,
      cos: { ...base, apiKey: API_KEY },
      denied: { ...base, accessKey: "x", secretKey: "y" },
    },
  });
  const url = (path: string) => `http://127.0.0.1:${proxy.http!.port}${path}`;
  const metricsUrl = `http://127.0.0.1:${proxy.metrics!.port}`;
  const signatures: string[] = [];
  const get = async (path: string, key: { accessKey: string; secretKey: string }) => {
    const headers = signHeaders("GET", url(path), key);
    signatures.push(/Signature=([0-9a-f]+)/.exec(headers.authorization)![1]);
    const r = await fetch(url(path), { headers });
    await r.body?.cancel();
    return r.status;
  };
  try {
    assert.equal(await get("/data/a", STATIC), 200);
    assert.equal(await get("/data/b", STATIC), 200);
    assert.equal(await get("/fetched/c", FETCHED), 200);
    assert.equal(await get("/cos/d", STATIC), 200);
    assert.equal(await get("/denied/e", STATIC), 403);
    assert.equal(await get("/nowhere/f", STATIC), 404);
    assert.equal(await get("/data/g", { ...STATIC, secretKey: WRONG }), 403);
    const presigned = presignUrl("GET", url("/data/h"), { ...STATIC, expires: 60 });
    signatures.push(new URL(presigned).searchParams.get("X-Amz-Signature")!);
    for (let i = 0; i < 4; i++) await (await fetch(presigned)).body?.cancel();
    const v2Headers = signV2Headers("GET", url("/data/v2"), STATIC);
    signatures.push(v2Headers.authorization.split(":")[1]);
    const v2 = await fetch(url("/data/v2"), { headers: v2Headers });
    assert.equal(v2.status, 200);
    await v2.body?.cancel();
    const v2Presigned = presignV2Url("GET", url("/data/v2p"), STATIC);
    signatures.push(new URL(v2Presigned).searchParams.get("Signature")!);
    const v2PresignedResponse = await fetch(v2Presigned);
    assert.equal(v2PresignedResponse.status, 200);
    await v2PresignedResponse.body?.cancel();
    const cos = backend.requests.find((r) => r.url.includes("/cos/"))!;
    assert.equal(cos.headers.get("authorization"), `Bearer ${BEARER}`);

    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    const value = (series: string) => {
      const line = text.split("\n").find((l) => l.startsWith(series + " "));
      return line === undefined ? undefined : Number(line.split(" ").at(-1));
    };
    assert.equal(value('osp_requests_total{operation="GetObject",bucket="data",status="200"}'), 7);
    assert.equal(
      value('osp_requests_total{operation="GetObject",bucket="_unknown",status="404"}'),
      1,
    );
    assert.equal(
      value('osp_request_errors_total{operation="GetObject",bucket="denied",code="AccessDenied"}'),
      1,
    );
    assert.equal(value('osp_presigned_url_hits_total{bucket="data"}'), 4);
    assert.equal(value('osp_signature_requests_total{version="2"}'), 2);
    // a, b, c, d, e (denied after authentication), f (no such bucket), 4 SigV4 presigned uses.
    assert.equal(value('osp_signature_requests_total{version="4"}'), 10);
    assert.equal(value('osp_presigned_url_rejected_total{bucket="data"}'), 1);
    assert.equal(value('osp_auth_cache_hits_total{cache="secret",result="miss"}'), 1);
    assert.ok(
      (value('osp_request_duration_seconds_count{operation="GetObject",bucket="data"}') ?? 0) >= 5,
    );
    assert.ok(
      (value('osp_upstream_duration_seconds_count{operation="GetObject",bucket="data"}') ?? 0) >= 5,
    );
    assert.equal(value("osp_active_requests"), 0);
    assert.ok((value("osp_memory_bytes") ?? 0) > 0);
    assert.doesNotMatch(text, /nowhere/, "raw client bucket names never become labels");

    assert.equal((await fetch(`${metricsUrl}/healthz`)).status, 200);
    const ready = await fetch(`${metricsUrl}/readyz`);
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
    const proxyMetrics = await fetch(url("/metrics"));
    assert.notEqual(proxyMetrics.status, 200, "metrics are not served on the proxy port");
    await proxyMetrics.body?.cancel();
  } finally {
    await proxy.shutdown();
    await iam.shutdown();
    await backend.close();
    out.restore();
  }
  const requests = out.lines.filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l));
  assert.ok(requests.length >= 11, `one line per request (${requests.length})`);
  const first = requests.find((r) => r.key === "a")!;
  for (
    const field of [
      "time",
      "requestId",
      "clientIp",
      "accessKey",
      "bucket",
      "operation",
      "key",
      "status",
      "bytesIn",
      "bytesOut",
      "ms",
      "upstreamMs",
    ]
  ) {
    assert.ok(field in first, `log field ${field}`);
  }
  const sigVersion = (key: string) =>
    requests.filter((r) => r.key === key).map((r) => r.sigVersion);
  assert.deepEqual(sigVersion("a"), ["4"]);
  assert.deepEqual(sigVersion("v2"), ["2"]);
  assert.deepEqual(sigVersion("v2p"), ["2"]);
  assert.deepEqual(sigVersion("g"), [undefined], "a request that failed authentication has none");
  const all = out.lines.join("\n");
  for (
    const secret of [
      STATIC.secretKey,
      FETCHED.secretKey,
      BACKEND_SECRET,
      FETCHED_BACKEND_SECRET,
      API_KEY,
      BEARER,
      WRONG,
      ...signatures,
    ]
  ) {
    assert.ok(!all.includes(secret), `a secret leaked into the logs: ${secret.slice(0, 12)}…`);
  }
});
