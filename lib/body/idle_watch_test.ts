import assert from "node:assert/strict";
import { idleTimedStream, IdleWatch } from "./idle_watch.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("IdleWatch: an untouched transfer is idle after the timeout, once", async () => {
  const watch = new IdleWatch(80);
  let fired = 0;
  const started = performance.now();
  let at = 0;
  watch.watch(() => {
    fired++;
    at = performance.now() - started;
  });
  await sleep(250);
  assert.equal(fired, 1);
  assert.ok(at >= 80 && at < 200, `${at} ms`);
  watch.close();
});

Deno.test("IdleWatch: touching keeps a transfer alive; stop ends the watch", async () => {
  const watch = new IdleWatch(80);
  let fired = 0;
  const handle = watch.watch(() => fired++);
  for (let i = 0; i < 8; i++) {
    await sleep(30);
    handle.touch();
  }
  assert.equal(fired, 0, "240 ms of activity in 30 ms steps never idles");
  handle.stop();
  await sleep(200);
  assert.equal(fired, 0, "a stopped handle never fires");
  watch.close();
});

Deno.test("IdleWatch: handles are independent, and one throwing onIdle does not stop the others", async () => {
  const watch = new IdleWatch(60);
  const fired: string[] = [];
  watch.watch(() => {
    fired.push("a");
    throw new Error("boom");
  });
  const b = watch.watch(() => fired.push("b"));
  const c = watch.watch(() => fired.push("c"));
  c.stop();
  const keep = setInterval(() => b.touch(), 20);
  await sleep(200);
  clearInterval(keep);
  assert.deepEqual(fired.sort(), ["a"]);
  await sleep(150);
  assert.deepEqual(fired.sort(), ["a", "b"]);
  watch.close();
});

Deno.test("IdleWatch: rejects a non-positive timeout", () => {
  assert.throws(() => new IdleWatch(0), RangeError);
});

Deno.test("idleTimedStream: passes bytes through and counts them", async () => {
  const watch = new IdleWatch(1000);
  let counted = -1;
  let failed: boolean | undefined;
  const out = ReadableStream.from([new Uint8Array(3), new Uint8Array(4)]).pipeThrough(
    idleTimedStream(watch, {
      idleError: () => new Error("idle"),
      onDone: (n, end) => {
        counted = n;
        failed = end.failed;
      },
    }),
  );
  let total = 0;
  for await (const c of out) total += c.length;
  assert.equal(total, 7);
  assert.equal(counted, 7);
  assert.equal(failed, false);
  watch.close();
});

Deno.test("idleTimedStream: a stalled source errors the reader and is cancelled", async () => {
  const watch = new IdleWatch(60);
  let cancelled = false;
  const source = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(5));
    },
    cancel() {
      cancelled = true;
    },
  });
  let idled = false;
  let counted = -1;
  let failed: boolean | undefined;
  const out = source.pipeThrough(
    idleTimedStream(watch, {
      idleError: () => new Error("no byte for 60 ms"),
      onIdle: () => idled = true,
      onDone: (n, end) => {
        counted = n;
        failed = end.failed;
      },
    }),
  );
  const reader = out.getReader();
  assert.equal((await reader.read()).value?.length, 5);
  // The sweep timer is unref'd (a server's listener keeps a process alive); keep this one alive.
  const alive = setTimeout(() => {}, 1000);
  await assert.rejects(reader.read(), /no byte for 60 ms/);
  clearTimeout(alive);
  await sleep(20);
  assert.equal(idled, true);
  assert.equal(cancelled, true, "the upstream source is cancelled");
  assert.equal(counted, 5);
  assert.equal(failed, true);
  watch.close();
});

Deno.test("idleTimedStream: a reader that stops reading is cut too", async () => {
  const watch = new IdleWatch(60);
  let cancelled = false;
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array(1024));
    },
    cancel() {
      cancelled = true;
    },
  });
  const out = source.pipeThrough(idleTimedStream(watch, { idleError: () => new Error("idle") }));
  const reader = out.getReader();
  await reader.read();
  await sleep(200); // the reader stalls
  assert.equal(cancelled, true);
  await assert.rejects(async () => {
    while (!(await reader.read()).done) { /* drain what was queued */ }
  }, /idle/);
  watch.close();
});
