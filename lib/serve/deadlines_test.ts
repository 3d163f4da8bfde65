import assert from "node:assert/strict";
import { DeadlineQueue } from "./deadlines.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("deadlines: an unsettled deadline expires once, after its timeout", async () => {
  const queue = new DeadlineQueue(30);
  const fired: number[] = [];
  const started = performance.now();
  queue.add(() => fired.push(performance.now() - started));
  await sleep(80);
  assert.equal(fired.length, 1);
  assert.ok(fired[0] >= 29, `fired after ${fired[0]} ms`);
  queue.close();
});

Deno.test("deadlines: settled deadlines never expire", async () => {
  const queue = new DeadlineQueue(20);
  let fired = 0;
  for (let i = 0; i < 100; i++) queue.settle(queue.add(() => fired++));
  await sleep(60);
  assert.equal(fired, 0);
  queue.close();
});

Deno.test("deadlines: each expires at its own time behind one timer", async () => {
  const queue = new DeadlineQueue(40);
  const fired: [string, number][] = [];
  const started = performance.now();
  const at = (name: string) => () => fired.push([name, performance.now() - started]);
  queue.add(at("a"));
  await sleep(30);
  const b = queue.add(at("b"));
  queue.add(at("c"));
  queue.settle(b);
  await sleep(100);
  assert.deepEqual(fired.map(([name]) => name), ["a", "c"]);
  assert.ok(fired[0][1] >= 39, `a after ${fired[0][1]} ms`);
  assert.ok(fired[1][1] >= 69, `c after ${fired[1][1]} ms`);
  queue.close();
});

Deno.test("deadlines: a deadline behind a slow one still expires; settled ones are dropped", async () => {
  const queue = new DeadlineQueue(30);
  let slow = 0;
  queue.add(() => slow++); // never settled
  for (let i = 0; i < 5000; i++) queue.settle(queue.add(() => assert.fail("settled")));
  let late = 0;
  queue.add(() => late++);
  await sleep(80);
  assert.equal(slow, 1);
  assert.equal(late, 1);
  queue.close();
});

Deno.test("deadlines: close stops the timer; pending deadlines never expire", async () => {
  const queue = new DeadlineQueue(20);
  let fired = 0;
  queue.add(() => fired++);
  queue.close();
  await sleep(50);
  assert.equal(fired, 0);
});
