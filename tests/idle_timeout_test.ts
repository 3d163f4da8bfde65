// bodyIdleTimeoutMs: a body that stops moving in either direction is cut on
// both sides, and a long upload that keeps moving is never cut by the
// response-header timeout. Raw sockets on both sides, so the test decides
// exactly when bytes move.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { ProxyConfig } from "../mod.ts";
import { localProxy } from "./_backend.ts";
import { signHeaders } from "./_sign.ts";
import { selfSignedCert } from "./_tls.ts";

const KEY = { accessKey: "idle-ak", secretKey: "idle-secret" };
const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

interface Upload {
  head: string;
  bytes: number;
  sha256: string;
  complete: boolean;
}

/**
 * A raw backend for uploads. "read-all" reads the declared body and answers
 * 200; "stop-reading" reads 64 KiB and then nothing, never answering.
 */
function uploadBackend(mode: "read-all" | "stop-reading") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const uploads: Upload[] = [];
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buf = new Uint8Array(64 * 1024);
        let pending = new Uint8Array(0);
        let head = "";
        let length = 0;
        let bytes = 0;
        const hash = createHash("sha256");
        const upload: Upload = { head: "", bytes: 0, sha256: "", complete: false };
        uploads.push(upload);
        try {
          while (true) {
            if (mode === "stop-reading" && bytes >= 64 * 1024) {
              await new Promise(() => {}); // never reads again
            }
            const n = await conn.read(buf);
            if (n === null) break;
            let piece = buf.subarray(0, n);
            if (head === "") {
              const joined = new Uint8Array(pending.length + piece.length);
              joined.set(pending);
              joined.set(piece, pending.length);
              const end = dec.decode(joined).indexOf("\r\n\r\n"); // the head is ASCII
              if (end < 0) {
                pending = joined;
                continue;
              }
              head = dec.decode(joined.subarray(0, end));
              upload.head = head;
              length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
              piece = joined.subarray(end + 4);
            }
            bytes += piece.length;
            hash.update(piece);
            upload.bytes = bytes;
            if (bytes >= length) {
              upload.complete = true;
              upload.sha256 = hash.digest("hex");
              await conn.write(enc.encode(
                `HTTP/1.1 200 OK\r\netag: "${bytes}"\r\ncontent-length: 0\r\n\r\n`,
              ));
              break;
            }
          }
        } catch {
          // cut by the proxy
        } finally {
          try {
            conn.close();
          } catch { /* closed */ }
        }
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    uploads,
    close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

function proxyTo(port: number, config: Partial<ProxyConfig>) {
  return localProxy(port, { key: KEY, config });
}

