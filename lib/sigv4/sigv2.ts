/**
 * AWS Signature Version 2 for S3, as pure functions: the string to sign
 * (method, Content-MD5, Content-Type, the date or the expiry, the
 * canonicalized `x-amz-*` headers and the canonicalized resource), its
 * HMAC-SHA1 signature, and the HTTP dates a header-signed request carries.
 * Legacy clients still sign this way: boto3 and aws-cli v1 presign for
 * us-east-1 with it by default, and `s3cmd signurl` always does. Nothing here
 * reads a clock: times are passed in.
 *
 * @example The S3 developer guide's Object GET example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signV2, stringToSignV2 } from "./sigv2.ts";
 * const toSign = stringToSignV2({
 *   method: "GET",
 *   contentMd5: "",
 *   contentType: "",
 *   date: "Tue, 27 Mar 2007 19:36:42 +0000",
 *   amzHeaders: [],
 *   resource: "/johnsmith/photos/puppy.jpg",
 * });
 * assert.equal(
 *   signV2("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", toSign),
 *   "bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
 * );
 * ```
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { byteStringBytes, parseAmzDate, percentDecodeBytes, utf8ByteString } from "./sigv4.ts";

/**
 * The query parameters SigV2 signs, in the canonicalized resource: AWS's
 * published list (acl, lifecycle, location, logging, notification,
 * partNumber, policy, requestPayment, torrent, uploadId, uploads, versionId,
 * versioning, versions, website, the `response-*` overrides, delete) and the
 * ones botocore adds for the operations that came later, as it signs them
 * for AWS. Every other query parameter is unsigned in SigV2.
 */
export const SIGV2_SUBRESOURCES: ReadonlySet<string> = new Set([
  "accelerate",
  "acl",
  "analytics",
  "cors",
  "defaultObjectAcl",
  "delete",
  "inventory",
  "lifecycle",
  "location",
  "logging",
  "metrics",
  "notification",
  "object-lock",
  "partNumber",
  "policy",
  "replication",
  "requestPayment",
  "response-cache-control",
  "response-content-disposition",
  "response-content-encoding",
  "response-content-language",
  "response-content-type",
  "response-expires",
  "restore",
  "select",
  "select-type",
  "storageClass",
  "tagging",
  "torrent",
  "uploadId",
  "uploads",
  "versionId",
  "versioning",
  "versions",
  "website",
]);

/** ASCII whitespace at either end (the value is a byte string: `\xA0` is a byte of UTF-8 text). */
const EDGE_SPACE = /^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g;
/** A line break with the folding whitespace around it. */
const FOLD = /[\t ]*\r?\n[\t ]*/g;

/** A value trimmed of ASCII whitespace, folded lines unfolded to one space. */
function headerValue(value: string): string {
  return value.replace(FOLD, " ").replace(EDGE_SPACE, "");
}

const NON_ASCII = /[\u0080-\uffff]/;

/** Bytes as a byte string, one character per byte. */
function byteString(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

/** One `x-amz-*` header as signed: its name (any case) and its value as a byte string. */
export type AmzHeader = readonly [name: string, value: string];

/**
 * The CanonicalizedAmzHeaders element: every `x-amz-*` header, its name
 * lower-cased, sorted by name, its value trimmed and unfolded, repeated
 * names joined into one line with commas (no space), each line ending in
 * `\n`. Other names are ignored.
 */
export function canonicalizedAmzHeaders(headers: Iterable<AmzHeader>): string {
  const grouped = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (!lower.startsWith("x-amz-")) continue;
    let values = grouped.get(lower);
    if (values === undefined) grouped.set(lower, values = []);
    values.push(headerValue(value));
  }
  let out = "";
  for (const name of [...grouped.keys()].sort()) out += `${name}:${grouped.get(name)!.join(",")}\n`;
  return out;
}

/** One query parameter as the resource needs it: its decoded name and raw value. */
export interface ResourceParam {
  /** The decoded name. */
  name: string;
  /** The raw value, still percent-encoded; "" for a bare name. */
  rawValue: string;
}

