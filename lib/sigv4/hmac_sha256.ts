/**
 * HMAC-SHA256 (RFC 2104, FIPS 180-4) in TypeScript, for the short texts
 * SigV4 signs: strings to sign, chunk strings to sign, signing-key steps; and
 * SHA-256 for canonical requests up to 1 KiB (`SHORT_HASH_MAX` in
 * sigv4.ts).
 *
 * Why not node:crypto: in Deno every `createHash` is a native object that
 * only a major GC frees, and an HMAC takes two. A signed aws-chunked upload
 * signs every 64 KiB chunk, so a 5 GiB upload left some 160 000 of them for
 * the GC. A keyed {@linkcode HmacSha256} keeps the SHA-256 states after the
 * key's two pad blocks, so each signature hashes only the text and the inner
 * digest: four or five 64-byte blocks, no native object, and less CPU than
 * the two native hashes it replaces. Bulk data (chunk bodies, longer
 * canonical requests) stays with node:crypto, which is faster per byte.
 *
 * @module
 */

/** The round constants (FIPS 180-4, 4.2.2). */
// deno-fmt-ignore
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
/** The initial hash value (FIPS 180-4, 5.3.3). */
// deno-fmt-ignore
const INITIAL = new Int32Array([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);
const BLOCK = 64;

/** The message schedule, as a 16-word ring. */
const W = new Int32Array(16);

/** Runs the compression function over the 64-byte block at `m[off]`, into `state`. */
function compress(state: Int32Array, m: Uint8Array, off: number): void {
  const w = W;
  for (let i = 0; i < 16; i++, off += 4) {
    w[i] = (m[off] << 24) | (m[off + 1] << 16) | (m[off + 2] << 8) | m[off + 3];
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    let wi: number;
    if (i < 16) wi = w[i];
    else {
      const x = w[(i - 15) & 15], y = w[(i - 2) & 15];
      wi = (w[i & 15] + (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
        w[(i - 7) & 15] + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) | 0;
      w[i & 15] = wi;
    }
    const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
      (g ^ (e & (f ^ g))) + K[i] + wi) | 0;
    const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
      ((a & b) | (c & (a | b)))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0;
  state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0;
  state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0;
  state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0;
  state[7] = (state[7] + h) | 0;
}

const UTF8 = new TextEncoder();
/** The message being hashed, padded; grown when a text does not fit. */
let scratch = new Uint8Array(1024);

/**
 * Finishes a SHA-256 whose first `prefixBlocks` blocks are already in
 * `state` (a copy is made), over `data` (text as UTF-8), into `out`.
 */
function finish(
  start: Int32Array,
  prefixBlocks: number,
  data: string | Uint8Array,
  out: Int32Array,
): void {
  // UTF-8 is at most 3 bytes per UTF-16 unit; 72 covers the padding.
  const room = (typeof data === "string" ? data.length * 3 : data.length) + 72;
  if (room > scratch.length) scratch = new Uint8Array(Math.max(room, scratch.length * 2));
  const buf = scratch;
  const len = typeof data === "string"
    ? UTF8.encodeInto(data, buf).written
    : (buf.set(data), data.length);
  const total = (((len + 8) >> 6) + 1) << 6;
  buf[len] = 0x80;
  buf.fill(0, len + 1, total - 8);
  const bits = (prefixBlocks * BLOCK + len) * 8;
  const high = Math.floor(bits / 0x100000000);
  buf[total - 8] = high >>> 24;
  buf[total - 7] = high >>> 16;
  buf[total - 6] = high >>> 8;
  buf[total - 5] = high;
  buf[total - 4] = bits >>> 24;
  buf[total - 3] = bits >>> 16;
  buf[total - 2] = bits >>> 8;
  buf[total - 1] = bits;
  out.set(start);
  for (let off = 0; off < total; off += BLOCK) compress(out, buf, off);
}

/** The character codes of the lower-case hex digits. */
const HEX_CODES = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));
/** Where wordsToHex puts a digest's 64 digits before making them a string. */
const HEX_OUT: number[] = new Array(64).fill(0);

/**
 * A digest as 64 lower-case hex digits, made as one string: concatenating
 * two-digit pieces made some 30 intermediate strings per digest (800 against
 * 80 bytes, and 0.53 against 0.18 µs; four digests per request).
 */
function wordsToHex(words: Int32Array): string {
  for (let i = 0; i < 8; i++) {
    const v = words[i];
    for (let j = 0; j < 8; j++) HEX_OUT[i * 8 + j] = HEX_CODES[(v >>> (28 - 4 * j)) & 15];
  }
  return String.fromCharCode.apply(null, HEX_OUT);
}

function wordsToBytes(words: Int32Array, out: Uint8Array): Uint8Array {
  for (let i = 0; i < 8; i++) {
    const v = words[i];
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = v >>> 16;
    out[4 * i + 2] = v >>> 8;
    out[4 * i + 3] = v;
  }
  return out;
}

const DIGEST = new Int32Array(8);
const INNER_DIGEST = new Uint8Array(32);
const PAD = new Uint8Array(BLOCK);

/** Hex SHA-256 of text (as UTF-8) or bytes. Meant for short inputs. */
export function sha256Hex(data: string | Uint8Array): string {
  finish(INITIAL, 0, data, DIGEST);
  return wordsToHex(DIGEST);
}

/**
 * HMAC-SHA256 with one key, ready for many messages: the states after the
 * key's inner and outer pad blocks are computed once.
 *
 * @example
 * ```ts
 * const mac = new HmacSha256(new TextEncoder().encode("key"));
 * mac.hex("The quick brown fox jumps over the lazy dog");
 * // "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
 * ```
 */
export class HmacSha256 {
  #inner = new Int32Array(8);
  #outer = new Int32Array(8);

  /** Keys the HMAC; a key longer than 64 bytes is hashed first, per RFC 2104. */
  constructor(key: Uint8Array) {
    let k = key;
    if (k.length > BLOCK) {
      finish(INITIAL, 0, k, DIGEST);
      k = wordsToBytes(DIGEST, new Uint8Array(32));
    }
    for (let i = 0; i < BLOCK; i++) PAD[i] = (i < k.length ? k[i] : 0) ^ 0x36;
    this.#inner.set(INITIAL);
    compress(this.#inner, PAD, 0);
    for (let i = 0; i < BLOCK; i++) PAD[i] = (i < k.length ? k[i] : 0) ^ 0x5c;
    this.#outer.set(INITIAL);
    compress(this.#outer, PAD, 0);
  }

  /** The MAC of `data` (text as UTF-8) as 64 lower-case hex digits. */
  hex(data: string | Uint8Array): string {
    this.#mac(data);
    return wordsToHex(DIGEST);
  }

  /** The MAC of `data` (text as UTF-8) as 32 new bytes. */
  bytes(data: string | Uint8Array): Uint8Array {
    this.#mac(data);
    return wordsToBytes(DIGEST, new Uint8Array(32));
  }

  #mac(data: string | Uint8Array): void {
    finish(this.#inner, 1, data, DIGEST);
    finish(this.#outer, 1, wordsToBytes(DIGEST, INNER_DIGEST), DIGEST);
  }
}
