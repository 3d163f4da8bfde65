/**
 * The one constant-time compare.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";

/**
 * Constant-time comparison of two signatures (at most 64 ASCII characters:
 * SigV4's 64 hex digits, SigV2's 28 base64 ones, compared as sent, so
 * another spelling of the same bytes does not match): node:crypto's
 * `timingSafeEqual` over two reused buffers. Lengths are not secret; a length
 * mismatch still runs one compare. The one compare osp uses for request
 * signatures (SigV4 and SigV2), chunk signatures and trailer signatures.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signaturesEqual } from "./constant_time.ts";
 * assert.equal(signaturesEqual("ab12", "ab12"), true);
 * assert.equal(signaturesEqual("ab12", "ab13"), false);
 * assert.equal(signaturesEqual("bWq2s1WEIj+Ydj0vQ697zp+IXMU=", "bWq2s1WEIj+Ydj0vQ697zp+IXMU="), true);
 * ```
 */
export function signaturesEqual(expected: string, given: string): boolean {
  // node:crypto's timingSafeEqual over reused buffers (Buffer.from per call
  // cost ~4 µs). Lengths are not secret; a mismatch still runs one compare.
  const a = encodeSignature(expected, EXPECTED);
  const b = encodeSignature(given, GIVEN);
  if (a === undefined || b === undefined || a !== b) {
    timingSafeEqual(EXPECTED, EXPECTED);
    return false;
  }
  return timingSafeEqual(EXPECTED.subarray(0, a), GIVEN.subarray(0, b));
}

const SIGNATURE_MAX = 64;
const EXPECTED = new Uint8Array(SIGNATURE_MAX);
const GIVEN = new Uint8Array(SIGNATURE_MAX);
const ENCODER = new TextEncoder();

/** Writes an ASCII signature into `into`; undefined when it does not fit as ASCII. */
function encodeSignature(text: string, into: Uint8Array): number | undefined {
  if (text.length === 0 || text.length > SIGNATURE_MAX) return undefined;
  const { read, written } = ENCODER.encodeInto(text, into);
  return read === text.length && written === text.length ? written : undefined;
}
