/**
 * Counts uses of presigned URLs (identified by their signature) so that each
 * may be used at most `maxPresignUrlUsageAttempts` times. Counters expire
 * when the URL does.
 *
 * @module
 */

/** A shared counter store. */
export interface UseCounter {
  /** Adds one use of `id`, keeping the counter until `expiresAt` (epoch ms); returns the new count. */
  increment(id: string, options: { expiresAt: number }): Promise<number>;
  /** Releases resources. */
  close(): Promise<void>;
}

/** The in-memory counter: the embedded default, exact within one isolate. */
export class MemoryUseCounter implements UseCounter {
  #counts = new Map<string, { count: number; expiresAt: number }>();
  #clock: () => number;
  #lastSweep = 0;

  /** Creates an empty counter. */
  constructor(options: { clock?: () => number } = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  /** Number of counters held (expired ones are swept lazily). */
  get size(): number {
    return this.#counts.size;
  }

  increment(id: string, options: { expiresAt: number }): Promise<number> {
    const now = this.#clock();
    if (now - this.#lastSweep > 60_000) {
      this.#lastSweep = now;
      for (const [k, v] of this.#counts) if (v.expiresAt <= now) this.#counts.delete(k);
    }
    let entry = this.#counts.get(id);
    if (entry === undefined || entry.expiresAt <= now) {
      entry = { count: 0, expiresAt: options.expiresAt };
      this.#counts.set(id, entry);
    }
    entry.count++;
    return Promise.resolve(entry.count);
  }

  close(): Promise<void> {
    this.#counts.clear();
    return Promise.resolve();
  }
}
