/**
 * Inactivity timeouts for body transfers, behind one sweeping timer: a
 * transfer touches its handle whenever bytes move (a clock read, no timer
 * work), and the sweep calls `onIdle` for handles untouched for the timeout.
 * The sweep runs every quarter of the timeout, so a stall is noticed between
 * 1× and 1.25× the timeout after the last byte.
 *
 * @module
 */

/** One watched transfer. */
export interface IdleHandle {
  /** Bytes moved: the idle clock starts again. */
  touch(): void;
  /** The transfer is over (or no longer watched): `onIdle` will not run. */
  stop(): void;
}

class Handle implements IdleHandle {
  last = performance.now();
  stopped = false;
  constructor(readonly onIdle: () => void, readonly owner: IdleWatch) {}
  touch(): void {
    this.last = performance.now();
  }
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.owner.drop(this);
  }
}

/**
 * Watches transfers for inactivity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdleWatch } from "./idle_watch.ts";
 * const idle = new IdleWatch(60_000);
 * const abort = new AbortController();
 * const handle = idle.watch(() => abort.abort());
 * handle.touch(); // for each chunk
 * handle.stop(); // at the end
 * assert.equal(abort.signal.aborted, false);
 * ```
 */
export class IdleWatch {
  #ms: number;
  #handles = new Set<Handle>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Transfers with no activity for `ms` milliseconds count as idle. */
  constructor(ms: number) {
    if (!(ms > 0)) throw new RangeError("the idle timeout must be positive");
    this.#ms = ms;
  }

  /** Starts watching; `onIdle` runs once if the handle goes untouched for the timeout. */
  watch(onIdle: () => void): IdleHandle {
    const handle = new Handle(onIdle, this);
    this.#handles.add(handle);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), Math.max(10, this.#ms / 4));
      Deno.unrefTimer(this.#timer);
    }
    return handle;
  }

  /** Internal: a handle stopped. */
  drop(handle: IdleHandle): void {
    this.#handles.delete(handle as Handle);
    if (this.#handles.size === 0) this.#stopTimer();
  }

  /** Stops the timer; watched transfers are no longer timed. */
  close(): void {
    for (const h of this.#handles) h.stopped = true;
    this.#handles.clear();
    this.#stopTimer();
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    const limit = performance.now() - this.#ms;
    for (const h of this.#handles) {
      if (h.last > limit) continue;
      h.stop();
      try {
        h.onIdle();
      } catch {
        // An onIdle that throws must not stop the sweep of the others.
      }
    }
  }
}

/** Options of {@linkcode idleTimedStream}. */
export interface IdleTimedStreamOptions {
  /** The error the stream fails with when it goes idle. */
  idleError: () => Error;
  /**
   * Called once with the bytes passed, when the stream ends (`failed` false),
   * fails, goes idle or is cancelled (`failed` true).
   */
  onDone?: (bytes: number, end: { failed: boolean }) => void;
  /** Called once when the stream went idle (before it errors). */
  onIdle?: () => void;
}

/**
 * A pass-through stream watched by `watch`: when no chunk passes for the
 * timeout (the source stalled, or the reader stopped reading) it errors,
 * which cancels its source and aborts its reader. It counts the bytes that
 * passed.
 */
export function idleTimedStream(
  watch: IdleWatch,
  options: IdleTimedStreamOptions,
): TransformStream<Uint8Array, Uint8Array> {
  let bytes = 0;
  let done = false;
  const finish = (failed: boolean) => {
    if (done) return;
    done = true;
    handle.stop();
    options.onDone?.(bytes, { failed });
  };
  let controller!: TransformStreamDefaultController<Uint8Array>;
  const handle = watch.watch(() => {
    options.onIdle?.();
    controller.error(options.idleError());
    finish(true);
  });
  return new TransformStream<Uint8Array, Uint8Array>({
    start(c) {
      controller = c;
    },
    transform(chunk, c) {
      bytes += chunk.byteLength;
      handle.touch();
      c.enqueue(chunk);
    },
    flush: () => finish(false),
    cancel: () => finish(true),
  });
}
