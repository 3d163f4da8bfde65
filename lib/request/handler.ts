/**
 * The request pipeline, as a sequence of stages inside one exchange:
 *
 * 1. {@linkcode route}: authenticate, name the operation, find the bucket;
 * 2. `admit`: the validator's yes and the presigned-URL cap;
 * 3. `prepare`: backend credentials, the body plan, the s3ops;
 * 4. `forward`: re-sign and send;
 * 5. `present`: what the client sees of the answer
 *
 * (2–5 are {@linkcode afterRoute}). A CORS preflight (`OPTIONS`) is answered
 * before them, from the bucket's CORS rules alone; an anonymous `GET` or
 * `HEAD` on a bucket with a static website is answered by
 * {@linkcode serveWebsite}, which runs the stages on each backend operation
 * it makes. Each stage throws an `S3Error` to refuse; {@linkcode exchange}
 * renders it, and logs and counts every request.
 *
 * @module
 */
import { IdleWatch } from "../body/idle_watch.ts";
import { afterRoute } from "./after_route.ts";
import { createPipeline, type HandlerDeps } from "./context.ts";
import { type ConnInfo, exchange, type Stages } from "./exchange.ts";
import { route } from "./route.ts";
import { preflight } from "../s3ops/cors.ts";
import { serveWebsite, websiteRequest } from "../s3ops/website.ts";

export type { HandlerDeps } from "./context.ts";
export type { ConnInfo } from "./exchange.ts";

/** A request handler: Request in, Response out, never throws. */
export type Handler = (request: Request, conn: ConnInfo) => Promise<Response>;

/** Creates the proxy's request handler. */
export function createHandler(deps: HandlerDeps): Handler {
  const pipeline = createPipeline(deps);
  const idleMs = deps.config.downloadIdleTimeoutMs;
  const downloadIdle = idleMs > 0 ? new IdleWatch(idleMs) : undefined;
  const stages: Stages = async (request, { target, state, signal }) => {
    // A CORS preflight is answered from the bucket's rules, unauthenticated.
    if (request.method === "OPTIONS") return await preflight(pipeline, request, { target, state });
    const { method, headers, body, url } = request;
    const site = websiteRequest(pipeline, { method, headers, target, body });
    if (site !== undefined) return await serveWebsite(pipeline, site, { state, signal, url });
    const routed = await route(pipeline, { method, headers, target, body }, state);
    return await afterRoute(pipeline, routed, { body, state, signal, url });
  };
  return (request, conn) => exchange(pipeline, stages, { request, conn, downloadIdle });
}
