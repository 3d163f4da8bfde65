/**
 * Stages 2–5 on a routed request: {@linkcode admit}, {@linkcode prepare},
 * {@linkcode forward}, {@linkcode present}. The handler runs them on every
 * request it routes; a bucket's static website runs them on each backend
 * operation it makes, so none of those skips the validator's yes.
 *
 * @module
 */
import type { AbortLike } from "../_abort.ts";
import { admit } from "./admit.ts";
import type { Pipeline, RequestState } from "./context.ts";
import { forward } from "./forward.ts";
import { prepare } from "./prepare.ts";
import { present } from "./present.ts";
import type { Routed } from "./route.ts";

/** What the stages after the route need besides the routed request. */
export interface AfterRouteOptions {
  /** The body to send (null for a bodiless request). */
  body: ReadableStream<Uint8Array> | null;
  /** The request's state. */
  state: RequestState;
  /** Aborts when the client goes away. */
  signal?: AbortLike;
  /** The client's request URL (for answers that name it). */
  url: string;
}

/** Admits, prepares, forwards and presents a routed request: the answer for the client. */
export async function afterRoute(
  pipeline: Pipeline,
  routed: Routed,
  options: AfterRouteOptions,
): Promise<Response> {
  const { body, state, signal } = options;
  const admission = await admit(pipeline, routed, state);
  const prepared = await prepare(pipeline, admission, { body, state, signal });
  if (prepared instanceof Response) return prepared;
  const response = await forward(pipeline, prepared, { state, signal });
  return await present(pipeline, prepared, response, { url: options.url });
}
