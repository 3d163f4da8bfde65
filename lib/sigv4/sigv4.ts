/**
 * AWS Signature Version 4 for S3, as pure functions: canonicalisation, the
 * string to sign, the signing key and the signature. The same core verifies
 * client requests, re-signs them for backends, and signs aws-chunked chunks.
 * Nothing here reads a clock: times are passed in.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { sha256Hex as shortSha256Hex } from "./hmac_sha256.ts";
import { HmacSha256 } from "./hmac_sha256.ts";

import {
  ALGORITHM,
  CHUNK_ALGORITHM,
  EMPTY_SHA256,
  TRAILER_ALGORITHM,
  UNSIGNED_PAYLOAD,
} from "./constants.ts";

export { ALGORITHM, EMPTY_SHA256, UNSIGNED_PAYLOAD };

const HEX = "0123456789ABCDEF";
const UTF8 = new TextEncoder();
const UTF8_DECODER = new TextDecoder();

/** `%XX` (upper-case hex) for every byte value. */
const ESCAPED: string[] = Array.from({ length: 256 }, (_, b) => "%" + HEX[b >> 4] + HEX[b & 15]);
/** Text that encodes to itself: unreserved characters only (and `/`, for paths). */
const UNRESERVED_ONLY = /^[A-Za-z0-9\-._~]*$/;
const PATH_UNRESERVED_ONLY = /^[A-Za-z0-9\-._~/]*$/;

function isUnreserved(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) ||
    (byte >= 0x30 && byte <= 0x39) || byte === 0x2d || byte === 0x2e || byte === 0x5f ||
    byte === 0x7e;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Decodes `%XX` escapes to bytes; every other character stays as its UTF-8
 * bytes. An invalid escape is kept literally, as S3 does not reject it.
 */
export function percentDecodeBytes(raw: string): Uint8Array {
  if (!raw.includes("%")) return UTF8.encode(raw);
  // At most 3 bytes per UTF-16 unit (a surrogate pair is 4 bytes for 2 units).
  const out = new Uint8Array(raw.length * 3);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        out[n++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
    } else {
      // Non-ASCII text in a raw URL: its UTF-8 bytes; a lone surrogate becomes
      // U+FFFD, as TextEncoder does.
      let cp = c;
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = raw.charCodeAt(i + 1);
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
        } else {
          cp = 0xfffd;
        }
      }
      if (cp < 0x10000) {
        out[n++] = 0xe0 | (cp >> 12);
        out[n++] = 0x80 | ((cp >> 6) & 0x3f);
        out[n++] = 0x80 | (cp & 0x3f);
      } else {
        out[n++] = 0xf0 | (cp >> 18);
        out[n++] = 0x80 | ((cp >> 12) & 0x3f);
        out[n++] = 0x80 | ((cp >> 6) & 0x3f);
        out[n++] = 0x80 | (cp & 0x3f);
      }
    }
  }
  return out.slice(0, n);
}

/**
 * A byte string (a header value, one character per byte) with every byte from
 * `0x80` as `%XX`, so that {@linkcode percentDecode} reads raw UTF-8 bytes as
 * UTF-8 rather than encoding each one again.
 */
export function percentEncodeHighBytes(byteString: string): string {
  if (!NON_ASCII.test(byteString)) return byteString;
  let out = "";
  for (let i = 0; i < byteString.length; i++) {
    const c = byteString.charCodeAt(i);
    out += c < 0x80 ? byteString[i] : c <= 0xff ? ESCAPED[c] : String.fromCharCode(c);
  }
  return out;
}

/** Decodes a raw URL component to text (invalid UTF-8 becomes U+FFFD). */
export function percentDecode(raw: string): string {
  // Without escapes the bytes are the text's own UTF-8: decoding them gives the
  // text back, lone surrogates replaced by U+FFFD as the round trip would.
  if (!raw.includes("%")) return raw.toWellFormed();
  return UTF8_DECODER.decode(percentDecodeBytes(raw));
}

/** S3 URI-encoding of bytes: unreserved kept, `/` kept when `keepSlash`. */
function encodeBytes(bytes: Uint8Array, options: { keepSlash: boolean }): string {
  const keepSlash = options.keepSlash;
  let out = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) out += String.fromCharCode(b);
    else out += ESCAPED[b];
  }
  return out;
}

/** Options for {@linkcode uriEncode}. */
export interface UriEncodeOptions {
  /** Keep `/` as is (object key paths); default false. */
  keepSlash?: boolean;
}

