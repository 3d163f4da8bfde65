/**
 * Bucket aliases: a client bucket whose backend name differs (`backendBucket`)
 * must never see the backend name. XML responses that name the bucket are
 * rewritten: `<Name>` (listings), `<Bucket>` and `<Location>` (multipart),
 * and `<BucketName>` and `<Resource>` (errors). These bodies are small.
 *
 * @module
 */
import { xmlEscape, xmlUnescape } from "../request/errors.ts";

/** Operations whose answers name the bucket. */
export const BUCKET_NAMING_OPERATIONS = new Set([
  "ListObjects",
  "ListObjectsV2",
  "ListObjectVersions",
  "CreateMultipartUpload",
  "CompleteMultipartUpload",
  "ListMultipartUploads",
  "ListParts",
]);

/** Answers larger than this are passed through unchanged. */
export const MAX_REWRITE_BYTES = 16 * 1024 * 1024;

/** Where the client and the backend see the bucket. */
export interface AliasNames {
  /** The client's bucket name. */
  clientBucket: string;
  /** The bucket's name on the backend. */
  backendBucket: string;
  /** The client-facing URL of the bucket, e.g. `https://proxy/eu-logs`. */
  clientBucketUrl: string;
}

function keyFromLocation(location: string, backendBucket: string): string | undefined {
  // `scheme://host/path`, or (RGW) `host/path` without a scheme.
  const m = /^(?:[a-z]+:\/\/)?([^/]+)(\/.*)?$/i.exec(location);
  if (m === null) return undefined;
  const path = m[2] ?? "/";
  const host = m[1].toLowerCase();
  if (host.startsWith(`${backendBucket.toLowerCase()}.`)) return path.slice(1);
  const prefix = `/${encodeURIComponent(backendBucket)}/`;
  if (path.startsWith(prefix)) return path.slice(prefix.length);
  if (path.startsWith(`/${backendBucket}/`)) return path.slice(backendBucket.length + 2);
  return undefined;
}

/** Rewrites the backend bucket name to the client's in an S3 XML answer. */
export function rewriteBucketNames(xml: string, names: AliasNames): string {
  const be = xmlEscape(names.backendBucket);
  const client = xmlEscape(names.clientBucket);
  return xml
    .replaceAll(`<Name>${be}</Name>`, `<Name>${client}</Name>`)
    .replaceAll(`<Bucket>${be}</Bucket>`, `<Bucket>${client}</Bucket>`)
    .replaceAll(`<BucketName>${be}</BucketName>`, `<BucketName>${client}</BucketName>`)
    .replace(
      /<Resource>\/([^/<]*)(\/[^<]*)?<\/Resource>/g,
      (all, bucket: string, rest = "") =>
        bucket === be ? `<Resource>/${client}${rest}</Resource>` : all,
    )
    .replace(/<Location>([^<]*)<\/Location>/g, (all, location: string) => {
      const key = keyFromLocation(xmlUnescape(location), names.backendBucket);
      return key === undefined
        ? all
        : `<Location>${xmlEscape(`${names.clientBucketUrl}/${key}`)}</Location>`;
    });
}
