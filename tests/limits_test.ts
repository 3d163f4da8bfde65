// Deno.serve has no server-side timeouts: osp bounds the wait for a backend's
// headers, sheds load above maxConcurrentRequests (503 SlowDown, which SDKs
// back off on), and aborts transfers still running when the shutdown grace
// period is over.
import assert from "node:assert/strict";
import net from "node:net";
import type { ProxyConfig } from "../mod.ts";
import { localBucket, localProxy } from "./_backend.ts";
import { signHeaders } from "./_sign.ts";
import { startMain } from "./_main.ts";

const KEY = { accessKey: "lim-ak", secretKey: "lim-secret" };

/** A backend whose GET sends headers at once, then `pieces` × 64 KiB, `gapMs` apart. */
function slowBody(pieces: number, gapMs: number) {
  let cancelled = 0;
  const piece = new Uint8Array(64 * 1024).fill(0x63);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () =>
    new Response(
      new ReadableStream({
        async start(c) {
          for (let i = 0; i < pieces; i++) {
            try {
              c.enqueue(piece);
            } catch {
              return;
            }
            await new Promise((r) => setTimeout(r, gapMs));
          }
          try {
            c.close();
          } catch { /* cancelled */ }
        },
        cancel() {
          cancelled++;
        },
      }),
      { headers: { "content-length": String(pieces * piece.length) } },
    ));
  return { port: server.addr.port, cancelled: () => cancelled, close: () => server.shutdown() };
}

function proxyTo(port: number, extra: Partial<ProxyConfig>) {
  const proxy = localProxy(port, { key: KEY, config: extra });
  const url = (key: string) => `http://127.0.0.1:${proxy.http!.port}/b/${key}`;
  return {
    proxy,
    get: (key: string) => fetch(url(key), { headers: signHeaders("GET", url(key), KEY) }),
  };
}

Deno.test("limits: a backend that never answers gets 503 after upstreamTimeoutMs", async () => {
  const sockets: net.Socket[] = [];
  const stall = net.createServer((s) => sockets.push(s));
  await new Promise<void>((r) => stall.listen(0, "127.0.0.1", () => r()));
  const { proxy, get } = proxyTo((stall.address() as net.AddressInfo).port, {
    upstreamTimeoutMs: 300,
  });
  const [error] = [console.error];
  console.error = () => {};
  try {
    const started = performance.now();
    const res = await get("k");
    const ms = performance.now() - started;
    assert.equal(res.status, 503);
    assert.match(
      await res.text(),
      /<Code>ServiceUnavailable<\/Code>.*did not answer within 300 ms/,
    );
    assert.ok(ms >= 280 && ms < 3000, `${ms} ms`);
  } finally {
    console.error = error;
    await proxy.shutdown();
    for (const s of sockets) s.destroy();
    stall.close();
  }
});

Deno.test("limits: the header timeout never cuts a slow body", async () => {
  const backend = slowBody(4, 200);
  const { proxy, get } = proxyTo(backend.port, { upstreamTimeoutMs: 150 });
  try {
    const res = await get("k");
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 4 * 64 * 1024);
  } finally {
    await proxy.shutdown();
    await backend.close();
  }
});

Deno.test("limits: above maxConcurrentRequests osp answers 503 SlowDown", async () => {
  const backend = slowBody(3, 150);
  const { proxy, get } = proxyTo(backend.port, { maxConcurrentRequests: 2 });
  try {
    const first = await Promise.all([get("a"), get("b")]);
    const third = await get("c");
    assert.equal(third.status, 503);
    assert.match(await third.text(), /<Code>SlowDown<\/Code>/);
    for (const r of first) {
      assert.equal(r.status, 200);
      assert.equal((await r.arrayBuffer()).byteLength, 3 * 64 * 1024);
    }
    await new Promise((r) => setTimeout(r, 50));
    const after = await get("d");
    assert.equal(after.status, 200, "capacity returns once requests finish");
    await after.body?.cancel();
  } finally {
    await proxy.shutdown();
    await backend.close();
  }
});

Deno.test("limits: shutdown resolves after shutdownGraceMs even with a transfer running", async () => {
  const backend = slowBody(10, 100);
  const { proxy, get } = proxyTo(backend.port, { shutdownGraceMs: 300 });
  const [error] = [console.error];
  console.error = () => {};
  try {
    const res = await get("k");
    assert.equal(res.status, 200);
    const body = res.arrayBuffer().catch(() => undefined);
    const started = performance.now();
    await proxy.shutdown();
    const ms = performance.now() - started;
    assert.ok(ms >= 280 && ms < 800, `shutdown took ${ms} ms for a 300 ms grace`);
    await body;
  } finally {
    console.error = error;
    await proxy.finished;
    await backend.close();
  }
});

Deno.test("limits: main.ts exits 0 after shutdownGraceMs, cutting the transfer and its upstream", async () => {
  const backend = slowBody(20, 100);
  const dir = await Deno.makeTempDir({ prefix: "osp-grace-" });
  const path = `${dir}/osp.config.ts`;
  await Deno.writeTextFile(
    path,
    `export default { hmacKeystore: [{ accessKey: "${KEY.accessKey}", secretKey: "${KEY.secretKey}" }],
       hostname: "127.0.0.1", shutdownGraceMs: 300,
       cosMap: { b: ${JSON.stringify(localBucket(backend.port))} } };`,
  );
  const main = await startMain(["--config", path, "--http-port", "0"]);
  try {
    const url = `${main.base}/b/k`;
    const res = await fetch(url, { headers: signHeaders("GET", url, KEY) });
    assert.equal(res.status, 200);
    const body = res.arrayBuffer();
    // It rejects when the process exits, which may be before child.status
    // resolves: handled here so that it is never an unhandled rejection.
    body.catch(() => {});
    const started = performance.now();
    main.child.kill("SIGTERM");
    const status = await main.child.status;
    const ms = performance.now() - started;
    assert.equal(status.code, 0);
    assert.ok(ms < 1500, `exited after ${ms} ms (the transfer needs 2 s)`);
    await assert.rejects(body, "the unfinished download was cut off");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(backend.cancelled(), 1, "the upstream request was cut too");
  } finally {
    await main.release();
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
});