/** URI-encodes text the way SigV4 wants: RFC 3986 unreserved kept, UTF-8 bytes as `%XX`. */
export function uriEncode(text: string, options: UriEncodeOptions = {}): string {
  const keepSlash = options.keepSlash ?? false;
  if ((keepSlash ? PATH_UNRESERVED_ONLY : UNRESERVED_ONLY).test(text)) return text;
  return encodeBytes(UTF8.encode(text), { keepSlash });
}

/**
 * The S3 canonical URI of a raw request path, as the client put it on the
 * wire: each escape decoded, then every byte encoded once. Never normalised:
 * `.`, `..` and `//` stay as they are.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === "") return "/";
  // The common case: nothing to decode or encode.
  if (PATH_UNRESERVED_ONLY.test(rawPath)) return rawPath;
  return encodeBytes(percentDecodeBytes(rawPath), { keepSlash: true });
}

/** One query parameter, raw as on the wire. */
export interface RawQueryParam {
  /** The raw name, still percent-encoded. */
  rawName: string;
  /** The raw value, still percent-encoded; "" for a bare key. */
  rawValue: string;
  /** The decoded name. */
  name: string;
  /** The decoded value. */
  value: string;
}

/** Splits a raw query string (without `?`) into its parameters, in order. */
export function parseRawQuery(rawQuery: string): RawQueryParam[] {
  if (rawQuery === "") return [];
  const params: RawQueryParam[] = [];
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    params.push({
      rawName,
      rawValue,
      name: percentDecode(rawName),
      value: percentDecode(rawValue),
    });
  }
  return params;
}

/** One raw query name or value in canonical encoding. */
function canonicalQueryPart(raw: string): string {
  return UNRESERVED_ONLY.test(raw)
    ? raw
    : encodeBytes(percentDecodeBytes(raw), { keepSlash: false });
}

/** The canonical query string of raw parameters: each part encoded, sorted by name then value. */
export function canonicalQuery(params: readonly RawQueryParam[]): string {
  if (params.length === 0) return "";
  const pairs = params.map((p) => [canonicalQueryPart(p.rawName), canonicalQueryPart(p.rawValue)]);
  pairs.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
  return pairs.map(([n, v]) => `${n}=${v}`).join("&");
}

/** ASCII whitespace (C `isspace`): what SigV4 trims and folds in header values. */
const EDGE_SPACE = /^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g;
const INNER_SPACE = /[\t\n\v\f\r ]+/g;
/** Something to fold: a run of two spaces, or any other ASCII whitespace. */
const TO_FOLD = /[\t\n\v\f\r ]{2}|[\t\n\v\f\r]/;

/**
 * A header value as SigV4 canonicalises it: trimmed, inner runs of
 * whitespace folded to one space. Only ASCII whitespace counts: the value is
 * a byte string (see {@linkcode canonicalRequest}), where `\xA0` is not a
 * no-break space but a byte of UTF-8 text (`à` is `C3 A0`, `Р` is `D0 A0`),
 * which `String.prototype.trim` and `\s` would remove.
 */
export function canonicalHeaderValue(value: string): string {
  let out = value;
  if (out.charCodeAt(0) <= 0x20 || out.charCodeAt(out.length - 1) <= 0x20) {
    out = out.replace(EDGE_SPACE, "");
  }
  return TO_FOLD.test(out) ? out.replace(INNER_SPACE, " ") : out;
}

/** The parts of a canonical request. */
export interface CanonicalRequestParts {
  /** HTTP method, upper case. */
  method: string;
  /** Canonical URI, see {@linkcode canonicalUri}. */
  uri: string;
  /** Canonical query, see {@linkcode canonicalQuery}. */
  query: string;
  /** Reads a header value by lower-case name (null if absent). */
  header: (name: string) => string | null;
  /** Signed header names, lower case, sorted. */
  signedHeaders: readonly string[];
  /** Hex SHA-256 of the body, or a payload mode such as `UNSIGNED-PAYLOAD`. */
  payloadHash: string;
}

/**
 * Builds the canonical request text: a byte string, one character per byte,
 * as it is hashed (see {@linkcode hashCanonicalRequest}). The URI and query
 * are percent-encoded ASCII; header values are taken as byte strings, which
 * is what `Headers` holds (Deno hands a value's wire bytes over one per
 * character, `0x00`–`0xFF`) and what `fetch` puts back on the wire. A header
 * value given as Unicode text must first become its UTF-8 bytes, the way the
 * AWS SDKs send it: see {@linkcode utf8ByteString}.
 */
