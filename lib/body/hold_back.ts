/**
 * A pass-through stream that holds back its last piece until a final check
 * passes: the consumer (an upstream upload) never receives the whole body of a
 * request that fails verification, so the backend cannot complete the object.
 *
 * @module
 */

/** What {@linkcode holdBackStream} checks. */
export interface HoldBackOptions {
  /** Sees every piece, in order, before it is passed on. */
  update(chunk: Uint8Array): void;
  /** Runs after the last piece; throws to fail the stream. */
  check(): void;
}

/** Passes bytes through, keeping the most recent piece until `check()` passes. */
export function holdBackStream(options: HoldBackOptions): TransformStream<Uint8Array, Uint8Array> {
  let held: Uint8Array | undefined;
  return new TransformStream({
    transform(chunk, controller) {
      if (chunk.length === 0) return;
      options.update(chunk);
      if (held !== undefined) controller.enqueue(held);
      held = chunk;
    },
    flush(controller) {
      options.check();
      if (held !== undefined) controller.enqueue(held);
    },
  });
}
