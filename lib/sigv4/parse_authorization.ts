/**
 * Parses a request's credentials (SigV4 Authorization header or presigned
 * query, SigV2 Authorization header or presigned query) into a typed value.
 * Nothing is verified here, only shaped; anything that is not well-formed is
 * rejected with the S3 error AWS would give, and a request carrying two kinds
 * of credentials is refused.
 *
 * @module
 */
import { headerSnapshot } from "./header_snapshot.ts";
import { S3Error } from "../request/errors.ts";
import {
  type ChunkedMode,
  chunkedModeOf,
  PRESIGN_PARAMS,
  SIGV2_PRESIGN_PARAMS,
  SIGV2_SCHEME,
} from "./constants.ts";
import { parseHttpDate } from "./sigv2.ts";
import {
  ALGORITHM,
  parseAmzDate,
  type RawQueryParam,
  type Scope,
  UNSIGNED_PAYLOAD,
} from "./sigv4.ts";

/** How the request body is presented, from `x-amz-content-sha256`. */
export type PayloadMode =
  | { kind: "sha256"; hash: string }
  | { kind: "unsigned" }
  | { kind: ChunkedMode };

/** What every parsed credential has, whatever the signature version. */
interface Credentials {
  /** The client's access key id: the token the validator sees. */
  accessKey: string;
  /** The signature, as sent (hex for SigV4, base64 for SigV2). */
  signature: string;
  /**
   * Signed header names, lower case: SigV4's SignedHeaders in the client's
   * order; for SigV2, the headers present that its string to sign covers
   * (`content-md5`, `content-type`, `date`, every `x-amz-*`).
   */
  signedHeaders: string[];
  /** The payload hash value: what went into a SigV4 canonical request; what re-signing sends. */
  payloadHash: string;
  /** The payload mode. */
  payload: PayloadMode;
}

/** What SigV4 header-signed and presigned credentials have in common. */
interface SigV4Credentials extends Credentials {
  /** Discriminant: the signature version. */
  version: 4;
  /** The credential scope the client signed with. */
  scope: Scope;
  /** The signing time, `YYYYMMDDTHHMMSSZ`. */
  datetime: string;
  /** The signing time in epoch ms. */
  timeMs: number;
}

/** SigV4 credentials from the `Authorization` header. */
export interface HeaderAuthorization extends SigV4Credentials {
  /** Discriminant. */
  kind: "header";
}

/** SigV4 credentials from a presigned URL's query. */
export interface PresignedAuthorization extends SigV4Credentials {
  /** Discriminant. */
  kind: "presigned";
  /** Seconds the URL is valid (`X-Amz-Expires`). */
  expiresSeconds: number;
}

/** SigV2 credentials from the `Authorization` header (`AWS <key>:<signature>`). */
export interface SigV2HeaderAuthorization extends Credentials {
  /** Discriminant: the signature version. */
  version: 2;
  /** Discriminant. */
  kind: "header";
  /** The request time in epoch ms: `x-amz-date`, else `Date`. */
  timeMs: number;
}

/** SigV2 credentials from a presigned URL's query (`AWSAccessKeyId`, `Expires`, `Signature`). */
export interface SigV2PresignedAuthorization extends Credentials {
  /** Discriminant: the signature version. */
  version: 2;
  /** Discriminant. */
  kind: "presigned";
  /** `Expires` as sent: seconds since the epoch, signed in place of the date. */
  expires: string;
  /** When the URL expires, in epoch ms. */
  expiresMs: number;
}

/** SigV4 credentials: header-signed or presigned. */
export type SigV4Authorization = HeaderAuthorization | PresignedAuthorization;

/** SigV2 credentials: header-signed or presigned. */
export type SigV2Authorization = SigV2HeaderAuthorization | SigV2PresignedAuthorization;

/** Credentials the client presented: SigV4 or SigV2, header-signed or presigned. */
export type SignedAuthorization = SigV4Authorization | SigV2Authorization;

/** No credentials: an anonymous request to a bucket that allows its operation. */
export interface AnonymousAuthorization {
  /** Discriminant: no signature. */
  version: 0;
  /** Discriminant. */
  kind: "anonymous";
  /** None. */
  signedHeaders: readonly string[];
  /** The payload hash re-signing uses: a literal SHA-256 the client sent, else UNSIGNED-PAYLOAD. */
  payloadHash: string;
  /** The payload mode (sha256 or unsigned). */
  payload: PayloadMode;
}

