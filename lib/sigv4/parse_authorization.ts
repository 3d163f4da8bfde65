/**
 * Parses a request's SigV4 credentials (Authorization header or presigned
 * query) into a typed value. Nothing is verified here, only shaped; anything
 * that is not well-formed SigV4 is rejected with the S3 error AWS would give.
 *
 * @module
 */
import { S3Error } from "../request/errors.ts";
import { type ChunkedMode, chunkedModeOf, PRESIGN_PARAMS } from "./constants.ts";
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

/** What header-signed and presigned credentials have in common. */
interface Credentials {
  /** The client's access key id: the token the validator sees. */
  accessKey: string;
  /** The credential scope the client signed with. */
  scope: Scope;
  /** The signing time, `YYYYMMDDTHHMMSSZ`. */
  datetime: string;
  /** The signing time in epoch ms. */
  timeMs: number;
  /** Signed header names, lower case, in the client's order. */
  signedHeaders: string[];
  /** The signature, as sent. */
  signature: string;
  /** The payload hash value that went into the canonical request. */
  payloadHash: string;
  /** The payload mode. */
  payload: PayloadMode;
}

/** Credentials from the `Authorization` header. */
export interface HeaderAuthorization extends Credentials {
  /** Discriminant. */
  kind: "header";
}

/** Credentials from a presigned URL's query. */
export interface PresignedAuthorization extends Credentials {
  /** Discriminant. */
  kind: "presigned";
  /** Seconds the URL is valid (`X-Amz-Expires`). */
  expiresSeconds: number;
}

/** No credentials: an anonymous request to a bucket that allows its operation. */
export interface AnonymousAuthorization {
  /** Discriminant. */
  kind: "anonymous";
  /** None. */
  signedHeaders: readonly string[];
  /** The payload hash re-signing uses: a literal SHA-256 the client sent, else UNSIGNED-PAYLOAD. */
  payloadHash: string;
  /** The payload mode (sha256 or unsigned). */
  payload: PayloadMode;
}

/** SigV4 credentials the client presented: header-signed or presigned. */
export type SignedAuthorization = HeaderAuthorization | PresignedAuthorization;

/**
 * Credentials of a browser form upload (POST policy): the signature is over
 * the base64 policy, which osp checked against the form; the file goes to
 * the backend unsigned (UNSIGNED-PAYLOAD), its length checked by osp.
 */
export interface PostPolicyAuthorization {
  /** Discriminant. */
  kind: "post-policy";
  /** The client's access key id (`x-amz-credential`). */
  accessKey: string;
  /** The credential scope. */
  scope: Scope;
  /** `x-amz-date`. */
  datetime: string;
  /** `x-amz-date` in epoch ms. */
  timeMs: number;
  /** The form's `x-amz-signature` (keys the presign use cap). */
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

/** How a verified request was authorized: signed, a POST policy, or anonymous. */
export type ParsedAuthorization =
  | SignedAuthorization
  | PostPolicyAuthorization
  | AnonymousAuthorization;

/**
 * The credentials of a form upload, from its `x-amz-algorithm`,
 * `x-amz-credential` and `x-amz-date` fields (SigV2 forms are refused).
 */
export function parsePostCredentials(
  fields: ReadonlyMap<string, string>,
): { accessKey: string; scope: Scope; datetime: string; timeMs: number; signature: string } {
  const bad = (msg: string) => new S3Error("InvalidArgument", `Invalid POST form: ${msg}`);
  if (fields.has("awsaccesskeyid") || fields.has("signature")) {
    throw new S3Error(
      "AccessDenied",
      "Signature Version 2 POST forms are not supported; sign the policy with AWS Signature Version 4",
    );
  }
  const get = (name: string) => {
    const value = fields.get(name);
    if (value === undefined) throw bad(`Bucket POST must contain a field named '${name}'.`);
    return value;
  };
  const algorithm = get("x-amz-algorithm");
  if (algorithm !== ALGORITHM) throw bad(`x-amz-algorithm must be ${ALGORITHM}`);
  const { accessKey, scope } = parseCredential(get("x-amz-credential"), bad);
  const datetime = get("x-amz-date");
  const timeMs = checkTime(datetime, scope.date, bad);
  const signature = get("x-amz-signature");
  if (!/^[0-9a-f]{64}$/.test(signature)) throw bad("x-amz-signature must be 64 hex digits");
  return { accessKey, scope, datetime, timeMs, signature };
}

/** True for the query parameters of a presigned URL, which never go to the backend. */
export function isPresignParam(name: string): boolean {
  return PRESIGN_PARAMS.includes(name);
}

/** Classifies an `x-amz-content-sha256` value. */
export function parsePayloadMode(value: string): PayloadMode {
  if (value === UNSIGNED_PAYLOAD) return { kind: "unsigned" };
  const chunked = chunkedModeOf(value);
  if (chunked !== undefined) {
    return { kind: chunked };
  }
  if (/^[0-9a-f]{64}$/.test(value)) return { kind: "sha256", hash: value };
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
  const datetime = headers.get("x-amz-date");
  if (datetime === null) {
    throw new S3Error("AccessDenied", "AWS authentication requires a valid x-amz-date header");
  }
  const timeMs = checkTime(datetime, scope.date, malformed);
  const payloadHash = headers.get("x-amz-content-sha256");
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

/**
 * Parses the request's credentials. Anonymous, SigV2 and mixed requests are
 * rejected with AccessDenied or InvalidArgument saying why.
 */
export function parseAuthorization(
  headers: Headers,
  params: readonly RawQueryParam[],
): SignedAuthorization {
  const header = headers.get("authorization");
  let presigned = false;
  let sigV2Signature = false;
  let sigV2AccessKey = false;
  for (const { name } of params) {
    if (name === "X-Amz-Signature" || name === "X-Amz-Algorithm" || name === "X-Amz-Credential") {
      presigned = true;
    } else if (name === "Signature") sigV2Signature = true;
    else if (name === "AWSAccessKeyId") sigV2AccessKey = true;
  }
  const sigV2Query = sigV2Signature && sigV2AccessKey;
  if (header !== null && (presigned || sigV2Query)) {
    throw new S3Error(
      "InvalidArgument",
      "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header may be given",
    );
  }
  if (header !== null) {
    if (header.startsWith("AWS ")) {
      throw new S3Error(
        "AccessDenied",
        "Signature Version 2 is not supported; sign requests with AWS Signature Version 4",
      );
    }
    return parseHeaderAuthorization(header, headers);
  }
  if (presigned) return parsePresigned(params);
  if (sigV2Query) {
    throw new S3Error(
      "AccessDenied",
      "Signature Version 2 presigned URLs are not supported; presign with AWS Signature Version 4",
    );
  }
  throw new S3Error(
    "AccessDenied",
    "Anonymous requests are not allowed; sign the request with AWS Signature Version 4",
  );
}
