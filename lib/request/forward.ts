/**
 * Stage 4, forward: re-sign an {@linkcode Outbound} request with the
 * backend identity and send it. An IBM COS API-key bucket sends a bearer
 * token instead, and retries once with a fresh token when an expired one is
 * refused and the request can safely be sent again; an anonymous request on
 * a bucket with `anonymousAs: "anonymous"` goes unsigned.
 *
 * @module
 */
import type { AbortLike } from "../_abort.ts";
import { buildUpstreamRequest, type UpstreamIdentity } from "../upstream/resign.ts";
import { UNSIGNED } from "../upstream/upstream_request.ts";
import type { Pipeline, RequestState } from "./context.ts";
import type { Outbound } from "./prepare.ts";

/** Signs and sends `outbound`; resolves with the backend's answer. */
export function forward(
  pipeline: Pipeline,
  outbound: Outbound,
  options: { state: RequestState; signal?: AbortLike },
): Promise<Response> {
  const { creds } = outbound;
  // (No async function for the common case: one promise less per request.)
  if (creds.kind === "anonymous") {
    return send(pipeline, outbound, {
      creds: UNSIGNED,
      state: options.state,
      signal: options.signal,
    });
  }
  if (creds.kind !== "apiKey") {
    return send(pipeline, outbound, { creds, state: options.state, signal: options.signal });
  }
  return forwardWithApiKey(pipeline, outbound, { ...options, apiKey: creds.apiKey });
}

/** An IBM COS API-key bucket: a bearer token, and one retry with a fresh one. */
async function forwardWithApiKey(
  pipeline: Pipeline,
  outbound: Outbound,
  options: { state: RequestState; signal?: AbortLike; apiKey: string },
): Promise<Response> {
  const { iam } = pipeline;
  const { apiKey, state, signal } = options;
  const token = await iam.tokenFor(apiKey);
  const response = await send(pipeline, outbound, { creds: { bearer: token }, state, signal });
  if (!retryable(outbound, response)) return response;
  await response.body?.cancel();
  iam.evict(apiKey, token);
  const fresh = { bearer: await iam.tokenFor(apiKey) };
  return await send(pipeline, outbound, { creds: fresh, state, signal });
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
  options: { creds: UpstreamIdentity; state: RequestState; signal?: AbortLike },
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