/** What the credentials of a browser form upload (POST policy) have, whatever the signature version. */
interface PostPolicyCredentials {
  /** Discriminant. */
  kind: "post-policy";
  /** The client's access key id (`x-amz-credential`, or `AWSAccessKeyId` in a SigV2 form). */
  accessKey: string;
  /** The form's signature over its base64 policy (keys the presign use cap). */
  signature: string;
  /** None: there are no signed headers. */
  signedHeaders: readonly string[];
  /** Always UNSIGNED-PAYLOAD. */
  payloadHash: string;
  /** Always unsigned. */
  payload: PayloadMode;
  /** The policy's expiration, epoch ms. */
  expirationMs: number;
}

/**
 * Credentials of a browser form upload signed with SigV4: the signature is
 * over the base64 policy, which osp checked against the form; the file goes
 * to the backend unsigned (UNSIGNED-PAYLOAD), its length checked by osp.
 */
export interface SigV4PostPolicyAuthorization extends PostPolicyCredentials {
  /** The policy is signed with SigV4. */
  version: 4;
  /** The credential scope. */
  scope: Scope;
  /** `x-amz-date`. */
  datetime: string;
  /** `x-amz-date` in epoch ms. */
  timeMs: number;
}

/**
 * Credentials of a browser form upload signed with SigV2 (`AWSAccessKeyId`,
 * `signature` = base64 HMAC-SHA1 of the base64 policy): no scope, no date.
 */
export interface SigV2PostPolicyAuthorization extends PostPolicyCredentials {
  /** The policy is signed with SigV2. */
  version: 2;
}

/** Credentials of a browser form upload (POST policy), SigV4 or SigV2. */
export type PostPolicyAuthorization = SigV4PostPolicyAuthorization | SigV2PostPolicyAuthorization;

/** How a verified request was authorized: signed (SigV4 or SigV2), a POST policy, or anonymous. */
export type ParsedAuthorization =
  | SignedAuthorization
  | PostPolicyAuthorization
  | AnonymousAuthorization;

/** The credentials a form upload carries, before its signature is checked. */
export type PostCredentials =
  | {
    version: 4;
    accessKey: string;
    scope: Scope;
    datetime: string;
    timeMs: number;
    signature: string;
  }
  | { version: 2; accessKey: string; signature: string };

/** 64 lower-case hex digits: a SHA-256 or a SigV4 signature. */
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Form fields that carry SigV4 credentials. */
const SIGV4_POST_FIELDS = ["x-amz-algorithm", "x-amz-credential", "x-amz-signature"];
/** Form fields that carry SigV2 credentials. */
const SIGV2_POST_FIELDS = ["awsaccesskeyid", "signature"];

/** True when a form carries no credential field at all (SigV4 or SigV2) and no policy. */
export function isAnonymousForm(fields: ReadonlyMap<string, string>): boolean {
  return !fields.has("policy") &&
    ![...SIGV4_POST_FIELDS, ...SIGV2_POST_FIELDS].some((name) => fields.has(name));
}

/**
 * The credentials of a form upload (field names lower case): SigV4 from its
 * `x-amz-algorithm`, `x-amz-credential`, `x-amz-date` and `x-amz-signature`
 * fields, SigV2 from `AWSAccessKeyId` and `signature` (refused with 403 when
 * `sigV2` is false). A form with both kinds is refused.
 */
