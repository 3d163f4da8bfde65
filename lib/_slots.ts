/**
 * A set for values that come and go with requests, kept in array slots.
 *
 * @module
 */

/**
 * Values held in the slots of an array, free slots reused: a set for
 * entries added and removed per request in a collection that lives as long
 * as the server (the requests in flight).
 *
 * Not a `Set`: such a collection is moved to V8's old generation, and a
 * `Set` whose entries come and go keeps rebuilding its table; a table left
 * behind in the old generation still points at the values it held, and
 * through them at each request's whole state, which every young-generation
 * GC then copies until the next full GC. Measured with osp in front of the
 * no-op backend (1 KiB GETs, c=16, `bench/promotion.ts`): 1.3 KB promoted
 * per request with a `Set` of the requests in flight, 0.2 KB with slots
 * (docs/performance.md, "After the GC pass").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Slots } from "./_slots.ts";
 *
 * const inflight = new Slots<AbortController>();
 * const a = new AbortController();
 * const slot = inflight.add(a);
 * assert.equal(inflight.size, 1);
 * assert.deepEqual([...inflight], [a]);
 * inflight.delete(slot, a);
 * assert.equal(inflight.size, 0);
 * ```
 */
export class Slots<T extends object> implements Iterable<T> {
  readonly #slots: (T | undefined)[] = [];
  readonly #free: number[] = [];
  #size = 0;

  /** How many values are held. */
  get size(): number {
    return this.#size;
  }

  /** Adds a value; returns its slot, for {@linkcode Slots.delete}. */
  add(value: T): number {
    const slot = this.#free.pop() ?? this.#slots.length;
    this.#slots[slot] = value;
    this.#size++;
    return slot;
  }

  /** Removes the value `add` put in `slot`; nothing if it is gone already. */
  delete(slot: number, value: T): void {
    if (this.#slots[slot] !== value) return;
    this.#slots[slot] = undefined;
    this.#free.push(slot);
    this.#size--;
  }

  /** The values held, in slot order (a value deleted meanwhile is skipped). */
  *[Symbol.iterator](): Iterator<T> {
    const slots = this.#slots;
    for (let i = 0; i < slots.length; i++) {
      const value = slots[i];
      if (value !== undefined) yield value;
    }
  }
}
