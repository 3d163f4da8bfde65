/**
 * Where secrets come from: client secrets (keystore, then `hmacFetcher`) and
 * backend credentials (static, or `bucketCredsFetcher`), each cached with a
 * TTL in a bounded LRU with single flight. Nothing is cached forever.
 *
 * @module
 */
import type { HmacKey, ResolvedBucket, ResolvedConfig } from "../config/config.ts";
import { S3Error } from "../request/errors.ts";
import { TtlCache } from "../access/ttl_cache.ts";
import { runCallback } from "../access/callback.ts";
import type { Metrics } from "../observe/metrics.ts";

/**
 * Backend credentials for one request: an HMAC pair, an IBM COS API key, or
 * none (`anonymous`: sent unsigned, as the backend's own anonymous caller).
 */
export type BackendCredentials =
  | ({ kind: "hmac" } & HmacKey)
  | { kind: "apiKey"; apiKey: string }
  | { kind: "anonymous" };

/** Parses what `bucketCredsFetcher` returned. */
export function parseFetchedCredentials(value: unknown): BackendCredentials {
  if (typeof value === "object" && value !== null) {
    const { accessKey, secretKey } = value as Partial<HmacKey>;
    if (typeof accessKey === "string" && accessKey && typeof secretKey === "string" && secretKey) {
      return { kind: "hmac", accessKey, secretKey };
    }
  } else if (typeof value === "string" && value !== "") {
    if (value.trimStart().startsWith("{")) {
      try {
        const json = JSON.parse(value);
        if (
          typeof json?.access_key === "string" && json.access_key &&
          typeof json?.secret_key === "string" && json.secret_key
        ) {
          return { kind: "hmac", accessKey: json.access_key, secretKey: json.secret_key };
        }
      } catch { /* fall through to the error below */ }
    } else {
      return { kind: "apiKey", apiKey: value };
    }
  }
  throw new S3Error(
    "InternalError",
    "bucketCredsFetcher returned neither {accessKey, secretKey}, a JSON key pair nor an API key",
  );
}

/** Looks up and caches client secrets and backend credentials. */
export class Credentials {
  #config: ResolvedConfig;
  #secrets: TtlCache<string | null>;
  #backend: TtlCache<BackendCredentials>;

  #metrics?: Metrics;

  /** Creates the caches for a resolved config. */
  constructor(config: ResolvedConfig, options: { metrics?: Metrics } = {}) {
    this.#config = config;
    this.#metrics = options.metrics;
    this.#secrets = new TtlCache({ maxEntries: config.cacheSize, clock: config.clock });
    this.#backend = new TtlCache({ maxEntries: config.cacheSize, clock: config.clock });
  }

  /** The client's secret, or null when the access key is unknown. */
  async secretFor(accessKey: string): Promise<string | null> {
    const fromStore = this.#config.keystore.get(accessKey);
    if (fromStore !== undefined) return fromStore;
    const fetcher = this.#config.hmacFetcher;
    if (fetcher === undefined) return null;
    let missed = false;
    const found = await this.#secrets.getOrLoad(accessKey, async () => {
      missed = true;
      const secret: unknown = await runCallback("hmacFetcher", () => fetcher(accessKey), {
        timeoutMs: this.#config.callbackTimeoutMs,
        observe: (ms) => this.#metrics?.callbackTimed("hmacFetcher", ms),
      });
      if (secret === null || secret === undefined) return null;
      if (typeof secret !== "string" || secret === "") {
        throw new S3Error("InternalError", "hmacFetcher returned neither a string nor null");
      }
      return secret;
    }, { ttlMs: this.#config.secretCacheTtlMs });
    this.#metrics?.cacheLookup("secret", missed ? "miss" : "hit");
    return found;
  }

  /**
   * Backend credentials for (token, bucket); a null token is an anonymous
   * request, which a bucket with `anonymousAs: "anonymous"` sends unsigned.
   * Synchronous for credentials in the config (no promise per request);
   * a promise when `bucketCredsFetcher` is asked (or its answer cached).
   * Throws AccessDenied (or rejects) when there is no backend identity.
   */
  backendFor(
    token: string | null,
    bucket: ResolvedBucket,
  ): BackendCredentials | Promise<BackendCredentials> {
    if (token === null && bucket.anonymousAs === "anonymous") return { kind: "anonymous" };
    const own = token === null ? undefined : bucket.backendCredentials?.get(token);
    if (own !== undefined) return { kind: "hmac", ...own };
    const c = bucket.credentials;
    if (c.kind === "hmac") return { kind: "hmac", accessKey: c.accessKey, secretKey: c.secretKey };
    if (c.kind === "apiKey") return { kind: "apiKey", apiKey: c.apiKey };
    const fetcher = this.#config.bucketCredsFetcher;
    if (fetcher === undefined || token === null) {
      throw new S3Error("AccessDenied", "No backend identity is configured for this access key");
    }
    return this.#fetched(fetcher, { token, bucket });
  }

  async #fetched(
    fetcher: NonNullable<ResolvedConfig["bucketCredsFetcher"]>,
    request: { token: string; bucket: ResolvedBucket },
  ): Promise<BackendCredentials> {
    const { token, bucket } = request;
    let missed = false;
    const found = await this.#backend.getOrLoad(JSON.stringify([bucket.name, token]), async () => {
      missed = true;
      const value: unknown = await runCallback(
        "bucketCredsFetcher",
        () => fetcher(token, bucket.name),
        {
          timeoutMs: this.#config.callbackTimeoutMs,
          observe: (ms) => this.#metrics?.callbackTimed("bucketCredsFetcher", ms),
        },
      );
      return parseFetchedCredentials(value);
    }, { ttlMs: bucket.ttlMs });
    this.#metrics?.cacheLookup("creds", missed ? "miss" : "hit");
    return found;
  }
}

/** True when two backend credentials are the same identity. */
export function sameCredentials(a: BackendCredentials, b: BackendCredentials): boolean {
  if (a.kind === "hmac" && b.kind === "hmac") {
    return a.accessKey === b.accessKey && a.secretKey === b.secretKey;
  }
  if (a.kind === "apiKey" && b.kind === "apiKey") return a.apiKey === b.apiKey;
  return a.kind === "anonymous" && b.kind === "anonymous";
}
