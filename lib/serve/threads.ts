/**
 * `threads` > 1: the main isolate and `threads - 1` worker isolates serve the
 * same ports (SO_REUSEPORT; the kernel spreads connections). This module holds
 * the messages between them, the main isolate's side ({@linkcode WorkerPool})
 * and the workers' presigned URL use counter ({@linkcode RemoteUseCounter}).
 *
 * - A worker imports the config module itself (callbacks cannot be posted)
 *   and takes every data field from the main isolate's config, so CLI
 *   overrides and ports bound with 0 reach it (see lib/config/config_module.ts).
 * - Metrics: the main isolate asks every worker for its registry as JSON and
 *   merges them (lib/observe/metrics.ts `renderAggregated`).
 * - Presigned URL use counts: with the in-memory store, workers ask the main
 *   isolate, which owns the one counter, so the cap stays exact; with Redis
 *   every isolate uses Redis directly.
 * - Reload, shutdown and readiness are driven from the main isolate.
 *
 * @module
 */
import { S3Error } from "../request/errors.ts";
import type { Logger } from "../observe/log.ts";
import type { MetricsSnapshot } from "../observe/metrics.ts";
import type { UseCounter } from "../access/use_counter.ts";

/** What a worker needs to start. */
export interface WorkerStart {
  type: "start";
  /** 1… (0 is the main isolate). */
  isolate: number;
  /** URL of the config module the worker imports for its callbacks. */
  configModule: string;
  /** The main isolate's config without functions, ports as bound. */
  data: Record<string, unknown>;
  /** The names of the main isolate's config callbacks: the module must give the same. */
  callbacks: string[];
  /** Keep metrics (the main isolate asks for them). */
  metrics: boolean;
  /** Count presigned URL uses through the main isolate (in-memory store). */
  remoteCounter: boolean;
}

/** Messages from the main isolate to a worker. */
export type ToWorker =
  | WorkerStart
  | { type: "metrics"; id: number }
  | { type: "counted"; id: number; count?: number; error?: string }
  | {
    type: "reload";
    id: number;
    nonce: number;
    data: Record<string, unknown>;
    callbacks: string[];
  }
  | { type: "shutdown" };

/** Messages from a worker to the main isolate. */
export type FromWorker =
  | { type: "listening" }
  | { type: "failed"; error: string }
  | { type: "metrics"; id: number; metrics?: MetricsSnapshot; error?: string }
  | { type: "count"; id: number; key: string; expiresAt: number }
  | { type: "reloaded"; id: number; error?: string }
  | { type: "stopped" };

/** True when this code runs in a Web Worker. */
export function inWorkerScope(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope;
  return typeof scope === "function" && globalThis instanceof scope;
}

/** Longest wait for a worker's metrics. */
const METRICS_TIMEOUT_MS = 5000;
/** After the grace period, how long workers get to report stopped before they are terminated. */
const STOP_MARGIN_MS = 2000;

/** Options of {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** Workers to start (threads - 1). */
  count: number;
  /** The worker entry module. */
  entry: string | URL;
  /** The start message, without `isolate`. */
  start: Omit<WorkerStart, "type" | "isolate">;
  /** The main isolate's in-memory counter, which workers count through. */
  counter: UseCounter;
  logger: Logger;
  /** Called once when a worker fails to start, crashes or ends unasked. */
  onFailure(error: Error): void;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

class Peer {
  readonly worker: Worker;
  listening = false;
  stopped = false;
  constructor(readonly isolate: number, worker: Worker) {
    this.worker = worker;
  }
}

/** The main isolate's side of the worker isolates. */
export class WorkerPool {
  readonly #peers: Peer[] = [];
  readonly #options: WorkerPoolOptions;
  readonly #pending = new Map<number, Pending<FromWorker>>();
  #nextId = 0;
  #failed = false;
  #stopping = false;
  #allStopped: Promise<void>;
  #stoppedNow!: () => void;
  #nonce = 0;

