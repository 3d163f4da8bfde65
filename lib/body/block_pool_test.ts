import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BLOCK_SIZE, freeBlocks, pooledBytes, releaseBlock, retainBlock } from "./block_pool.ts";
import { createChunkedDecoder } from "./aws_chunked.ts";
import { encodeChunked } from "./aws_chunked_encoder.ts";

/** A byte stream (as Deno.serve's request bodies are) of `data` in `piece`-sized enqueues. */
function byteStream(data: Uint8Array, piece: number): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (offset >= data.length) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      const n = Math.min(piece, data.length - offset);
      controller.enqueue(data.slice(offset, offset + n));
      offset += n;
    },
  });
}

function pattern(length: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 31 + 7) & 0xff);
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Reads `stream` the way osp's HTTP/1.1 client writes a body: copy out, then release. */
async function drain(
  stream: ReadableStream<Uint8Array>,
  options: { release: boolean },
): Promise<{ bytes: Uint8Array; views: Uint8Array[] }> {
  const parts: Uint8Array[] = [];
  const views: Uint8Array[] = [];
  for await (const view of stream) {
    parts.push(view.slice());
    views.push(view);
    if (options.release) releaseBlock(view);
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, views };
}

Deno.test("pooledBytes: a byte stream comes out whole, and released blocks are reused", async () => {
  const data = pattern(10 * BLOCK_SIZE + 123);
  const first = await drain(pooledBytes(byteStream(data, 100_000)), { release: true });
  assert.equal(sha(first.bytes), sha(data));
  const freeAfter = freeBlocks();
  assert.ok(freeAfter >= 1, "released blocks are kept for reuse");
  // A second body takes its blocks from the pool: the free list does not grow.
  const second = await drain(pooledBytes(byteStream(data, 100_000)), { release: true });
  assert.equal(sha(second.bytes), sha(data));
  assert.equal(freeBlocks(), freeAfter);
});

Deno.test("pooledBytes: a block is not reused while a view of it is held", async () => {
  const data = pattern(3 * BLOCK_SIZE);
  const reader = pooledBytes(byteStream(data, BLOCK_SIZE)).getReader();
  const held = (await reader.read()).value!;
  const copy = held.slice();
  retainBlock(held); // a second holder
  releaseBlock(held); // the first one is done
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    releaseBlock(value);
  }
  // The held view still shows its own bytes: its block was never handed out again.
  assert.deepEqual(held, copy);
  const before = freeBlocks();
  releaseBlock(held);
  assert.equal(freeBlocks(), before + 1);
});

Deno.test("pooledBytes: a stream that is not a byte stream is returned as it is", () => {
  const plain = ReadableStream.from([new Uint8Array([1, 2, 3])]);
  assert.equal(pooledBytes(plain), plain);
});

Deno.test("pooledBytes: an upload decoded from pooled blocks is exact, and every block comes back", async () => {
  const data = pattern(5 * 1024 * 1024 + 17);
  // Chunks of 100 000 bytes: each spans two blocks, and the decoder holds one back.
  const framed = encodeChunked(data, { chunkSize: 100_000, mode: "streaming-unsigned-trailer" });
  const before = freeBlocks();
  const decoder = createChunkedDecoder({
    mode: "streaming-unsigned-trailer",
    decodedLength: data.length,
    expectedTrailers: [],
  });
  const out = await drain(pooledBytes(byteStream(framed, 65_000)).pipeThrough(decoder.stream), {
    release: true,
  });
  await decoder.done;
  assert.equal(out.bytes.length, data.length);
  assert.equal(sha(out.bytes), sha(data));
  // Balanced references: all blocks are free again, and a few carried 5 MiB.
  const free = freeBlocks();
  assert.ok(free > before || free === 64, `free blocks ${before} → ${free}`);
  assert.ok(free - before <= 8, `at most a few blocks in flight, saw ${free - before}`);
});

Deno.test("pooledBytes: views the consumer has not released keep their bytes", async () => {
  const data = pattern(2 * 1024 * 1024);
  const framed = encodeChunked(data, { chunkSize: 64 * 1024, mode: "streaming-unsigned-trailer" });
  const decoder = createChunkedDecoder({
    mode: "streaming-unsigned-trailer",
    decodedLength: data.length,
    expectedTrailers: [],
  });
  // Nothing released until the end: no block may be reused meanwhile.
  const out = await drain(pooledBytes(byteStream(framed, 50_000)).pipeThrough(decoder.stream), {
    release: false,
  });
  const joined = new Uint8Array(data.length);
  let o = 0;
  for (const v of out.views) {
    joined.set(v, o);
    o += v.length;
  }
  assert.equal(sha(joined), sha(data));
  for (const v of out.views) releaseBlock(v);
});

Deno.test("pooledBytes: a failing upload gives its held blocks back", async () => {
  const data = pattern(1024 * 1024);
  const framed = encodeChunked(data, { chunkSize: 64 * 1024, mode: "streaming-unsigned-trailer" });
  const before = freeBlocks();
  const decoder = createChunkedDecoder({
    mode: "streaming-unsigned-trailer",
    decodedLength: data.length + 1, // a wrong decoded length: fails at the end
    expectedTrailers: [],
  });
  await assert.rejects(
    drain(pooledBytes(byteStream(framed, 65_536)).pipeThrough(decoder.stream), { release: true }),
    /IncompleteBody|bytes of data/,
  );
  await assert.rejects(decoder.done);
  assert.ok(freeBlocks() >= before, "the held-back chunk's blocks are free");
});
