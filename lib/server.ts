/**
 * Listeners: HTTP and HTTPS (HTTP/2 by ALPN) side by side, sharing one
 * handler, with graceful shutdown.
 *
 * @module
 */
import { type ProxyConfig, resolveConfig, type ResolvedConfig } from "./config.ts";
import { createHandler } from "./handler.ts";
import { errorResponse, S3Error } from "./errors.ts";
import { createLogger } from "./log.ts";
import { Transport } from "./transport.ts";
import { Metrics } from "./metrics.ts";
import { startMetricsServer } from "./metrics_server.ts";
import { backendOrigins, BackendProbe } from "./backend_probe.ts";
import denoJson from "../deno.json" with { type: "json" };
import { RedisUseCounter } from "./redis_use_counter.ts";
import { MemoryUseCounter, type UseCounter } from "./use_counter.ts";
import { DeadlineQueue } from "./deadlines.ts";

/** How long a request waits for its answer before osp watches for its client leaving. */
const WATCH_CLIENT_AFTER_MS = 50;

/**
 * A running proxy.
 *
 * @example
 * ```ts ignore
 * import { serve } from "@osp/osp";
 * await using server = serve({ httpPort: 0, hmacKeystore: [], cosMap: {} });
 * console.log(server.http?.port);
 * ```
 */
