/**
 * Stage 3, prepare: the backend credentials, the body plan, and the one
 * dispatch on the operation into `lib/s3ops/` for the operations osp takes
 * part in. The result is an {@linkcode Outbound} request for `forward`, or a
 * finished answer osp gives alone (ListBuckets, a DeleteObjects whose keys
 * were all refused).
 *
 * @module
 */
import type { AbortLike } from "../_abort.ts";
import { headerSnapshot } from "../sigv4/header_snapshot.ts";
import { type BodyPlan, planBody } from "../body/payload.ts";
import { addsContentMd5, withContentMd5 } from "../s3ops/content_md5.ts";
import { copySourceFor } from "../s3ops/copy_source.ts";
import { type DeleteEntry, planDeletes } from "../s3ops/delete_objects.ts";
import { listBuckets } from "../s3ops/list_buckets.ts";
import { postPlan } from "../s3ops/post_object.ts";
import type { BackendCredentials } from "../upstream/credentials.ts";
import type { Admitted } from "./admit.ts";
import type { Pipeline, RequestState } from "./context.ts";
import { S3Error } from "./errors.ts";
import type { ServiceRoute } from "./route.ts";

/** A request ready to be re-signed and sent: what `forward` accepts. */
export interface Outbound {
  /** The admitted request it was built from. */
  readonly admitted: Admitted;
  /** The backend identity. */
  readonly creds: BackendCredentials;
  /** How the body travels. */
  readonly plan: BodyPlan;
  /** The client's body stream (a plan may replace it). */
  readonly body: ReadableStream<Uint8Array> | null;
  /** The `x-amz-copy-source` to send, for copies. */
  readonly copySource?: string;
  /** DeleteObjects keys the validator refused (merged into the answer by `present`). */
  readonly deniedDeletes: readonly DeleteEntry[];
}

/** What `prepare` needs besides the admitted request. */
export interface PrepareOptions {
  /** The client's request body. */
  body: ReadableStream<Uint8Array> | null;
  /** The request's state. */
  state: RequestState;
  /** Aborts when the client goes away. */
  signal?: AbortLike;
}

/** Prepares an admitted request for its backend, or answers it. */
export async function prepare(
  pipeline: Pipeline,
  admission: Admitted | ServiceRoute,
  options: PrepareOptions,
): Promise<Outbound | Response> {
  const sourceIp = options.state.sourceIp;
  switch (admission.operation) {
    case "ListBuckets":
      return await listBuckets(pipeline, admission.verified, { sourceIp, signal: options.signal });
    case "DeleteObjects": {
      const outbound = await start(pipeline, admission, options);
      if (pipeline.config.validator === undefined) return await finish(outbound);
      const deletes = await planDeletes(pipeline, outbound.admitted, { ...outbound, sourceIp });
      if (deletes.answer !== undefined) {
        return new Response(deletes.answer, {
          headers: { "content-type": "application/xml", ...pipeline.serverHeaders },
        });
      }
      return { ...outbound, plan: deletes.plan, deniedDeletes: deletes.denied };
    }
    case "CopyObject":
    case "UploadPartCopy": {
      const outbound = await start(pipeline, admission, options);
      const creds = outbound.creds;
      const copySource = await copySourceFor(pipeline, outbound.admitted, { creds, sourceIp });
      return await finish({ ...outbound, copySource });
    }
    default: {
      const outbound = await start(pipeline, admission, options);
      if (headerSnapshot(outbound.admitted.verified.headers).get("x-amz-copy-source") !== null) {
        throw new S3Error(
          "InvalidRequest",
          `x-amz-copy-source is not valid on ${admission.operation}`,
        );
      }
      return await finish(outbound);
    }
  }
}

/** Credentials and the body plan of a bucket request; service requests stop here. */
async function start(
  pipeline: Pipeline,
  admission: Admitted | ServiceRoute,
  options: PrepareOptions,
): Promise<Outbound> {
  if ("kind" in admission) {
    throw new S3Error(
      "MethodNotAllowed",
      "The specified method is not allowed against this resource.",
    );
  }
  const creds = await pipeline.credentials.backendFor(admission.verified.token, admission.bucket);
  const form = admission.form;
  if (form !== undefined) {
    return {
      admitted: admission,
      creds,
      plan: await postPlan(form),
      body: null,
      deniedDeletes: [],
    };
  }
  const plan = planBody(admission.verified, admission.bucket, { bearer: creds.kind !== "hmac" });
  return { admitted: admission, creds, plan, body: options.body, deniedDeletes: [] };
}

/**
 * The last touch for every bucket request: a Content-MD5 where the bucket
 * adds one (a promise then; the request as it is otherwise, without one).
 */
function finish(outbound: Outbound): Outbound | Promise<Outbound> {
  if (!addsContentMd5(outbound.admitted, outbound.plan)) return outbound;
  return withContentMd5(outbound.admitted, outbound).then((plan) => ({ ...outbound, plan }));
}
