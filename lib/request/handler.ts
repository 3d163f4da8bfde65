/**
 * The request pipeline, as a sequence of stages inside one exchange:
 *
 * 1. {@linkcode route}: authenticate, name the operation, find the bucket;
 * 2. {@linkcode admit}: the validator's yes and the presigned-URL cap;
 * 3. {@linkcode prepare}: backend credentials, the body plan, the s3ops;
 * 4. {@linkcode forward}: re-sign and send;
 * 5. {@linkcode present}: what the client sees of the answer.
 *
 * A CORS preflight (`OPTIONS`) is answered before them, from the bucket's
 * CORS rules alone. Each stage throws an `S3Error` to refuse; {@linkcode exchange} renders it,
 * and logs and counts every request.
 *
 * @module
 */
import { IdleWatch } from "../body/idle_watch.ts";
import { admit } from "./admit.ts";
import { createPipeline, type HandlerDeps } from "./context.ts";
import { type ConnInfo, exchange, type Stages } from "./exchange.ts";
import { forward } from "./forward.ts";
import { prepare } from "./prepare.ts";
import { present } from "./present.ts";
import { route } from "./route.ts";
import { preflight } from "../s3ops/cors.ts";

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
    const { method, headers } = request;
    const routed = await route(pipeline, { method, headers, target, body: request.body }, state);
    const admission = await admit(pipeline, routed, state);
    const prepared = await prepare(pipeline, admission, { body: request.body, state, signal });
    if (prepared instanceof Response) return prepared;
    const response = await forward(pipeline, prepared, { state, signal });
    return await present(pipeline, prepared, response, { url: request.url });
  };
  return (request, conn) => exchange(pipeline, stages, { request, conn, downloadIdle });
}