export function parsePostCredentials(
  fields: ReadonlyMap<string, string>,
  options: ParseAuthorizationOptions = {},
): PostCredentials {
  const bad = (msg: string) => new S3Error("InvalidArgument", `Invalid POST form: ${msg}`);
  const get = (name: string, shown = name) => {
    const value = fields.get(name);
    if (value === undefined) throw bad(`Bucket POST must contain a field named '${shown}'.`);
    return value;
  };
  const sigV2 = SIGV2_POST_FIELDS.some((name) => fields.has(name));
  if (sigV2) {
    if (SIGV4_POST_FIELDS.some((name) => fields.has(name))) {
      throw bad(
        "Only one auth mechanism allowed: SigV4 (x-amz-*) or SigV2 (AWSAccessKeyId) fields",
      );
    }
    if (options.sigV2 === false) {
      throw new S3Error(
        "AccessDenied",
        "Signature Version 2 is disabled; sign the policy with AWS Signature Version 4",
      );
    }
    const accessKey = get("awsaccesskeyid", "AWSAccessKeyId");
    if (accessKey === "") throw bad("AWSAccessKeyId is empty");
    // Any other value than the base64 HMAC-SHA1 fails the compare: 403 as S3.
    const signature = get("signature", "Signature");
    return { version: 2, accessKey, signature };
  }
  const algorithm = get("x-amz-algorithm");
  if (algorithm !== ALGORITHM) throw bad(`x-amz-algorithm must be ${ALGORITHM}`);
  const { accessKey, scope } = parseCredential(get("x-amz-credential"), bad);
  const datetime = get("x-amz-date");
  const timeMs = checkTime(datetime, scope.date, bad);
  const signature = get("x-amz-signature");
  if (!SHA256_HEX.test(signature)) throw bad("x-amz-signature must be 64 hex digits");
  return { version: 4, accessKey, scope, datetime, timeMs, signature };
}

/**
 * True for the query parameters that carry a request's credentials, which
 * never go to the backend nor the validator: SigV4's presign parameters, and
 * for a SigV2 presigned URL its own (see `SIGV2_PRESIGN_PARAMS`).
 */
export function isPresignParam(
  name: string,
  auth: Pick<ParsedAuthorization, "version" | "kind">,
): boolean {
  return PRESIGN_PARAMS.includes(name) ||
    (auth.version === 2 && auth.kind === "presigned" && SIGV2_PRESIGN_PARAMS.includes(name));
}

/**
 * The `x-amz-*` headers a presigned URL hoisted into its query (presign
 * parameters excepted), lower-case names with their decoded values: S3 reads
 * them as headers, and so do the validator and osp's checks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hoistedHeaders } from "./parse_authorization.ts";
 * import { parseRawQuery } from "./sigv4.ts";
 * const params = parseRawQuery("X-Amz-Signature=ab&x-amz-checksum-crc32=AAAAAA%3D%3D&prefix=a");
 * const auth = { version: 4, kind: "header" } as const;
 * assert.deepEqual(hoistedHeaders(params, auth), [["x-amz-checksum-crc32", "AAAAAA=="]]);
 * ```
 */
export function hoistedHeaders(
  params: readonly RawQueryParam[],
  auth: Pick<ParsedAuthorization, "version" | "kind">,
): [name: string, value: string][] {
  const hoisted: [string, string][] = [];
  for (const p of params) {
    const name = p.name.toLowerCase();
    if (name.startsWith("x-amz-") && !isPresignParam(p.name, auth)) hoisted.push([name, p.value]);
  }
  return hoisted;
}

/** When a presigned URL expires, in epoch ms (for its use count). */
export function presignedExpiresAt(
  auth: PresignedAuthorization | SigV2PresignedAuthorization,
): number {
  return auth.version === 2 ? auth.expiresMs : auth.timeMs + auth.expiresSeconds * 1000;
}

/** Classifies an `x-amz-content-sha256` value. */
export function parsePayloadMode(value: string): PayloadMode {
  if (value === UNSIGNED_PAYLOAD) return { kind: "unsigned" };
  const chunked = chunkedModeOf(value);
  if (chunked !== undefined) {
    return { kind: chunked };
  }
  if (SHA256_HEX.test(value)) return { kind: "sha256", hash: value };
  if (value.startsWith("STREAMING-AWS4-ECDSA")) {
    throw new S3Error("NotImplemented", "SigV4a (ECDSA) streaming uploads are not supported");
  }
  throw new S3Error(
    "InvalidArgument",
    "x-amz-content-sha256 must be a lower-case hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* mode",
  );
}

function parseCredential(
  value: string,
  error: (msg: string) => S3Error,
): { accessKey: string; scope: Scope } {
  const parts = value.split("/");
  if (parts.length !== 5 || parts.some((p) => p === "")) {
    throw error(
      "the Credential must be <access key>/<YYYYMMDD>/<region>/s3/aws4_request",
    );
  }
  const [accessKey, date, region, service, terminal] = parts;
  if (!/^\d{8}$/.test(date)) throw error(`the Credential date ${date} is not YYYYMMDD`);
  if (service !== "s3") throw error(`the Credential service must be s3, not ${service}`);
  if (terminal !== "aws4_request") throw error("the Credential must end with aws4_request");
  if (!/^[a-z0-9-]+$/.test(region)) throw error(`the Credential region ${region} is malformed`);
  return { accessKey, scope: { date, region, service } };
}

