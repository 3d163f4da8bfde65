/**
 * Reused byte blocks for upload bodies that osp decodes (aws-chunked). Every
 * chunk Deno hands to JavaScript from a request body is a fresh ArrayBuffer,
 * which V8 frees only at its next GC, triggered by external-memory growth
 * at about 64 MB: a decoded gigabyte left 175–200 MB of RSS behind. Read
 * with a BYOB reader into blocks from this pool instead, and handed back once
 * the bytes have gone out, the same few blocks carry the whole body.
 *
 * A block is counted: one reference while its piece is being decoded, one
 * per view the decoder keeps (a chunk it holds back), and each view's
 * reference passes to the writer, which drops it once the view has been
 * written. At zero the block is free again. Whatever is not handed back
 * (a failed upload, a consumer that never drops its views) is collected by
 * the GC as before: a missed drop costs memory, never bytes. A reused block
 * goes through a BYOB read, which detaches the previous ArrayBuffer, so a
 * view still held by mistake reads as empty instead of as someone else's
 * bytes.
 *
 * @module
 */

/** Bytes per block: one BYOB read. */
export const BLOCK_SIZE = 64 * 1024;
/** Free blocks kept for reuse (4 MiB); more are left to the GC. */
const FREE_MAX = 64;

const refs = new WeakMap<ArrayBufferLike, number>();
const free: ArrayBuffer[] = [];

/** Adds a reference to the block under `view` (no-op for other bytes). */
export function retainBlock(view: Uint8Array): void {
  const n = refs.get(view.buffer);
  if (n !== undefined) refs.set(view.buffer, n + 1);
}

/** Drops a reference to the block under `view`; at zero it is free again (no-op for other bytes). */
export function releaseBlock(view: Uint8Array): void {
  const buffer = view.buffer;
  const n = refs.get(buffer);
  if (n === undefined) return;
  if (n > 1) {
    refs.set(buffer, n - 1);
    return;
  }
  refs.delete(buffer);
  if (free.length < FREE_MAX && buffer instanceof ArrayBuffer && !buffer.detached) {
    free.push(buffer);
  }
}

/** Free blocks now (for tests). */
export function freeBlocks(): number {
  return free.length;
}

/**
 * The bytes of `body` in pooled blocks, each piece holding one reference
 * (see {@linkcode releaseBlock}). `body` must be a byte stream (a request
 * body from Deno.serve); any other stream is returned as it is.
 */
export function pooledBytes(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamBYOBReader;
  try {
    reader = body.getReader({ mode: "byob" });
  } catch {
    return body;
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const block = free.pop() ?? new ArrayBuffer(BLOCK_SIZE);
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read(new Uint8Array(block));
      } catch (err) {
        controller.error(err);
        return;
      }
      if (result.done) {
        const back = result.value?.buffer;
        if (back instanceof ArrayBuffer && free.length < FREE_MAX) free.push(back);
        controller.close();
        return;
      }
      const piece = result.value;
      refs.set(piece.buffer, 1);
      controller.enqueue(piece);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}
