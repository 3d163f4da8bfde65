/**
 * Stage 2, admit: the validator's decision (cached; answered synchronously
 * on a cache hit) and the presigned-URL use cap. Only {@linkcode admit} makes
 * an {@linkcode Admitted} request, and re-signing accepts nothing else, so
 * `deno check` proves that no request reaches a backend without the
 * validator's yes.
 *
 * @module
 */
import type { ResolvedBucket } from "../config/config.ts";
import { isUnknown, requiredApprovals, type S3Operation } from "../s3ops/operation.ts";
import type { VerifiedRequest } from "../sigv4/authenticate.ts";
import { presignedExpiresAt } from "../sigv4/parse_authorization.ts";
import { setsObjectTags } from "../s3ops/tagging.ts";
import { setsAcl } from "../s3ops/acl_headers.ts";
import type { PostUpload } from "../s3ops/post_object.ts";
import { type Pipeline, question, type RequestState } from "./context.ts";
import { S3Error } from "./errors.ts";
import type { BucketRoute, Routed, ServiceRoute } from "./route.ts";

const admitted: unique symbol = Symbol("admitted");

/** A bucket request the validator allowed, on a bucket osp knows. */
export interface Admitted {
  /** Brand: only {@linkcode admit} makes these. */
  readonly [admitted]: true;
  /** The authenticated request. */
  readonly verified: VerifiedRequest;
  /** The allowed operation. */
  readonly operation: S3Operation;
  /** The client's bucket name (what the validator saw). */
  readonly clientBucket: string;
  /** The decoded key the validator saw, if any. */
  readonly key?: string;
  /** The bucket's config: backend, credentials, options. */
  readonly bucket: ResolvedBucket;
  /** A verified browser form upload: its file is the body, its answer S3's answer to a form. */
  readonly form?: PostUpload;
}

/**
 * Asks the validator about a bucket request (a service request, ListBuckets,
 * is authorized bucket by bucket when it is listed) and counts a presigned
 * URL's use. Throws AccessDenied, NoSuchBucket or NotImplemented.
 */
export async function admit(
  pipeline: Pipeline,
  routed: Routed,
  state: RequestState,
): Promise<Admitted | ServiceRoute> {
  if (routed.kind === "service") return routed;
  // Both are synchronous in the common case (a cached decision, no presigned
  // URL): no promise is made for them then.
  const asking = requireValidatorYes(pipeline, routed, state);
  if (asking !== undefined) await asking;
  if (routed.bucket === undefined) {
    throw new S3Error("NoSuchBucket", "The specified bucket does not exist");
  }
  const counting = countPresignedUse(pipeline, routed.verified, state);
  if (counting !== undefined) await counting;
  const { verified, operation, clientBucket, key, bucket, form } = routed;
  return { [admitted]: true, verified, operation, clientBucket, key, bucket, form };
}

const accessDenied = () => new S3Error("AccessDenied", "Access Denied");

/**
 * Throws AccessDenied unless the validator allows every operation the
 * request needs; undefined when every decision was cached, else a promise.
 */
function requireValidatorYes(
  pipeline: Pipeline,
  routed: BucketRoute,
  state: RequestState,
): Promise<void> | undefined {
  const { config, authorizer } = pipeline;
  if (isUnknown(routed.operation) && config.validator === undefined) {
    throw new S3Error(
      "NotImplemented",
      "osp cannot name this request's S3 operation; without a validator it is refused",
    );
  }
  // Usually one operation; more where a backend may run a more powerful one or tags are set.
  const setsTags = setsObjectTags(routed.verified);
  const acl = setsAcl(routed.verified);
  const operations = requiredApprovals(routed.operation, { setsTags, setsAcl: acl });
  const decide = (i: number) =>
    authorizer.check(
      routed.verified.token,
      question(pipeline, routed.verified, {
        fields: { operation: operations[i], bucket: routed.clientBucket, key: routed.key },
        sourceIp: state.sourceIp,
      }),
      { ttlMs: routed.bucket?.ttlMs ?? 0 },
    );
  for (let i = 0; i < operations.length; i++) {
    const decision = decide(i);
    if (decision === false) throw accessDenied();
    if (decision !== true) {
      return awaitDecisions(decision, { from: i, decide, count: operations.length });
    }
  }
  return undefined;
}

/** The rest of requireValidatorYes once a decision has to be waited for. */
async function awaitDecisions(
  pending: Promise<boolean>,
  options: { from: number; decide: (i: number) => boolean | Promise<boolean>; count: number },
): Promise<void> {
  if (!await pending) throw accessDenied();
  for (let i = options.from + 1; i < options.count; i++) {
    if (!await options.decide(i)) throw accessDenied();
  }
}

/** Counts a presigned URL's (or a form policy's) use; undefined when there is nothing to count. */
function countPresignedUse(
  pipeline: Pipeline,
  verified: VerifiedRequest,
  state: RequestState,
): Promise<void> | undefined {
  const max = pipeline.config.maxPresignUrlUsageAttempts;
  const auth = verified.auth;
  if (max === 0 || (auth.kind !== "presigned" && auth.kind !== "post-policy")) return undefined;
  // A form's signature is over its policy: the cap counts uses of the policy.
  return pipeline.useCounter.increment(auth.signature, {
    expiresAt: auth.kind === "post-policy" ? auth.expirationMs : presignedExpiresAt(auth),
  }).then((uses) => {
    state.presigned = uses > max ? "rejected" : "hit";
    if (uses > max) throw new S3Error("AccessDenied", "presigned URL use limit reached");
  });
}
