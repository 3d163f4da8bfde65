/**
 * Stage 4, forward: re-sign an {@linkcode Outbound} request with the
 * backend identity and send it. An IBM COS API-key bucket sends a bearer
 * token instead, and retries once with a fresh token when an expired one is
 * refused and the request can safely be sent again; an anonymous request on
 * a bucket with `anonymousAs: "anonymous"` goes unsigned.
 *
 * @module
 */
import { buildUpstreamRequest, type UpstreamIdentity } from "../upstream/resign.ts";
import { UNSIGNED } from "../upstream/upstream_request.ts";
import type { Pipeline, RequestState } from "./context.ts";
import type { Outbound } from "./prepare.ts";

/** Signs and sends `outbound`; resolves with the backend's answer. */
export async function forward(
  pipeline: Pipeline,
  outbound: Outbound,
  options: { state: RequestState; signal?: AbortSignal },
): Promise<Response> {
  const { creds } = outbound;
  if (creds.kind === "anonymous") {
    return await send(pipeline, outbound, { ...options, creds: UNSIGNED });
  }
  if (creds.kind !== "apiKey") return await send(pipeline, outbound, { ...options, creds });
  const { iam } = pipeline;
  const token = await iam.tokenFor(creds.apiKey);
  const response = await send(pipeline, outbound, { ...options, creds: { bearer: token } });
  if (!retryable(outbound, response)) return response;
  await response.body?.cancel();
  iam.evict(creds.apiKey, token);
  const fresh = { bearer: await iam.tokenFor(creds.apiKey) };
  return await send(pipeline, outbound, { ...options, creds: fresh });
}

/**
 * An expired or revoked token is refused with 401 or 403; a bodiless GET,
 * HEAD or DELETE can be sent again (a DeleteObjects with refused keys is
 * not, as its answer is merged).
 */
function retryable(outbound: Outbound, response: Response): boolean {
  return (response.status === 401 || response.status === 403) &&
    outbound.deniedDeletes.length === 0 && outbound.plan.contentLength === 0 &&
    ["GET", "HEAD", "DELETE"].includes(outbound.admitted.verified.method);
}

async function send(
  pipeline: Pipeline,
  outbound: Outbound,
  options: { creds: UpstreamIdentity; state: RequestState; signal?: AbortSignal },
): Promise<Response> {
  const { config, transport } = pipeline;
  const { plan } = outbound;
  const upstream = buildUpstreamRequest(outbound.admitted, {
    credentials: options.creds,
    now: config.clock(),
    signingKeys: pipeline.signingKeys,
    copySource: outbound.copySource,
    payloadHash: plan.payloadHash,
    headerEdits: plan.headerEdits,
  });
  const sent = performance.now();
  const response = await transport.send(upstream, {
    body: plan.body(outbound.body, upstream),
    contentLength: plan.contentLength,
    transformedBody: plan.transformed,
    signal: options.signal,
    verify: config.verify,
    headerTimeoutMs: config.upstreamTimeoutMs,
    idleTimeoutMs: config.bodyIdleTimeoutMs,
    requestId: options.state.id,
  });
  options.state.upstreamMs = performance.now() - sent;
  return response;
}
