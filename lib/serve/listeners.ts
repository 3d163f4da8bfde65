/**
 * One isolate's share of the proxy: its HTTP and HTTPS listeners, request
 * handler, backend transport and graceful shutdown. The main isolate runs one
 * (lib/serve/server.ts), and so does every worker isolate when `threads` > 1
 * (lib/serve/worker.ts), all listening on the same ports with SO_REUSEPORT.
 *
 * @module
 */
import type { ResolvedConfig } from "../config/config.ts";
import { type ConnInfo, createHandler } from "../request/handler.ts";
import { errorResponse, S3Error } from "../request/errors.ts";
import { requestId } from "../request/request_id.ts";
import { createLogger, type Logger } from "../observe/log.ts";
import { Transport } from "../upstream/transport.ts";
import { ResponseBodyError } from "../upstream/http1.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { UseCounter } from "../access/use_counter.ts";
import { DeadlineQueue } from "./deadlines.ts";
import { Slots } from "../_slots.ts";
import { type AbortLike, RequestAbort } from "../_abort.ts";

/** How long a request waits for its answer before osp watches for its client leaving. */
const WATCH_CLIENT_AFTER_MS = 50;

/**
 * Deno.serve's `onError`: it receives the error of a response body that
 * failed while being sent, and of a handler that threw (osp's renders its
 * own errors, so that is a bug). Either becomes one log line; Deno's default
 * prints a bare stack on stderr, which breaks the JSON log.
 *
 * - A body osp cut itself because the exchange was aborted (the client went
 *   away, or shutdown): debug, it is an effect.
 * - A body the backend cut, reset or mis-framed: warn, with the request's
 *   id and the backend.
 * - Anything else: error.
 *
 * The answer is a 500 InternalError (for a thrown handler: a body that
 * failed has its head sent already, and Deno drops the answer).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveErrorReporter } from "./listeners.ts";
 * import { ResponseBodyError } from "../upstream/http1.ts";
 *
 * const lines: string[] = [];
 * const onError = serveErrorReporter({
 *   enabled: () => true,
 *   log: (level, msg, fields) => lines.push(`${level} ${msg} ${fields?.requestId}`),
 * }, { serverName: "osp" });
 * const cut = new ResponseBodyError(new Error("the backend closed the connection mid-body"), {
 *   origin: "http://127.0.0.1:9000",
 *   requestId: "r1",
 *   aborted: false,
 * });
 * assert.equal(onError(cut).status, 500);
 * assert.deepEqual(lines, ["warn response body failed r1"]);
 * ```
 */
export function serveErrorReporter(
  logger: Pick<Logger, "log" | "enabled">,
  options: { serverName: string },
): (error: unknown) => Response {
  return (error) => {
    if (error instanceof ResponseBodyError) {
      logger.log(error.aborted ? "debug" : "warn", "response body failed", {
        requestId: error.requestId,
        backend: error.origin,
        aborted: error.aborted,
        error: error.cause,
      });
    } else logger.log("error", "unhandled error while serving", { error });
    return errorResponse(
      new S3Error("InternalError", "We encountered an internal error. Please try again."),
      {
        requestId: requestId(),
        resource: "/",
        method: "GET",
        headers: { server: options.serverName },
      },
    );
  };
}

/** What {@linkcode startListeners} runs on. */
export interface ListenersOptions {
  /** Where the listeners' own lines go (the handler logs at each config's level). */
  logger: Logger;
  /** Presigned URL use counts. */
  useCounter: UseCounter;
  /** This isolate's metrics, when metrics are enabled. */
  metrics?: Metrics;
  /**
   * Set when several isolates share the ports: SO_REUSEPORT on every
   * listener, and `isolate` in the "listening" log lines.
   */
  isolate?: number;
}

