/**
 * Request ids: 16 upper-case hex digits, a random per-process prefix and a
 * counter run through a keyed bijection, so ids stay unique within a process
 * but do not tell clients how many requests were served. One generator for
 * every answer osp makes, the SlowDown answers included.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestId } from "./request_id.ts";
 * const a = requestId();
 * assert.match(a, /^[0-9A-F]{16}$/);
 * assert.notEqual(requestId(), a);
 * ```
 *
 * @module
 */

const PREFIX = Array.from(
  crypto.getRandomValues(new Uint8Array(3)),
  (b) => b.toString(16).padStart(2, "0"),
).join("").toUpperCase();
const KEY = crypto.getRandomValues(new Uint32Array(1))[0];
let counter = 0;

/** A new request id. */
export function requestId(): string {
  // 40 bits: a trillion requests before the counter wraps. The low 32 bits go
  // through xor, a multiply by an odd constant and an xorshift.
  counter = (counter + 1) % 0x10000000000;
  let low = (counter % 0x100000000) ^ KEY;
  low = Math.imul(low, 0x9e3779b1);
  low = (low ^ (low >>> 16)) >>> 0;
  const high = Math.floor(counter / 0x100000000);
  return PREFIX + high.toString(16).toUpperCase().padStart(2, "0") +
    low.toString(16).toUpperCase().padStart(8, "0");
}
