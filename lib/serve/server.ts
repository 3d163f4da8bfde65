/**
 * The proxy: HTTP and HTTPS (HTTP/2 by ALPN) listeners side by side, sharing
 * one handler, with graceful shutdown, the metrics and health listener, and,
 * with `threads` > 1, worker isolates on the same ports (lib/serve/threads.ts).
 *
 * @module
 */
import { type ProxyConfig, resolveConfig, type ResolvedConfig } from "../config/config.ts";
import { createLogger } from "../observe/log.ts";
import { Metrics, renderAggregated } from "../observe/metrics.ts";
import { startMetricsServer } from "../observe/metrics_server.ts";
import { backendOrigins, BackendProbe } from "../upstream/backend_probe.ts";
import denoJson from "../../deno.json" with { type: "json" };
import { RedisUseCounter } from "../access/redis_use_counter.ts";
import { MemoryUseCounter, type UseCounter } from "../access/use_counter.ts";
import { reusePortAvailable, startListeners } from "./listeners.ts";
import { callbackNames, configData } from "../config/config_module.ts";
import { WorkerPool } from "./threads.ts";
import { toFileUrl } from "./file_url.ts";
import { primeMalloc } from "./_malloc.ts";

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
   * `threads` change only on restart. With `threads` > 1 each worker isolate
   * then re-imports the config module for its callbacks and takes the data
   * fields of `config`, shortly after this returns.
   */
  reload(config: ProxyConfig): void;
  /** Requests per bucket and operation, with `enableRequestCounting`. */
  requestCounts(): Record<string, Record<string, number>>;
  /**
   * Resolves when every listener has closed. With `threads` > 1 it rejects,
   * after everything has shut down, when a worker isolate failed to start or
   * crashed (the error is logged too).
   */
  readonly finished: Promise<void>;
  /** Stops accepting, lets in-flight requests finish, then closes backend connections. */
  shutdown(): Promise<void>;
  /** Same as {@linkcode ProxyServer.shutdown}. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Options of {@linkcode serve}.
 *
 * @example
 * ```ts ignore
 * import { serve, type ServeOptions } from "@osp/osp";
 * import config from "./osp.config.ts";
 * const options: ServeOptions = { configModule: new URL("./osp.config.ts", import.meta.url) };
 * serve({ ...config, threads: 4 }, options);
 * ```
 */
export interface ServeOptions {
  /**
   * The module that default-exports this config (or an async function
   * returning it), as a URL or a path relative to the working directory.
   * Required when `threads` > 1: callbacks (`validator`, `hmacFetcher`,
   * `bucketCredsFetcher`…) cannot be passed to another isolate, so each
   * worker isolate imports this module and takes its callbacks from it; every
   * other field comes from `config`. The module must not start a server
   * itself, and must give the same callbacks as `config`.
   */
  configModule?: string | URL;
}

/**
 * Validates `config` (a TypeError names every bad field) and starts the
 * listeners it asks for. With `threads` > 1, `options.configModule` is
 * required (see {@linkcode ServeOptions}), and Deno must run with
 * `--unstable-net` (the isolates share the ports through SO_REUSEPORT).
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
 *
 * @example Four isolates on one port
 * ```ts ignore
 * // osp.config.ts default-exports the config, validator included.
 * import { serve } from "@osp/osp";
 * import config from "./osp.config.ts";
 * const server = serve({ ...config, threads: 4 }, {
 *   configModule: new URL("./osp.config.ts", import.meta.url),
 * });
 * await server.finished;
 * ```
 */
export function serve(config: ProxyConfig, options: ServeOptions = {}): ProxyServer {
  return startServer(config, options);
}

/**
 * {@linkcode serve}, with the worker entry module as a parameter: main.ts
 * passes its own URL, so that a bundle of it (one file) is its own worker.
 */
