/**
 * Verifies a client's signature (SigV4, or SigV2 from legacy clients) and
 * turns the request into a {@linkcode VerifiedRequest}, the only input
 * re-signing accepts (through the validator's yes). Only this module makes
 * one: {@linkcode authenticate} for a signed request,
 * {@linkcode authenticatePostPolicy} for a browser form upload (as the PUT it
 * becomes), {@linkcode anonymousRequest} and {@linkcode anonymousPostRequest}
 * for an unsigned request or form on a bucket open to anonymous callers.
 *
 * @module
 */
import { headerSnapshot } from "./header_snapshot.ts";
import {
  isAnonymousForm,
  parseAuthorization,
  type ParsedAuthorization,
  parsePayloadMode,
  parsePostCredentials,
  type SignedAuthorization,
  type SigV2Authorization,
  type SigV4Authorization,
} from "./parse_authorization.ts";
import { checkPostPolicy, formHeaders, formKey, parsePostPolicy } from "./post_policy.ts";
import { S3Error } from "../request/errors.ts";
import { signaturesEqual } from "./constant_time.ts";
import type { RequestTarget } from "../request/request_target.ts";
import { signV2, stringsToSignV2 } from "./sigv2.ts";
import {
  canonicalQuery,
  canonicalUri,
  signature,
  type SigningKeyCache,
  stringToSignOf,
  UNSIGNED_PAYLOAD,
  uriEncode,
} from "./sigv4.ts";

const verified: unique symbol = Symbol("verified");

/** A request whose signature osp checked (or, with skipSignatureValidation, chose not to). */
export interface VerifiedRequest {
  /** Brand: only {@linkcode authenticate} makes these. */
  readonly [verified]: true;
  /** HTTP method. */
  readonly method: string;
  /** Where it points. */
  readonly target: RequestTarget;
  /** The client's headers. */
  readonly headers: Headers;
  /** The parsed credentials. */
  readonly auth: ParsedAuthorization;
  /** The client's access key id; null for an anonymous request. */
  readonly token: string | null;
  /** The client's SigV4 signing key (for aws-chunked chunk signatures); absent for SigV2, anonymous requests and when skipped. */
  readonly signingKey?: Uint8Array;
}

/** What {@linkcode authenticate} needs besides the request. */
export interface AuthenticateOptions {
  /** Now, in epoch ms. */
  now: number;
  /** Allowed skew of header-signed requests, in ms. */
  clockSkewMs: number;
  /** Looks up a client secret; null when the key is unknown. */
  secretFor: (accessKey: string) => Promise<string | null>;
  /** Signing keys, cached per secret and day. */
  signingKeys: SigningKeyCache;
  /** Accept any signature (config `skipSignatureValidation`). */
  skipSignatureValidation: boolean;
  /** Accept SigV2 (config `sigV2`); default true. */
  sigV2?: boolean;
}

function checkSignedHeaders(auth: SigV4Authorization, headers: Headers): void {
  const signed = auth.signedHeaders;
  if (!signed.includes("host")) {
    throw new S3Error("AccessDenied", "The host header must be signed");
  }
  const unsigned: string[] = [];
  for (const [name] of headerSnapshot(headers).list) {
    if (name.startsWith("x-amz-") && !signed.includes(name)) unsigned.push(name);
  }
  if (unsigned.length > 0) {
    throw new S3Error(
      "AccessDenied",
      `There were headers present in the request which were not signed: ${unsigned.join(", ")}`,
    );
  }
}

function checkTime(auth: SignedAuthorization, options: AuthenticateOptions): void {
  if (auth.version === 2 && auth.kind === "presigned") {
    if (options.now > auth.expiresMs) throw new S3Error("AccessDenied", "Request has expired");
    return;
  }
  if (auth.kind === "header") {
    if (Math.abs(options.now - auth.timeMs) > options.clockSkewMs) {
      throw new S3Error(
        "RequestTimeTooSkewed",
        "The difference between the request time and the server's time is too large",
      );
    }
    return;
  }
  if (auth.timeMs - options.now > options.clockSkewMs) {
    throw new S3Error("AccessDenied", "Request is not valid yet");
  }
  if (options.now > auth.timeMs + auth.expiresSeconds * 1000) {
    throw new S3Error("AccessDenied", "Request has expired");
  }
}

/** The part of a request that authentication reads. */
export interface IncomingRequest {
  /** HTTP method. */
  method: string;
  /** Parsed target. */
  target: RequestTarget;
  /** The client's headers. */
  headers: Headers;
}

