/**
 * Authorization through the user's `validator`, cached per (token, bucket,
 * operation, key, and the inputs `validatorCacheKey` names) for the bucket's ttl, with concurrent identical checks
 * sharing one call. A throw denies with InternalError; it never allows.
 *
 * @module
 */
import type { ValidatorRequest } from "../config/config.ts";
import type { ResolvedConfig } from "../config/config.ts";
import { S3Error } from "../request/errors.ts";
import { TtlCache } from "./ttl_cache.ts";
import { runCallback } from "./callback.ts";
import type { Metrics } from "../observe/metrics.ts";

/**
 * A validator question whose full {@linkcode ValidatorRequest} (query and
 * header records) is built only when the validator is actually asked: the
 * decision cache keys on the other fields.
 */
export interface LazyValidatorRequest {
  /** HTTP method. */
  method: string;
  /** S3 operation name. */
  operation: string;
  /** The client's bucket name. */
  bucket: string;
  /** The decoded object key, if any. */
  key?: string;
  /**
   * Everything else the decision may depend on (query, headers, source IP,
   * as the config's `validatorCacheKey` says), serialised; computed only when a validator is asked or
   * looked up in the cache, never without a validator.
   */
  context: () => string;
  /** Builds the request the validator sees. */
  build: () => ValidatorRequest;
}

/**
 * The decision cache's key: length-prefixed where a field could hold any
 * text. A full ValidatorRequest is keyed on all of it.
 */
function cacheKey(token: string | null, r: ValidatorRequest | LazyValidatorRequest): string {
  const context = "context" in r ? r.context() : JSON.stringify([r.query, r.headers, r.sourceIp]);
  const who = token === null ? "-" : `${token.length}:${token}`;
  return `${who}${r.bucket.length}:${r.bucket}${r.method}\n${r.operation}\n${
    r.key === undefined ? "-" : `+${r.key.length}:${r.key}`
  }${context}`;
}

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

  /**
   * Like {@linkcode Authorizer.allowed}, but answers synchronously when it
   * can (no validator, or a cached decision) and asks only otherwise.
   */
  check(
    token: string | null,
    request: ValidatorRequest | LazyValidatorRequest,
    options: { ttlMs: number },
  ): boolean | Promise<boolean> {
    const validator = this.#config.validator;
    if (validator === undefined) return true;
    const id = cacheKey(token, request);
    const cached = this.#cache.get(id);
    if (cached !== undefined) {
      this.#metrics?.cacheLookup("validator", "hit");
      return cached;
    }
    return this.#ask(validator, token, id, request, options);
  }

  async #ask(
    validator: NonNullable<ResolvedConfig["validator"]>,
    token: string | null,
    id: string,
    question: ValidatorRequest | LazyValidatorRequest,
    options: { ttlMs: number },
  ): Promise<boolean> {
    let missed = false;
    const allowed = await this.#cache.getOrLoad(id, async () => {
      missed = true;
      const request = "build" in question ? question.build() : question;
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

  /** True when the validator allows `request` (always true without a validator). */
  async allowed(
    token: string | null,
    request: ValidatorRequest | LazyValidatorRequest,
    options: { ttlMs: number },
  ): Promise<boolean> {
    return await this.check(token, request, options);
  }

  /** Throws AccessDenied unless allowed. */
  async require(
    token: string | null,
    request: ValidatorRequest | LazyValidatorRequest,
    options: { ttlMs: number },
  ): Promise<void> {
    if (!(await this.check(token, request, options))) {
      throw new S3Error("AccessDenied", "Access Denied");
    }
  }
}
