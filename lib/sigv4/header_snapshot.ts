/**
 * A client request's headers, read once. Every walk of a Deno `Headers`
 * (`forEach`, its iterators) sorts and combines the whole list again (about
 * 1 µs for the dozen headers an SDK sends) and every `get` converts and
 * scans; a request's headers are walked by the signature check, the
 * validator's cache key and the re-signing, and read by name a dozen times
 * more. {@linkcode headerSnapshot} does the walk once per `Headers` object
 * and keeps the result on it.
 *
 * Only for headers nobody changes after the first read: a client's request
 * headers, which osp never modifies (its own header sets are HeaderLists, or new
 * `Headers` objects it does not snapshot).
 *
 * @module
 */

/** A `Headers` as `forEach` gives it: lower-case names, sorted, duplicates combined. */
export interface HeaderSnapshot {
  /** Every header, in `forEach` order. */
  readonly list: readonly (readonly [string, string])[];
  /** The value of a header, as `Headers.get` gives it (fastest with a lower-case name), or null. */
  get(name: string): string | null;
}

/**
 * The list, and lookups by a scan of it: a Map beside it cost about 1 KB per
 * request (its table growing as the dozen names went in), and scanning a
 * dozen names is as fast as hashing one.
 */
class Snapshot implements HeaderSnapshot {
  readonly list: [string, string][] = [];

  constructor(headers: Headers) {
    headers.forEach((value, name) => {
      this.list.push([name, value]);
    });
  }

  get(name: string): string | null {
    const found = this.#find(name);
    if (found !== null) return found;
    const lower = name.toLowerCase();
    return lower === name ? null : this.#find(lower);
  }

  #find(name: string): string | null {
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i][0] === name) return list[i][1];
    return null;
  }
}

/**
 * Where a `Headers` keeps its snapshot: a property under a symbol only this
 * module holds. Not a WeakMap: V8's young-generation GC keeps a WeakMap's
 * values alive until the next full GC, which promoted every request's
 * snapshot (0.7 → 1.1 KB promoted per request in the handler loop, and
 * about a quarter more scavenge time).
 */
const SNAPSHOT = Symbol("headerSnapshot");

/** The snapshot of `headers`, made on the first call for that object. */
export function headerSnapshot(headers: Headers): HeaderSnapshot {
  const holder = headers as unknown as { [SNAPSHOT]?: Snapshot };
  return holder[SNAPSHOT] ??= new Snapshot(headers);
}
