/**
 * Parses `x-amz-copy-source` (CopyObject, UploadPartCopy): the second bucket a
 * request names, which must be authorized like a read. It is parsed the way
 * S3 and RGW read it (split at the first `?` before decoding, then at the
 * first `/` after), and forwarded in the client's own form: a backend may
 * match policy conditions (`s3:x-amz-copy-source`) against the raw value, so
 * only the bucket is replaced, and only when an alias names another backend
 * bucket.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatCopySource, parseCopySource } from "./copy_source.ts";
 * const source = parseCopySource("photos/2024/a%20b.jpg");
 * assert.equal(source.key, "2024/a b.jpg");
 * assert.equal(formatCopySource(source, { backendBucket: "photos" }), "photos/2024/a%20b.jpg");
 * assert.equal(formatCopySource(source, { backendBucket: "be-photos" }), "be-photos/2024/a%20b.jpg");
 * ```
 *
 * @module
 */
import type { Admitted } from "../request/admit.ts";
import { bucketFor, type Pipeline, question } from "../request/context.ts";
import { S3Error } from "../request/errors.ts";
import { checkKeyPath } from "../request/key_path.ts";
import { type BackendCredentials, sameCredentials } from "../upstream/credentials.ts";
import { percentDecode, percentEncodeHighBytes, uriEncode } from "../sigv4/sigv4.ts";

/** A parsed copy source. */
export interface CopySource {
  /** Decoded source bucket. */
  bucket: string;
  /** Decoded source key. */
  key: string;
  /** Raw (still encoded) source key, as the client sent it. */
  rawKey: string;
  /** The raw query suffix (e.g. `?versionId=…`), or "". */
  rawSuffix: string;
  /** The whole value as the client sent it. */
  raw: string;
  /** `/` when the client began the value with one, else "". */
  rawPrefix: string;
  /** What separated bucket and key on the wire: `/`, or `%2F` for a value encoded whole. */
  rawSeparator: string;
}

/**
 * Parses `/bucket/key?versionId=…` (leading slash optional, URL-encoded). The
 * value is a header's byte string: raw UTF-8 bytes in it decode as UTF-8, as
 * the backend decodes them.
 */
export function parseCopySource(value: string): CopySource {
  const q = value.indexOf("?");
  const rawPath = q < 0 ? value : value.slice(0, q);
  const rawSuffix = q < 0 ? "" : value.slice(q);
  if (rawSuffix !== "" && !/^\?versionId=[^&]+$/.test(rawSuffix)) {
    throw new S3Error(
      "InvalidArgument",
      "x-amz-copy-source may only carry a non-empty versionId query",
    );
  }
  const rawPrefix = rawPath.startsWith("/") ? "/" : "";
  const trimmed = rawPath.slice(rawPrefix.length);
  // The first `/` separates bucket and key; a client that encoded the whole
  // value has `%2F` there instead.
  let slash = trimmed.indexOf("/");
  let sep = 1;
  if (slash < 0) {
    slash = trimmed.search(/%2F/i);
    sep = 3;
  }
  if (slash <= 0 || slash + sep >= trimmed.length) {
    throw new S3Error("InvalidArgument", "x-amz-copy-source must be /<bucket>/<key>");
  }
  const rawKey = trimmed.slice(slash + sep);
  return {
    bucket: percentDecode(percentEncodeHighBytes(trimmed.slice(0, slash))),
    key: percentDecode(percentEncodeHighBytes(rawKey)),
    rawKey,
    rawSuffix,
    raw: value,
    rawPrefix,
    rawSeparator: trimmed.slice(slash, slash + sep),
  };
}

/**
 * The copy source as the backend should see it: the client's value, with the
 * backend's bucket name in place of the client's when they differ.
 */
export function formatCopySource(
  source: CopySource,
  options: { backendBucket: string },
): string {
  if (options.backendBucket === source.bucket) return source.raw;
  return `${source.rawPrefix}${
    uriEncode(options.backendBucket)
  }${source.rawSeparator}${source.rawKey}${source.rawSuffix}`;
}

/**
 * The `x-amz-copy-source` to forward for an admitted CopyObject or
 * UploadPartCopy: the source bucket is resolved like any bucket (a name that
 * is not a cosMap key must be valid), authorized as `GetObject` on the source
 * key, and must share the destination's backend and identity (else 501).
 */
export async function copySourceFor(
  pipeline: Pipeline,
  admitted: Admitted,
  options: { creds: BackendCredentials; sourceIp: () => string },
): Promise<string> {
  const { verified, bucket } = admitted;
  const source = parseCopySource(verified.headers.get("x-amz-copy-source")!);
  const sourceBucket = bucketFor(pipeline, source.bucket);
  if (sourceBucket === undefined) {
    throw new S3Error("AccessDenied", "Access Denied to the copy source bucket");
  }
  if (sourceBucket.strictKeyPaths) checkKeyPath(source.key);
  await pipeline.authorizer.require(
    verified.token,
    question(pipeline, verified, {
      fields: { operation: "GetObject", bucket: source.bucket, key: source.key },
      sourceIp: options.sourceIp,
    }),
    { ttlMs: sourceBucket.ttlMs },
  );
  const sourceCreds = await pipeline.credentials.backendFor(verified.token, sourceBucket);
  if (sourceBucket.origin !== bucket.origin || !sameCredentials(sourceCreds, options.creds)) {
    throw new S3Error(
      "NotImplemented",
      `Copying from ${source.bucket} to ${bucket.name} is not supported: they are on different backends or use different backend credentials`,
    );
  }
  return formatCopySource(source, { backendBucket: sourceBucket.backendBucket });
}
