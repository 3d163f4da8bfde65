/**
 * Stage 5, present: what the client sees of the backend's answer. A
 * DeleteObjects result gains an AccessDenied entry per refused key, an alias
 * never shows the backend's bucket name, and a bucket's CORS rules read from
 * the backend are dropped once a PutBucketCors or DeleteBucketCors passed.
 *
 * @module
 */
import { BUCKET_NAMING_OPERATIONS, MAX_REWRITE_BYTES, rewriteBucketNames } from "../s3ops/alias.ts";
import { mergeDeleteResult } from "../s3ops/delete_objects.ts";
import { uriEncode } from "../sigv4/sigv4.ts";
import type { Outbound } from "./prepare.ts";
import type { Pipeline } from "./context.ts";
import { changesCors } from "../s3ops/operation.ts";
import { postResponse } from "../s3ops/post_object.ts";
import { decimalLength } from "../_decimal.ts";

/** The answer to send the client for `outbound`'s backend `response`. */
export async function present(
  pipeline: Pipeline,
  outbound: Outbound,
  response: Response,
  options: { url: string },
): Promise<Response> {
  const { bucket, operation, form, clientBucket, key, verified } = outbound.admitted;
  if (form !== undefined && response.ok) {
    return await postResponse(form, response, {
      bucket: clientBucket,
      key: key!,
      target: verified.target,
      url: options.url,
    });
  }
  if (changesCors(operation) && response.ok) pipeline.cors.forget(bucket);
  const merged = await withDeniedDeletes(outbound, response);
  return await withClientBucketName(outbound, merged, options);
}

async function withDeniedDeletes(outbound: Outbound, response: Response): Promise<Response> {
  if (outbound.deniedDeletes.length === 0 || !response.ok) return response;
  const merged = mergeDeleteResult(await response.text(), outbound.deniedDeletes);
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return new Response(merged, { status: response.status, headers });
}

async function withClientBucketName(
  outbound: Outbound,
  response: Response,
  options: { url: string },
): Promise<Response> {
  const { bucket, operation, verified } = outbound.admitted;
  if (
    bucket.backendBucket === bucket.name || verified.method === "HEAD" ||
    !(BUCKET_NAMING_OPERATIONS.has(operation) || response.status >= 400) ||
    !/xml/.test(response.headers.get("content-type") ?? "") ||
    (decimalLength(response.headers.get("content-length")) ?? 0) > MAX_REWRITE_BYTES
  ) {
    return response;
  }
  const target = verified.target;
  const scheme = options.url.slice(0, options.url.indexOf(":"));
  const xml = rewriteBucketNames(await response.text(), {
    clientBucket: bucket.name,
    backendBucket: bucket.backendBucket,
    clientBucketUrl: target.style === "virtual"
      ? `${scheme}://${target.host}`
      : `${scheme}://${target.host}/${uriEncode(bucket.name)}`,
  });
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return new Response(xml, { status: response.status, statusText: response.statusText, headers });
}