/** Where a request points, as the canonicalized resource needs it (a `RequestTarget` is one). */
export interface ResourceTarget {
  /** The path as on the wire. */
  rawPath: string;
  /** How the client named the bucket. */
  style: "path" | "virtual";
  /** The bucket; for virtual-host style, the one the Host names. */
  bucket?: string;
  /** The query parameters, in order. */
  params: readonly ResourceParam[];
}

/**
 * The signed sub-resources, `?name[=value]&…`, sorted by name: values
 * percent-decoded (SigV2 signs them unencoded), as byte strings; "" when
 * there are none.
 */
function subresources(params: readonly ResourceParam[]): string {
  const signed: [string, string][] = [];
  for (const p of params) {
    if (!SIGV2_SUBRESOURCES.has(p.name)) continue;
    signed.push([p.name, p.rawValue === "" ? "" : byteString(percentDecodeBytes(p.rawValue))]);
  }
  if (signed.length === 0) return "";
  signed.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  return "?" + signed.map(([n, v]) => v === "" ? n : `${n}=${v}`).join("&");
}

/** The path as signed: the raw path as a byte string (non-ASCII text as its UTF-8). */
function signedPath(path: string): string {
  return NON_ASCII.test(path) ? utf8ByteString(path) : path;
}

/**
 * The CanonicalizedResource element as AWS reads it: `/bucket/key` as the
 * client sent it (percent-encoding and case kept) for path and virtual-host
 * style alike, `/bucket/` for the bucket itself, `/` for the service, then
 * the signed sub-resources. Path style `/bucket` is `/bucket/` too: botocore
 * signs bucket requests so, and AWS accepts them.
 */
export function canonicalizedResource(target: ResourceTarget): string {
  return signedPath(resourcePath(target)) + subresources(target.params);
}

function resourcePath(target: ResourceTarget): string {
  const { rawPath } = target;
  if (target.style === "virtual" && target.bucket !== undefined) {
    return `/${target.bucket}${rawPath.startsWith("/") ? "" : "/"}${rawPath}`;
  }
  if (rawPath.length > 1 && rawPath.indexOf("/", 1) < 0) return `${rawPath}/`;
  return rawPath;
}

/**
 * The resource the way clients that sign the path literally (as Ceph RGW
 * reads it) sign a path-style bucket request sent as `/bucket`, when that
 * differs from {@linkcode canonicalizedResource}; else undefined. Both name
 * the same bucket.
 */
export function literalResource(target: ResourceTarget): string | undefined {
  const { rawPath } = target;
  if (target.style === "virtual" || rawPath.length <= 1 || rawPath.indexOf("/", 1) >= 0) {
    return undefined;
  }
  return signedPath(rawPath) + subresources(target.params);
}

/** The parts of a SigV2 string to sign. */
export interface StringToSignV2Parts {
  /** HTTP method, as sent. */
  method: string;
  /** The Content-MD5 header, "" when absent. */
  contentMd5: string;
  /** The Content-Type header, "" when absent. */
  contentType: string;
  /** The Date header, "" when `x-amz-date` is present; a presigned URL's Expires. */
  date: string;
  /** The `x-amz-*` headers, values as byte strings. */
  amzHeaders: Iterable<AmzHeader>;
  /** The canonicalized resource, see {@linkcode canonicalizedResource}. */
  resource: string;
}

/**
 * The SigV2 string to sign, a byte string (one character per byte): header
 * values are taken as the bytes the client sent.
 */
export function stringToSignV2(parts: StringToSignV2Parts): string {
  return `${parts.method}\n${headerValue(parts.contentMd5)}\n${headerValue(parts.contentType)}\n${
    headerValue(parts.date)
  }\n${canonicalizedAmzHeaders(parts.amzHeaders)}${parts.resource}`;
}

/**
 * Base64 HMAC-SHA1 of a string to sign (a byte string) with a secret (as
 * UTF-8): the signature. Throws a TypeError for a character above `0xFF`,
 * which is no byte.
 */
