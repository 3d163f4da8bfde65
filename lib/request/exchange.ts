/**
 * The outer exchange around the stages: it owns the request id, turns any
 * failure into S3 XML (the one place that renders errors), and observes —
 * the access log line, the metrics, the bytes that went out — once the
 * answer has been delivered. It never decides anything about the request.
 *
 * @module
 */
import type { AbortLike } from "../_abort.ts";
import { headerSnapshot } from "../sigv4/header_snapshot.ts";
import { idleTimedStream, type IdleWatch } from "../body/idle_watch.ts";
import { jsonField } from "../observe/log.ts";
import { countingStream, UNKNOWN_BUCKET } from "../observe/metrics.ts";
import { UNKNOWN } from "../s3ops/operation.ts";
import { bufferedBodyLength, failedBodyBytes, releaseBodyChunks } from "../upstream/http1.ts";
import { STREAMED_UPLOAD_MIN } from "../upstream/transport.ts";
import type { Pipeline, RequestState } from "./context.ts";
import { errorResponse, type S3Error, toS3Error } from "./errors.ts";
import { requestId } from "./request_id.ts";
import { withCorsHeaders } from "../s3ops/cors.ts";
import { parseRequestTarget, type RequestTarget } from "./request_target.ts";
import { decimalLength } from "../_decimal.ts";

/** Connection facts of a request. */
export interface ConnInfo {
  /** The client's IP address (may be computed when first read). */
  readonly remoteIp: string;
  /** Aborts when the client goes away before the response is delivered. */
  signal?: AbortLike;
  /** Settles once the response has been delivered (rejects if it was not). */
  completed?: Promise<void>;
}

/** The stages, run in order on a parsed request. */
export type Stages = (
  request: Request,
  options: { target: RequestTarget; state: RequestState; signal?: AbortLike },
) => Promise<Response>;

/** What an exchange observed, for the log line and the metrics. */
interface Observed {
  request: Request;
  state: RequestState;
  started: number;
  status: number;
  error?: S3Error;
  key?: string;
  clientIp?: string;
}

/** Runs `stages` on one request and answers it; never throws. */
export async function exchange(
  pipeline: Pipeline,
  stages: Stages,
  options: { request: Request; conn: ConnInfo; downloadIdle?: IdleWatch },
): Promise<Response> {
  const { request, conn } = options;
  const { config, logger, metrics } = pipeline;
  const started = performance.now();
  metrics?.requestStarted();
  const state: RequestState = {
    id: requestId(),
    operation: UNKNOWN,
    bucket: UNKNOWN_BUCKET,
    sourceIp: () => conn.remoteIp,
  };
  let target: RequestTarget | undefined;
  let response: Response;
  let error: S3Error | undefined;
  try {
    target = parseRequestTarget(request.url, {
      hostHeader: headerSnapshot(request.headers).get("host"),
      virtualHostSuffixes: config.virtualHostSuffixes,
    });
    response = await stages(request, { target, state, signal: conn.signal });
    if (!response.headers.has("x-amz-request-id")) {
      response.headers.set("x-amz-request-id", state.id);
    }
  } catch (err) {
    error = toS3Error(err);
    response = errorResponse(error, {
      requestId: state.id,
      resource: target?.rawPath ?? "/",
      method: request.method,
      headers: pipeline.serverHeaders,
      format: state.website ? "html" : "xml",
    });
    logFailure(pipeline, state, error);
  }
  if (headerSnapshot(request.headers).get("origin") !== null) {
    response = await withCorsHeaders(pipeline, response, { request, target });
  }
  const observed: Observed = {
    request,
    state,
    started,
    status: response.status,
    error,
    key: target?.key,
    // The log line is written after the response, when Deno no longer has
    // the address (the validator has mostly asked for it already).
    clientIp: logger.enabled("info") ? conn.remoteIp : undefined,
  };
  return deliver(pipeline, response, {
    conn,
    downloadIdle: options.downloadIdle,
    observed,
    finish: (bytesOut, end) => finish(pipeline, observed, { bytesOut, failed: end.failed }),
  });
}

/**
 * Failures osp or a backend caused are logged as errors; what a client asked
 * for wrongly (4xx, and 501 for a request osp does not implement) only at
 * debug: a client cannot fill the error log.
 */
function logFailure(pipeline: Pipeline, state: RequestState, error: S3Error): void {
  const { logger } = pipeline;
  const ours = error.status >= 500 && error.code !== "NotImplemented";
  if (!ours && !logger.enabled("debug")) return;
  logger.log(ours ? "error" : "debug", "request failed", {
    requestId: state.id,
    code: error.code,
    reason: error.message,
    cause: error.cause,
  });
}

/**
 * Counts, measures and logs a request once its body has gone out (`failed`:
 * or failed to). The log line is written for every request answered with an
 * error or whose body failed, and for a success drawn by `accessLogSample`.
 */
