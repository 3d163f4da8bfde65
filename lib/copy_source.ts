/**
 * Parses `x-amz-copy-source` (CopyObject, UploadPartCopy): the second bucket a
 * request names, which must be authorized like a read.
 *
 * @module
 */
import { S3Error } from "./errors.ts";
import { percentDecode, uriEncode } from "./sigv4.ts";

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
}

/** Parses `/bucket/key?versionId=…` (leading slash optional, URL-encoded). */
export function parseCopySource(value: string): CopySource {
  const q = value.indexOf("?");
  const rawPath = q < 0 ? value : value.slice(0, q);
  const rawSuffix = q < 0 ? "" : value.slice(q);
  if (rawSuffix !== "" && !/^\?versionId=[^&]*$/.test(rawSuffix)) {
    throw new S3Error("InvalidArgument", "x-amz-copy-source may only carry a versionId query");
  }
  const trimmed = rawPath.startsWith("/") ? rawPath.slice(1) : rawPath;
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
  const rawBucket = trimmed.slice(0, slash);
  const rawKey = trimmed.slice(slash + sep);
  return { bucket: percentDecode(rawBucket), key: percentDecode(rawKey), rawKey, rawSuffix };
}

/** The copy source as the backend should see it: backend bucket, key encoded once. */
export function formatCopySource(
  source: CopySource,
  options: { backendBucket: string },
): string {
  return `/${uriEncode(options.backendBucket)}/${
    uriEncode(source.key, { keepSlash: true })
  }${source.rawSuffix}`;
}
