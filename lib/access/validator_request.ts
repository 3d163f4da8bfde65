/**
 * The validator's view of a request, and the key its decision is cached
 * under. The key holds every input the validator is shown that a config says
 * a decision may depend on (by default: the query, the headers but those
 * that change on every request, and the source IP), so a cached yes is never
 * reused for another `versionId`, another `x-amz-acl` or another address.
 *
 * @module
 */
import { headerSnapshot } from "../sigv4/header_snapshot.ts";
import type { LazyValidatorRequest } from "./validator.ts";
import { hoistedHeaders, isPresignParam } from "../sigv4/parse_authorization.ts";
import type { VerifiedRequest } from "../sigv4/authenticate.ts";
import { isDroppedHeader } from "../request/client_headers.ts";
import type { ValidatorCacheKey, ValidatorRequest } from "../config/config.ts";
import { S3Error } from "../request/errors.ts";
import { parseChecksumHeaderName } from "../body/checksums.ts";

/**
 * Headers left out of the cache key with `headers: "all"`: they change on
 * every request (dates, signatures, lengths, body checksums, SDK ids) and
 * name nothing a backend acts on differently.
 */
export const VOLATILE_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "date",
  "x-amz-date",
  "x-amz-content-sha256",
  "x-amz-decoded-content-length",
  "content-length",
  "content-md5",
  "x-amz-sdk-checksum-algorithm",
  "x-amz-trailer",
  "user-agent",
  "x-amz-user-agent",
  "amz-sdk-invocation-id",
  "amz-sdk-request",
  "expect",
  "accept",
  "accept-encoding",
  "connection",
  "keep-alive",
  "te",
  "transfer-encoding",
  "traceparent",
  "tracestate",
  "x-amzn-trace-id",
]);

function volatile(name: string): boolean {
  return VOLATILE_HEADERS.has(name) || name.startsWith("x-amz-checksum-");
}

/** The fields of a validator question that its stage decides. */
export interface ValidatorFields {
  /** S3 operation name. */
  operation: string;
  /** The client's bucket name. */
  bucket: string;
  /** The decoded key, if any. */
  key?: string;
}

/** Options for {@linkcode validatorRequest}. */
export interface ValidatorRequestOptions {
  /** The client's IP, read only when needed. */
  sourceIp: () => string;
  /** What decisions are cached by. */
  cacheKey: ValidatorCacheKey;
}

function field(text: string): string {
  return `${text.length}:${text}`;
}

/** The query the validator sees: presign parameters removed (duplicates were refused). */
function queryRecord(verified: VerifiedRequest): Record<string, string> {
  const query: Record<string, string> = {};
  for (const p of verified.target.params) {
    if (!isPresignParam(p.name, verified.auth)) query[p.name] = p.value;
  }
  return query;
}

/**
 * Refuses a header given both as a header and hoisted into the query (or
 * twice in the query, its name in another case) with another value, and an
 * `x-amz-copy-source` in the query (S3 reads hoisted headers of presigned
 * URLs as headers; osp authorizes copy sources from the header only), and a
 * hoisted checksum that is not base64 (it goes to the backend as a header).
 */
export function checkHoistedHeaders(verified: VerifiedRequest): void {
  const seen = new Map<string, string>();
  for (const [name, value] of hoistedHeaders(verified.target.params, verified.auth)) {
    if (name.startsWith("x-amz-copy-source")) {
      throw new S3Error("InvalidArgument", `${name} must be sent as a header`);
    }
    if (parseChecksumHeaderName(name) !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      // It goes to the backend as a header: base64 only.
      throw new S3Error("InvalidRequest", `Value for ${name} header is invalid.`);
    }
    const earlier = headerSnapshot(verified.headers).get(name) ?? seen.get(name);
    if (earlier !== undefined && earlier !== value) {
      throw new S3Error("InvalidArgument", `${name} is given twice, with different values`);
    }
    seen.set(name, value);
  }
}

/**
 * The headers the validator sees: the client's, without `authorization` and
 * dropped twins, plus the `x-amz-*` headers hoisted into a presigned URL's
 * query (checked by {@linkcode checkHoistedHeaders}).
 */
function headerRecord(verified: VerifiedRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of headerSnapshot(verified.headers).list) {
    if (name !== "authorization" && !isDroppedHeader(name)) headers[name] = value;
  }
  for (const [name, value] of hoistedHeaders(verified.target.params, verified.auth)) {
    headers[name] = value;
  }
  return headers;
}

function contextKey(
  verified: VerifiedRequest,
  options: ValidatorRequestOptions,
): string {
  const { cacheKey } = options;
  let key = "";
  if (cacheKey.query) {
    // Sorted, so that the same parameters in another order share the key.
    const params = verified.target.params;
    let fields: string[] | undefined;
    for (let i = 0; i < params.length; i++) {
      const p = params[i];
      if (!isPresignParam(p.name, verified.auth)) {
        (fields ??= []).push(field(p.name) + field(p.value));
      }
    }
    key += fields === undefined ? "q0:" : `q${fields.length}:${fields.sort().join("")}`;
  }
  const names = cacheKey.headers;
  if (names === "all") {
    key += "h";
    const list = headerSnapshot(verified.headers).list;
    for (let i = 0; i < list.length; i++) {
      const name = list[i][0];
      if (!volatile(name) && !isDroppedHeader(name)) key += field(name) + field(list[i][1]);
    }
  } else if (names.size > 0) {
    key += "h";
    const snapshot = headerSnapshot(verified.headers);
    for (const name of names) key += field(snapshot.get(name) ?? "\0");
  }
  if (cacheKey.sourceIp) key += `i${field(options.sourceIp())}`;
  return key;
}

/** A validator question as a class: its methods are shared, not two closures per request. */
class LazyQuestion implements LazyValidatorRequest {
  readonly method: string;
  readonly operation: string;
  readonly bucket: string;
  readonly key?: string;
  readonly #verified: VerifiedRequest;
  readonly #fields: ValidatorFields;
  readonly #options: ValidatorRequestOptions;

  constructor(
    verified: VerifiedRequest,
    fields: ValidatorFields,
    options: ValidatorRequestOptions,
  ) {
    this.method = verified.method;
    this.operation = fields.operation;
    this.bucket = fields.bucket;
    if (fields.key !== undefined) this.key = fields.key;
    this.#verified = verified;
    this.#fields = fields;
    this.#options = options;
  }

  context(): string {
    return contextKey(this.#verified, this.#options);
  }

  build(): ValidatorRequest {
    return {
      method: this.#verified.method,
      query: queryRecord(this.#verified),
      headers: headerRecord(this.#verified),
      ...this.#fields,
      sourceIp: this.#options.sourceIp(),
    };
  }
}

/**
 * A validator question: the cache key's material is computed now, the full
 * {@linkcode ValidatorRequest} only when the validator is actually asked.
 */
export function validatorRequest(
  verified: VerifiedRequest,
  fields: ValidatorFields,
  options: ValidatorRequestOptions,
): LazyValidatorRequest {
  return new LazyQuestion(verified, fields, options);
}
