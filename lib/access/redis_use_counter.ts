/**
 * The Redis-backed {@linkcode UseCounter}: presigned URL use counts shared by
 * every osp instance that points at the same Redis. One Lua script increments
 * the counter and, on its first use, sets its expiry to the URL's (PEXPIREAT),
 * atomically. When Redis cannot answer, `increment` fails closed with 503
 * ServiceUnavailable, quickly: commands are never queued while disconnected,
 * and the client reconnects in the background.
 *
 * ioredis is loaded when the first counter is made, not with osp: it costs
 * about 25 MB of resident memory, which a config without `store.redis` never
 * pays (bench/idle_rss.ts).
 *
 * @module
 */
import type { Redis } from "ioredis";
import { S3Error } from "../request/errors.ts";
import type { Logger } from "../observe/log.ts";
import type { UseCounter } from "./use_counter.ts";

/** Redis keys are this prefix followed by the presigned URL's signature. */
export const REDIS_KEY_PREFIX = "osp:presign:";

/** KEYS[1] = counter, ARGV[1] = expiry (epoch ms). Returns the new count. */
const INCREMENT_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return n
`;

/** How often at most a failure to count is logged (the rest are summed up). */
const LOG_EVERY_MS = 10_000;

/** Options for {@linkcode RedisUseCounter}. */
export interface RedisUseCounterOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  url: string;
  /** Where connection problems are logged (never with the URL's password). */
  logger: Logger;
  /** Connect and command timeout in ms; default 1000. */
  timeoutMs?: number;
}

/** The URL without user name or password, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return "(unparseable redis URL)";
  }
}

/** Presigned URL use counts in Redis, shared between instances. */
export class RedisUseCounter implements UseCounter {
  #client: Promise<Redis>;
  #closed = false;
  #logger: Logger;
  #timeoutMs: number;
  #target: string;
  #connected = false;
  #lastError = "none yet";
  /** Per log message: when it was last written, and how many were left out since. */
  #throttle = new Map<string, { last: number; suppressed: number }>();

  /** Connects (in the background) to the Redis at `options.url`. */
  constructor(options: RedisUseCounterOptions) {
    this.#logger = options.logger;
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#target = redactRedisUrl(options.url);
    this.#client = import("ioredis").then(({ Redis }) => {
      const client = new Redis(options.url, {
        // Fail at once while disconnected instead of queueing until Redis is back.
        enableOfflineQueue: false,
        // A command in flight when the connection drops fails; it is not replayed.
        maxRetriesPerRequest: 0,
        connectTimeout: this.#timeoutMs,
        commandTimeout: this.#timeoutMs,
        // Keep reconnecting forever, at most a second apart.
        retryStrategy: (times) => Math.min(times * 100, 1000),
        // Closed before it was loaded: never connect.
        lazyConnect: this.#closed,
      });
      this.#listen(client);
      return client;
    });
  }

  #listen(client: Redis): void {
    client.on("ready", () => {
      this.#connected = true;
      this.#lastError = "none yet";
      this.#logger.log("info", "redis connected", { redis: this.#target });
    });
    client.on("close", () => {
      if (this.#connected) {
        this.#logger.log("warn", "redis connection lost; reconnecting", { redis: this.#target });
      }
      this.#connected = false;
    });
    client.on("error", (err: Error) => {
      this.#lastError = err.message;
      this.#logFailure("redis error", err);
    });
  }

  async increment(id: string, options: { expiresAt: number }): Promise<number> {
    try {
      const client = await this.#client;
      await this.#whenConnecting(client);
      if (client.status !== "ready") {
        throw new Error(`not connected to redis (last error: ${this.#lastError})`);
      }
      const count = await client.eval(
        INCREMENT_SCRIPT,
        1,
        REDIS_KEY_PREFIX + id,
        String(Math.ceil(options.expiresAt)),
      );
      if (typeof count !== "number") throw new Error(`unexpected reply ${JSON.stringify(count)}`);
      return count;
    } catch (err) {
      this.#logFailure("presigned URL use count unavailable", err as Error);
      throw new S3Error(
        "ServiceUnavailable",
        "presigned URL use count unavailable; please try again later",
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    (await this.#client).disconnect(false);
  }

  /** While a connection attempt is under way, waits for it (at most the timeout). */
  #whenConnecting(client: Redis): Promise<void> {
    const status = client.status;
    if (status !== "wait" && status !== "connecting" && status !== "connect") {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.off("ready", done);
        client.off("close", done);
        resolve();
      };
      const timer = setTimeout(done, this.#timeoutMs);
      client.once("ready", done);
      client.once("close", done);
    });
  }

  #logFailure(message: string, err: Error): void {
    const now = Date.now();
    const state = this.#throttle.get(message) ?? { last: -Infinity, suppressed: 0 };
    this.#throttle.set(message, state);
    if (now - state.last < LOG_EVERY_MS) {
      state.suppressed++;
      return;
    }
    this.#logger.log("warn", message, {
      redis: this.#target,
      reason: err.message,
      ...(state.suppressed > 0 ? { similarSinceLast: state.suppressed } : {}),
    });
    state.last = now;
    state.suppressed = 0;
  }
}
