// Memory after faults: the proxy runs in its own process (_memory_proxy.ts in
// front of bench/noop_backend.ts) and takes rounds of hostile traffic —
// uploads cut mid-body, downloads abandoned mid-body, aws-chunked uploads with
// a bad chunk signature, bad signatures — with good requests in between.
// After each round a full GC runs in the proxy and its live JavaScript heap
// is read: a leak (requests, streams, listeners or timers kept alive) grows it
// round after round; garbage does not. RSS is printed too, but not asserted:
// it moves with when V8 and the allocator give memory back, not with leaks.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encodeChunked } from "../../lib/body/aws_chunked_encoder.ts";
import { amzDate, deriveSigningKey, signature } from "../../lib/sigv4/sigv4.ts";
import { RawConn, requestHead, signHeaders } from "./_setup.ts";

const KEY = { accessKey: "bench-client", secretKey: "bench-client-secret" };
const here = (f: string) => new URL(f, import.meta.url).pathname;
const MiB = 1024 * 1024;

async function spawnJson(args: string[]) {
  // stdout carries one JSON line; the process is read no further.
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) text += (await reader.read()).value ?? "";
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    child,
    info: JSON.parse(text.split("\n")[0]) as { port: number; control?: number },
  };
}

Deno.test("hostile memory: RSS does not grow round after round of faults", async () => {
  const backend = await spawnJson(["run", "--allow-net", here("../../bench/noop_backend.ts")]);
  const proxy = await spawnJson([
    "run",
    "--v8-flags=--expose-gc",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    here("_memory_proxy.ts"),
    String(backend.info.port),
  ]);
  const port = proxy.info.port;
  const base = `http://127.0.0.1:${port}`;

  const cutUpload = async (i: number) => {
    const url = `${base}/bench/cut-${i}`;
    const headers = signHeaders("PUT", url, {
      ...KEY,
      payloadHash: "UNSIGNED-PAYLOAD",
      headers: { "content-length": String(4 * MiB) },
    });
    const conn = new RawConn(port);
    await conn.connected;
    await conn.write(requestHead("PUT", `/bench/cut-${i}`, Object.entries(headers)));
    await conn.write(new Uint8Array(MiB + 1234));
    conn.destroy(); // the client vanishes mid-body
  };
  const abandonedDownload = async () => {
    const url = `${base}/bench/${64 * MiB}`;
    const res = await fetch(url, { headers: signHeaders("GET", url, KEY) });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
  };
  const badChunkUpload = async (i: number) => {
    const url = `${base}/bench/chunked-${i}`;
    const data = new Uint8Array(3 * 64 * 1024).fill(i & 0xff);
    const time = Date.now();
    const datetime = amzDate(time);
    const scope = { date: datetime.slice(0, 8), region: "us-east-1", service: "s3" };
    const framed = encodeChunked(data, {
      chunkSize: 64 * 1024,
      mode: "streaming-signed",
      signing: {
        // Chunks signed with the wrong key: the seed is right, chunk 1 is not.
        signingKey: deriveSigningKey("wrong-secret", scope),
        datetime,
        scope,
        seedSignature: signature(deriveSigningKey("x", scope), "seed"),
      },
    });
    const headers = signHeaders("PUT", url, {
      ...KEY,
      time,
      payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
      headers: {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": String(data.length),
        "content-length": String(framed.length),
      },
    });
    const res = await fetch(url, {
      method: "PUT",
      headers,
      body: framed as Uint8Array<ArrayBuffer>,
    });
    await res.body?.cancel();
    assert.equal(res.status, 403);
  };
  const badSignature = async () => {
    const url = `${base}/bench/1024`;
    const res = await fetch(url, {
      headers: signHeaders("GET", url, { ...KEY, secretKey: "wrong" }),
    });
    await res.body?.cancel();
    assert.equal(res.status, 403);
  };
  const goodRoundTrip = async () => {
    const url = `${base}/bench/${MiB}`;
    const res = await fetch(url, { headers: signHeaders("GET", url, KEY) });
    assert.equal(res.status, 200);
    const got = new Uint8Array(await res.arrayBuffer());
    assert.equal(got.length, MiB);
    const want = new Uint8Array(MiB).map((_, i) => (i * 31 + 7) & 0xff);
    assert.equal(
      createHash("sha256").update(got).digest("hex"),
      createHash("sha256").update(want).digest("hex"),
    );
  };

  const round = async () => {
    for (let batch = 0; batch < 4; batch++) {
      await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => cutUpload(batch * 10 + i)),
        ...Array.from({ length: 5 }, () => abandonedDownload()),
        ...Array.from({ length: 5 }, (_, i) => badChunkUpload(batch * 5 + i)),
        ...Array.from({ length: 20 }, () => badSignature()),
      ]);
      await goodRoundTrip();
    }
    await new Promise((r) => setTimeout(r, 200));
    const usage = await (await fetch(`http://127.0.0.1:${proxy.info.control}/`)).json();
    return { heap: usage.heapUsed / MiB, rss: usage.rss / MiB };
  };

  try {
    await round(); // warm-up: JIT, pools, caches
    const samples: { heap: number; rss: number }[] = [];
    for (let i = 0; i < 6; i++) samples.push(await round());
    const heaps = samples.map((s) => s.heap.toFixed(1)).join(", ");
    console.log(`proxy live heap after each round: ${heaps} MiB`);
    console.log(
      `proxy RSS after each round: ${samples.map((s) => s.rss.toFixed(0)).join(", ")} MiB`,
    );
    // 6 rounds × 160 faulty requests: a leak of 2 KiB a request would add 1.6 MiB.
    const growth = samples[5].heap - samples[0].heap;
    assert.ok(growth < 1, `the live heap grew ${growth.toFixed(2)} MiB over 5 rounds: ${heaps}`);
    await goodRoundTrip(); // still healthy
  } finally {
    proxy.child.kill("SIGTERM");
    backend.child.kill("SIGTERM");
    await proxy.child.status;
    await backend.child.status;
  }
});