export function canonicalRequest(parts: CanonicalRequestParts): string {
  let headers = "";
  for (const name of parts.signedHeaders) {
    headers += `${name}:${canonicalHeaderValue(parts.header(name) ?? "")}\n`;
  }
  return `${parts.method}\n${parts.uri}\n${parts.query}\n${headers}\n${
    parts.signedHeaders.join(";")
  }\n${parts.payloadHash}`;
}

/** Hex SHA-256 of text (as UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Any character that is not ASCII. */
const NON_ASCII = /[\u0080-\uffff]/;

/** The TypeError for a character above `0xFF` at `index` of a byte string. */
function notAByte(code: number, index: number): TypeError {
  return new TypeError(
    `not a byte string: U+${code.toString(16).toUpperCase().padStart(4, "0")} at ${index} ` +
      "(header values are bytes: pass text through utf8ByteString)",
  );
}

/**
 * The bytes of a byte string, one per character. Throws a TypeError for a
 * character above `0xFF`, which is no byte.
 */
export function byteStringBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw notAByte(c, i);
    out[i] = c;
  }
  return out;
}

/**
 * Text as the byte string of its UTF-8 bytes (one character per byte): how a
 * header value given as Unicode text goes on the wire and into a signature,
 * as botocore and the AWS SDKs send it. `"é"` becomes `"\xC3\xA9"`.
 */
export function utf8ByteString(text: string): string {
  const bytes = UTF8.encode(text);
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

/**
 * Hex SHA-256 of a canonical request, hashed as the byte string it is: each
 * character one byte. The client signed the bytes it sent, and a header value
 * reaches osp as those bytes one per character; UTF-8-encoding the text would
 * turn every byte from `0x80` into two and break the signature of any
 * non-ASCII value (UTF-8 user metadata).
 *
 * Throws a TypeError when a character is above `0xFF`. That can only come
 * from a caller passing Unicode text as a header value: hashing it any way
 * would sign bytes that no transport sends (`Headers` and `fetch` reject such
 * values too), so it is refused rather than signed wrong; convert the text
 * with {@linkcode utf8ByteString} first.
 */
export function hashCanonicalRequest(canonical: string): string {
  // ASCII (nearly every request): its UTF-8 is its bytes, and hashing the
  // string skips a copy.
  const data = NON_ASCII.test(canonical) ? byteStringBytes(canonical) : canonical;
  // Up to SHORT_HASH_MAX, no native hash object (see SHORT_HASH_MAX).
  return data.length <= SHORT_HASH_MAX ? shortSha256Hex(data) : sha256Hex(data);
}

/** The buffer canonicalRequestHash keeps; a longer canonical request gets one of its own. */
const CANONICAL_KEPT = 4096;
/** Where {@linkcode canonicalRequestHash} writes a canonical request's bytes. */
let canonicalBytes = new Uint8Array(CANONICAL_KEPT);
let canonicalLength = 0;

/** Appends a byte string (see {@linkcode canonicalRequest}) to canonicalBytes. */
function putBytes(text: string): void {
  const n = text.length;
  let at = canonicalLength;
  if (at + n > canonicalBytes.length) {
    const bigger = new Uint8Array(Math.max(at + n, canonicalBytes.length * 2));
    bigger.set(canonicalBytes.subarray(0, at));
    canonicalBytes = bigger;
  }
  const out = canonicalBytes;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw notAByte(c, at);
    out[at++] = c;
  }
  canonicalLength = at;
}

/**
 * The hex SHA-256 of the canonical request of `parts`: the same as
 * `hashCanonicalRequest(canonicalRequest(parts))`, and the same TypeError for
 * a character above `0xFF`, but written straight into bytes. Building the
 * text first made some 40 intermediate strings per request, then a flat copy
 * of the whole (300–900 bytes) to hash (`deno run -A bench/alloc.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const parts = {
 *   method: "GET",
 *   uri: "/b/k",
 *   query: "",
 *   header: (name: string) => name === "host" ? "s3.test" : null,
 *   signedHeaders: ["host"],
 *   payloadHash: "UNSIGNED-PAYLOAD",
 * };
 * assert.equal(canonicalRequestHash(parts), hashCanonicalRequest(canonicalRequest(parts)));
 * ```
 */
