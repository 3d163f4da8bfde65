/**
 * AWS Signature Version 4 for S3, as pure functions: canonicalisation, the
 * string to sign, the signing key and the signature. The same core verifies
 * client requests, re-signs them for backends, and signs aws-chunked chunks.
 * Nothing here reads a clock: times are passed in.
 *
 * @module
 */
import { createHash, createHmac } from "node:crypto";

/** The algorithm name of header and query SigV4. */
export const ALGORITHM = "AWS4-HMAC-SHA256";
/** The payload hash of a request whose body is not signed. */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
/** SHA-256 of the empty string, hex. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const HEX = "0123456789ABCDEF";
const UTF8 = new TextEncoder();

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
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        out.push(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    if (c < 0x80) {
      out.push(c);
    } else {
      // Non-ASCII text in a raw URL: take its UTF-8 bytes (surrogate pairs included).
      const cp = raw.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of UTF8.encode(ch)) out.push(b);
      if (cp > 0xffff) i++;
    }
  }
  return Uint8Array.from(out);
}

/** Decodes a raw URL component to text (invalid UTF-8 becomes U+FFFD). */
export function percentDecode(raw: string): string {
  return new TextDecoder().decode(percentDecodeBytes(raw));
}

/** S3 URI-encoding of bytes: unreserved kept, `/` kept when `keepSlash`. */
function encodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let out = "";
  for (const b of bytes) {
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) out += String.fromCharCode(b);
    else out += "%" + HEX[b >> 4] + HEX[b & 15];
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
  return encodeBytes(UTF8.encode(text), options.keepSlash ?? false);
}

/**
 * The S3 canonical URI of a raw request path, as the client put it on the
 * wire: each escape decoded, then every byte encoded once. Never normalised:
 * `.`, `..` and `//` stay as they are.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === "") return "/";
  return encodeBytes(percentDecodeBytes(rawPath), true);
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

/** The canonical query string of raw parameters: each part encoded, sorted by name then value. */
export function canonicalQuery(params: readonly RawQueryParam[]): string {
  const pairs = params.map((p) => [
    encodeBytes(percentDecodeBytes(p.rawName), false),
    encodeBytes(percentDecodeBytes(p.rawValue), false),
  ]);
  pairs.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
  return pairs.map(([n, v]) => `${n}=${v}`).join("&");
}

/** A header value as SigV4 canonicalises it: trimmed, inner runs of spaces folded. */
export function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, " ");
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

/** Builds the canonical request text. */
export function canonicalRequest(parts: CanonicalRequestParts): string {
  let headers = "";
  for (const name of parts.signedHeaders) {
    headers += `${name}:${canonicalHeaderValue(parts.header(name) ?? "")}\n`;
  }
  return `${parts.method}\n${parts.uri}\n${parts.query}\n${headers}\n${
    parts.signedHeaders.join(";")
  }\n${parts.payloadHash}`;
}

/** Hex SHA-256 of text or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

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

/** The string to sign for a canonical request. */
export function stringToSign(
  canonical: string,
  options: { datetime: string; scope: Scope },
): string {
  return `${ALGORITHM}\n${options.datetime}\n${scopeString(options.scope)}\n${
    sha256Hex(canonical)
  }`;
}

function hmac(key: string | Uint8Array, data: string): Uint8Array {
  return createHmac("sha256", key).update(data).digest();
}

/** Derives the SigV4 signing key (no cache). */
export function deriveSigningKey(secretKey: string, scope: Scope): Uint8Array {
  const kDate = hmac("AWS4" + secretKey, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  return hmac(kService, "aws4_request");
}

/** A bounded cache of signing keys; a key changes once a day per secret and region. */
export class SigningKeyCache {
  #keys = new Map<string, Uint8Array>();
  #max: number;

  /** Creates a cache holding at most `maxEntries` keys. */
  constructor(options: { maxEntries?: number } = {}) {
    this.#max = options.maxEntries ?? 1024;
  }

  /** Returns the signing key, deriving and remembering it when new. */
  get(secretKey: string, scope: Scope): Uint8Array {
    const id = `${scope.date}\0${scope.region}\0${scope.service}\0${secretKey}`;
    let key = this.#keys.get(id);
    if (key === undefined) {
      key = deriveSigningKey(secretKey, scope);
      if (this.#keys.size >= this.#max) this.#keys.delete(this.#keys.keys().next().value!);
      this.#keys.set(id, key);
    }
    return key;
  }
}

/** Hex HMAC-SHA256 of the string to sign with the signing key: the signature. */
export function signature(signingKey: Uint8Array, toSign: string): string {
  return createHmac("sha256", signingKey).update(toSign).digest("hex");
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
  return new Date(epochMs).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Parses `YYYYMMDDTHHMMSSZ` to epoch ms, or NaN when malformed. */
export function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (m === null) return NaN;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  return amzDate(ms) === value ? ms : NaN;
}

/** The string to sign for one aws-chunked chunk. */
export function chunkStringToSign(
  chunkSha256: string,
  options: { datetime: string; scope: Scope; previousSignature: string },
): string {
  return `${ALGORITHM}-PAYLOAD\n${options.datetime}\n${
    scopeString(options.scope)
  }\n${options.previousSignature}\n${EMPTY_SHA256}\n${chunkSha256}`;
}

/** The string to sign for the trailer of a signed aws-chunked upload. */
export function trailerStringToSign(
  trailerSha256: string,
  options: { datetime: string; scope: Scope; previousSignature: string },
): string {
  return `${ALGORITHM}-TRAILER\n${options.datetime}\n${
    scopeString(options.scope)
  }\n${options.previousSignature}\n${trailerSha256}`;
}
