/**
 * Authorization through the user's `validator`, cached per (token, bucket,
 * operation, key) for the bucket's ttl, with concurrent identical checks
 * sharing one call. A throw denies with InternalError; it never allows.
 *
 * @module
 */
import type { ValidatorRequest } from "./config.ts";
import type { ResolvedConfig } from "./config.ts";
import { S3Error } from "./errors.ts";
import { TtlCache } from "./ttl_cache.ts";
import { runCallback } from "./callback.ts";
import type { Metrics } from "./metrics.ts";

/** Asks the validator, with caching. */
export class Authorizer {
  #config: ResolvedConfig;
  #cache: TtlCache<boolean>;

  #metrics?: Metrics;

  /** Creates the decision cache for a resolved config. */
  constructor(config: ResolvedConfig, options: { metrics?: Metrics } = {}) {
    this.#config = config;
    this.#metrics = options.metrics;
    this.#cache = new TtlCache({ maxEntries: config.cacheSize, clock: config.clock });
  }

  /** True when the validator allows `request` (always true without a validator). */
  async allowed(
    token: string,
    request: ValidatorRequest,
    options: { ttlMs: number },
  ): Promise<boolean> {
    const validator = this.#config.validator;
    if (validator === undefined) return true;
    const id = JSON.stringify([
      token,
      request.bucket,
      request.method,
      request.operation,
      request.key ?? null,
    ]);
    let missed = false;
    const allowed = await this.#cache.getOrLoad(id, async () => {
      missed = true;
      const decision: unknown = await runCallback(
        "validator",
        () => validator(token, request.bucket, request),
        {
          timeoutMs: this.#config.callbackTimeoutMs,
          observe: (ms) => this.#metrics?.callbackTimed("validator", ms),
        },
      );
      if (typeof decision !== "boolean") {
        throw new S3Error("InternalError", "The validator returned a non-boolean; denying");
      }
      return decision;
    }, options);
    this.#metrics?.cacheLookup("validator", missed ? "miss" : "hit");
    return allowed;
  }

  /** Throws AccessDenied unless allowed. */
  async require(
    token: string,
    request: ValidatorRequest,
    options: { ttlMs: number },
  ): Promise<void> {
    if (!(await this.allowed(token, request, options))) {
      throw new S3Error("AccessDenied", "Access Denied");
    }
  }
}