export function signV2(secretKey: string, stringToSign: string): string {
  const data = NON_ASCII.test(stringToSign) ? byteStringBytes(stringToSign) : stringToSign;
  return createHmac("sha1", secretKey).update(data).digest("base64");
}

/** What a request gives its SigV2 string to sign. */
export interface SigV2Request {
  /** HTTP method. */
  method: string;
  /** The client's headers (values are byte strings). */
  headers: Headers;
  /** Where it points. */
  target: ResourceTarget;
  /**
   * A presigned URL's `Expires`: it takes the place of the date, and the
   * `x-amz-*` query parameters count as headers (botocore hoists them there).
   */
  expires?: string;
}

/**
 * The strings to sign a request may have been signed with: the one AWS
 * reads, and for a path-style bucket request sent as `/bucket` the one over
 * the literal path (see {@linkcode literalResource}).
 */
export function stringsToSignV2(request: SigV2Request): string[] {
  const { headers, target, expires } = request;
  const amzHeaders: AmzHeader[] = [];
  headers.forEach((value, name) => {
    if (name.startsWith("x-amz-")) amzHeaders.push([name, value]);
  });
  if (expires !== undefined) {
    for (const p of target.params) {
      if (p.name.length > 6 && p.name.slice(0, 6).toLowerCase() === "x-amz-") {
        amzHeaders.push([p.name, byteString(percentDecodeBytes(p.rawValue))]);
      }
    }
  }
  const head = {
    method: request.method,
    contentMd5: headers.get("content-md5") ?? "",
    contentType: headers.get("content-type") ?? "",
    date: expires ?? (headers.has("x-amz-date") ? "" : headers.get("date") ?? ""),
    amzHeaders,
  };
  const resources = [canonicalizedResource(target)];
  const literal = literalResource(target);
  if (literal !== undefined) resources.push(literal);
  return resources.map((resource) => stringToSignV2({ ...head, resource }));
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
/** RFC 1123 (`Sun, 06 Nov 1994 08:49:37 GMT`), also with a numeric zone (`+0000`). */
const RFC1123 = new RegExp(
  `^${DAY}, (\\d{1,2}) ${MONTH} (\\d{4}) ${TIME} (GMT|UTC|UT|Z|[+-]\\d{4})$`,
);
/** RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`). */
const RFC850 = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** asctime (`Sun Nov  6 08:49:37 1994`). */
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

function utc(
  year: number,
  month: string,
  day: string,
  time: [string, string, string],
): number {
  const m = MONTHS.indexOf(month);
  const [h, min, s] = time.map(Number);
  if (h > 23 || min > 59 || s > 60) return NaN;
  const ms = Date.UTC(year, m, Number(day), h, min, Math.min(s, 59));
  // Day 31 of a 30-day month would roll over: refused.
  return new Date(ms).getUTCDate() === Number(day) ? ms : NaN;
}

/**
 * Parses an HTTP date as a `Date` or SigV2 `x-amz-date` header carries it,
 * to epoch ms: RFC 1123 (with `GMT` or a numeric zone such as s3cmd's
 * `+0000`), RFC 850, asctime, or the ISO 8601 basic form
 * (`20130524T000000Z`) that Ceph RGW also accepts. NaN when it is none.
 */
export function parseHttpDate(value: string): number {
  let m = RFC1123.exec(value);
  if (m !== null) {
    const ms = utc(Number(m[3]), m[2], m[1], [m[4], m[5], m[6]]);
    const zone = m[7];
    if (!/^[+-]/.test(zone)) return ms;
    const minutes = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3));
    if (Number(zone.slice(3)) > 59) return NaN;
    return ms - (zone[0] === "+" ? 1 : -1) * minutes * 60_000;
  }
  m = RFC850.exec(value);
  if (m !== null) {
    const yy = Number(m[3]);
    return utc(yy < 70 ? 2000 + yy : 1900 + yy, m[2], m[1], [m[4], m[5], m[6]]);
  }
  m = ASCTIME.exec(value);
  if (m !== null) return utc(Number(m[6]), m[1], m[2].trim(), [m[3], m[4], m[5]]);
  return parseAmzDate(value);
}