function finish(
  pipeline: Pipeline,
  observed: Observed,
  outcome: { bytesOut: number; failed: boolean },
): void {
  const { metrics, logger, requestCounts } = pipeline;
  const { bytesOut, failed } = outcome;
  const { request, state, error, status } = observed;
  const durationMs = performance.now() - observed.started;
  const headers = headerSnapshot(request.headers);
  const length = headers.get("x-amz-decoded-content-length") ?? headers.get("content-length");
  const bytesIn = decimalLength(length) ?? 0;
  if (requestCounts) {
    let ops = requestCounts.get(state.bucket);
    if (ops === undefined) requestCounts.set(state.bucket, ops = new Map());
    ops.set(state.operation, (ops.get(state.operation) ?? 0) + 1);
  }
  metrics?.requestFinished({
    operation: state.operation,
    bucket: state.bucket,
    status,
    code: error?.code,
    durationMs,
    upstreamMs: state.upstreamMs,
    bytesIn,
    bytesOut,
    presigned: state.presigned,
    anonymous: state.anonymous,
    sigVersion: state.sigVersion,
  });
  if (!logger.enabled("info")) return;
  const rate = pipeline.config.accessLogSample;
  const bySample = status < 400 && !failed;
  if (bySample && rate < 1 && !(Math.random() < rate)) return;
  // A fixed field order, serialized as it goes: no object per request.
  logger.logJson(
    "info",
    "request",
    jsonField("requestId", state.id) +
      jsonField("clientIp", observed.clientIp) +
      jsonField("accessKey", state.accessKey) +
      jsonField("anonymous", state.anonymous) +
      jsonField("sigVersion", state.sigVersion) +
      jsonField("method", request.method) +
      jsonField("bucket", state.bucket) +
      jsonField("operation", state.operation) +
      jsonField("key", observed.key) +
      jsonField("status", status) +
      jsonField("code", error?.code) +
      jsonField("bytesIn", bytesIn) +
      jsonField("bytesOut", bytesOut) +
      jsonField("ms", Math.round(durationMs * 10) / 10) +
      jsonField(
        "upstreamMs",
        state.upstreamMs === undefined ? undefined : Math.round(state.upstreamMs * 10) / 10,
      ) +
      jsonField("sampleRate", bySample && rate < 1 ? rate : undefined),
  );
}

const WHOLE = { failed: false } as const;
const FAILED = { failed: true } as const;

/**
 * Hands the response to Deno.serve with `finish` called once its body has
 * gone out. Bodies read whole and sized bodies stream untouched (no
 * per-chunk JavaScript); chunked answers are counted; with a download idle
 * watch, large and unsized bodies are watched instead (that costs the native
 * pipe).
 */
function deliver(
  pipeline: Pipeline,
  response: Response,
  options: {
    conn: ConnInfo;
    downloadIdle?: IdleWatch;
    observed: Observed;
    finish: (bytesOut: number, end: { failed: boolean }) => void;
  },
): Response {
  const { conn, finish } = options;
  const whenDelivered = (bytes: number) => {
    if (conn.completed === undefined) finish(bytes, WHOLE);
    else conn.completed.then(() => finish(bytes, WHOLE), () => finish(0, FAILED));
  };
  // Bytes read whole from the backend: `response.body` is not touched, so
  // Deno.serve sends them without a stream.
  const buffered = bufferedBodyLength(response);
  if (buffered !== undefined) {
    whenDelivered(buffered);
    return response;
  }
  if (response.body === null) {
    finish(0, WHOLE);
    return response;
  }
  const length = decimalLength(response.headers.get("content-length"));
  const init = {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  };
  if (
    options.downloadIdle !== undefined && (length === undefined || length >= STREAMED_UPLOAD_MIN)
  ) {
    const idleMs = pipeline.config.downloadIdleTimeoutMs;
    // The watch passes the chunks on as they are, to Deno.serve alone.
    conn.completed?.then(() => releaseBodyChunks(response), () => {});
    return new Response(
      response.body.pipeThrough(idleTimedStream(options.downloadIdle, {
        idleError: () => new Error(`no byte moved for ${idleMs} ms`),
        onIdle: () =>
          pipeline.logger.log("warn", "response body idle: cut", {
            requestId: options.observed.state.id,
            bucket: options.observed.state.bucket,
            key: options.observed.key,
            idleMs,
          }),
        onDone: finish,
      })),
      init,
    );
  }
  if (conn.completed !== undefined && length !== undefined) {
    // Read by Deno.serve alone: once it is sent whole, its chunks are done
    // with. (`completed` resolves also when the body failed on the way.)
    conn.completed.then(() => {
      const failed = failedBodyBytes(response);
      finish(failed ?? length, failed === undefined ? WHOLE : FAILED);
      releaseBodyChunks(response);
    }, () => finish(0, FAILED));
    return response;
  }
  return new Response(response.body.pipeThrough(countingStream(finish)), init);
}
