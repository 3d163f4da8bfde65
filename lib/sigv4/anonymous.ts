/**
 * Unsigned requests, for buckets that let anonymous callers do some
 * operations (`anonymous: ["GetObject", …]`, a public bucket). A request is
 * anonymous when it carries no credentials at all; it may then carry no
 * `x-amz-*` header that changes what the backend does (ACLs, grants, copy
 * sources, encryption…): osp re-signs it with the bucket's own identity, or
 * (`anonymousAs: "anonymous"`) sends it unsigned, and either way the
 * validator was asked about its operation, bucket and key only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasNoCredentials } from "./anonymous.ts";
 * assert.equal(hasNoCredentials(new Headers(), []), true);
 * assert.equal(hasNoCredentials(new Headers({ authorization: "AWS4-HMAC-SHA256 Credential=a" }), []), false);
 * ```
 *
 * @module
 */
import { headerSnapshot } from "./header_snapshot.ts";
import { S3Error } from "../request/errors.ts";
import type { RawQueryParam } from "./sigv4.ts";

/** Query parameters that carry credentials (SigV4 and SigV2 presigned URLs). */
const CREDENTIAL_PARAMS = new Set([
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Signature",
  "AWSAccessKeyId",
  "Signature",
]);

/** True when the request carries no credentials of any kind. */
export function hasNoCredentials(headers: Headers, params: readonly RawQueryParam[]): boolean {
  if (headerSnapshot(headers).get("authorization") !== null) return false;
  for (let i = 0; i < params.length; i++) if (CREDENTIAL_PARAMS.has(params[i].name)) return false;
  return true;
}

/** `x-amz-*` headers an anonymous request may carry: none changes what the backend does. */
function harmless(name: string): boolean {
  return name === "x-amz-content-sha256" || name === "x-amz-date" ||
    name === "x-amz-user-agent" || name === "x-amz-sdk-checksum-algorithm" ||
    name.startsWith("x-amz-checksum-") || name.startsWith("x-amz-meta-");
}

/** Refuses an anonymous request carrying an `x-amz-*` header that is not harmless. */
export function checkAnonymousHeaders(headers: Headers): void {
  const refused: string[] = [];
  headers.forEach((_value, name) => {
    if (name.startsWith("x-amz-") && !harmless(name)) refused.push(name);
  });
  if (refused.length > 0) {
    throw new S3Error(
      "AccessDenied",
      `Anonymous requests may not carry ${refused.join(", ")}; sign the request`,
    );
  }
}

/** The operations a bucket may open to anonymous callers. */
export const ANONYMOUS_OPERATIONS: readonly string[] = [
  "GetObject",
  "HeadObject",
  "ListObjects",
  "ListObjectsV2",
  "ListObjectVersions",
  "HeadBucket",
  "GetBucketLocation",
  "GetObjectTagging",
  "PutObject",
];

/**
 * Operations a bucket may open to anonymous callers only when they reach the
 * backend unsigned (`anonymousAs: "anonymous"`), so that the backend's own
 * ACLs and policies bound them: never with the bucket's identity.
 */
export const UNSIGNED_ANONYMOUS_OPERATIONS: readonly string[] = ["DeleteObject"];
