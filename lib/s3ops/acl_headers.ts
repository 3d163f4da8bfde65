/**
 * The canned-ACL and grant headers an upload or CreateBucket may carry to
 * set the new object's or bucket's ACL, and whether a request carries one:
 * such a request also needs the validator's `PutObjectAcl` (`PutBucketAcl`
 * for CreateBucket), as AWS requires `s3:PutObjectAcl` for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setsAcl } from "./acl_headers.ts";
 * const target = { params: [] };
 * assert.equal(setsAcl({ headers: new Headers({ "x-amz-acl": "public-read" }), target }), true);
 * assert.equal(setsAcl({ headers: new Headers(), target }), false);
 * ```
 *
 * @module
 */
import type { RawQueryParam } from "../sigv4/sigv4.ts";

/** `x-amz-acl` and the `x-amz-grant-*` headers, lower case. */
export const ACL_HEADERS: ReadonlySet<string> = new Set([
  "x-amz-acl",
  "x-amz-grant-full-control",
  "x-amz-grant-read",
  "x-amz-grant-read-acp",
  "x-amz-grant-write",
  "x-amz-grant-write-acp",
]);

/**
 * True when a request sets an ACL: one of {@linkcode ACL_HEADERS} as a
 * header, or hoisted into a presigned URL's query (S3 reads it as the
 * header), or a form's `acl` field (which osp turns into `x-amz-acl`).
 */
export function setsAcl(
  request: { headers: Headers; target: { params: readonly RawQueryParam[] } },
): boolean {
  for (const name of ACL_HEADERS) if (request.headers.has(name)) return true;
  return request.target.params.some((p) => ACL_HEADERS.has(p.name.toLowerCase()));
}
