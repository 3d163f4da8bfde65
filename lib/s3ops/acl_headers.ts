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
import { headerSnapshot } from "../sigv4/header_snapshot.ts";
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
  const headers = headerSnapshot(request.headers).list;
  for (let i = 0; i < headers.length; i++) if (ACL_HEADERS.has(headers[i][0])) return true;
  const params = request.target.params;
  for (let i = 0; i < params.length; i++) {
    if (ACL_HEADERS.has(params[i].name.toLowerCase())) return true;
  }
  return false;
}
