// Streamed downloads whose chunks osp frees once Deno.serve has sent them
// (releaseBodyChunks, lib/upstream/http1.ts): every byte must still arrive
// exact, with answers overlapping on pooled backend connections.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { ProxyConfig } from "../mod.ts";
import { localProxy } from "./_backend.ts";
import { signHeaders } from "./_sign.ts";

const KEY = { accessKey: "rel-ak", secretKey: "rel-secret" };
const SIZES = [70 * 1024, 1024 * 1024 + 17, 3 * 1024 * 1024 + 5];
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function random(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

async function roundTrips(config: Partial<ProxyConfig>) {
  const objects = SIZES.map(random);
  const backend = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const i = Number(new URL(req.url).pathname.split("-").at(-1));
    return new Response(objects[i], { headers: { "content-type": "application/octet-stream" } });
  });
  const proxy = localProxy(backend.addr.port, { key: KEY, config });
  const get = async (i: number) => {
    const url = `http://127.0.0.1:${proxy.http!.port}/b/obj-${i}`;
    const res = await fetch(url, { headers: signHeaders("GET", url, KEY) });
    assert.equal(res.status, 200);
    const body = new Uint8Array(await res.arrayBuffer());
    assert.equal(body.length, SIZES[i]);
    assert.equal(sha(body), sha(objects[i]), `object ${i}`);
  };
  try {
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 9 }, (_, n) => get(n % SIZES.length)));
    }
  } finally {
    await proxy.shutdown();
    await backend.shutdown();
  }
}

Deno.test("downloads: streamed bodies arrive exact when their chunks are released after delivery", async () => {
  await roundTrips({});
});

Deno.test("downloads: the same through the download idle watch (downloadIdleTimeoutMs)", async () => {
  await roundTrips({ downloadIdleTimeoutMs: 5_000 });
});