const signatureMismatch = () =>
  new S3Error(
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
  );

async function secretOf(accessKey: string, options: AuthenticateOptions): Promise<string> {
  const secret = await options.secretFor(accessKey);
  if (secret === null) {
    throw new S3Error(
      "InvalidAccessKeyId",
      "The AWS access key Id you provided does not exist in our records.",
    );
  }
  return secret;
}

/**
 * SigV2: HMAC-SHA1 over the string to sign, compared in constant time with
 * each string the client may have signed (see `stringsToSignV2`).
 */
async function verifySigV2(
  request: IncomingRequest,
  auth: SigV2Authorization,
  options: AuthenticateOptions,
): Promise<void> {
  const secret = await secretOf(auth.accessKey, options);
  const candidates = stringsToSignV2({
    method: request.method,
    headers: request.headers,
    target: request.target,
    expires: auth.kind === "presigned" ? auth.expires : undefined,
  });
  let match = false;
  for (const toSign of candidates) {
    if (signaturesEqual(signV2(secret, toSign), auth.signature)) match = true;
  }
  if (!match) throw signatureMismatch();
}

/**
 * Authenticates a request: parses its credentials, checks time, signed
 * headers and the signature (constant time). Throws an S3Error otherwise.
 */
export async function authenticate(
  request: IncomingRequest,
  options: AuthenticateOptions,
): Promise<VerifiedRequest> {
  const { method, target, headers } = request;
  const auth = parseAuthorization(headers, target.params, { sigV2: options.sigV2 });
  if (options.skipSignatureValidation) {
    return { [verified]: true, method, target, headers, auth, token: auth.accessKey };
  }
  checkTime(auth, options);
  if (auth.version === 2) {
    await verifySigV2(request, auth, options);
    return { [verified]: true, method, target, headers, auth, token: auth.accessKey };
  }
  checkSignedHeaders(auth, headers);
  const secret = await secretOf(auth.accessKey, options);
  const params = auth.kind === "presigned"
    ? target.params.filter((p) => p.name !== "X-Amz-Signature")
    : target.params;
  const snapshot = headerSnapshot(headers);
  const canonical = {
    method,
    uri: canonicalUri(target.rawPath),
    query: canonicalQuery(params),
    header: (name: string) => name === "host" ? target.host : snapshot.get(name),
    signedHeaders: auth.signedHeaders,
    payloadHash: auth.payloadHash,
  };
  const signingKey = options.signingKeys.get(secret, auth.scope);
  const expected = signature(
    signingKey,
    stringToSignOf(canonical, { datetime: auth.datetime, scope: auth.scope }),
  );
  if (!signaturesEqual(expected, auth.signature)) throw signatureMismatch();
  return { [verified]: true, method, target, headers, auth, token: auth.accessKey, signingKey };
}

/**
 * The verified form of a request without credentials, which the route makes
 * only for a bucket that lets anonymous callers do the request's operation.
 * There is no signature to check; a literal `x-amz-content-sha256` is kept
 * (the backend checks it), anything else but UNSIGNED-PAYLOAD is refused.
 */
export function anonymousRequest(request: IncomingRequest): VerifiedRequest {
  const { method, target, headers } = request;
  const declared = headerSnapshot(headers).get("x-amz-content-sha256");
  const payload = declared === null ? { kind: "unsigned" as const } : parsePayloadMode(declared);
  if (payload.kind !== "sha256" && payload.kind !== "unsigned") {
    throw new S3Error("AccessDenied", "Anonymous requests cannot send aws-chunked bodies");
  }
  const payloadHash = payload.kind === "sha256" ? payload.hash : UNSIGNED_PAYLOAD;
  return {
    [verified]: true,
    method,
    target,
    headers,
    auth: { version: 0, kind: "anonymous", signedHeaders: [], payloadHash, payload },
    token: null,
  };
}

/** A browser form upload, its fields read: what {@linkcode authenticatePostPolicy} checks. */
export interface PostPolicyRequest {
  /** Where the form was posted (`POST /{bucket}`). */
  target: RequestTarget;
  /** The form fields before the file, by lower-case name. */
  fields: ReadonlyMap<string, string>;
  /** The file part's name (for `${filename}` in the key). */
  filename: string;
  /** The file's length in bytes. */
  fileLength: number;
}

