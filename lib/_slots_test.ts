import assert from "node:assert/strict";
import { Slots } from "./_slots.ts";

Deno.test("Slots counts what is added and deleted, and reuses free slots", () => {
  const slots = new Slots<AbortController>();
  const a = new AbortController();
  const b = new AbortController();
  const slotA = slots.add(a);
  const slotB = slots.add(b);
  assert.notEqual(slotA, slotB);
  assert.equal(slots.size, 2);
  slots.delete(slotA, a);
  assert.equal(slots.size, 1);
  assert.deepEqual([...slots], [b]);
  const c = new AbortController();
  assert.equal(slots.add(c), slotA, "a free slot is taken before the array grows");
  assert.equal(slots.size, 2);
  assert.deepEqual([...slots], [c, b]);
});

Deno.test("Slots: deleting twice, or after the slot was reused, removes nothing else", () => {
  const slots = new Slots<AbortController>();
  const a = new AbortController();
  const slot = slots.add(a);
  slots.delete(slot, a);
  slots.delete(slot, a);
  assert.equal(slots.size, 0);
  const b = new AbortController();
  assert.equal(slots.add(b), slot);
  slots.delete(slot, a); // a's late second settlement
  assert.equal(slots.size, 1);
  assert.deepEqual([...slots], [b], "b is still held");
});

Deno.test("Slots: iteration skips what is deleted during it", () => {
  const slots = new Slots<{ n: number }>();
  const values = [{ n: 0 }, { n: 1 }, { n: 2 }];
  const at = values.map((v) => slots.add(v));
  const seen: number[] = [];
  for (const v of slots) {
    seen.push(v.n);
    if (v.n === 0) slots.delete(at[1], values[1]);
  }
  assert.deepEqual(seen, [0, 2]);
});