function parseSignedHeaders(value: string, error: (msg: string) => S3Error): string[] {
  if (value === "") throw error("SignedHeaders is empty");
  const names = value.split(";");
  for (const n of names) {
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(n)) {
      throw error(`SignedHeaders has an invalid name ${JSON.stringify(n)}`);
    }
  }
  return names;
}

function checkTime(datetime: string, scopeDate: string, error: (msg: string) => S3Error): number {
  const timeMs = parseAmzDate(datetime);
  if (Number.isNaN(timeMs)) throw error(`X-Amz-Date ${datetime} is not YYYYMMDDTHHMMSSZ`);
  if (datetime.slice(0, 8) !== scopeDate) {
    throw error(`the Credential date ${scopeDate} is not the date of X-Amz-Date ${datetime}`);
  }
  return timeMs;
}

/** The parts of an Authorization header value other than the signature. */
interface HeaderCredentials {
  accessKey: string;
  scope: Scope;
  signedHeaders: readonly string[];
}

/**
 * Credentials of header values parsed before, by the value up to
 * `Signature=`: a client's Credential and SignedHeaders repeat on every
 * request it signs that day; only the signature changes.
 */
const parsedCredentials = new Map<string, HeaderCredentials>();
const PARSED_CREDENTIALS_MAX = 1024;

/**
 * The value split before its last field when that field is `Signature=…`
 * (only whitespace between the comma and the name; no comma after), or
 * undefined.
 */
function splitSignature(value: string): { prefix: string; signature: string } | undefined {
  const comma = value.lastIndexOf(",");
  if (comma < 0) return undefined;
  const last = value.slice(comma + 1);
  const name = last.trimStart();
  if (!name.startsWith("Signature=")) return undefined;
  return {
    prefix: value.slice(0, comma + 1 + last.length - name.length),
    signature: name.slice("Signature=".length).trim(),
  };
}

function parseHeaderAuthorization(value: string, headers: Headers): HeaderAuthorization {
  const malformed = (msg: string) =>
    new S3Error("AuthorizationHeaderMalformed", `The authorization header is malformed: ${msg}`);
  const split = splitSignature(value);
  const known = split === undefined ? undefined : parsedCredentials.get(split.prefix);
  let accessKey: string;
  let scope: Scope;
  let signature: string;
  let signedHeadersText: string | undefined;
  if (known !== undefined) {
    // Everything but the signature was parsed, and found well-formed, before.
    ({ accessKey, scope } = known);
    signature = split!.signature;
  } else {
    const space = value.indexOf(" ");
    const algorithm = space < 0 ? value : value.slice(0, space);
    if (algorithm !== ALGORITHM) {
      if (algorithm === "AWS4-ECDSA-P256-SHA256") {
        throw new S3Error("NotImplemented", "SigV4a (AWS4-ECDSA-P256-SHA256) is not supported");
      }
      throw malformed(`the algorithm must be ${ALGORITHM}`);
    }
    const fields = new Map<string, string>();
    for (const part of value.slice(space + 1).split(",")) {
      const eq = part.indexOf("=");
      if (eq < 0) throw malformed(`unexpected ${JSON.stringify(part.trim())}`);
      const name = part.slice(0, eq).trim();
      if (fields.has(name)) throw malformed(`${name} appears twice`);
      fields.set(name, part.slice(eq + 1).trim());
    }
    const credential = fields.get("Credential");
    signedHeadersText = fields.get("SignedHeaders");
    const given = fields.get("Signature");
    if (credential === undefined || signedHeadersText === undefined || given === undefined) {
      throw malformed("it needs Credential, SignedHeaders and Signature");
    }
    if (fields.size !== 3) throw malformed("it has unknown fields");
    ({ accessKey, scope } = parseCredential(credential, malformed));
    signature = given;
  }
  const datetime = headerSnapshot(headers).get("x-amz-date");
  if (datetime === null) {
    throw new S3Error("AccessDenied", "AWS authentication requires a valid x-amz-date header");
  }
  const timeMs = checkTime(datetime, scope.date, malformed);
  const payloadHash = headerSnapshot(headers).get("x-amz-content-sha256");
  if (payloadHash === null) {
    throw new S3Error(
      "InvalidRequest",
      "Missing required header for this request: x-amz-content-sha256",
    );
  }
  let signedHeaders: readonly string[];
  if (known !== undefined) {
    signedHeaders = known.signedHeaders;
  } else {
    signedHeaders = parseSignedHeaders(signedHeadersText!, malformed);
    if (split !== undefined) {
      if (parsedCredentials.size >= PARSED_CREDENTIALS_MAX) parsedCredentials.clear();
      parsedCredentials.set(split.prefix, {
        accessKey,
        scope: Object.freeze({ ...scope }),
        signedHeaders: Object.freeze([...signedHeaders]),
      });
    }
  }
  return {
    kind: "header",
    version: 4,
    accessKey,
    scope: { ...scope },
    datetime,
    timeMs,
    signedHeaders: [...signedHeaders],
    signature,
    payloadHash,
    payload: parsePayloadMode(payloadHash),
  };
}

