/**
 * The one reading of a decimal length on the wire (Content-Length, a
 * decoded length, a policy bound): what every module that reads one asks.
 *
 * @module
 */

/** One to fifteen ASCII digits: below 2^53, so `Number` is exact. */
const LENGTH = /^[0-9]{1,15}$/;

/**
 * The whole number a length field holds, or `undefined` when it is not one
 * to fifteen ASCII digits (no sign, no spaces, no `0x`, no exponent: what
 * `Number` would also accept and a backend might read differently).
 *
 * @example
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { decimalLength } from "./_decimal.ts";
 * strictEqual(decimalLength("1024"), 1024);
 * strictEqual(decimalLength(" 1024"), undefined);
 * strictEqual(decimalLength("0x10"), undefined);
 * ```
 */
export function decimalLength(text: string | null | undefined): number | undefined {
  return typeof text === "string" && LENGTH.test(text) ? Number(text) : undefined;
}
