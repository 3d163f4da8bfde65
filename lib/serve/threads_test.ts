import assert from "node:assert/strict";
import { Metrics, renderAggregated } from "../observe/metrics.ts";
import { callbackNames, configData, workerConfig } from "../config/config_module.ts";
import { type FromWorker, RemoteUseCounter } from "./threads.ts";
import { S3Error } from "../request/errors.ts";
import type { ProxyConfig } from "../config/config.ts";

const GET_OK = {
  operation: "GetObject",
  bucket: "photos",
  status: 200,
  durationMs: 3,
  upstreamMs: 2,
  bytesIn: 0,
  bytesOut: 100,
};

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}

Deno.test("threads: metrics of several isolates merge: sums, and process-wide gauges once", async () => {
  const main = new Metrics({ version: "1.2.3", isolate: 0 });
  const worker = new Metrics({ version: "1.2.3", isolate: 1 });
  for (let i = 0; i < 3; i++) main.requestFinished(GET_OK);
  for (let i = 0; i < 5; i++) worker.requestFinished(GET_OK);
  main.requestStarted();
  worker.requestStarted();
  worker.requestStarted();
  const snapshots = [await main.snapshot(), structuredClone(await worker.snapshot())];
  const text = await renderAggregated(snapshots);
  assert.equal(
    value(text, 'osp_requests_total{operation="GetObject",bucket="photos",status="200"}'),
    8,
  );
  assert.equal(value(text, 'osp_isolate_requests_total{isolate="0"}'), 3);
  assert.equal(value(text, 'osp_isolate_requests_total{isolate="1"}'), 5);
  assert.equal(value(text, 'osp_transfer_bytes_total{direction="tx",bucket="photos"}'), 800);
  assert.equal(
    value(text, 'osp_request_duration_seconds_count{operation="GetObject",bucket="photos"}'),
    8,
  );
  assert.equal(
    value(
      text,
      'osp_request_duration_seconds_bucket{le="0.005",operation="GetObject",bucket="photos"}',
    ),
    8,
  );
  assert.equal(value(text, "osp_active_requests"), 3);
  const rss = Deno.memoryUsage().rss;
  const memory = value(text, "osp_memory_bytes")!;
  assert.ok(memory > rss * 0.8 && memory < rss * 1.2, `${memory} is one RSS (${rss}), not two`);
  assert.match(text, /^osp_build_info\{version="1\.2\.3",deno="[^"]+"\} 1$/m);
  assert.equal(text.match(/^# TYPE osp_requests_total counter$/gm)?.length, 1);
});

Deno.test("threads: a worker's config is the main isolate's data with the module's callbacks", () => {
  const validator = () => true;
  const moduleValidator = () => false;
  const main: ProxyConfig = {
    httpPort: 8080,
    logLevel: "warn",
    hmacKeystore: [{ accessKey: "a", secretKey: "b" }],
    cosMap: { b: { host: "h", port: 1 } },
    validator,
  };
  const data = configData(main);
  assert.equal(data.validator, undefined);
  assert.deepEqual(structuredClone(data), data);
  assert.deepEqual(callbackNames(main), ["validator"]);
  const fromModule: ProxyConfig = {
    httpPort: 9999,
    skipSignatureValidation: true,
    cosMap: {},
    validator: moduleValidator,
  };
  const config = workerConfig(data, callbackNames(main), fromModule, "file:///c.ts");
  assert.equal(config.httpPort, 8080);
  assert.equal(config.skipSignatureValidation, undefined, "data fields only from the main isolate");
  assert.equal(config.validator, moduleValidator);
  assert.throws(
    () => workerConfig(data, ["hmacFetcher", "validator"], fromModule, "file:///c.ts"),
    (e: unknown) =>
      e instanceof TypeError && /^threads: /.test(e.message) && /lacks hmacFetcher/.test(e.message),
  );
  assert.throws(
    () => workerConfig(data, [], fromModule, "file:///c.ts"),
    (e: unknown) => e instanceof TypeError && /has validator/.test(e.message),
  );
});

Deno.test("threads: RemoteUseCounter asks the main isolate and fails closed", async () => {
  const sent: FromWorker[] = [];
  const counter = new RemoteUseCounter((m) => sent.push(m), { timeoutMs: 50 });
  const first = counter.increment("sig", { expiresAt: 123 });
  const second = counter.increment("sig", { expiresAt: 123 });
  assert.deepEqual(sent.map((m) => m.type === "count" && [m.key, m.expiresAt]), [
    ["sig", 123],
    ["sig", 123],
  ]);
  const [a, b] = sent as Extract<FromWorker, { type: "count" }>[];
  counter.settle({ type: "counted", id: b.id, count: 2 });
  counter.settle({ type: "counted", id: a.id, count: 1 });
  assert.equal(await first, 1);
  assert.equal(await second, 2);
  const failed = counter.increment("x", { expiresAt: 1 });
  counter.settle({ type: "counted", id: (sent[2] as { id: number }).id, error: "boom" });
  await assert.rejects(
    failed,
    (e: unknown) => e instanceof S3Error && e.code === "ServiceUnavailable",
  );
  await assert.rejects(
    counter.increment("y", { expiresAt: 1 }),
    (e: unknown) => e instanceof S3Error && e.code === "ServiceUnavailable",
  );
  const pending = counter.increment("z", { expiresAt: 1 });
  await counter.close();
  await assert.rejects(pending, S3Error);
});