/** Running listeners. */
export interface Listeners {
  /** The bound plain-HTTP address. */
  readonly http?: Deno.NetAddr;
  /** The bound HTTPS address. */
  readonly https?: Deno.NetAddr;
  /** The config requests start on now. */
  readonly current: ResolvedConfig;
  /** Swaps in a new config: requests in flight finish on the old one. */
  reload(config: ResolvedConfig): void;
  /** Requests per bucket and operation, with `enableRequestCounting`. */
  requestCounts(): Record<string, Record<string, number>>;
  /** Resolves when every listener has closed and the transport is closed. */
  readonly finished: Promise<void>;
  /**
   * Stops accepting and lets requests in flight finish for up to
   * `shutdownGraceMs`, then aborts them; resolves then.
   */
  shutdown(): Promise<void>;
}

/**
 * True when Deno may set SO_REUSEPORT. Deno 2.9 allows `reusePort` only with
 * `--unstable-net` (or `"unstable": ["net"]` in deno.json), and without it
 * ends the process (exit code 70) instead of throwing; the flag also exposes
 * `Deno.listenDatagram`, which is how it is detected here.
 */
export function reusePortAvailable(): boolean {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function";
}

/**
 * The {@linkcode ConnInfo} of a request Deno.serve received; the client's
 * address is asked of Deno only when read (the validator, the log line).
 *
 * A class, not an object literal with a getter: each evaluation of such a
 * literal makes an accessor pair (holding that evaluation's getter closure)
 * in V8's old generation, which keeps the closure, so the whole request,
 * alive through every young-generation GC until the next full one. That
 * promoted about 3 KB per request and made each scavenge take milliseconds
 * (docs/performance.md, "After the GC pass"); a class's getter is one
 * function on its prototype.
 */
export class ServedConn implements ConnInfo {
  readonly signal: AbortLike;
  readonly completed: Promise<void>;
  #info: Deno.ServeHandlerInfo<Deno.NetAddr>;
  #remoteIp: string | undefined;

  /** The facts of the request `info` describes; `signal` aborts its work. */
  constructor(info: Deno.ServeHandlerInfo<Deno.NetAddr>, signal: AbortLike) {
    this.#info = info;
    this.signal = signal;
    this.completed = info.completed;
  }

  /** The client's IP address. */
  get remoteIp(): string {
    return this.#remoteIp ??= this.#info.remoteAddr.hostname;
  }
}