export function startServer(
  config: ProxyConfig,
  options: ServeOptions & { workerEntry?: string | URL } = {},
): ProxyServer {
  const resolved = resolveConfig(config);
  const threads = resolved.threads;
  let configModule: string | undefined;
  if (threads > 1) {
    if (options.configModule === undefined) {
      throw new TypeError(
        `threads is ${threads}, but serve() was given no configModule: worker isolates cannot ` +
          `receive callbacks (validator, hmacFetcher, bucketCredsFetcher…) from this one, so each ` +
          `imports the config module itself; pass serve(config, { configModule }) or set threads to 1`,
      );
    }
    if (!reusePortAvailable()) {
      throw new TypeError(
        `threads is ${threads}, which needs Deno's --unstable-net flag: the isolates share the ` +
          `ports through SO_REUSEPORT (Deno.serve's reusePort), which Deno 2.9 allows only with ` +
          `it (deno run --unstable-net …, or "unstable": ["net"] in deno.json); or set threads to 1`,
      );
    }
    configModule = options.configModule instanceof URL
      ? options.configModule.href
      : toFileUrl(options.configModule);
  }
  const logger = createLogger({ level: resolved.logLevel });
  primeMalloc();
  if (resolved.skipSignatureValidation) {
    logger.log(
      "warn",
      "skipSignatureValidation is ON: client signatures are NOT verified; anyone who knows an access key id can use the proxy",
    );
  }
  const useCounter: UseCounter = resolved.store?.redis
    ? new RedisUseCounter({ url: resolved.store.redis, logger })
    : new MemoryUseCounter({ clock: resolved.clock });
  const metrics = resolved.metricsPort === undefined
    ? undefined
    : new Metrics({ version: denoJson.version, isolate: 0 });
  let listeners;
  try {
    listeners = startListeners(resolved, {
      logger,
      useCounter,
      metrics,
      isolate: threads > 1 ? 0 : undefined,
    });
  } catch (err) {
    useCounter.close();
    throw err;
  }
  const { http, https } = listeners;
  let stopping = false;
  let failure: Error | undefined;
  // Workers start once this isolate has bound the ports (a port 0 is now a
  // number), with every data field of the config and the callbacks' names.
  let pool: WorkerPool | undefined;
  if (threads > 1) {
    try {
      pool = new WorkerPool({
        count: threads - 1,
        entry: options.workerEntry ?? new URL("./worker.ts", import.meta.url),
        start: {
          configModule: configModule!,
          data: { ...configData(config), httpPort: http?.port, httpsPort: https?.port },
          callbacks: callbackNames(config),
          metrics: metrics !== undefined,
          remoteCounter: resolved.store === undefined,
        },
        counter: useCounter,
        logger,
        onFailure: (err) => {
          failure ??= err;
          logger.log("error", "a worker isolate failed; shutting down", { reason: err.message });
          shutdown();
        },
      });
    } catch (err) {
      // A config that cannot be posted (DataCloneError).
      listeners.shutdown();
      useCounter.close();
      throw new TypeError(`threads: the config cannot be sent to worker isolates: ${err}`, {
        cause: err,
      });
    }
  }
  const backendProbe = new BackendProbe();
  const metricsServer = metrics === undefined ? undefined : startMetricsServer({
    port: resolved.metricsPort!,
    hostname: resolved.hostname,
    metrics: pool === undefined ? metrics : {
      contentType: metrics.contentType,
      render: async () => {
        const [own, others] = await Promise.all([metrics.snapshot(), pool!.metrics()]);
        return renderAggregated([own, ...others]);
      },
    },
    ready: () => !stopping && (pool?.allListening ?? true),
    // Backend reachability is reported in the details only: `ready` never
    // depends on it (see lib/upstream/backend_probe.ts).
    readyDetails: async () => ({
      listeners: { http: http?.port ?? null, https: https?.port ?? null },
      ...(pool ? { isolates: { total: threads, listening: 1 + pool.listening } } : {}),
      buckets: resolved.buckets.size,
      backends: await backendProbe.check(backendOrigins(listeners.current.buckets.values())),
    }),
  });
  if (metricsServer) {
    logger.log("info", "metrics listening", {
      url: `http://${metricsServer.addr.hostname}:${metricsServer.addr.port}/metrics`,
    });
  }
  const finished = Promise.all([listeners.finished, pool?.finished]).then(async () => {
    await metricsServer?.shutdown();
    await useCounter.close();
    if (failure) throw failure;
  });
  // Whoever ignores `finished` must not get an unhandled rejection.
  finished.catch(() => {});
  let stopped: Promise<void> | undefined;
  const shutdown = () => {
    stopping = true;
    stopped ??= pool === undefined
      ? listeners.shutdown()
      : Promise.all([listeners.shutdown(), pool.shutdown(listeners.current.shutdownGraceMs)])
        .then(() => {});
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
    listeners.reload(config);
    if (!pool) {
      logger.log("info", "config reloaded", { buckets: config.buckets.size });
      return;
    }
    // Ports, store and threads stay as they started, in every isolate.
    const data = {
      ...configData(next),
      httpPort: http?.port,
      httpsPort: https?.port,
      threads,
      store: resolved.store,
    };
    pool.reload(data, callbackNames(next)).then((problems) => {
      if (problems.length === 0) {
        logger.log("info", "config reloaded", { buckets: config.buckets.size, isolates: threads });
      } else {
        logger.log("error", "reload failed in some isolates; they keep their old config", {
          problems,
        });
      }
    });
  };
  return {
    http,
    https,
    metrics: metricsServer?.addr,
    reload,
    requestCounts: listeners.requestCounts,
    finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