/** Opens a raw connection and sends a signed PUT head for `length` bytes. */
async function startPut(proxyPort: number, key: string, length: number) {
  const url = `http://127.0.0.1:${proxyPort}/b/${key}`;
  const headers = signHeaders("PUT", url, {
    ...KEY,
    payloadHash: "UNSIGNED-PAYLOAD",
    headers: { "content-length": String(length) },
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxyPort });
  let head = `PUT /b/${key} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  await conn.write(enc.encode(head + "\r\n"));
  return conn;
}

/** Reads one response (head and a Content-Length body) from a raw connection. */
async function readResponse(conn: Deno.Conn): Promise<{ status: number; body: string }> {
  let data = "";
  const buf = new Uint8Array(65536);
  while (true) {
    const end = data.indexOf("\r\n\r\n");
    if (end >= 0 && /transfer-encoding: chunked/i.test(data.slice(0, end))) {
      const rest = data.slice(end + 4);
      if (rest.endsWith("0\r\n\r\n")) {
        let body = "";
        for (let at = 0;;) {
          const eol = rest.indexOf("\r\n", at);
          const size = parseInt(rest.slice(at, eol), 16);
          if (size === 0) break;
          body += rest.slice(eol + 2, eol + 2 + size);
          at = eol + 2 + size + 2;
        }
        return { status: Number(data.slice(9, 12)), body };
      }
    } else if (end >= 0) {
      const length = Number(/content-length: (\d+)/i.exec(data.slice(0, end))?.[1] ?? 0);
      if (data.length >= end + 4 + length) {
        return { status: Number(data.slice(9, 12)), body: data.slice(end + 4, end + 4 + length) };
      }
    }
    const n = await conn.read(buf);
    if (n === null) throw new Error(`connection closed; got ${JSON.stringify(data.slice(0, 200))}`);
    data += dec.decode(buf.subarray(0, n));
  }
}

function bytesOf(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);
}

Deno.test("idle: a long upload that keeps moving is never cut by the header timeout", async () => {
  const backend = uploadBackend("read-all");
  const proxy = proxyTo(backend.port, { upstreamTimeoutMs: 300, bodyIdleTimeoutMs: 2000 });
  try {
    const body = bytesOf(1.5 * MiB, 7);
    const conn = await startPut(proxy.http!.port, "slow", body.length);
    const started = performance.now();
    const piece = 128 * 1024;
    for (let o = 0; o < body.length; o += piece) {
      await conn.write(body.subarray(o, o + piece));
      await sleep(60);
    }
    const res = await readResponse(conn);
    conn.close();
    assert.ok(performance.now() - started > 600, "the upload took longer than upstreamTimeoutMs");
    assert.equal(res.status, 200, res.body);
    assert.equal(backend.uploads.length, 1);
    assert.equal(backend.uploads[0].complete, true);
    assert.equal(
      backend.uploads[0].sha256,
      createHash("sha256").update(body).digest("hex"),
      "the backend stored exactly the bytes sent",
    );
    assert.match(backend.uploads[0].head, /content-length: 1572864/i);
  } finally {
    await proxy.shutdown();
    backend.close();
  }
});

Deno.test("idle: a client that stops sending gets 400 RequestTimeout; the backend never completes", async () => {
  const backend = uploadBackend("read-all");
  const proxy = proxyTo(backend.port, { bodyIdleTimeoutMs: 300 });
  try {
    const conn = await startPut(proxy.http!.port, "stall", 2 * MiB);
    await conn.write(bytesOf(1.25 * MiB, 3));
    const stalledAt = performance.now();
    const res = await readResponse(conn);
    const ms = performance.now() - stalledAt;
    conn.close();
    assert.equal(res.status, 400);
    assert.match(res.body, /<Code>RequestTimeout<\/Code>/);
    assert.ok(ms >= 250 && ms < 2000, `answered ${ms} ms after the last byte`);
    await sleep(50);
    assert.equal(backend.uploads.length, 1);
    assert.equal(backend.uploads[0].complete, false, "the backend saw a cut request");
    assert.ok(backend.uploads[0].bytes < 2 * MiB);
  } finally {
    await proxy.shutdown();
    backend.close();
  }
});

Deno.test("idle: a small upload (read whole before sending) whose client stalls gets 400 RequestTimeout; nothing reaches the backend", async () => {
  const backend = uploadBackend("read-all");
  const proxy = proxyTo(backend.port, { bodyIdleTimeoutMs: 300, upstreamTimeoutMs: 5000 });
  try {
    const conn = await startPut(proxy.http!.port, "small-stall", 4096);
    await conn.write(bytesOf(1000, 5));
    const stalledAt = performance.now();
    const res = await readResponse(conn);
    const ms = performance.now() - stalledAt;
    conn.close();
    assert.equal(res.status, 400);
    assert.match(res.body, /<Code>RequestTimeout<\/Code>/);
    assert.ok(ms >= 250 && ms < 2000, `answered ${ms} ms after the last byte`);
    await sleep(50);
    assert.equal(backend.uploads.length, 0, "no connection to the backend was even opened");
  } finally {
    await proxy.shutdown();
    backend.close();
  }
});

Deno.test("idle: a backend that stops reading an upload gets it cut, 503 for the client", async () => {
  const backend = uploadBackend("stop-reading");
  const proxy = proxyTo(backend.port, { bodyIdleTimeoutMs: 300 });
  const [error] = [console.error];
  console.error = () => {};
  try {
    const total = 256 * MiB;
    const conn = await startPut(proxy.http!.port, "backend-stall", total);
    const chunk = bytesOf(MiB, 1);
    // Sends until the proxy stops taking bytes (or the connection is answered).
    const sending = (async () => {
      for (let sent = 0; sent < total; sent += chunk.length) await conn.write(chunk);
    })().catch(() => {});
    const res = await readResponse(conn);
    conn.close();
    await sending;
    assert.equal(res.status, 503);
    assert.match(res.body, /<Code>ServiceUnavailable<\/Code>.*took no data for 300 ms/s);
    assert.equal(backend.uploads[0].complete, false);
  } finally {
    console.error = error;
    await proxy.shutdown();
    backend.close();
  }
});

Deno.test("idle: a download whose backend stalls is cut, and so is the backend connection", async () => {
  let cancelled = 0;
  const half = new Uint8Array(MiB).fill(0x61);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () =>
    new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(half); // then nothing: the backend stalls
        },
        cancel() {
          cancelled++;
        },
      }),
      { headers: { "content-length": String(2 * MiB) } },
    ));
  const proxy = proxyTo(server.addr.port, { downloadIdleTimeoutMs: 300 });
  try {
    const url = `http://127.0.0.1:${proxy.http!.port}/b/k`;
    const res = await fetch(url, { headers: signHeaders("GET", url, KEY) });
    assert.equal(res.status, 200);
    const started = performance.now();
    await assert.rejects(res.arrayBuffer(), "the client sees a cut body, never a short one");
    const ms = performance.now() - started;
    assert.ok(ms < 3000, `cut after ${ms} ms`);
    await sleep(100);
    assert.equal(cancelled, 1, "the upstream response was cancelled");
  } finally {
    await proxy.shutdown();
    await server.shutdown();
  }
});

Deno.test("idle: a negative bodyIdleTimeoutMs or downloadIdleTimeoutMs is a TypeError naming it", () => {
  for (const field of ["bodyIdleTimeoutMs", "downloadIdleTimeoutMs"]) {
    assert.throws(
      () => proxyTo(1, { [field]: -1 }),
      (err: unknown) => err instanceof TypeError && err.message.includes(field),
    );
  }
});

Deno.test("idle: through node:http too (HTTPS backend, verify: false), a long upload is not cut by the header timeout", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osp-idle-tls-" });
  const { cert, key } = await selfSignedCert(dir);
  let received = "";
  const backend = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
    onListen() {},
  }, async (req) => {
    received = createHash("sha256").update(new Uint8Array(await req.arrayBuffer())).digest("hex");
    return new Response(null, { headers: { etag: '"x"' } });
  });
  const proxy = localProxy(backend.addr.port, {
    key: KEY,
    bucket: { tls: true },
    config: { verify: false, upstreamTimeoutMs: 300, bodyIdleTimeoutMs: 2000 },
  });
  try {
    const body = bytesOf(1.5 * MiB, 9);
    const conn = await startPut(proxy.http!.port, "slow-tls", body.length);
    for (let o = 0; o < body.length; o += 256 * 1024) {
      await conn.write(body.subarray(o, o + 256 * 1024));
      await sleep(120);
    }
    const res = await readResponse(conn);
    conn.close();
    assert.equal(res.status, 200, res.body);
    assert.equal(received, createHash("sha256").update(body).digest("hex"));
  } finally {
    await proxy.shutdown();
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
