/**
 * Builds the backend request from a verified client request: backend URL in
 * the bucket's addressing style, forwarded headers, and a fresh SigV4
 * signature with the backend's credentials (or a bearer token, or, for the
 * backend's own anonymous caller, no authorization at all).
 *
 * @module
 */
import { headerSnapshot } from "../sigv4/header_snapshot.ts";
import type { Admitted } from "../request/admit.ts";
import { hoistedHeaders, isPresignParam } from "../sigv4/parse_authorization.ts";
import { parseChecksumHeaderName } from "../body/checksums.ts";
import { isDroppedHeader } from "../request/client_headers.ts";
import {
  amzDate,
  authorizationHeader,
  canonicalQuery,
  canonicalUri,
  signature,
  type SigningKeyCache,
  stringToSignOf,
  UNSIGNED_PAYLOAD,
  uriEncode,
} from "../sigv4/sigv4.ts";
import {
  backendHost,
  backendOrigin,
  bucketHostName,
  HeaderList,
  HOP_BY_HOP,
  type UpstreamIdentity,
  type UpstreamRequest,
  upstreamRequest,
  withBearer,
} from "./upstream_request.ts";

export type { UpstreamIdentity, UpstreamRequest };

// Request headers osp replaces or must not forward.
const DROPPED_REQUEST_HEADERS = new Set([
  "authorization",
  "host",
  "expect",
  "content-length",
  "accept-encoding",
  "x-amz-security-token",
  "x-amz-date",
  "x-amz-content-sha256",
]);

/** Options for {@linkcode buildUpstreamRequest}. */
export interface BuildUpstreamOptions {
  /** Backend credentials: an HMAC pair (SigV4), an IBM IAM bearer token, or `UNSIGNED`. */
  credentials: UpstreamIdentity;
  /** Now, in epoch ms. */
  now: number;
  /** Signing keys, cached per secret and day. */
  signingKeys: SigningKeyCache;
  /** A rewritten `x-amz-copy-source`, when the request has one. */
  copySource?: string;
  /** The payload hash to sign with; default: the client's literal hash, else `UNSIGNED-PAYLOAD`. */
  payloadHash?: string;
  /** Header changes for a body osp transforms: a value sets, null removes. */
  headerEdits?: Record<string, string | null>;
}

/** A Connection header that names no other header: nothing more to drop. */
const KEEP_OR_CLOSE = /^\s*(?:keep-alive|close)\s*$/i;

/** True for `x-amz-checksum-<alg>` (any case). */
function isChecksumName(name: string): boolean {
  return parseChecksumHeaderName(name) !== undefined;
}

/** Trims HTTP whitespace, as `Headers` does with every value it stores. */
function httpTrim(value: string): string {
  return value.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");
}

/**
 * Builds and signs the backend request. Accepts only an admitted request (the
 * validator said yes to exactly its operation, bucket and key): the client's
 * credentials, presign parameters, hop-by-hop headers and `_` header twins
 * are removed, checksums hoisted into a presigned URL's query become
 * headers, and the backend URL comes from the bucket's config.
 */
export function buildUpstreamRequest(
  admitted: Admitted,
  options: BuildUpstreamOptions,
): UpstreamRequest {
  const { credentials } = options;
  const { bucket, verified: request } = admitted;
  const { target, auth } = request;
  const rawKey = target.rawKey;
  const virtual = bucket.addressingStyle === "virtual";
  const hostName = virtual ? bucketHostName(bucket) : bucket.host;
  const rawPath = virtual
    ? `/${rawKey ?? ""}`
    : `/${uriEncode(bucket.backendBucket)}${rawKey === undefined ? "" : `/${rawKey}`}`;
  // The path goes out in canonical encoding, so what is signed is what is sent.
  const path = canonicalUri(rawPath);
  // Checksums hoisted into a presigned URL's query go out as headers, the form every backend checks.
  const query = canonicalQuery(
    target.params.filter((p) => !isPresignParam(p.name, auth) && !isChecksumName(p.name)),
  );

  const headers = new HeaderList();
  const client = headerSnapshot(request.headers);
  const connection = client.get("connection");
  const connectionTokens = connection === null || KEEP_OR_CLOSE.test(connection)
    ? undefined
    : new Set(connection.toLowerCase().split(",").map((s) => s.trim()));
  const list = client.list;
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0];
    if (
      HOP_BY_HOP.has(name) || DROPPED_REQUEST_HEADERS.has(name) || connectionTokens?.has(name) ||
      isDroppedHeader(name)
    ) {
      continue;
    }
    headers.adopt(list[i]);
  }
  const hoisted = hoistedHeaders(target.params, auth);
  for (let i = 0; i < hoisted.length; i++) {
    const [name, value] = hoisted[i];
    if (isChecksumName(name)) headers.set(name, httpTrim(value));
  }
  if (options.copySource !== undefined) headers.set("x-amz-copy-source", options.copySource);
  const edits = options.headerEdits;
  if (edits !== undefined) {
    for (const name in edits) {
      const value = edits[name];
      if (value === null) headers.delete(name.toLowerCase());
      else headers.set(name.toLowerCase(), httpTrim(value));
    }
  }
  const payloadHash = options.payloadHash ??
    (auth.payload.kind === "sha256" ? auth.payload.hash : UNSIGNED_PAYLOAD);
  headers.set("host", backendHost(hostName, bucket));
  headers.set("accept-encoding", "identity");
  const base = {
    method: request.method,
    origin: backendOrigin(hostName, bucket),
    pathAndQuery: query === "" ? path : `${path}?${query}`,
  };
  if ("unsigned" in credentials) {
    // The backend's anonymous caller: no signature nor date; a literal payload hash it may check.
    if (payloadHash !== UNSIGNED_PAYLOAD) headers.set("x-amz-content-sha256", payloadHash);
    return upstreamRequest(base, headers);
  }
  const datetime = amzDate(options.now);
  headers.set("x-amz-date", datetime);
  headers.set("x-amz-content-sha256", payloadHash);
  if ("bearer" in credentials) {
    return withBearer(base, headers, { bearer: credentials.bearer, bucket });
  }
  const signedHeaders: string[] = [];
  const entries = headers.entries;
  for (let i = 0; i < entries.length; i++) {
    const n = entries[i][0];
    if (n === "host" || n === "content-md5" || n.startsWith("x-amz-")) signedHeaders.push(n);
  }
  signedHeaders.sort();
  const scope = { date: datetime.slice(0, 8), region: bucket.region, service: "s3" };
  const canonical = {
    method: request.method,
    uri: path,
    query,
    header: (n: string) => headers.get(n) ?? null,
    signedHeaders,
    payloadHash,
  };
  const key = options.signingKeys.get(credentials.secretKey, scope);
  const seedSignature = signature(key, stringToSignOf(canonical, { datetime, scope }));
  headers.set(
    "authorization",
    authorizationHeader(credentials.accessKey, { scope, signedHeaders, signature: seedSignature }),
  );
  return upstreamRequest(
    { ...base, signing: { signingKey: key, datetime, scope, seedSignature } },
    headers,
  );
}