export function canonicalRequestHash(parts: CanonicalRequestParts): string {
  canonicalLength = 0;
  try {
    putBytes(parts.method);
    putBytes("\n");
    putBytes(parts.uri);
    putBytes("\n");
    putBytes(parts.query);
    putBytes("\n");
    const signed = parts.signedHeaders;
    for (let i = 0; i < signed.length; i++) {
      putBytes(signed[i]);
      putBytes(":");
      putBytes(canonicalHeaderValue(parts.header(signed[i]) ?? ""));
      putBytes("\n");
    }
    putBytes("\n");
    for (let i = 0; i < signed.length; i++) {
      if (i > 0) putBytes(";");
      putBytes(signed[i]);
    }
    putBytes("\n");
    putBytes(parts.payloadHash);
    const bytes = canonicalBytes.subarray(0, canonicalLength);
    // Up to SHORT_HASH_MAX, no native hash object (see SHORT_HASH_MAX).
    return canonicalLength <= SHORT_HASH_MAX ? shortSha256Hex(bytes) : sha256Hex(bytes);
  } finally {
    // A rare long one (a long query, many signed headers) is not kept.
    if (canonicalBytes.length > CANONICAL_KEPT) canonicalBytes = new Uint8Array(CANONICAL_KEPT);
  }
}

/**
 * Canonical requests up to this length (nearly all: a header-signed GET's
 * is 300–900 bytes) are hashed by the TypeScript SHA-256 of
 * `hmac_sha256.ts`, longer ones by node:crypto. Every `createHash` in Deno is
 * a native object that only a major GC frees, and each request hashes two
 * canonical requests (the client's, verified; the backend's, signed). The
 * TypeScript hash costs more per call (2.6 against 1.1 µs for 375 bytes),
 * but warmed up, 1 KiB GETs at c=16 cost 94–109 against 102–109 µs of proxy
 * CPU and the process held 134–141 against 168–183 MiB
 * (`deno run -A bench/warm_up.ts --rounds 8 --proxy-v8-flags=--no-memory-reducer`,
 * rounds 5–8, two runs each alternating with the checkout before;
 * docs/performance.md, "SigV4 cost"). Above 1 KiB (session tokens, many
 * signed headers) the native hash's speed per byte wins (7 against 0.6 ns a
 * byte).
 */
export const SHORT_HASH_MAX = 1024;

/** The credential scope, `date/region/s3/aws4_request`. */
export interface Scope {
  /** `YYYYMMDD`. */
  date: string;
  /** e.g. `us-east-1`. */
  region: string;
  /** Always `s3` for osp; kept for the published non-S3 examples. */
  service: string;
}

/** The scope as the string `date/region/service/aws4_request`. */
export function scopeString(scope: Scope): string {
  return `${scope.date}/${scope.region}/${scope.service}/aws4_request`;
}

/**
 * The string to sign for a canonical request (a byte string, hashed with
 * {@linkcode hashCanonicalRequest}: throws a TypeError for a character above
 * `0xFF`).
 */
export function stringToSign(
  canonical: string,
  options: { datetime: string; scope: Scope },
): string {
  return stringToSignWithHash(hashCanonicalRequest(canonical), options);
}

/**
 * The string to sign for the canonical request of `parts`, which is never
 * made as text (see {@linkcode canonicalRequestHash}): what osp signs and
 * verifies with.
 */
export function stringToSignOf(
  parts: CanonicalRequestParts,
  options: { datetime: string; scope: Scope },
): string {
  return stringToSignWithHash(canonicalRequestHash(parts), options);
}

function stringToSignWithHash(
  canonicalHash: string,
  options: { datetime: string; scope: Scope },
): string {
  return `${ALGORITHM}\n${options.datetime}\n${scopeString(options.scope)}\n${canonicalHash}`;
}

// HMAC in TypeScript (hmac_sha256.ts): no native object per signature, and
// a signing key's pad states are computed once per key object.
const KEYED = new WeakMap<Uint8Array, HmacSha256>();

function keyed(key: Uint8Array): HmacSha256 {
  let mac = KEYED.get(key);
  if (mac === undefined) {
    mac = new HmacSha256(key);
    KEYED.set(key, mac);
  }
  return mac;
}

function hmac(key: string | Uint8Array, data: string): Uint8Array {
  return new HmacSha256(typeof key === "string" ? UTF8.encode(key) : key).bytes(data);
}

