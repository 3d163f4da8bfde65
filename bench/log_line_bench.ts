/**
 * One access-log line built two ways, written nowhere: a fields object passed
 * to `logger.log` (serialized by `JSON.stringify`), as osp did, against the
 * fixed-order `jsonField` run passed to `logger.logJson`, as
 * lib/request/exchange.ts does now. Same text either way (checked first).
 *
 *   deno bench -A bench/log_line_bench.ts
 */
import { createLogger, jsonField } from "../lib/observe/log.ts";

let last = "";
const logger = createLogger({ level: "info", write: (line) => last = line });
const state = { id: "1DD8D0003B057A64", accessKey: "bench-client", bucket: "bench" };
const durationMs = 1.2345;

function asObject(): void {
  logger.log("info", "request", {
    requestId: state.id,
    clientIp: "127.0.0.1",
    accessKey: state.accessKey,
    anonymous: undefined,
    sigVersion: "4",
    method: "GET",
    bucket: state.bucket,
    operation: "GetObject",
    key: "photos/2024/IMG_0042.jpg",
    status: 200,
    code: undefined,
    bytesIn: 0,
    bytesOut: 1024,
    ms: Math.round(durationMs * 10) / 10,
    upstreamMs: Math.round(durationMs * 10) / 10,
    sampleRate: undefined,
  });
}

function asFields(): void {
  logger.logJson(
    "info",
    "request",
    jsonField("requestId", state.id) + jsonField("clientIp", "127.0.0.1") +
      jsonField("accessKey", state.accessKey) + jsonField("anonymous", undefined) +
      jsonField("sigVersion", "4") + jsonField("method", "GET") +
      jsonField("bucket", state.bucket) + jsonField("operation", "GetObject") +
      jsonField("key", "photos/2024/IMG_0042.jpg") + jsonField("status", 200) +
      jsonField("code", undefined) + jsonField("bytesIn", 0) + jsonField("bytesOut", 1024) +
      jsonField("ms", Math.round(durationMs * 10) / 10) +
      jsonField("upstreamMs", Math.round(durationMs * 10) / 10) +
      jsonField("sampleRate", undefined),
  );
}

// The same text but for the time.
const withoutTime = (line: string) => line.replace(/"time":"[^"]*"/, "");
asObject();
const viaObject = withoutTime(last);
asFields();
const viaFields = withoutTime(last);
if (viaObject !== viaFields) {
  throw new Error(`different lines:\n${viaObject}\n${viaFields}`);
}

Deno.bench({ name: "fields object + logger.log (before)", group: "line", baseline: true }, () => {
  asObject();
});
Deno.bench({ name: "jsonField run + logger.logJson (now)", group: "line" }, () => {
  asFields();
});
