/**
 * Every SigV4 (and SigV2) wire string osp reads or writes, in one place: the
 * algorithm names, the payload-hash values, the aws-chunked payload modes and
 * the presigned-URL query parameters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHUNKED_MODE_VALUE, chunkedModeOf } from "./constants.ts";
 * assert.equal(chunkedModeOf(CHUNKED_MODE_VALUE["streaming-signed"]), "streaming-signed");
 * assert.equal(chunkedModeOf("UNSIGNED-PAYLOAD"), undefined);
 * ```
 *
 * @module
 */

/** The algorithm name of header and query SigV4. */
export const ALGORITHM = "AWS4-HMAC-SHA256";
/** The algorithm of an aws-chunked chunk signature. */
export const CHUNK_ALGORITHM = `${ALGORITHM}-PAYLOAD`;
/** The algorithm of an aws-chunked trailer signature. */
export const TRAILER_ALGORITHM = `${ALGORITHM}-TRAILER`;
/** The trailer line that carries an aws-chunked trailer's signature. */
export const TRAILER_SIGNATURE = "x-amz-trailer-signature";
/** The payload hash of a request whose body is not signed. */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
/** SHA-256 of the empty string, hex. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** The three aws-chunked payload modes of `x-amz-content-sha256`. */
export type ChunkedMode =
  | "streaming-signed"
  | "streaming-signed-trailer"
  | "streaming-unsigned-trailer";

/** The `x-amz-content-sha256` value of each aws-chunked mode. */
export const CHUNKED_MODE_VALUE: Readonly<Record<ChunkedMode, string>> = {
  "streaming-signed": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
  "streaming-signed-trailer": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
  "streaming-unsigned-trailer": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
};

const MODE_OF_VALUE = new Map(
  Object.entries(CHUNKED_MODE_VALUE).map(([mode, value]) => [value, mode as ChunkedMode]),
);

/** The aws-chunked mode an `x-amz-content-sha256` value names, if any. */
export function chunkedModeOf(value: string): ChunkedMode | undefined {
  return MODE_OF_VALUE.get(value);
}

/** True for a payload mode that is one of the aws-chunked modes. */
export function isChunkedMode(kind: string): kind is ChunkedMode {
  return kind in CHUNKED_MODE_VALUE;
}

/** The query parameters of a presigned URL, which never go to a backend. */
export const PRESIGN_PARAMS: readonly string[] = [
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Signature",
  "X-Amz-Security-Token",
];

/** The scheme of a SigV2 `Authorization` header: `AWS <access key>:<base64 signature>`. */
export const SIGV2_SCHEME = "AWS ";

/**
 * The query parameters of a SigV2 presigned URL that never go to a backend
 * nor the validator: its credentials, and the headers botocore hoists into
 * the query beside them (`content-type` and `content-md5`, which it signs in
 * their header positions, so the request must send them as headers too, and
 * `x-amz-security-token`).
 */
export const SIGV2_PRESIGN_PARAMS: readonly string[] = [
  "AWSAccessKeyId",
  "Expires",
  "Signature",
  "content-type",
  "content-md5",
  "x-amz-security-token",
];
