import assert from "node:assert/strict";
import { TtlCache } from "./ttl_cache.ts";

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

/** A promise with its resolve and reject exposed. */
function deferred<T>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

Deno.test("ttl cache: entries expire at exactly ttlMs by the injected clock", () => {
  const clock = manualClock();
  const cache = new TtlCache<string>({ maxEntries: 10, clock: clock.now });
  cache.set("a", "A", { ttlMs: 100 });
  assert.equal(cache.get("a"), "A");
  clock.advance(99);
  assert.equal(cache.get("a"), "A");
  clock.advance(1);
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.size, 0, "an expired entry is dropped when read");
});

Deno.test("ttl cache: a get does not extend the ttl", () => {
  const clock = manualClock();
  const cache = new TtlCache<number>({ maxEntries: 10, clock: clock.now });
  cache.set("a", 1, { ttlMs: 100 });
  clock.advance(60);
  assert.equal(cache.get("a"), 1);
  clock.advance(60);
  assert.equal(cache.get("a"), undefined);
});

Deno.test("ttl cache: setting again replaces the value and restarts the ttl", () => {
  const clock = manualClock();
  const cache = new TtlCache<number>({ maxEntries: 10, clock: clock.now });
  cache.set("a", 1, { ttlMs: 100 });
  clock.advance(60);
  cache.set("a", 2, { ttlMs: 100 });
  clock.advance(60);
  assert.equal(cache.get("a"), 2);
  assert.equal(cache.size, 1);
});

Deno.test("ttl cache: evicts the least recently used, and get marks recent", () => {
  const cache = new TtlCache<number>({ maxEntries: 3 });
  cache.set("a", 1, { ttlMs: 60_000 });
  cache.set("b", 2, { ttlMs: 60_000 });
  cache.set("c", 3, { ttlMs: 60_000 });
  assert.equal(cache.get("a"), 1); // order now b, c, a
  cache.set("d", 4, { ttlMs: 60_000 }); // evicts b
  assert.equal(cache.size, 3);
  assert.equal(cache.get("b"), undefined);
  assert.equal(cache.get("c"), 3); // order now a, d, c
  cache.set("e", 5, { ttlMs: 60_000 }); // evicts a
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.get("d"), 4);
  assert.equal(cache.get("c"), 3);
  assert.equal(cache.get("e"), 5);
  assert.equal(cache.size, 3);
});

Deno.test("ttl cache: replacing an existing key does not evict another", () => {
  const cache = new TtlCache<number>({ maxEntries: 2 });
  cache.set("a", 1, { ttlMs: 60_000 });
  cache.set("b", 2, { ttlMs: 60_000 });
  cache.set("a", 10, { ttlMs: 60_000 });
  assert.equal(cache.get("a"), 10);
  assert.equal(cache.get("b"), 2);
});

Deno.test("ttl cache: single flight: 50 concurrent loads of one key call the loader once", async () => {
  const cache = new TtlCache<string>({ maxEntries: 10 });
  const gate = deferred<string>();
  let calls = 0;
  const load = () => {
    calls++;
    return gate.promise;
  };
  const all = Promise.all(
    Array.from({ length: 50 }, () => cache.getOrLoad("k", load, { ttlMs: 1000 })),
  );
  gate.resolve("value");
  const results = await all;
  assert.equal(calls, 1);
  assert.deepEqual(results, Array(50).fill("value"));
  // Cached afterwards: no further load.
  assert.equal(await cache.getOrLoad("k", load, { ttlMs: 1000 }), "value");
  assert.equal(calls, 1);
});

Deno.test("ttl cache: different keys load independently", async () => {
  const cache = new TtlCache<string>({ maxEntries: 10 });
  const calls: string[] = [];
  const [a, b] = await Promise.all(["a", "b"].map((k) =>
    cache.getOrLoad(k, () => {
      calls.push(k);
      return k.toUpperCase();
    }, { ttlMs: 1000 })
  ));
  assert.equal(a, "A");
  assert.equal(b, "B");
  assert.deepEqual(calls.sort(), ["a", "b"]);
});

Deno.test("ttl cache: a reload happens after expiry", async () => {
  const clock = manualClock();
  const cache = new TtlCache<number>({ maxEntries: 10, clock: clock.now });
  let calls = 0;
  const load = () => ++calls;
  assert.equal(await cache.getOrLoad("k", load, { ttlMs: 100 }), 1);
  clock.advance(99);
  assert.equal(await cache.getOrLoad("k", load, { ttlMs: 100 }), 1);
  clock.advance(1);
  assert.equal(await cache.getOrLoad("k", load, { ttlMs: 100 }), 2);
});

