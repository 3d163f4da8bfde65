/**
 * The entry of a worker isolate (`threads` > 1, see lib/serve/threads.ts): it
 * imports the config module, takes every data field from the main isolate,
 * listens on the same ports with SO_REUSEPORT and answers the main isolate's
 * requests for metrics, reload and shutdown.
 *
 * @module
 */
import { resolveConfig, type ResolvedConfig } from "../config/config.ts";
import { loadConfigModule, workerConfig } from "../config/config_module.ts";
import { createLogger, flushLogs } from "../observe/log.ts";
import { type Listeners, startListeners } from "./listeners.ts";
import { Metrics } from "../observe/metrics.ts";
import { RedisUseCounter } from "../access/redis_use_counter.ts";
import type { UseCounter } from "../access/use_counter.ts";
import {
  type FromWorker,
  inWorkerScope,
  RemoteUseCounter,
  type ToWorker,
  type WorkerStart,
} from "./threads.ts";
import denoJson from "../../deno.json" with { type: "json" };

const STARTED = Symbol.for("osp.worker.started");

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
}

/**
 * Runs this isolate as an osp worker. Idempotent: a bundle that is both
 * main.ts and this module calls it twice.
 */
export function runWorker(): void {
  const g = globalThis as Record<symbol, unknown>;
  if (g[STARTED]) return;
  g[STARTED] = true;
  const scope = globalThis as unknown as WorkerScope;
  const post = (m: FromWorker) => scope.postMessage(m);
  let start: WorkerStart | undefined;
  let listeners: Listeners | undefined;
  let metrics: Metrics | undefined;
  let useCounter: UseCounter | undefined;
  let remote: RemoteUseCounter | undefined;
  // Later messages wait for the start to have finished (or failed).
  let started: Promise<unknown> = Promise.resolve();

  const load = async (
    data: Record<string, unknown>,
    callbacks: string[],
    reload?: number,
  ): Promise<ResolvedConfig> => {
    const fromModule = await loadConfigModule(start!.configModule, { reload });
    return resolveConfig(workerConfig(data, callbacks, fromModule, start!.configModule));
  };

  scope.onmessage = async (e) => {
    const msg = e.data;
    switch (msg.type) {
      case "start": {
        start = msg;
        let done!: () => void;
        started = new Promise<void>((resolve) => done = resolve);
        try {
          const resolved = await load(msg.data, msg.callbacks);
          const logger = createLogger({ level: resolved.logLevel });
          if (msg.remoteCounter) useCounter = remote = new RemoteUseCounter(post);
          else useCounter = new RedisUseCounter({ url: resolved.store!.redis, logger });
          metrics = msg.metrics
            ? new Metrics({ version: denoJson.version, isolate: msg.isolate })
            : undefined;
          listeners = startListeners(resolved, {
            logger,
            useCounter,
            metrics,
            isolate: msg.isolate,
          });
          post({ type: "listening" });
        } catch (err) {
          await useCounter?.close();
          post({ type: "failed", error: (err as Error).message });
        } finally {
          done();
        }
        return;
      }
      case "counted":
        remote?.settle(msg);
        return;
      case "metrics":
        await started;
        try {
          post({ type: "metrics", id: msg.id, metrics: await metrics!.snapshot() });
        } catch (err) {
          post({ type: "metrics", id: msg.id, error: (err as Error).message });
        }
        return;
      case "reload":
        await started;
        try {
          listeners!.reload(await load(msg.data, msg.callbacks, msg.nonce));
          post({ type: "reloaded", id: msg.id });
        } catch (err) {
          post({ type: "reloaded", id: msg.id, error: (err as Error).message });
        }
        return;
      case "shutdown":
        await started;
        await listeners?.shutdown();
        await useCounter?.close();
        flushLogs();
        post({ type: "stopped" });
        return;
    }
  };
}

if (import.meta.main && inWorkerScope()) runWorker();
