/**
 * A bounded LRU whose entries expire, with single flight: concurrent loads of
 * the same key share one call. Rejections are never cached.
 *
 * @module
 */

interface Entry<V> {
  /** The key it was stored under (see `get`). */
  key: string;
  value: V;
  expiresAt: number;
}

/** Options for {@linkcode TtlCache}. */
export interface TtlCacheOptions {
  /** Most entries kept; the least recently used goes first. */
  maxEntries: number;
  /** Time source in epoch ms. */
  clock?: () => number;
}

/** A bounded, expiring LRU cache with single-flight loading. */
export class TtlCache<V> {
  #entries = new Map<string, Entry<V>>();
  #inflight = new Map<string, Promise<V>>();
  #max: number;
  #clock: () => number;
  #generation = 0;
  /** The entry stored or used last: the Map's last, so already the most recent. */
  #newest: Entry<V> | undefined;

  /** Creates an empty cache. */
  constructor(options: TtlCacheOptions) {
    this.#max = Math.max(1, options.maxEntries);
    this.#clock = options.clock ?? Date.now;
  }

  /** Number of live and expired entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Returns a fresh cached value, or undefined. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#clock()) {
      this.#entries.delete(key);
      return undefined;
    }
    // Re-insert to mark as most recently used, unless it is already: each
    // delete and set grows the Map's table, which is then copied. Under the
    // stored key: the caller's is a string just built (a validator cache key
    // holds the request's headers), which the Map would keep instead, and
    // the young generation GC would promote with it.
    if (entry !== this.#newest) {
      this.#entries.delete(key);
      this.#entries.set(entry.key, entry);
      this.#newest = entry;
    }
    return entry.value;
  }

  /** Stores a value for `ttlMs`; a ttl of 0 stores nothing. */
  set(key: string, value: V, options: { ttlMs: number }): void {
    if (options.ttlMs <= 0) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    const entry = { key, value, expiresAt: this.#clock() + options.ttlMs };
    this.#entries.set(key, entry);
    this.#newest = entry;
  }

  /** Drops every entry whose key starts with `prefix` (all entries when empty). */
  deletePrefix(prefix: string): void {
    // Loads already under way must not store what they fetched for old state.
    this.#generation++;
    for (const key of [...this.#entries.keys()]) {
      if (key.startsWith(prefix)) this.#entries.delete(key);
    }
  }

  /**
   * Returns the cached value or loads it. Concurrent calls for one key share a
   * single load; a result is cached for `ttlMs` (0: shared but not kept).
   */
  async getOrLoad(key: string, load: () => V | Promise<V>, options: { ttlMs: number }): Promise<V> {
    const cached = this.get(key);
    if (cached !== undefined) return cached;
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return await pending;
    const generation = this.#generation;
    const promise = (async () => await load())();
    this.#inflight.set(key, promise);
    try {
      const value = await promise;
      if (generation === this.#generation) this.set(key, value, options);
      return value;
    } finally {
      this.#inflight.delete(key);
    }
  }
}