/** Starts the listeners `resolved` asks for; throws when one cannot bind (none is left open). */
export function startListeners(resolved: ResolvedConfig, options: ListenersOptions): Listeners {
  const { logger, useCounter, metrics } = options;
  const shared = options.isolate !== undefined;
  const transport = new Transport({ fetch: resolved.fetch });
  const counts = new Map<string, Map<string, number>>();
  const make = (config: ResolvedConfig) =>
    createHandler({
      config,
      logger: createLogger({ level: config.logLevel }),
      transport,
      useCounter,
      metrics,
      requestCounts: config.enableRequestCounting ? counts : undefined,
    });
  // Swapped whole on reload: requests in flight finish on the handler (and
  // config) they started with.
  let handler = make(resolved);
  let current = resolved;
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  // Requests in flight: their aborts cancel upstream work (client gone, or the
  // shutdown grace period over).
  const inflight = new Slots<RequestAbort>();
  const watchQueue = new DeadlineQueue(WATCH_CLIENT_AFTER_MS);
  const serveHandler = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    const max = current.maxConcurrentRequests;
    if (max > 0 && inflight.size >= max) {
      req.body?.cancel().catch(() => {});
      return errorResponse(new S3Error("SlowDown", "Please reduce your request rate."), {
        requestId: requestId(),
        resource: "/",
        method: req.method,
        headers: { server: current.serverName, "retry-after": "1" },
      });
    }
    // `completed` rejects when the client leaves before the response is
    // delivered: that cancels the upstream request too.
    // Not an AbortController: its listeners cost about 430 bytes each (lib/_abort.ts).
    const abort = new RequestAbort();
    const slot = inflight.add(abort);
    const gone = () => abort.abort(new Error("the client went away"));
    info.completed.then(() => inflight.delete(slot, abort), () => {
      gone();
      inflight.delete(slot, abort);
    });
    // `completed` stays pending while the handler still awaits a backend;
    // req.signal aborts when the client leaves, even one that left before it
    // was first read. Reading it costs every request an async op and, under
    // Deno's legacy semantics (it also aborts after every delivered
    // response), a DOMException: so it is read only for requests still
    // unanswered after WATCH_CLIENT_AFTER_MS, and ignored once answered
    // (`completed` alone then says whether the client left).
    let answered = false;
    const watch = watchQueue.add(() => {
      req.signal.addEventListener("abort", () => {
        if (!answered) gone();
      }, { once: true });
    });
    return handler(req, new ServedConn(info, abort)).then((response) => {
      answered = true;
      watchQueue.settle(watch);
      return response;
    });
  };
  const onError = serveErrorReporter(logger, { serverName: resolved.serverName });
  const onListen = (scheme: string) => (addr: Deno.NetAddr) =>
    logger.log("info", "listening", {
      url: `${scheme}://${addr.hostname}:${addr.port}`,
      isolate: options.isolate,
    });
  const listen = (
    options: Deno.ServeTcpOptions | (Deno.ServeTcpOptions & Deno.TlsCertifiedKeyPem),
  ) => {
    try {
      const s = Deno.serve({ ...options, reusePort: shared, onError }, serveHandler);
      servers.push(s);
      return s.addr;
    } catch (err) {
      for (const s of servers) s.shutdown().catch(() => {});
      watchQueue.close();
      transport.close();
      throw err;
    }
  };
  let http: Deno.NetAddr | undefined;
  let https: Deno.NetAddr | undefined;
  if (resolved.httpPort !== undefined) {
    http = listen({
      port: resolved.httpPort,
      hostname: resolved.hostname,
      onListen: onListen("http"),
    });
  }
  if (resolved.httpsPort !== undefined) {
    https = listen({
      port: resolved.httpsPort,
      hostname: resolved.hostname,
      cert: resolved.tls!.cert,
      key: resolved.tls!.key,
      onListen: onListen("https"),
    });
  }
  const finished = Promise.all(servers.map((s) => s.finished)).then(() => {
    watchQueue.close();
    transport.close();
  });
  let stopped: Promise<void> | undefined;
  const shutdown = () => {
    stopped ??= (async () => {
      // In-flight transfers may finish within the grace period; then they
      // (and their upstream requests) are aborted and shutdown resolves.
      // Downloads that Deno.serve pipes natively from a backend cannot be cut
      // from JavaScript: they end when the process exits (main.ts exits as
      // soon as shutdown resolves).
      let grace: ReturnType<typeof setTimeout> | undefined;
      const graceOver = new Promise<void>((resolve) => {
        grace = setTimeout(() => {
          if (inflight.size > 0) {
            logger.log("warn", "shutdown grace period over; aborting in-flight requests", {
              requests: inflight.size,
              isolate: options.isolate,
            });
          }
          const over = new Error("shutdown grace period over");
          for (const a of inflight) a.abort(over);
          resolve();
        }, current.shutdownGraceMs);
      });
      await Promise.race([
        Promise.all(servers.map((s) => s.shutdown())).then(() => finished),
        graceOver,
      ]);
      clearTimeout(grace);
    })();
    return stopped;
  };
  return {
    http,
    https,
    get current() {
      return current;
    },
    reload(config) {
      handler = make(config);
      current = config;
    },
    requestCounts() {
      const out: Record<string, Record<string, number>> = {};
      for (const [bucket, ops] of counts) out[bucket] = Object.fromEntries(ops);
      return out;
    },
    finished,
    shutdown,
  };
}
