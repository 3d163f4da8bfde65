/**
 * The requests in flight, as the AbortControllers that cancel their work.
 *
 * @module
 */

/**
 * AbortControllers of the requests in flight, each in a slot of an array
 * that free slots are reused from.
 *
 * Not a `Set`: this collection lives as long as the server, so V8 moves it
 * to its old generation, and a `Set` with an entry added and deleted per
 * request keeps rebuilding its table; a table left behind in the old
 * generation still points at the controllers it held, and through their
 * signals' listeners at each request's whole state, which every
 * young-generation GC then copies until the next full GC. Measured with
 * osp in front of the no-op backend (1 KiB GETs, c=16, `--trace-gc-nvp`):
 * 1.3 KB promoted per request with a `Set`, 0.2 KB with these slots
 * (docs/performance.md, "After the GC pass").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InFlight } from "./inflight.ts";
 *
 * const inflight = new InFlight();
 * const a = new AbortController();
 * const slot = inflight.add(a);
 * assert.equal(inflight.size, 1);
 * inflight.delete(slot, a);
 * assert.equal(inflight.size, 0);
 * ```
 */
export class InFlight {
  #slots: (AbortController | undefined)[] = [];
  #free: number[] = [];
  #size = 0;

  /** How many requests are in flight. */
  get size(): number {
    return this.#size;
  }

  /** Adds a request's controller; returns its slot, for {@linkcode InFlight.delete}. */
  add(abort: AbortController): number {
    const slot = this.#free.pop() ?? this.#slots.length;
    this.#slots[slot] = abort;
    this.#size++;
    return slot;
  }

  /** Removes the controller `add` put in `slot`; nothing if it is gone already. */
  delete(slot: number, abort: AbortController): void {
    if (this.#slots[slot] !== abort) return;
    this.#slots[slot] = undefined;
    this.#free.push(slot);
    this.#size--;
  }

  /** Aborts every request in flight with `reason`. */
  abortAll(reason: unknown): void {
    for (const abort of this.#slots) abort?.abort(reason);
  }
}