export interface ProxyServer {
  /** The bound plain-HTTP address, when `httpPort` is set. */
  readonly http?: Deno.NetAddr;
  /** The bound HTTPS address, when `httpsPort` is set. */
  readonly https?: Deno.NetAddr;
  /** The bound metrics and health address, when `metricsPort` is set. */
  readonly metrics?: Deno.NetAddr;
  /**
   * Swaps in a new config (bucket map, keys, callbacks, options): requests in
   * flight finish on the old one, and every cache starts empty. An invalid
   * config throws a TypeError and the old one stays. Listeners, `store` and
   * `threads` change only on restart.
   */
  reload(config: ProxyConfig): void;
  /** Requests per bucket and operation, with `enableRequestCounting`. */
  requestCounts(): Record<string, Record<string, number>>;
  /** Resolves when every listener has closed. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets in-flight requests finish, then closes backend connections. */
  shutdown(): Promise<void>;
  /** Same as {@linkcode ProxyServer.shutdown}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Validates `config` (a TypeError names every bad field) and starts the
 * listeners it asks for.
 *
 * @example
 * ```ts ignore
 * import { serve } from "@osp/osp";
 * const server = serve({
 *   httpPort: 8080,
 *   hmacKeystore: [{ accessKey: "alice", secretKey: "alice-secret" }],
 *   cosMap: { photos: { host: "minio.internal", port: 9000, tls: false,
 *     addressingStyle: "path", accessKey: "minio", secretKey: "minio-secret" } },
 * });
 * Deno.addSignalListener("SIGTERM", () => server.shutdown());
 * await server.finished;
 * ```
 */
export function serve(config: ProxyConfig): ProxyServer {
  const resolved = resolveConfig(config);
  const logger = createLogger({ level: resolved.logLevel });
  if (resolved.skipSignatureValidation) {
    logger.log(
      "warn",
      "skipSignatureValidation is ON: client signatures are NOT verified; anyone who knows an access key id can use the proxy",
    );
  }
  if (resolved.threads > 1) {
    logger.log("warn", "threads > 1 is not implemented yet; running one isolate");
  }
  const transport = new Transport({ fetch: resolved.fetch });
  const useCounter: UseCounter = resolved.store?.redis
    ? new RedisUseCounter({ url: resolved.store.redis, logger })
    : new MemoryUseCounter({ clock: resolved.clock });
  const metrics = resolved.metricsPort === undefined
    ? undefined
    : new Metrics({ version: denoJson.version });
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
  const inflight = new Set<AbortController>();
  const watchQueue = new DeadlineQueue(WATCH_CLIENT_AFTER_MS);
  const serveHandler = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    const max = current.maxConcurrentRequests;
    if (max > 0 && inflight.size >= max) {
      req.body?.cancel().catch(() => {});
      return errorResponse(new S3Error("SlowDown", "Please reduce your request rate."), {
        requestId: crypto.randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase(),
        resource: "/",
        method: req.method,
        headers: { server: current.serverName, "retry-after": "1" },
      });
    }
    // `completed` rejects when the client leaves before the response is
    // delivered: that cancels the upstream request too.
    const abort = new AbortController();
    inflight.add(abort);
    const gone = () => abort.abort(new Error("the client went away"));
    info.completed.then(() => inflight.delete(abort), () => {
      gone();
      inflight.delete(abort);
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
    let remoteIp: string | undefined;
    return handler(req, {
      // Asked of Deno only when needed (the validator, the log line).
      get remoteIp() {
        return remoteIp ??= info.remoteAddr.hostname;
      },
      signal: abort.signal,
      completed: info.completed,
    }).then((response) => {
      answered = true;
      watchQueue.settle(watch);
      return response;
    });
  };
  let http: Deno.NetAddr | undefined;
  let https: Deno.NetAddr | undefined;
  const onListen = (scheme: string) => (addr: Deno.NetAddr) =>
    logger.log("info", "listening", { url: `${scheme}://${addr.hostname}:${addr.port}` });
  if (resolved.httpPort !== undefined) {
    const s = Deno.serve({
      port: resolved.httpPort,
      hostname: resolved.hostname,
      onListen: onListen("http"),
    }, serveHandler);
    servers.push(s);
    http = s.addr;
  }
  if (resolved.httpsPort !== undefined) {
    const s = Deno.serve({
      port: resolved.httpsPort,
      hostname: resolved.hostname,
      cert: resolved.tls!.cert,
      key: resolved.tls!.key,
      onListen: onListen("https"),
    }, serveHandler);
    servers.push(s);
    https = s.addr;
  }
  let stopping = false;
  const backendProbe = new BackendProbe();
  const metricsServer = metrics === undefined ? undefined : startMetricsServer({
    port: resolved.metricsPort!,
    hostname: resolved.hostname,
    metrics,
    ready: () => !stopping,
    // Backend reachability is reported in the details only: `ready` never
    // depends on it (see lib/backend_probe.ts).
    readyDetails: async () => ({
      listeners: { http: http?.port ?? null, https: https?.port ?? null },
      buckets: resolved.buckets.size,
      backends: await backendProbe.check(backendOrigins(current.buckets.values())),
    }),
  });
  if (metricsServer) {
    logger.log("info", "metrics listening", {
      url: `http://${metricsServer.addr.hostname}:${metricsServer.addr.port}/metrics`,
    });
  }
  const finished = Promise.all(servers.map((s) => s.finished)).then(async () => {
    await metricsServer?.shutdown();
    watchQueue.close();
    transport.close();
    await useCounter.close();
  });
  let stopped: Promise<void> | undefined;
  const shutdown = () => {
    stopping = true;
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
            });
          }
          for (const a of inflight) a.abort(new Error("shutdown grace period over"));
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
  // Fields a reload cannot change: they belong to listeners and shared state.
  const fixed = (c: ResolvedConfig) =>
    JSON.stringify([c.httpPort, c.httpsPort, c.hostname, c.tls, c.metricsPort, c.store, c.threads]);
  const reload = (next: ProxyConfig) => {
    let config: ResolvedConfig;
    try {
      config = resolveConfig(next);
    } catch (err) {
      logger.log("error", "reload rejected: the new config is invalid; the old one stays", {
        reason: (err as Error).message,
      });
      throw err;
    }
    if (fixed(config) !== fixed(resolved)) {
      logger.log("warn", "reload: listener, store and thread settings change only on restart");
    }
    handler = make(config);
    current = config;
    logger.log("info", "config reloaded", { buckets: config.buckets.size });
  };
  const requestCounts = () => {
    const out: Record<string, Record<string, number>> = {};
    for (const [bucket, ops] of counts) out[bucket] = Object.fromEntries(ops);
    return out;
  };
  return {
    http,
    https,
    metrics: metricsServer?.addr,
    reload,
    requestCounts,
    finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
