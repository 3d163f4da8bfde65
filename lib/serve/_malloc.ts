/**
 * Raising glibc malloc's dynamic thresholds once, at start, so that the 256
 * KiB chunks a streamed answer is read into are reused from the heap instead
 * of being returned to the kernel and faulted in (and zeroed) again.
 *
 * V8 takes ArrayBuffer memory from malloc. glibc serves an allocation above
 * its mmap threshold (128 KiB at start) with a mapping of its own, and gives
 * the top of the heap back to the kernel once more than its trim threshold is
 * free there. Both thresholds are dynamic (mallopt(3), `M_MMAP_THRESHOLD`):
 * freeing a mapped chunk raises the mmap threshold to that chunk's size and
 * the trim threshold to twice it. Left alone they settle at about 256 and 512
 * KiB once the first chunk is freed, and sixteen 1 MiB GETs in flight then
 * grow and shrink the heap by megabytes: 31–182 page faults per GET from
 * Ceph RGW. They rise further only when something happens to free a larger
 * mapped chunk (a large download through fetch, say), so the cost depended on
 * what an osp had served before. Allocating and freeing one
 * {@linkcode MALLOC_PRIME_BYTES} buffer sets them to 4 and 8 MiB from the
 * start: 3–21 faults per such GET, and 11–14 % less CPU (docs/performance.md,
 * "Priming glibc's dynamic thresholds"), for up to 8 MiB of freed heap kept.
 *
 * Setting any `MALLOC_*_` threshold in the environment fixes glibc's
 * thresholds and turns the dynamic ones off, so an operator's environment
 * wins and this is then a no-op; so it is on a C library without them (musl).
 *
 * @module
 */

/** The buffer allocated and freed: glibc's thresholds become 4 and 8 MiB. */
export const MALLOC_PRIME_BYTES = 4 * 1024 * 1024;

/**
 * Allocates and at once frees one {@linkcode MALLOC_PRIME_BYTES} buffer
 * (detached by `transfer(0)`, so V8 frees its memory now, not at a GC).
 * Process-wide: one call serves every isolate.
 *
 * @example Idempotent and cheap; nothing stays allocated
 * ```ts
 * import { primeMalloc } from "./_malloc.ts";
 * primeMalloc();
 * primeMalloc();
 * ```
 */
export function primeMalloc(): void {
  new ArrayBuffer(MALLOC_PRIME_BYTES).transfer(0);
}
