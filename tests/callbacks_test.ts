// validator, hmacFetcher and bucketCredsFetcher that throw, return garbage or
// hang: a clear 500 or 503, logged, never allowed, nothing forwarded.
import assert from "node:assert/strict";
import type { ProxyConfig } from "../mod.ts";
import { countingBackend, localProxy } from "./_backend.ts";
import { signHeaders } from "./_sign.ts";

const KEY = { accessKey: "cb-ak", secretKey: "cb-secret" };
const hang = () => new Promise<never>(() => {});

async function attempt(config: Partial<ProxyConfig>, options: { accessKey?: string } = {}) {
  const backend = countingBackend();
  const proxy = localProxy(backend.port, {
    key: KEY,
    config: { callbackTimeoutMs: 200, ...config },
  });
  const [log, error] = [console.log, console.error];
  console.log = console.error = () => {};
  try {
    const url = `http://127.0.0.1:${proxy.http!.port}/b/key`;
    const key = { ...KEY, accessKey: options.accessKey ?? KEY.accessKey };
    const started = performance.now();
    const res = await fetch(url, { headers: signHeaders("GET", url, key) });
    const text = await res.text();
    return {
      status: res.status,
      code: /<Code>([^<]*)</.exec(text)?.[1],
      ms: performance.now() - started,
      forwarded: backend.requests.length,
    };
  } finally {
    [console.log, console.error] = [log, error];
    await proxy.shutdown();
    await backend.close();
  }
}

const CASES: [string, Partial<ProxyConfig>, { accessKey?: string }, number, string][] = [
  [
    "validator throws",
    {
      validator: () => {
        throw new Error("db down");
      },
    },
    {},
    500,
    "InternalError",
  ],
  [
    "validator returns garbage",
    { validator: (() => "yes") as unknown as ProxyConfig["validator"] },
    {},
    500,
    "InternalError",
  ],
  ["validator hangs", { validator: hang }, {}, 503, "ServiceUnavailable"],
  [
    "hmacFetcher throws",
    {
      hmacFetcher: () => {
        throw new Error("vault down");
      },
    },
    { accessKey: "fetched" },
    500,
    "InternalError",
  ],
  [
    "hmacFetcher returns garbage",
    { hmacFetcher: (() => 42) as unknown as ProxyConfig["hmacFetcher"] },
    { accessKey: "fetched" },
    500,
    "InternalError",
  ],
  ["hmacFetcher hangs", { hmacFetcher: hang }, { accessKey: "fetched" }, 503, "ServiceUnavailable"],
  [
    "bucketCredsFetcher throws",
    {
      cosMap: { b: { host: "127.0.0.1", port: 1, tls: false } },
      bucketCredsFetcher: () => {
        throw new Error("no creds");
      },
    },
    {},
    500,
    "InternalError",
  ],
  [
    "bucketCredsFetcher returns garbage",
    {
      cosMap: { b: { host: "127.0.0.1", port: 1, tls: false } },
      bucketCredsFetcher: (() => ({})) as unknown as ProxyConfig["bucketCredsFetcher"],
    },
    {},
    500,
    "InternalError",
  ],
  [
    "bucketCredsFetcher hangs",
    {
      cosMap: { b: { host: "127.0.0.1", port: 1, tls: false } },
      bucketCredsFetcher: hang,
    },
    {},
    503,
    "ServiceUnavailable",
  ],
];

for (const [name, config, options, status, code] of CASES) {
  Deno.test(`callbacks: ${name} → ${status} ${code}, nothing forwarded`, async () => {
    const r = await attempt(config, options);
    assert.equal(r.status, status);
    assert.equal(r.code, code);
    assert.equal(r.forwarded, 0);
    if (status === 503) {
      assert.ok(r.ms < 2000, `answered after the 200 ms limit, not hung (${r.ms} ms)`);
    }
  });
}