function parsePresigned(params: readonly RawQueryParam[]): PresignedAuthorization {
  const bad = (msg: string) =>
    new S3Error("AuthorizationQueryParametersError", `Query-string authentication: ${msg}`);
  const get = (name: string): string => {
    const found = params.filter((p) => p.name === name);
    if (found.length === 0) throw bad(`${name} is missing`);
    if (found.length > 1) throw bad(`${name} appears more than once`);
    return found[0].value;
  };
  if (get("X-Amz-Algorithm") !== ALGORITHM) throw bad(`X-Amz-Algorithm must be ${ALGORITHM}`);
  const { accessKey, scope } = parseCredential(get("X-Amz-Credential"), bad);
  const datetime = get("X-Amz-Date");
  const timeMs = checkTime(datetime, scope.date, bad);
  const expiresText = get("X-Amz-Expires");
  const expires = /^\d{1,7}$/.test(expiresText) ? Number(expiresText) : NaN;
  if (!(expires >= 1 && expires <= 604800)) {
    throw bad("X-Amz-Expires must be a whole number of seconds from 1 to 604800 (7 days)");
  }
  const payloadParam = params.find((p) => p.name === "X-Amz-Content-Sha256")?.value;
  const payloadHash = payloadParam ?? UNSIGNED_PAYLOAD;
  return {
    kind: "presigned",
    version: 4,
    accessKey,
    scope,
    datetime,
    timeMs,
    signedHeaders: parseSignedHeaders(get("X-Amz-SignedHeaders"), bad),
    signature: get("X-Amz-Signature"),
    payloadHash,
    payload: parsePayloadMode(payloadHash),
    expiresSeconds: expires,
  };
}

/** The payload of a SigV2 request: a literal `x-amz-content-sha256` it signed, else unsigned. */
function sigV2Payload(headers: Headers): { payloadHash: string; payload: PayloadMode } {
  const value = headers.get("x-amz-content-sha256");
  if (value === null) return { payloadHash: UNSIGNED_PAYLOAD, payload: { kind: "unsigned" } };
  const payload = parsePayloadMode(value);
  if (payload.kind === "streaming-signed" || payload.kind === "streaming-signed-trailer") {
    throw new S3Error(
      "InvalidRequest",
      "Signed aws-chunked uploads need AWS Signature Version 4 (their chunks chain from a SigV4 signature)",
    );
  }
  return { payloadHash: value, payload };
}

/** The headers a SigV2 string to sign covers, of those present. */
function sigV2SignedHeaders(headers: Headers, options: { date: boolean }): string[] {
  const names: string[] = [];
  headers.forEach((_value, name) => {
    if (
      name.startsWith("x-amz-") || name === "content-md5" || name === "content-type" ||
      (options.date && name === "date")
    ) {
      names.push(name);
    }
  });
  return names;
}

function sigV2Time(headers: Headers): number {
  const value = headers.get("x-amz-date") ?? headers.get("date");
  const timeMs = value === null ? NaN : parseHttpDate(value);
  if (Number.isNaN(timeMs)) {
    throw new S3Error(
      "AccessDenied",
      "AWS authentication requires a valid Date or x-amz-date header",
    );
  }
  return timeMs;
}

