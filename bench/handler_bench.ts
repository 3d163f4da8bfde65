/**
 * osp's own JavaScript per small request, without any I/O: the request
 * handler (parse, verify the client's SigV4, authorize from the decision
 * cache, re-sign for the backend, answer) in front of a canned backend that
 * answers 1 KiB at once. What bench/e2e.ts measures per request, less
 * Deno.serve, the sockets and the kernel; bench/relay_floor.ts measures those.
 *
 *   deno bench -A bench/handler_bench.ts
 *
 * "build the Request" is the cost of the input alone (paid by Deno.serve in a
 * real server, in another form): subtract it from the others.
 */
import assert from "node:assert/strict";
import { resolveConfig } from "../lib/config/config.ts";
import { createHandler } from "../lib/request/handler.ts";
import { createLogger } from "../lib/observe/log.ts";
import { Transport } from "../lib/upstream/transport.ts";
import { MemoryUseCounter } from "../lib/access/use_counter.ts";
import { signHeaders } from "../tests/_sign.ts";
import { BENCH_CLIENT, benchHandlerConfig, SDK_HEADERS } from "./_bench_setup.ts";

const NOW = Date.UTC(2025, 0, 15, 12, 30, 0);
const OBJECT = new Uint8Array(1024);

/** The backend: answers every request at once, draining a request body first. */
const canned = async (_url: string | URL | Request, init?: RequestInit): Promise<Response> => {
  if (init?.body) await new Response(init.body).arrayBuffer();
  return init?.method === "PUT"
    ? new Response(null, { headers: { etag: '"put"', "content-length": "0" } })
    : new Response(OBJECT, {
      headers: { "content-length": "1024", etag: '"get"', "content-type": "binary/octet-stream" },
    });
};
const config = resolveConfig(
  benchHandlerConfig({ port: 9000, now: NOW, fetch: canned as typeof fetch }),
);
const handler = createHandler({
  config,
  logger: createLogger({ level: "warn" }),
  transport: new Transport({ fetch: canned as typeof fetch }),
  useCounter: new MemoryUseCounter(),
});
// As from Deno.serve: delivery is reported through `completed`.
const conn = { remoteIp: "127.0.0.1", completed: Promise.resolve() };

const URL_ = "http://127.0.0.1:8080/bench/photos/2024/IMG_0042.jpg";
const getHeaders = signHeaders("GET", URL_, { ...BENCH_CLIENT, time: NOW, headers: SDK_HEADERS });
const putHeaders = signHeaders("PUT", URL_, {
  ...BENCH_CLIENT,
  time: NOW,
  payloadHash: "UNSIGNED-PAYLOAD",
  headers: { ...SDK_HEADERS, "content-length": "1024", "content-type": "binary/octet-stream" },
});
const getRequest = () => new Request(URL_, { headers: getHeaders });
const putRequest = () => new Request(URL_, { method: "PUT", headers: putHeaders, body: OBJECT });

// Checked once, so a bench never times an error answer.
const get = await handler(getRequest(), conn);
assert.equal(get.status, 200, await get.clone().text());
assert.equal((await get.bytes()).length, 1024);
const put = await handler(putRequest(), conn);
assert.equal(put.status, 200, await put.clone().text());
await put.body?.cancel();

Deno.bench({ name: "build the Request (GET)", group: "get", baseline: true }, () => {
  getRequest();
});
Deno.bench({ name: "GET 1 KiB through the handler", group: "get" }, async () => {
  await handler(getRequest(), conn);
});
Deno.bench({ name: "build the Request (PUT)", group: "put", baseline: true }, () => {
  putRequest();
});
Deno.bench({ name: "PUT 1 KiB (UNSIGNED-PAYLOAD) through the handler", group: "put" }, async () => {
  const response = await handler(putRequest(), conn);
  await response.body?.cancel();
});
