import assert from "node:assert/strict";
import { type AbortLike, abortSignalOf, RequestAbort } from "./_abort.ts";

Deno.test("RequestAbort: aborts once, calls each listener once, like an AbortSignal", () => {
  const abort = new RequestAbort();
  const calls: string[] = [];
  const a = () => calls.push("a");
  const b = () => calls.push("b");
  abort.addEventListener("abort", a);
  abort.addEventListener("abort", b);
  abort.removeEventListener("abort", b);
  abort.throwIfAborted();
  assert.equal(abort.aborted, false);
  const why = new Error("the client went away");
  abort.abort(why);
  abort.abort(new Error("again"));
  assert.deepEqual(calls, ["a"]);
  assert.equal(abort.reason, why);
  assert.throws(() => abort.throwIfAborted(), (err) => err === why);
  // A listener added after the abort is never called, as on an AbortSignal.
  abort.addEventListener("abort", () => calls.push("late"));
  assert.deepEqual(calls, ["a"]);
});

Deno.test("RequestAbort: without a reason, an AbortError, as AbortController gives", () => {
  const abort = new RequestAbort();
  abort.abort();
  const real = new AbortController();
  real.abort();
  assert.equal((abort.reason as DOMException).name, (real.signal.reason as DOMException).name);
});

Deno.test("abortSignalOf: a real AbortSignal following any AbortLike; an AbortSignal as it is", () => {
  const real = new AbortController().signal;
  assert.equal(abortSignalOf(real), real);
  assert.equal(abortSignalOf(undefined), undefined);
  const early = new RequestAbort();
  early.abort(new Error("early"));
  const earlySignal = abortSignalOf(early)!;
  assert.ok(earlySignal instanceof AbortSignal && earlySignal.aborted);
  assert.equal(earlySignal.reason, early.reason);
  const late: AbortLike & { abort(reason: unknown): void } = new RequestAbort();
  const lateSignal = abortSignalOf(late)!;
  assert.equal(lateSignal.aborted, false);
  const why = new Error("deadline");
  late.abort(why);
  assert.equal(lateSignal.aborted, true);
  assert.equal(lateSignal.reason, why);
});