/** Derives the SigV4 signing key (no cache). */
export function deriveSigningKey(secretKey: string, scope: Scope): Uint8Array {
  const kDate = hmac("AWS4" + secretKey, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  return hmac(kService, "aws4_request");
}

/** A signing key with what it was derived from. */
interface RecentKey {
  secret: string;
  date: string;
  region: string;
  service: string;
  key: Uint8Array;
}

/** How many keys {@linkcode SigningKeyCache} finds without building its map key. */
const RECENT_KEYS = 4;

/** A bounded cache of signing keys; a key changes once a day per secret and region. */
export class SigningKeyCache {
  #keys = new Map<string, Uint8Array>();
  #max: number;
  /**
   * The last keys used, compared field by field: a request signs twice (the
   * client's key, the backend's), and building the map's string key for
   * each cost about 300 bytes per request.
   */
  #recent: RecentKey[] = [];
  #nextRecent = 0;

  /** Creates a cache holding at most `maxEntries` keys. */
  constructor(options: { maxEntries?: number } = {}) {
    this.#max = options.maxEntries ?? 1024;
  }

  /** Returns the signing key, deriving and remembering it when new. */
  get(secretKey: string, scope: Scope): Uint8Array {
    const recent = this.#recent;
    for (let i = 0; i < recent.length; i++) {
      const r = recent[i];
      if (
        r.secret === secretKey && r.date === scope.date && r.region === scope.region &&
        r.service === scope.service
      ) {
        return r.key;
      }
    }
    const id = `${scope.date}\0${scope.region}\0${scope.service}\0${secretKey}`;
    let key = this.#keys.get(id);
    if (key === undefined) {
      key = deriveSigningKey(secretKey, scope);
      if (this.#keys.size >= this.#max) this.#evictOldest();
      this.#keys.set(id, key);
    }
    const { date, region, service } = scope;
    const entry = { secret: secretKey, date, region, service, key };
    if (recent.length < RECENT_KEYS) recent.push(entry);
    else {
      recent[this.#nextRecent] = entry;
      this.#nextRecent = (this.#nextRecent + 1) % RECENT_KEYS;
    }
    return key;
  }

  /** Drops the oldest key, from the recent ones too. */
  #evictOldest(): void {
    const [id, key] = this.#keys.entries().next().value!;
    this.#keys.delete(id);
    this.#recent = this.#recent.filter((r) => r.key !== key);
    this.#nextRecent = 0;
  }
}

/**
 * Hex HMAC-SHA256 of the string to sign with the signing key: the signature.
 * The key's HMAC state is kept with the key object, so its bytes must not
 * change once it has signed.
 */
export function signature(signingKey: Uint8Array, toSign: string): string {
  return keyed(signingKey).hex(toSign);
}

/** The `Authorization` header value for a header-signed request. */
export function authorizationHeader(
  accessKey: string,
  options: { scope: Scope; signedHeaders: readonly string[]; signature: string },
): string {
  return `${ALGORITHM} Credential=${accessKey}/${scopeString(options.scope)}, SignedHeaders=${
    options.signedHeaders.join(";")
  }, Signature=${options.signature}`;
}

/** Formats a time as the SigV4 `YYYYMMDDTHHMMSSZ`. */
export function amzDate(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== lastAmzSecond) {
    lastAmzDate = new Date(second * 1000).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    lastAmzSecond = second;
  }
  return lastAmzDate;
}
// The last second formatted: requests arrive many to a second.
let lastAmzSecond = NaN;
let lastAmzDate = "";

/** Parses `YYYYMMDDTHHMMSSZ` to epoch ms, or NaN when malformed. */
export function parseAmzDate(value: string): number {
  if (value === lastParsedAmzDate) return lastParsedAmzMs;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return NaN;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  if (amzDate(ms) !== value) return NaN;
  lastParsedAmzDate = value;
  lastParsedAmzMs = ms;
  return ms;
}
// The last date parsed: clients sign many requests within a second.
let lastParsedAmzDate = "";
let lastParsedAmzMs = NaN;

/** What chunk and trailer signatures are chained from. */
export interface ChunkedSigning {
  /** The SigV4 signing key (the client's, or the backend's when re-framing). */
  signingKey: Uint8Array;
  /** The request's `x-amz-date`, `YYYYMMDDTHHMMSSZ`. */
  datetime: string;
  /** The request's credential scope. */
  scope: Scope;
  /** The seed signature: the Authorization header's signature. */
  seedSignature: string;
}

/** The string to sign for one aws-chunked chunk. */
export function chunkStringToSign(
  chunkSha256: string,
  options: { datetime: string; scope: Scope; previousSignature: string },
): string {
  return `${CHUNK_ALGORITHM}\n${options.datetime}\n${
    scopeString(options.scope)
  }\n${options.previousSignature}\n${EMPTY_SHA256}\n${chunkSha256}`;
}

/** The string to sign for the trailer of a signed aws-chunked upload. */
export function trailerStringToSign(
  trailerSha256: string,
  options: { datetime: string; scope: Scope; previousSignature: string },
): string {
  return `${TRAILER_ALGORITHM}\n${options.datetime}\n${
    scopeString(options.scope)
  }\n${options.previousSignature}\n${trailerSha256}`;
}