Deno.test("ttl cache: a rejection is shared by concurrent waiters and never cached", async () => {
  const cache = new TtlCache<string>({ maxEntries: 10 });
  const gate = deferred<string>();
  let calls = 0;
  const failing = () => {
    calls++;
    return gate.promise;
  };
  const waiters = Array.from(
    { length: 5 },
    () => cache.getOrLoad("k", failing, { ttlMs: 1000 }).then(() => "resolved", (e) => e),
  );
  const boom = new Error("boom");
  gate.reject(boom);
  const outcomes = await Promise.all(waiters);
  assert.equal(calls, 1);
  for (const outcome of outcomes) assert.equal(outcome, boom);
  assert.equal(cache.size, 0);

  // The next load runs again and its success is cached.
  assert.equal(await cache.getOrLoad("k", () => "ok", { ttlMs: 1000 }), "ok");
  assert.equal(cache.get("k"), "ok");
});

Deno.test("ttl cache: a loader that throws synchronously rejects and is not cached", async () => {
  const cache = new TtlCache<string>({ maxEntries: 10 });
  await assert.rejects(
    cache.getOrLoad("k", () => {
      throw new Error("sync");
    }, { ttlMs: 1000 }),
    /sync/,
  );
  assert.equal(cache.size, 0);
  assert.equal(await cache.getOrLoad("k", () => "ok", { ttlMs: 1000 }), "ok");
});

Deno.test("ttl cache: ttl 0 stores nothing, but concurrent loads still share one call", async () => {
  const cache = new TtlCache<number>({ maxEntries: 10 });
  cache.set("a", 1, { ttlMs: 0 });
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.size, 0);

  let calls = 0;
  const gate = deferred<number>();
  const load = () => {
    calls++;
    return gate.promise;
  };
  const both = Promise.all([
    cache.getOrLoad("k", load, { ttlMs: 0 }),
    cache.getOrLoad("k", load, { ttlMs: 0 }),
  ]);
  gate.resolve(7);
  assert.deepEqual(await both, [7, 7]);
  assert.equal(calls, 1);
  assert.equal(cache.size, 0);
  await cache.getOrLoad("k", () => ++calls, { ttlMs: 0 });
  assert.equal(calls, 2);
});

Deno.test("ttl cache: a cached null is a hit", async () => {
  const cache = new TtlCache<string | null>({ maxEntries: 10 });
  let calls = 0;
  const load = () => {
    calls++;
    return null;
  };
  assert.equal(await cache.getOrLoad("k", load, { ttlMs: 1000 }), null);
  assert.equal(await cache.getOrLoad("k", load, { ttlMs: 1000 }), null);
  assert.equal(calls, 1);
});

Deno.test("ttl cache: deletePrefix drops matching keys only, empty prefix drops all", () => {
  const cache = new TtlCache<number>({ maxEntries: 10 });
  cache.set("bucket-a\0t1", 1, { ttlMs: 60_000 });
  cache.set("bucket-a\0t2", 2, { ttlMs: 60_000 });
  cache.set("bucket-b\0t1", 3, { ttlMs: 60_000 });
  cache.deletePrefix("bucket-a\0");
  assert.equal(cache.size, 1);
  assert.equal(cache.get("bucket-a\0t1"), undefined);
  assert.equal(cache.get("bucket-a\0t2"), undefined);
  assert.equal(cache.get("bucket-b\0t1"), 3);
  cache.deletePrefix("no-match");
  assert.equal(cache.size, 1);
  cache.deletePrefix("");
  assert.equal(cache.size, 0);
});

Deno.test("ttl cache: repeated hits on the newest entry and removals keep the LRU order exact", () => {
  const cache = new TtlCache<number>({ maxEntries: 3 });
  cache.set("a", 1, { ttlMs: 60_000 });
  cache.set("b", 2, { ttlMs: 60_000 });
  cache.set("c", 3, { ttlMs: 60_000 });
  for (let i = 0; i < 5; i++) assert.equal(cache.get("c"), 3); // already the newest
  assert.equal(cache.get("a"), 1); // order b, c, a
  assert.equal(cache.get("a"), 1);
  cache.deletePrefix("a"); // the newest goes: order b, c
  assert.equal(cache.get("b"), 2); // order c, b
  cache.set("d", 4, { ttlMs: 60_000 });
  cache.set("e", 5, { ttlMs: 60_000 }); // evicts c
  assert.equal(cache.get("c"), undefined);
  assert.equal(cache.get("b"), 2);
  assert.equal(cache.get("d"), 4);
  assert.equal(cache.get("e"), 5);
  // A key built anew finds the entry stored under an equal one.
  assert.equal(cache.get(["b"].join("")), 2);
});