  /** Starts the workers; they report listening later (see {@linkcode allListening}). */
  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#allStopped = new Promise((resolve) => this.#stoppedNow = resolve);
    // Throws (DataCloneError) before any worker exists when the config cannot be posted.
    structuredClone(options.start);
    for (let i = 1; i <= options.count; i++) {
      const peer = new Peer(i, new Worker(options.entry, { type: "module", name: `osp-${i}` }));
      this.#peers.push(peer);
      peer.worker.onmessage = (e: MessageEvent<FromWorker>) => this.#onMessage(peer, e.data);
      peer.worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#fail(peer, `crashed: ${e.message}`);
      };
      peer.worker.onmessageerror = () => this.#fail(peer, "sent a message that cannot be read");
      peer.worker.postMessage({ type: "start", isolate: i, ...options.start } satisfies ToWorker);
    }
  }

  /** Workers that have reported listening. */
  get listening(): number {
    return this.#peers.filter((p) => p.listening).length;
  }

  /** True once every worker listens (and none has failed). */
  get allListening(): boolean {
    return !this.#failed && this.#peers.every((p) => p.listening);
  }

  /**
   * Every running worker's metrics, in isolate order; rejects when one does
   * not answer in time.
   */
  metrics(): Promise<MetricsSnapshot[]> {
    const running = this.#peers.filter((p) => !p.stopped);
    return Promise.all(running.map(async (peer) => {
      const answer = await this.#ask(peer, { type: "metrics", id: 0 }, METRICS_TIMEOUT_MS);
      if (answer.type !== "metrics" || !answer.metrics) {
        throw new Error(`isolate ${peer.isolate}: ${answer.type === "metrics" && answer.error}`);
      }
      return answer.metrics;
    }));
  }

  /**
   * Makes every worker re-import the config module and run on `data` (the
   * main isolate's new config without functions). Resolves with the
   * problems, one per worker that kept its old config.
   */
  async reload(data: Record<string, unknown>, callbacks: string[]): Promise<string[]> {
    const nonce = ++this.#nonce;
    const problems = await Promise.all(this.#peers.map(async (peer) => {
      try {
        const answer = await this.#ask(peer, { type: "reload", id: 0, nonce, data, callbacks });
        return answer.type === "reloaded" && answer.error
          ? `isolate ${peer.isolate}: ${answer.error}`
          : undefined;
      } catch (err) {
        return `isolate ${peer.isolate}: ${(err as Error).message}`;
      }
    }));
    return problems.filter((p) => p !== undefined);
  }

  /** Resolves when every worker has stopped (after {@linkcode shutdown}). */
  get finished(): Promise<void> {
    return this.#allStopped;
  }

  /**
   * Asks every worker to shut down (each with its own grace period) and
   * terminates each once it has; one that has not reported within
   * `graceMs` and a margin is terminated anyway.
   */
  shutdown(graceMs: number): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      for (const peer of this.#peers) {
        if (!peer.stopped) peer.worker.postMessage({ type: "shutdown" } satisfies ToWorker);
      }
      const backstop = setTimeout(() => {
        for (const peer of this.#peers) this.#stop(peer);
      }, graceMs + STOP_MARGIN_MS);
      this.#allStopped.then(() => clearTimeout(backstop));
      this.#checkStopped();
    }
    return this.#allStopped;
  }

  #stop(peer: Peer): void {
    if (peer.stopped) return;
    peer.stopped = true;
    peer.worker.terminate();
    this.#checkStopped();
  }

  #checkStopped(): void {
    if (this.#peers.every((p) => p.stopped)) {
      for (const [id, p] of this.#pending) {
        this.#pending.delete(id);
        p.reject(new Error("the worker isolate has stopped"));
      }
      this.#stoppedNow();
    }
  }

  #fail(peer: Peer, reason: string): void {
    const first = !this.#failed;
    this.#failed = true;
    this.#stop(peer);
    if (first && !this.#stopping) {
      this.#options.onFailure(new Error(`isolate ${peer.isolate} ${reason}`));
    }
  }

  #ask(
    peer: Peer,
    message: ToWorker & { id: number },
    timeoutMs?: number,
  ): Promise<FromWorker> {
    if (peer.stopped) return Promise.reject(new Error("the worker isolate has stopped"));
    const id = ++this.#nextId;
    return new Promise<FromWorker>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#pending.delete(id);
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      peer.worker.postMessage({ ...message, id });
    });
  }

  #onMessage(peer: Peer, msg: FromWorker): void {
    switch (msg.type) {
      case "listening":
        peer.listening = true;
        if (this.allListening) {
          this.#options.logger.log("info", "all isolates listening", {
            isolates: this.#peers.length + 1,
          });
        }
        return;
      case "failed":
        this.#fail(peer, `failed to start: ${msg.error}`);
        return;
      case "count": {
        const answer = (m: Omit<Extract<ToWorker, { type: "counted" }>, "type" | "id">) => {
          if (!peer.stopped) peer.worker.postMessage({ type: "counted", id: msg.id, ...m });
        };
        this.#options.counter.increment(msg.key, { expiresAt: msg.expiresAt }).then(
          (count) => answer({ count }),
          (err) => answer({ error: (err as Error).message }),
        );
        return;
      }
      case "metrics":
      case "reloaded": {
        const pending = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        pending?.resolve(msg);
        return;
      }
      case "stopped":
        this.#stop(peer);
        return;
    }
  }
}

/**
 * A worker's {@linkcode UseCounter}: each use is counted by the main
 * isolate's in-memory counter, so a presigned URL's cap holds across
 * isolates. No answer within `timeoutMs` fails closed with 503.
 */
export class RemoteUseCounter implements UseCounter {
  readonly #post: (message: FromWorker) => void;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending<number>>();
  #nextId = 0;

  /** `post` sends a message to the main isolate. */
  constructor(post: (message: FromWorker) => void, options: { timeoutMs?: number } = {}) {
    this.#post = post;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  increment(id: string, options: { expiresAt: number }): Promise<number> {
    const n = ++this.#nextId;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(n);
        reject(unavailable("the main isolate did not answer"));
      }, this.#timeoutMs);
      this.#pending.set(n, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#post({ type: "count", id: n, key: id, expiresAt: options.expiresAt });
    });
  }

  /** Delivers the main isolate's answer to a `count` message. */
  settle(answer: Extract<ToWorker, { type: "counted" }>): void {
    const pending = this.#pending.get(answer.id);
    if (!pending) return;
    this.#pending.delete(answer.id);
    if (typeof answer.count === "number") pending.resolve(answer.count);
    else pending.reject(unavailable(answer.error ?? "no count"));
  }

  close(): Promise<void> {
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(unavailable("shutting down"));
    }
    return Promise.resolve();
  }
}

function unavailable(reason: string): S3Error {
  return new S3Error(
    "ServiceUnavailable",
    "presigned URL use count unavailable; please try again later",
    { cause: new Error(reason) },
  );
}
