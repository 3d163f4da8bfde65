/**
 * `addContentMd5` (per bucket): backends such as MinIO require a Content-MD5
 * on DeleteObjects and the Put*Configuration documents, which some clients
 * leave out. osp reads the small body (at most 1 MiB), checks what the client
 * did declare, and sends it with its MD5.
 *
 * @module
 */
import { headerSnapshot } from "../sigv4/header_snapshot.ts";
import { type BodyPlan, readBufferedBody, withBufferedBody } from "../body/payload.ts";
import type { Admitted } from "../request/admit.ts";
import { takesContentMd5 } from "./operation.ts";

/** Bodies buffered to add a Content-MD5 are at most this large. */
export const MAX_MD5_BODY = 1024 * 1024;

/** True when osp adds a Content-MD5 to this request's body. */
export function addsContentMd5(admitted: Admitted, plan: BodyPlan): boolean {
  return admitted.bucket.addContentMd5 && takesContentMd5(admitted.operation) &&
    headerSnapshot(admitted.verified.headers).get("content-md5") === null && !plan.transformed;
}

/** The plan with the body read whole and its Content-MD5 added. */
export async function withContentMd5(
  admitted: Admitted,
  options: { plan: BodyPlan; body: ReadableStream<Uint8Array> | null },
): Promise<BodyPlan> {
  const bytes = await readBufferedBody(admitted.verified, options.body, { limit: MAX_MD5_BODY });
  return withBufferedBody(options.plan, bytes);
}