/** The bucket a form is posted to (`POST /{bucket}`). */
function formBucket(target: RequestTarget): string {
  if (target.bucket === undefined || target.key !== undefined) {
    throw new S3Error("MethodNotAllowed", "Form uploads are posted to a bucket: POST /{bucket}");
  }
  return target.bucket;
}

/** The object key of a form, and its `bucket` field checked against the bucket posted to. */
function formObjectKey(request: PostPolicyRequest, bucket: string): string {
  const key = formKey(request.fields, request.filename);
  const named = request.fields.get("bucket");
  if (named !== undefined && named !== bucket) {
    // As S3 answers it (its policy's bucket condition fails on the bucket posted to).
    throw new S3Error(
      "AccessDenied",
      "Invalid according to Policy: the form's bucket field is not the bucket posted to",
    );
  }
  return key;
}

/** The target of the PUT a form amounts to: its key in the bucket posted to. */
function formTarget(target: RequestTarget, bucket: string, key: string): RequestTarget {
  const rawKey = uriEncode(key, { keepSlash: true });
  const rawPath = target.style === "virtual" ? `/${rawKey}` : `/${uriEncode(bucket)}/${rawKey}`;
  return { ...target, rawPath, rawQuery: "", params: [], rawKey, key };
}

/**
 * Authenticates a browser form upload: the signature over its base64 policy
 * (SigV4: the signing key from the client's secret and the form's credential
 * scope; SigV2: HMAC-SHA1 with the secret, unless `sigV2` is false), compared
 * in constant time, then the policy's expiration and every condition against
 * the form. The result is the request the form amounts to, a PUT of the file
 * to the form's key with the headers its fields name (`formHeaders`), so the
 * validator, the use cap and re-signing see it as any other PutObject.
 * Throws an S3Error otherwise.
 */
export async function authenticatePostPolicy(
  request: PostPolicyRequest,
  options: AuthenticateOptions,
): Promise<VerifiedRequest> {
  const { target, fields, fileLength } = request;
  const bucket = formBucket(target);
  const creds = parsePostCredentials(fields, { sigV2: options.sigV2 });
  const policyText = fields.get("policy");
  if (policyText === undefined) {
    throw new S3Error("InvalidArgument", "Bucket POST must contain a field named 'policy'.");
  }
  let signingKey: Uint8Array | undefined;
  if (!options.skipSignatureValidation) {
    const secret = await secretOf(creds.accessKey, options);
    // The string to sign of a POST policy is the base64 policy itself.
    let expected: string;
    if (creds.version === 2) {
      expected = signV2(secret, policyText);
    } else {
      signingKey = options.signingKeys.get(secret, creds.scope);
      expected = signature(signingKey, policyText);
    }
    if (!signaturesEqual(expected, creds.signature)) throw signatureMismatch();
  }
  if (creds.version === 4 && creds.timeMs - options.now > options.clockSkewMs) {
    throw new S3Error("AccessDenied", "Request is not valid yet");
  }
  const policy = parsePostPolicy(policyText);
  const key = formObjectKey(request, bucket);
  checkPostPolicy(policy, { fields, bucket, key, fileLength, now: options.now });
  const common = {
    kind: "post-policy" as const,
    signedHeaders: [],
    payloadHash: UNSIGNED_PAYLOAD,
    payload: { kind: "unsigned" as const },
    expirationMs: policy.expirationMs,
  };
  return {
    [verified]: true,
    method: "PUT",
    target: formTarget(target, bucket, key),
    headers: formHeaders(fields, fileLength),
    auth: { ...creds, ...common },
    token: creds.accessKey,
    signingKey,
  };
}

/**
 * The verified form of a browser form upload without credentials and
 * without policy, which the route makes only for a bucket that lets
 * anonymous callers PutObject (a public-write bucket, as S3 accepts such a
 * form): the PUT of the file to the form's key, with no token.
 */
export function anonymousPostRequest(request: PostPolicyRequest): VerifiedRequest {
  if (!isAnonymousForm(request.fields)) {
    throw new S3Error("AccessDenied", "The form carries credentials or a policy");
  }
  const bucket = formBucket(request.target);
  const key = formObjectKey(request, bucket);
  return {
    [verified]: true,
    method: "PUT",
    target: formTarget(request.target, bucket, key),
    headers: formHeaders(request.fields, request.fileLength),
    auth: {
      version: 0,
      kind: "anonymous",
      signedHeaders: [],
      payloadHash: UNSIGNED_PAYLOAD,
      payload: { kind: "unsigned" },
    },
    token: null,
  };
}