function parseSigV2Header(
  value: string,
  headers: Headers,
  params: readonly RawQueryParam[],
): SigV2HeaderAuthorization {
  const m = /^AWS ([^\s:]+):(\S+)$/.exec(value);
  if (m === null) {
    throw new S3Error(
      "InvalidArgument",
      "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
    );
  }
  // SigV2 signs no query parameter but the sub-resources: an x-amz-* one would be unsigned.
  const hoisted = params.find((p) => p.name.toLowerCase().startsWith("x-amz-"));
  if (hoisted !== undefined) {
    throw new S3Error(
      "AccessDenied",
      `The query parameter ${hoisted.name} is not signed by a Signature Version 2 Authorization header`,
    );
  }
  const timeMs = sigV2Time(headers);
  return {
    version: 2,
    kind: "header",
    accessKey: m[1],
    signature: m[2],
    signedHeaders: sigV2SignedHeaders(headers, { date: !headers.has("x-amz-date") }),
    timeMs,
    ...sigV2Payload(headers),
  };
}

/** The latest expiry kept (the year 9999): SigV2 URLs may name any time, and AWS accepts them. */
const SIGV2_EXPIRES_MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

function parseSigV2Presigned(
  params: readonly RawQueryParam[],
  headers: Headers,
): SigV2PresignedAuthorization {
  const values = new Map<string, string>();
  for (const p of params) {
    if (p.name !== "AWSAccessKeyId" && p.name !== "Expires" && p.name !== "Signature") continue;
    if (values.has(p.name)) {
      throw new S3Error(
        "InvalidArgument",
        `Query-string authentication: ${p.name} appears more than once`,
      );
    }
    values.set(p.name, p.value);
  }
  const accessKey = values.get("AWSAccessKeyId");
  const expires = values.get("Expires");
  const signature = values.get("Signature");
  if (!accessKey || !expires || !signature) {
    throw new S3Error(
      "AccessDenied",
      "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
    );
  }
  if (!/^\d{1,20}$/.test(expires)) {
    throw new S3Error(
      "AccessDenied",
      `Invalid date (should be seconds since epoch): ${expires}`,
    );
  }
  for (const p of params) {
    const name = p.name.toLowerCase();
    if (name.startsWith("x-amz-") && headerSnapshot(headers).get(name) !== null) {
      throw new S3Error("InvalidArgument", `${name} is given as a header and in the query`);
    }
  }
  return {
    version: 2,
    kind: "presigned",
    accessKey,
    signature,
    signedHeaders: sigV2SignedHeaders(headers, { date: false }),
    expires,
    expiresMs: Math.min(Number(expires) * 1000, SIGV2_EXPIRES_MAX_MS),
    ...sigV2Payload(headers),
  };
}

/** Options for {@linkcode parseAuthorization}. */
export interface ParseAuthorizationOptions {
  /** Accept SigV2 credentials (config `sigV2`); default true. */
  sigV2?: boolean;
}

/**
 * Parses the request's credentials. Anonymous requests, SigV2 ones when
 * `sigV2` is false and requests with two kinds of credentials are rejected
 * with AccessDenied or InvalidArgument saying why.
 */
export function parseAuthorization(
  headers: Headers,
  params: readonly RawQueryParam[],
  options: ParseAuthorizationOptions = {},
): SignedAuthorization {
  const header = headerSnapshot(headers).get("authorization");
  let presigned = false;
  let sigV2Query = false;
  for (const { name } of params) {
    if (name === "X-Amz-Signature" || name === "X-Amz-Algorithm" || name === "X-Amz-Credential") {
      presigned = true;
    } else if (name === "Signature" || name === "AWSAccessKeyId") sigV2Query = true;
  }
  if (Number(header !== null) + Number(presigned) + Number(sigV2Query) > 1) {
    throw new S3Error(
      "InvalidArgument",
      "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
    );
  }
  const sigV2 = sigV2Query ||
    (header !== null && (header.startsWith(SIGV2_SCHEME) || header === SIGV2_SCHEME.trim()));
  if (sigV2 && options.sigV2 === false) {
    throw new S3Error(
      "AccessDenied",
      "Signature Version 2 is disabled; sign requests with AWS Signature Version 4",
    );
  }
  if (header !== null) {
    return sigV2
      ? parseSigV2Header(header, headers, params)
      : parseHeaderAuthorization(header, headers);
  }
  if (presigned) return parsePresigned(params);
  if (sigV2Query) return parseSigV2Presigned(params, headers);
  throw new S3Error(
    "AccessDenied",
    "Anonymous requests are not allowed; sign the request with AWS Signature Version 4",
  );
}
