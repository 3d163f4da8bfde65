/**
 * What aborts a request's work (the client leaving, a deadline, shutdown),
 * without an AbortSignal's EventTarget: in Deno, adding and removing one
 * listener on an AbortSignal allocates about 430 bytes, and each request
 * went through three such signals. APIs that take only a real AbortSignal
 * (fetch, node:http, Deno.connect) get one that follows, made on demand by
 * {@linkcode abortSignalOf}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { abortSignalOf, RequestAbort } from "./_abort.ts";
 * const abort = new RequestAbort();
 * const seen: unknown[] = [];
 * abort.addEventListener("abort", () => seen.push(abort.reason));
 * const signal = abortSignalOf(abort)!;
 * abort.abort(new Error("gone"));
 * assert.equal(seen.length, 1);
 * assert.equal(signal.aborted, true);
 * ```
 *
 * @module
 */

/** The members of an AbortSignal osp's request path uses; an AbortSignal is one. */
export interface AbortLike {
  /** Whether it has aborted. */
  readonly aborted: boolean;
  /** Why, once aborted. */
  readonly reason: unknown;
  /** Throws `reason` once aborted. */
  throwIfAborted(): void;
  /** Calls `listener` once, when it aborts (never if it already has). */
  addEventListener(type: "abort", listener: () => void, options?: { once?: boolean }): void;
  /** Forgets `listener`. */
  removeEventListener(type: "abort", listener: () => void): void;
}

/** An {@linkcode AbortLike} and its controller in one, with plain listeners. */
export class RequestAbort implements AbortLike {
  /** Whether it has aborted. */
  aborted = false;
  /** Why, once aborted. */
  reason: unknown = undefined;
  #listeners: (() => void)[] = [];

  /** Aborts once, with `reason` (an AbortError when there is none), and calls the listeners. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException("The operation was aborted.", "AbortError");
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const listener of listeners) listener();
  }

  /** Throws `reason` once aborted. */
  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** Calls `listener` once, when it aborts; like an AbortSignal's, never for an abort already done. */
  addEventListener(_type: "abort", listener: () => void): void {
    if (!this.aborted) this.#listeners.push(listener);
  }

  /** Forgets `listener`. */
  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.#listeners.indexOf(listener);
    if (at >= 0) this.#listeners.splice(at, 1);
  }
}

/**
 * An AbortSignal that follows `signal`, for the APIs that take only a real
 * one (Deno.connect, fetch, node:http): `signal` itself when it is one.
 */
export function abortSignalOf(signal: AbortLike | undefined): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  return controller.signal;
}
