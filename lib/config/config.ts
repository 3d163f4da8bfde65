/**
 * The configuration users write, and its resolution into one fully-defaulted,
 * validated object. Every problem is reported with the path of its field.
 *
 * @module
 */
import { hasUnsafeBucketChar, isDnsName } from "../request/bucket_name.ts";
import { ANONYMOUS_OPERATIONS, UNSIGNED_ANONYMOUS_OPERATIONS } from "../sigv4/anonymous.ts";

/** The cosMap key of the default route, for buckets not named explicitly. */
export const DEFAULT_ROUTE = "*";

/** IBM's public IAM token endpoint, the default `iamEndpoint`. */
export const DEFAULT_IAM_ENDPOINT = "https://iam.cloud.ibm.com/identity/token";

/**
 * A value or a promise of it: callbacks may be sync or async.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Awaitable } from "@osp/osp";
 * const lookup = (k: string): Awaitable<string | null> => Promise.resolve(k === "a" ? "s" : null);
 * assert.equal(await lookup("a"), "s");
 * ```
 */
export type Awaitable<T> = T | Promise<T>;

/**
 * An HMAC key pair (S3 access key id and secret).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConfig, type HmacKey } from "@osp/osp";
 * const key: HmacKey = { accessKey: "alice", secretKey: "alice-secret" };
 * assert.deepEqual(checkConfig({ httpPort: 8080, hmacKeystore: [key], cosMap: {} }), []);
 * ```
 */
export interface HmacKey {
  /** The access key id. */
  accessKey: string;
  /** The secret access key. */
  secretKey: string;
}

/**
 * What the validator is told about a request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ValidatorRequest } from "@osp/osp";
 * const readOnly = (r: ValidatorRequest) => r.method === "GET" || r.method === "HEAD";
 * const request: ValidatorRequest = {
 *   method: "GET", operation: "GetObject", bucket: "logs", key: "app.log",
 *   query: {}, headers: { host: "osp.example.com" }, sourceIp: "10.0.0.1",
 * };
 * assert.equal(readOnly(request), true);
 * assert.equal(readOnly({ ...request, method: "PUT", operation: "PutObject" }), false);
 * ```
 */
export interface ValidatorRequest {
  /** HTTP method. */
  method: string;
  /** S3 operation name, e.g. `GetObject`, `PutObject`, `ListObjectsV2`. */
  operation: string;
  /** The client's bucket name. */
  bucket: string;
  /** The decoded object key; undefined for bucket and service requests. */
  key?: string;
  /** Decoded query parameters (the last value wins for repeated names; presign parameters removed). */
  query: Record<string, string>;
  /** Request headers, lower-case names, without `authorization`. */
  headers: Record<string, string>;
  /** The client's IP address. */
  sourceIp: string;
}

/**
 * Decides whether `token` (the client's access key id, or null for an
 * anonymous request to a bucket with `anonymous` operations) may make
 * `request` on `bucket`. Return true to allow; false answers 403 AccessDenied; a throw
 * answers 500 InternalError and never allows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Validator, ValidatorRequest } from "@osp/osp";
 * const validator: Validator = (token, bucket, req) =>
 *   bucket === "public" ? req.operation === "GetObject" : token === "admin";
 * const get: ValidatorRequest = {
 *   method: "GET", operation: "GetObject", bucket: "public", key: "k",
 *   query: {}, headers: {}, sourceIp: "10.0.0.1",
 * };
 * assert.equal(validator("anyone", "public", get), true);
 * assert.equal(validator("anyone", "private", { ...get, bucket: "private" }), false);
 * ```
 */
export type Validator = (
  token: string | null,
  bucket: string,
  request: ValidatorRequest,
) => Awaitable<boolean>;

/**
 * Returns the secret for an access key id, or null/undefined when the key is unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { HmacFetcher } from "@osp/osp";
 * const secrets = new Map([["alice", "alice-secret"]]);
 * const hmacFetcher: HmacFetcher = (accessKey) => secrets.get(accessKey);
 * assert.equal(hmacFetcher("alice"), "alice-secret");
 * assert.equal(hmacFetcher("mallory"), undefined);
 * ```
 */
export type HmacFetcher = (accessKey: string) => Awaitable<string | null | undefined>;

/**
 * Returns backend credentials for (token, bucket): an HMAC pair, a JSON string
 * `{"access_key": …, "secret_key": …}`, or an IBM COS API key string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BucketCredsFetcher } from "@osp/osp";
 * const bucketCredsFetcher: BucketCredsFetcher = async (token, bucket) =>
 *   ({ accessKey: `${token}-on-${bucket}`, secretKey: "from-your-vault" });
 * assert.deepEqual(await bucketCredsFetcher("alice", "logs"), {
 *   accessKey: "alice-on-logs",
 *   secretKey: "from-your-vault",
 * });
 * ```
 */
export type BucketCredsFetcher = (token: string, bucket: string) => Awaitable<HmacKey | string>;

/**
 * One client bucket and the backend that holds it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type BucketConfig, checkConfig } from "@osp/osp";
 * const logs: BucketConfig = {
 *   host: "rgw.internal", port: 7480, tls: false, addressingStyle: "path",
 *   backendBucket: "logs", accessKey: "rgw-key", secretKey: "rgw-secret",
 * };
 * const hmacKeystore = [{ accessKey: "alice", secretKey: "alice-secret" }];
 * assert.deepEqual(checkConfig({ httpPort: 8080, hmacKeystore, cosMap: { logs } }), []);
 * ```
 */
export interface BucketConfig {
  /** Backend host name or IP, without scheme or port. */
  host: string;
  /** Backend port, 1–65535. */
  port: number;
  /** Region the backend signs for; default `us-east-1`. */
  region?: string;
  /** Static backend access key id (with `secretKey`). */
  accessKey?: string;
  /** Static backend secret (with `accessKey`). */
  secretKey?: string;
  /** Static IBM COS API key (instead of an HMAC pair). */
  apiKey?: string;
  /** Seconds that validator and credential decisions are cached; default 300, 0 = no caching. */
  ttl?: number;
  /** `"virtual"` (default): `bucket.host`; `"path"`: `host/bucket`. */
  addressingStyle?: "virtual" | "path";
  /** Use HTTPS to the backend; default true. */
  tls?: boolean;
  /** The bucket's name on the backend; default the client bucket name. */
  backendBucket?: string;
  /**
   * How aws-chunked uploads reach the backend. `"decode"` (default, works
   * everywhere): osp verifies and removes the framing and sends plain bytes
   * with `UNSIGNED-PAYLOAD`. `"resign"`: osp verifies, then re-frames with the
   * backend's key, for backends that support the mode.
   */
  payloadForwarding?: "decode" | "resign";
  /** Verify a literal `x-amz-content-sha256` in osp (for backends that do not); default false. */
  verifyPayloadHash?: boolean;
  /** Verify `x-amz-checksum-*` request headers in osp; default false. */
  verifyChecksums?: boolean;
  /** Add a missing `Content-MD5` to DeleteObjects and configuration uploads; default false. */
  addContentMd5?: boolean;
  /** IBM COS: sent as `ibm-service-instance-id` with API-key (bearer) requests. */
  serviceInstanceId?: string;
  /**
   * Per-client backend identities: client access key id → the backend key
   * pair that client acts as. Wins over `accessKey`/`secretKey` and
   * `bucketCredsFetcher` for the clients it names.
   */
  backendCredentials?: Record<string, HmacKey>;
  /**
   * Refuse keys with `.` or `..` segments or an empty segment (`a//b`, a
   * leading `/`) with 400 InvalidArgument, also when percent-encoded; default
   * false. S3 and RGW take such keys literally, but a path-normalising
   * middlebox between osp and the backend would turn them into another key.
   */
  strictKeyPaths?: boolean;
  /**
   * CORS for browsers: rules in S3's `CORSRule` shape, or `"backend"` to use
   * the bucket's own CORS configuration on the backend (read with the bucket's
   * static credentials, cached for `ttl`). Default: the top-level `cors`.
   */
  cors?: CorsRule[] | "backend";
  /**
   * Operations that requests without credentials may do on this bucket (a
   * public bucket), e.g. `["GetObject", "HeadObject", "ListObjectsV2"]`. The
   * validator is still asked, with a null token; `anonymousAs` says which
   * identity they reach the backend with. Default: none.
   */
  anonymous?: string[];
  /**
   * Which identity the `anonymous` operations reach the backend with.
   * `"bucket"` (default): re-signed with the bucket's static identity (a
   * public bucket on a private backend; needs `accessKey`+`secretKey` or
   * `apiKey`). `"anonymous"`: sent unsigned, as the backend's own anonymous
   * caller, so the backend's public ACLs and bucket policies decide (needs no
   * static identity; `anonymous` may then also name `DeleteObject`).
   */
  anonymousAs?: AnonymousAs;
  /**
   * S3 static website semantics for anonymous `GET`/`HEAD` requests: index
   * documents, an error document, optional HTML listings. Needs `GetObject`
   * and `HeadObject` in `anonymous` (and `ListObjectsV2` for `listing`).
   * Default: none (plain S3 REST).
   */
  website?: WebsiteConfig;
}

/**
 * A bucket's static website, as S3 website endpoints serve one: anonymous
 * `GET`/`HEAD` of `…/` serves `…/` + `indexDocument`, a missing object
 * whose `key/` has an index answers `302` to `key/`, a 404 or 403 serves
 * `errorDocument` with that status, and with `listing` a prefix without an
 * index is listed as an HTML page. Every backend request it makes is its own
 * anonymous operation, put to the validator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConfig, type WebsiteConfig } from "@osp/osp";
 * const website: WebsiteConfig = { indexDocument: "index.html", errorDocument: "404.html" };
 * const site = {
 *   host: "rgw.internal", port: 7480, accessKey: "site", secretKey: "site-secret",
 *   anonymous: ["GetObject", "HeadObject"], website,
 * };
 * const hmacKeystore = [{ accessKey: "alice", secretKey: "alice-secret" }];
 * assert.deepEqual(checkConfig({ httpPort: 8080, hmacKeystore, cosMap: { site } }), []);
 * ```
 */
export interface WebsiteConfig {
  /** Served for keys ending in `/` and the bucket root: a name without `/`; default `index.html`. */
  indexDocument?: string;
  /** The key served (with the error's status) on a 404 or 403; default none (an HTML error page). */
  errorDocument?: string;
  /** An HTML listing of prefixes without an index document; needs `ListObjectsV2` in `anonymous`. Default false. */
  listing?: boolean;
  /** Keys per listing page, 1–1000; default 1000. */
  listingPageSize?: number;
}

/**
 * One CORS rule, in the shape of S3's `CORSRule`. `*` in an origin or a
 * header name matches any run of characters (once per pattern).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConfig, type CorsRule } from "@osp/osp";
 * const uploads: CorsRule = {
 *   allowedOrigins: ["https://app.example.com"],
 *   allowedMethods: ["GET", "PUT", "POST"],
 *   allowedHeaders: ["*"],
 *   exposeHeaders: ["ETag"],
 *   maxAgeSeconds: 600,
 * };
 * const hmacKeystore = [{ accessKey: "alice", secretKey: "alice-secret" }];
 * assert.deepEqual(checkConfig({ httpPort: 8080, hmacKeystore, cosMap: {}, cors: [uploads] }), []);
 * ```
 */
export interface CorsRule {
  /** Origins allowed, e.g. `https://app.example.com` or `https://*.example.com`, or `*`. */
  allowedOrigins: string[];
  /** Methods allowed: GET, PUT, POST, DELETE, HEAD. */
  allowedMethods: string[];
  /** Request headers a preflight may ask for (`*` for any); default none. */
  allowedHeaders?: string[];
  /** Response headers browsers may read, besides ETag, x-amz-request-id and x-amz-version-id. */
  exposeHeaders?: string[];
  /** Seconds a browser may cache a preflight answer. */
  maxAgeSeconds?: number;
}

/**
 * What a cached validator decision is keyed on besides token, bucket, method,
 * operation and key. The default keys on every input the validator is shown;
 * narrow it when your validator looks at less, for more cache hits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConfig, type ValidatorCacheKeyConfig } from "@osp/osp";
 * // A validator that reads only token, bucket, operation and key:
 * const validatorCacheKey: ValidatorCacheKeyConfig = { query: false, headers: [], sourceIp: false };
 * const hmacKeystore = [{ accessKey: "alice", secretKey: "alice-secret" }];
 * assert.deepEqual(checkConfig({ httpPort: 8080, hmacKeystore, cosMap: {}, validatorCacheKey }), []);
 * ```
 */
export interface ValidatorCacheKeyConfig {
  /** Key on the query parameters; default true. */
  query?: boolean;
  /**
   * Key on headers: `"all"` (default) is every header but those that change
   * on every request (dates, lengths, body checksums, user agents, SDK ids);
   * a list keys on just those names.
   */
  headers?: "all" | string[];
  /** Key on the client's IP address; default true. */
  sourceIp?: boolean;
}

/** {@linkcode ValidatorCacheKeyConfig} with every default applied. */
export interface ValidatorCacheKey {
  /** Key on the query parameters. */
  query: boolean;
  /** `"all"` but volatile ones, or exactly these lower-case names. */
  headers: "all" | ReadonlySet<string>;
  /** Key on the client's IP address. */
  sourceIp: boolean;
}

/**
 * TLS certificate and key: PEM text or file paths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConfig, type TlsConfig } from "@osp/osp";
 * const tls: TlsConfig = { cert: "/nonexistent/cert.pem", key: "/nonexistent/key.pem" };
 * const hmacKeystore = [{ accessKey: "alice", secretKey: "alice-secret" }];
 * const problems = checkConfig({ httpsPort: 8443, tls, hmacKeystore, cosMap: {} });
 * assert.match(problems[0], /^tls.cert is neither PEM text nor a readable file/);
 * ```
 */
export interface TlsConfig {
  /** Certificate chain, PEM text or path. */
  cert: string;
  /** Private key, PEM text or path. */
  key: string;
}

/**
 * Log levels, from most to least verbose.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConfig, type LogLevel } from "@osp/osp";
 * const logLevel: LogLevel = "warn";
 * const hmacKeystore = [{ accessKey: "alice", secretKey: "alice-secret" }];
 * assert.deepEqual(checkConfig({ httpPort: 8080, hmacKeystore, cosMap: {}, logLevel }), []);
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * The configuration passed to `serve()`. Validated once at start: a mistake is
 * a TypeError naming the field path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConfig, type ProxyConfig } from "@osp/osp";
 * const config: ProxyConfig = {
 *   httpPort: 8080,
 *   hmacKeystore: [{ accessKey: "alice", secretKey: "alice-secret" }],
 *   cosMap: { photos: { host: "s3.amazonaws.com", port: 443, accessKey: "AK", secretKey: "SK" } },
 * };
 * assert.deepEqual(checkConfig(config), []);
 * ```
 */
export interface ProxyConfig {
  /** Client bucket name → backend. */
  cosMap: Record<string, BucketConfig>;
  /** Static client keys. */
  hmacKeystore?: HmacKey[];
  /** Looks up client secrets not in the keystore. */
  hmacFetcher?: HmacFetcher;
  /** Authorizes each request; without one, every authenticated request is allowed. */
  validator?: Validator;
  /** Supplies backend credentials for buckets without static ones. */
  bucketCredsFetcher?: BucketCredsFetcher;
  /** Plain HTTP port (0 = any free port). */
  httpPort?: number;
  /** HTTPS port (0 = any free port); needs `tls` or TLS_CERT_PATH/TLS_KEY_PATH. */
  httpsPort?: number;
  /** Certificate and key for HTTPS. */
  tls?: TlsConfig;
  /** Address to listen on; default `0.0.0.0`. */
  hostname?: string;
  /** Host suffixes for virtual-host addressing from clients, e.g. `["s3.example.com"]`. */
  virtualHostSuffixes?: string[];
  /** Isolates to run; default 1. `"auto"`: one per core on 4 cores or more, else 1. */
  threads?: number | "auto";
  /** Verify backend TLS certificates; default true. */
  verify?: boolean;
  /** Accept any client signature (logs a loud warning); default false. */
  skipSignatureValidation?: boolean;
  /**
   * Accept AWS Signature Version 2 (HMAC-SHA1) from legacy clients, header
   * and presigned; default true. False answers them 403 AccessDenied.
   */
  sigV2?: boolean;
  /** How many times one presigned URL may be used; default 3, 0 = unlimited. */
  maxPresignUrlUsageAttempts?: number;
  /**
   * Shared state. `redis`: a `redis://` or `rediss://` URL; presigned URL use
   * counts are then kept there and shared by every instance using it (while
   * Redis cannot answer, capped presigned URLs get 503 ServiceUnavailable).
   * Default: counted in memory, in the main isolate (exact across `threads`).
   */
  store?: { redis: string };
  /** `server` header on osp's own responses; default `osp`. */
  serverName?: string;
  /** Port for metrics and health. */
  metricsPort?: number;
  /** Log level; default `info`. */
  logLevel?: LogLevel;
  /**
   * The share (0 to 1) of successful requests that get an access-log line;
   * default 1, every request. A request answered with an error (status ≥ 400)
   * or whose body failed on the way is always logged; 0 logs those alone.
   * A line that is there by sampling carries `sampleRate`, so that counts
   * taken from the log can be scaled back. Metrics count every request.
   */
  accessLogSample?: number;
  /** Allowed clock skew of signed requests in seconds; default 900. */
  clockSkewSeconds?: number;
  /** Seconds a secret from `hmacFetcher` is cached; default 300, 0 = no caching. */
  secretCacheTtl?: number;
  /** Most entries in each decision cache; default 10000. */
  cacheSize?: number;
  /** What a cached validator decision depends on; default: every input the validator sees. */
  validatorCacheKey?: ValidatorCacheKeyConfig;
  /** CORS rules for buckets without their own `cors`; default none (preflights are refused). */
  cors?: CorsRule[];
  /** Longest wait for validator, hmacFetcher and bucketCredsFetcher, ms; default 5000 (0 = none). */
  callbackTimeoutMs?: number;
  /** Longest wait for a backend's response headers (connect included), ms; default 120000 (0 = none). */
  upstreamTimeoutMs?: number;
  /**
   * Longest time an upload body may go without a byte moving, ms; then both
   * sides are cut (client stalled: 400 RequestTimeout; backend stopped
   * reading: 503). Default 60000 (0 = none).
   */
  bodyIdleTimeoutMs?: number;
  /**
   * Longest time a download body may go without a byte moving, ms; then the
   * response is cut short and the backend's cancelled. Watching costs Deno's
   * native pipe (about half the GET throughput), so the default is 0 (none).
   */
  downloadIdleTimeoutMs?: number;
  /** Requests handled at once; above it osp answers 503 SlowDown; default 0 = no limit. */
  maxConcurrentRequests?: number;
  /** On shutdown, how long in-flight transfers may finish before they are aborted, ms; default 30000. */
  shutdownGraceMs?: number;
  /** IBM IAM token endpoint for API keys; default `https://iam.cloud.ibm.com/identity/token`. */
  iamEndpoint?: string;
  /** Count requests per (bucket, operation) for `server.requestCounts()`; default env `OSP_ENABLE_REQUEST_COUNTING=true`. */
  enableRequestCounting?: boolean;
  /** Time source in epoch milliseconds (tests). */
  clock?: () => number;
  /** The fetch used to reach backends (tests). */
  fetch?: typeof fetch;
}

/**
 * The identity a bucket's anonymous operations reach the backend with: its
 * static one (`"bucket"`), or none, the backend's own anonymous caller.
 */
export type AnonymousAs = "bucket" | "anonymous";

/** Backend credentials as resolved for one bucket. */
export type BucketCredentials =
  | { kind: "hmac"; accessKey: string; secretKey: string }
  | { kind: "apiKey"; apiKey: string }
  | { kind: "fetch" };

/** A bucket with every default applied. */
export interface ResolvedBucket {
  /** The client bucket name. */
  name: string;
  host: string;
  port: number;
  region: string;
  credentials: BucketCredentials;
  ttlMs: number;
  addressingStyle: "virtual" | "path";
  tls: boolean;
  backendBucket: string;
  /** `scheme://host:port`: buckets with equal origins are on the same backend. */
  origin: string;
  payloadForwarding: "decode" | "resign";
  verifyPayloadHash: boolean;
  verifyChecksums: boolean;
  addContentMd5: boolean;
  serviceInstanceId?: string;
  backendCredentials?: Map<string, HmacKey>;
  strictKeyPaths: boolean;
  /** The bucket's CORS rules (its own, else the top-level default), or `"backend"`. */
  cors: readonly ResolvedCorsRule[] | "backend";
  /** Operations requests without credentials may do. */
  anonymous: ReadonlySet<string>;
  /** The identity they reach the backend with. */
  anonymousAs: AnonymousAs;
  /** The bucket's static website, if it has one. */
  website?: ResolvedWebsite;
}

/** {@linkcode WebsiteConfig} with every default applied. */
export type ResolvedWebsite = Required<Omit<WebsiteConfig, "errorDocument">> & {
  errorDocument?: string;
};

/** A CORS rule with every list present. */
export type ResolvedCorsRule = Required<Omit<CorsRule, "maxAgeSeconds">> & {
  maxAgeSeconds?: number;
};

/** The configuration with every default applied. */
export interface ResolvedConfig {
  buckets: Map<string, ResolvedBucket>;
  keystore: Map<string, string>;
  hmacFetcher?: HmacFetcher;
  validator?: Validator;
  bucketCredsFetcher?: BucketCredsFetcher;
  httpPort?: number;
  httpsPort?: number;
  tls?: TlsConfig;
  hostname: string;
  virtualHostSuffixes: string[];
  threads: number;
  verify: boolean;
  skipSignatureValidation: boolean;
  sigV2: boolean;
  maxPresignUrlUsageAttempts: number;
  store?: { redis: string };
  serverName: string;
  metricsPort?: number;
  logLevel: LogLevel;
  accessLogSample: number;
  clockSkewMs: number;
  secretCacheTtlMs: number;
  cacheSize: number;
  validatorCacheKey: ValidatorCacheKey;
  /** The top-level CORS rules. */
  cors: readonly ResolvedCorsRule[];
  callbackTimeoutMs: number;
  upstreamTimeoutMs: number;
  bodyIdleTimeoutMs: number;
  downloadIdleTimeoutMs: number;
  maxConcurrentRequests: number;
  shutdownGraceMs: number;
  iamEndpoint: string;
  enableRequestCounting: boolean;
  clock: () => number;
  fetch: typeof fetch;
}

/**
 * Every ProxyConfig field, once: typed by the interface, so a field added there
 * without being added here (or a stray one here) fails `deno check`.
 */
const CONFIG_FIELDS: Record<keyof ProxyConfig, true> = {
  cosMap: true,
  hmacKeystore: true,
  hmacFetcher: true,
  validator: true,
  bucketCredsFetcher: true,
  httpPort: true,
  httpsPort: true,
  tls: true,
  hostname: true,
  virtualHostSuffixes: true,
  threads: true,
  verify: true,
  skipSignatureValidation: true,
  sigV2: true,
  maxPresignUrlUsageAttempts: true,
  store: true,
  serverName: true,
  metricsPort: true,
  logLevel: true,
  accessLogSample: true,
  clockSkewSeconds: true,
  secretCacheTtl: true,
  cacheSize: true,
  validatorCacheKey: true,
  cors: true,
  callbackTimeoutMs: true,
  upstreamTimeoutMs: true,
  bodyIdleTimeoutMs: true,
  downloadIdleTimeoutMs: true,
  maxConcurrentRequests: true,
  shutdownGraceMs: true,
  iamEndpoint: true,
  enableRequestCounting: true,
  clock: true,
  fetch: true,
};

/**
 * Every BucketConfig field, once: typed by the interface, so a field added there
 * without being added here (or a stray one here) fails `deno check`.
 */
const BUCKET_FIELDS: Record<keyof BucketConfig, true> = {
  host: true,
  port: true,
  region: true,
  accessKey: true,
  secretKey: true,
  apiKey: true,
  ttl: true,
  addressingStyle: true,
  tls: true,
  backendBucket: true,
  payloadForwarding: true,
  verifyPayloadHash: true,
  verifyChecksums: true,
  addContentMd5: true,
  serviceInstanceId: true,
  backendCredentials: true,
  strictKeyPaths: true,
  cors: true,
  anonymous: true,
  anonymousAs: true,
  website: true,
};

/** Every WebsiteConfig field, once (see {@linkcode BUCKET_FIELDS}). */
const WEBSITE_FIELDS: Record<keyof WebsiteConfig, true> = {
  indexDocument: true,
  errorDocument: true,
  listing: true,
  listingPageSize: true,
};

/** Keys per website listing page when the config does not say: ListObjectsV2's maximum. */
const MAX_LISTING_PAGE = 1000;

const LOG_LEVELS = ["debug", "info", "warn", "error"];

/** Collects problems with their field paths. */
class Problems {
  list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path} ${message}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkPort(
  p: Problems,
  path: string,
  value: unknown,
  options: { min: number },
): number | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < options.min || value > 65535
  ) {
    p.add(path, `must be an integer ${options.min}–65535`);
    return undefined;
  }
  return value;
}

function checkString(
  p: Problems,
  path: string,
  value: unknown,
  options: { required?: boolean } = {},
): string | undefined {
  if (value === undefined) {
    if (options.required) p.add(path, "is required");
    return undefined;
  }
  if (typeof value !== "string" || value === "") {
    p.add(path, "must be a non-empty string");
    return undefined;
  }
  return value;
}

function checkBoolean(p: Problems, path: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "boolean") {
    p.add(path, "must be true or false");
    return undefined;
  }
  return value;
}

function checkNonNegative(
  p: Problems,
  path: string,
  value: unknown,
  options: { integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const { min = 0, max } = options;
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < min ||
    (max !== undefined && value > max) || (options.integer && !Number.isInteger(value))
  ) {
    const kind = options.integer ? "an integer" : "a number";
    p.add(
      path,
      max === undefined ? `must be ${kind} ≥ ${min}` : `must be ${kind} from ${min} to ${max}`,
    );
    return undefined;
  }
  return value;
}

function checkFunction<T>(p: Problems, path: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "function") {
    p.add(path, "must be a function");
    return undefined;
  }
  return value as T;
}

function readPem(p: Problems, path: string, value: string): string {
  if (value.includes("-----BEGIN")) return value;
  try {
    return Deno.readTextFileSync(value);
  } catch (err) {
    p.add(path, `is neither PEM text nor a readable file (${(err as Error).message})`);
    return "";
  }
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * `threads: "auto"`: one isolate per core the process may use. On 2 cores a
 * second isolate only competes with the first (docs/performance.md#threads),
 * so fewer than 4 cores give 1.
 */
export function autoThreads(cores: number = navigator.hardwareConcurrency ?? 1): number {
  return cores >= 4 ? cores : 1;
}

function resolveValidatorCacheKey(p: Problems, raw: unknown): ValidatorCacheKey {
  const all: ValidatorCacheKey = { query: true, headers: "all", sourceIp: true };
  if (raw === undefined) return all;
  if (!isRecord(raw)) {
    p.add("validatorCacheKey", "must be {query, headers, sourceIp}");
    return all;
  }
  for (const field of Object.keys(raw)) {
    if (!["query", "headers", "sourceIp"].includes(field)) {
      p.add(`validatorCacheKey.${field}`, "is not a known field");
    }
  }
  let headers: ValidatorCacheKey["headers"] = "all";
  if (Array.isArray(raw.headers)) {
    headers = new Set(raw.headers.map((h, i) => {
      if (typeof h !== "string" || h === "") {
        p.add(`validatorCacheKey.headers[${i}]`, "must be a header name");
      }
      return String(h).toLowerCase();
    }));
  } else if (raw.headers !== undefined && raw.headers !== "all") {
    p.add("validatorCacheKey.headers", 'must be "all" or an array of header names');
  }
  return {
    query: checkBoolean(p, "validatorCacheKey.query", raw.query) ?? true,
    headers,
    sourceIp: checkBoolean(p, "validatorCacheKey.sourceIp", raw.sourceIp) ?? true,
  };
}

const CORS_METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"];

function checkPatterns(
  p: Problems,
  path: string,
  value: unknown,
  options: { required: boolean },
): string[] {
  if (value === undefined && !options.required) return [];
  if (!Array.isArray(value) || (options.required && value.length === 0)) {
    p.add(
      path,
      options.required ? "must be a non-empty array of strings" : "must be an array of strings",
    );
    return [];
  }
  value.forEach((v, i) => {
    if (typeof v !== "string" || v === "") p.add(`${path}[${i}]`, "must be a non-empty string");
    else if (v.split("*").length > 2) p.add(`${path}[${i}]`, "may hold at most one *");
  });
  return value.filter((v): v is string => typeof v === "string");
}

/** Checks CORS rules in S3's CORSRule shape. */
function resolveCorsRules(p: Problems, path: string, raw: unknown): ResolvedCorsRule[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    p.add(path, "must be an array of CORS rules");
    return [];
  }
  return raw.map((rule, i) => {
    const at = `${path}[${i}]`;
    if (!isRecord(rule)) {
      p.add(
        at,
        "must be {allowedOrigins, allowedMethods, allowedHeaders?, exposeHeaders?, maxAgeSeconds?}",
      );
      return { allowedOrigins: [], allowedMethods: [], allowedHeaders: [], exposeHeaders: [] };
    }
    for (const field of Object.keys(rule)) {
      if (
        !["allowedOrigins", "allowedMethods", "allowedHeaders", "exposeHeaders", "maxAgeSeconds"]
          .includes(field)
      ) {
        p.add(`${at}.${field}`, "is not a known field");
      }
    }
    const allowedMethods = checkPatterns(p, `${at}.allowedMethods`, rule.allowedMethods, {
      required: true,
    });
    for (const m of allowedMethods) {
      if (!CORS_METHODS.includes(m)) {
        p.add(`${at}.allowedMethods`, `holds ${m}: only ${CORS_METHODS.join(", ")}`);
      }
    }
    const exposeHeaders = checkPatterns(p, `${at}.exposeHeaders`, rule.exposeHeaders, {
      required: false,
    });
    if (exposeHeaders.some((h) => h.includes("*"))) p.add(`${at}.exposeHeaders`, "may not hold *");
    const maxAge = checkNonNegative(p, `${at}.maxAgeSeconds`, rule.maxAgeSeconds, {
      integer: true,
    });
    return {
      allowedOrigins: checkPatterns(p, `${at}.allowedOrigins`, rule.allowedOrigins, {
        required: true,
      }),
      allowedMethods,
      allowedHeaders: checkPatterns(p, `${at}.allowedHeaders`, rule.allowedHeaders, {
        required: false,
      }),
      exposeHeaders,
      ...(maxAge === undefined ? {} : { maxAgeSeconds: maxAge }),
    };
  });
}

function resolveBucket(
  p: Problems,
  name: string,
  raw: unknown,
  options: { hasFetcher: boolean; defaultCors: readonly ResolvedCorsRule[] },
): ResolvedBucket | undefined {
  const path = `cosMap[${JSON.stringify(name)}]`;
  if (name === "" || (name !== DEFAULT_ROUTE && hasUnsafeBucketChar(name))) {
    p.add(
      path,
      "is not a valid bucket name (no / : ? # @ % \\, white space or control characters)",
    );
  }
  if (!isRecord(raw)) {
    p.add(path, "must be an object");
    return undefined;
  }
  for (const field of Object.keys(raw)) {
    if (!Object.hasOwn(BUCKET_FIELDS, field)) p.add(`${path}.${field}`, "is not a known field");
  }
  const host = checkString(p, `${path}.host`, raw.host, { required: true });
  if (host !== undefined && /[/:?#@%\\\s]/.test(host) && !/^\[[0-9a-fA-F:]+\]$/.test(host)) {
    p.add(`${path}.host`, "must be a bare host name or IP (no scheme, port or path)");
  }
  if (raw.port === undefined) p.add(`${path}.port`, "is required");
  const port = checkPort(p, `${path}.port`, raw.port, { min: 1 });
  const region = checkString(p, `${path}.region`, raw.region) ?? "us-east-1";
  const accessKey = checkString(p, `${path}.accessKey`, raw.accessKey);
  const secretKey = checkString(p, `${path}.secretKey`, raw.secretKey);
  const apiKey = checkString(p, `${path}.apiKey`, raw.apiKey);
  const ttl = checkNonNegative(p, `${path}.ttl`, raw.ttl) ?? 300;
  const style = raw.addressingStyle ?? "virtual";
  if (style !== "virtual" && style !== "path") {
    p.add(`${path}.addressingStyle`, 'must be "virtual" or "path"');
  }
  const tls = checkBoolean(p, `${path}.tls`, raw.tls) ?? true;
  const backendBucket = checkString(p, `${path}.backendBucket`, raw.backendBucket) ?? name;
  if (name !== DEFAULT_ROUTE && hasUnsafeBucketChar(backendBucket)) {
    p.add(
      `${path}.backendBucket`,
      "must not contain / : ? # @ % \\, white space or control characters",
    );
  } else if (name !== DEFAULT_ROUTE && style === "virtual" && !isDnsName(backendBucket)) {
    p.add(
      `${path}.backendBucket`,
      'must be a lower-case DNS name with virtual-host addressing (or use addressingStyle "path")',
    );
  }
  const strictKeyPaths = checkBoolean(p, `${path}.strictKeyPaths`, raw.strictKeyPaths) ?? false;
  const cors = raw.cors === "backend"
    ? "backend" as const
    : raw.cors === undefined
    ? options.defaultCors
    : resolveCorsRules(p, `${path}.cors`, raw.cors);
  const forwarding = raw.payloadForwarding ?? "decode";
  if (forwarding !== "decode" && forwarding !== "resign") {
    p.add(`${path}.payloadForwarding`, 'must be "decode" or "resign"');
  }
  const verifyPayloadHash = checkBoolean(p, `${path}.verifyPayloadHash`, raw.verifyPayloadHash) ??
    false;
  const verifyChecksums = checkBoolean(p, `${path}.verifyChecksums`, raw.verifyChecksums) ?? false;
  const addContentMd5 = checkBoolean(p, `${path}.addContentMd5`, raw.addContentMd5) ?? false;
  const serviceInstanceId = checkString(p, `${path}.serviceInstanceId`, raw.serviceInstanceId);
  let backendCredentials: Map<string, HmacKey> | undefined;
  if (raw.backendCredentials !== undefined) {
    if (!isRecord(raw.backendCredentials)) {
      p.add(
        `${path}.backendCredentials`,
        "must be an object of client access key → {accessKey, secretKey}",
      );
    } else {
      backendCredentials = new Map();
      for (const [client, pair] of Object.entries(raw.backendCredentials)) {
        const at = `${path}.backendCredentials[${JSON.stringify(client)}]`;
        if (!isRecord(pair)) {
          p.add(at, "must be {accessKey, secretKey}");
          continue;
        }
        const ak = checkString(p, `${at}.accessKey`, pair.accessKey, { required: true });
        const sk = checkString(p, `${at}.secretKey`, pair.secretKey, { required: true });
        if (ak && sk) backendCredentials.set(client, { accessKey: ak, secretKey: sk });
      }
    }
  }
  if (name === DEFAULT_ROUTE && raw.backendBucket !== undefined) {
    p.add(
      `${path}.backendBucket`,
      "cannot be set on the default route: each bucket keeps its name",
    );
  }

  let credentials: BucketCredentials = { kind: "fetch" };
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    p.add(`${path}.${accessKey ? "secretKey" : "accessKey"}`, "is required with its pair");
  } else if (accessKey !== undefined && secretKey !== undefined) {
    if (apiKey !== undefined) {
      p.add(`${path}.apiKey`, "cannot be combined with accessKey/secretKey");
    }
    credentials = { kind: "hmac", accessKey, secretKey };
  } else if (apiKey !== undefined) {
    credentials = { kind: "apiKey", apiKey };
  } else if (!options.hasFetcher && backendCredentials === undefined) {
    p.add(
      path,
      "needs accessKey+secretKey, apiKey, backendCredentials, or a bucketCredsFetcher in the config",
    );
  }
  const anonymousAs = raw.anonymousAs === undefined ? "bucket" : raw.anonymousAs;
  if (anonymousAs !== "bucket" && anonymousAs !== "anonymous") {
    p.add(`${path}.anonymousAs`, 'must be "bucket" or "anonymous"');
  }
  const anonymous = resolveAnonymous(p, path, { raw: raw.anonymous, anonymousAs, credentials });
  if (cors === "backend" && credentials.kind === "fetch") {
    p.add(
      `${path}.cors`,
      '"backend" needs static credentials (accessKey+secretKey or apiKey) to read the bucket\'s CORS configuration',
    );
  }
  const website = resolveWebsite(p, `${path}.website`, { raw: raw.website, anonymous });
  if (host === undefined || port === undefined) return undefined;
  return {
    name,
    host,
    port,
    region,
    credentials,
    ttlMs: ttl * 1000,
    addressingStyle: style as "virtual" | "path",
    tls,
    backendBucket,
    origin: `${tls ? "https" : "http"}://${host}:${port}`,
    payloadForwarding: forwarding as "decode" | "resign",
    verifyPayloadHash,
    verifyChecksums,
    addContentMd5,
    serviceInstanceId,
    backendCredentials,
    strictKeyPaths,
    cors,
    anonymous,
    anonymousAs: anonymousAs as AnonymousAs,
    website,
  };
}

/**
 * A bucket's `anonymous` operations. Re-signed with the bucket's identity
 * (`anonymousAs: "bucket"`) they need a static one and are limited to
 * `ANONYMOUS_OPERATIONS`; sent unsigned they may also name
 * `UNSIGNED_ANONYMOUS_OPERATIONS`, which the backend's own permissions bound.
 */
function resolveAnonymous(
  p: Problems,
  path: string,
  options: { raw: unknown; anonymousAs: unknown; credentials: BucketCredentials },
): ReadonlySet<string> {
  const { raw, anonymousAs, credentials } = options;
  const anonymous = new Set<string>();
  if (raw === undefined) return anonymous;
  const unsigned = anonymousAs === "anonymous";
  const allowed = unsigned
    ? [...ANONYMOUS_OPERATIONS, ...UNSIGNED_ANONYMOUS_OPERATIONS]
    : ANONYMOUS_OPERATIONS;
  if (!Array.isArray(raw)) {
    p.add(`${path}.anonymous`, "must be an array of operation names");
  } else {
    for (const op of raw) {
      if (typeof op === "string" && allowed.includes(op)) anonymous.add(op);
      else if (typeof op === "string" && UNSIGNED_ANONYMOUS_OPERATIONS.includes(op)) {
        p.add(
          `${path}.anonymous`,
          `holds ${JSON.stringify(op)}: only with anonymousAs "anonymous" (sent unsigned)`,
        );
      } else {
        p.add(`${path}.anonymous`, `holds ${JSON.stringify(op)}: only ${allowed.join(", ")}`);
      }
    }
  }
  if (!unsigned && credentials.kind === "fetch") {
    p.add(
      `${path}.anonymous`,
      "needs static credentials (accessKey+secretKey or apiKey): anonymous requests are re-signed with them",
    );
  }
  return anonymous;
}

/**
 * A bucket's `website`, defaults applied. It is served to anonymous callers
 * only, through the operations it makes: `anonymous` must allow them.
 */
function resolveWebsite(
  p: Problems,
  path: string,
  options: { raw: unknown; anonymous: ReadonlySet<string> },
): ResolvedWebsite | undefined {
  const { raw, anonymous } = options;
  if (raw === undefined) return undefined;
  if (!isRecord(raw)) {
    p.add(path, "must be an object {indexDocument, errorDocument, listing}");
    return undefined;
  }
  for (const field of Object.keys(raw)) {
    if (!Object.hasOwn(WEBSITE_FIELDS, field)) p.add(`${path}.${field}`, "is not a known field");
  }
  const indexDocument = checkString(p, `${path}.indexDocument`, raw.indexDocument) ?? "index.html";
  if (indexDocument.includes("/")) p.add(`${path}.indexDocument`, "must not contain /");
  const errorDocument = checkString(p, `${path}.errorDocument`, raw.errorDocument);
  const listing = checkBoolean(p, `${path}.listing`, raw.listing) ?? false;
  const pageSize = checkNonNegative(p, `${path}.listingPageSize`, raw.listingPageSize, {
    integer: true,
    min: 1,
  }) ?? MAX_LISTING_PAGE;
  if (pageSize > MAX_LISTING_PAGE) {
    p.add(`${path}.listingPageSize`, `must be at most ${MAX_LISTING_PAGE}`);
  }
  const needed = ["GetObject", "HeadObject", ...(listing ? ["ListObjectsV2"] : [])];
  const missing = needed.filter((op) => !anonymous.has(op));
  if (missing.length > 0) {
    p.add(
      path,
      `needs ${
        missing.join(", ")
      } in anonymous: a website serves anonymous callers with these operations`,
    );
  }
  return { indexDocument, errorDocument, listing, listingPageSize: pageSize };
}

/**
 * Validates a configuration and applies every default. Throws one TypeError
 * listing every problem, each naming its field path.
 */
export function resolveConfig(config: ProxyConfig): ResolvedConfig {
  const problems = resolveConfigProblems(config);
  if ("problems" in problems) {
    throw new TypeError(`Invalid osp config:\n  - ${problems.problems.join("\n  - ")}`);
  }
  return problems.config;
}

/** Like {@linkcode resolveConfig}, but returns the problems instead of throwing. */
export function resolveConfigProblems(
  config: unknown,
): { config: ResolvedConfig } | { problems: string[] } {
  const p = new Problems();
  if (!isRecord(config)) return { problems: ["config must be an object"] };
  for (const field of Object.keys(config)) {
    if (!Object.hasOwn(CONFIG_FIELDS, field)) p.add(field, "is not a known field");
  }
  const hmacFetcher = checkFunction<HmacFetcher>(p, "hmacFetcher", config.hmacFetcher);
  const validator = checkFunction<Validator>(p, "validator", config.validator);
  const bucketCredsFetcher = checkFunction<BucketCredsFetcher>(
    p,
    "bucketCredsFetcher",
    config.bucketCredsFetcher,
  );

  const cors = resolveCorsRules(p, "cors", config.cors);
  const buckets = new Map<string, ResolvedBucket>();
  if (!isRecord(config.cosMap)) {
    p.add("cosMap", "must be an object of bucket name → bucket config");
  } else {
    for (const [name, raw] of Object.entries(config.cosMap)) {
      const bucket = resolveBucket(p, name, raw, {
        hasFetcher: bucketCredsFetcher !== undefined,
        defaultCors: cors,
      });
      if (bucket) buckets.set(name, bucket);
    }
  }

  const keystore = new Map<string, string>();
  if (config.hmacKeystore !== undefined) {
    if (!Array.isArray(config.hmacKeystore)) {
      p.add("hmacKeystore", "must be an array of {accessKey, secretKey}");
    } else {
      config.hmacKeystore.forEach((entry, i) => {
        const path = `hmacKeystore[${i}]`;
        if (!isRecord(entry)) return p.add(path, "must be an object {accessKey, secretKey}");
        for (const field of Object.keys(entry)) {
          if (field !== "accessKey" && field !== "secretKey") {
            p.add(`${path}.${field}`, "is not a known field");
          }
        }
        const ak = checkString(p, `${path}.accessKey`, entry.accessKey, { required: true });
        const sk = checkString(p, `${path}.secretKey`, entry.secretKey, { required: true });
        if (ak === undefined || sk === undefined) return;
        if (keystore.has(ak)) p.add(`${path}.accessKey`, `duplicates ${JSON.stringify(ak)}`);
        keystore.set(ak, sk);
      });
    }
  }
  if (keystore.size === 0 && hmacFetcher === undefined && config.skipSignatureValidation !== true) {
    p.add("hmacKeystore", "or hmacFetcher is required: no client could authenticate");
  }

  const httpPort = checkPort(p, "httpPort", config.httpPort, { min: 0 });
  const httpsPort = checkPort(p, "httpsPort", config.httpsPort, { min: 0 });
  if (config.httpPort === undefined && config.httpsPort === undefined) {
    p.add("httpPort", "or httpsPort must be set");
  }
  let tls: TlsConfig | undefined;
  if (config.tls !== undefined) {
    if (!isRecord(config.tls)) p.add("tls", "must be {cert, key}");
    else {
      for (const field of Object.keys(config.tls)) {
        if (field !== "cert" && field !== "key") p.add(`tls.${field}`, "is not a known field");
      }
      const cert = checkString(p, "tls.cert", config.tls.cert, { required: true });
      const key = checkString(p, "tls.key", config.tls.key, { required: true });
      if (cert && key) {
        tls = { cert: readPem(p, "tls.cert", cert), key: readPem(p, "tls.key", key) };
      }
    }
  } else if (httpsPort !== undefined) {
    const certPath = env("TLS_CERT_PATH");
    const keyPath = env("TLS_KEY_PATH");
    if (certPath && keyPath) {
      tls = {
        cert: readPem(p, "TLS_CERT_PATH", certPath),
        key: readPem(p, "TLS_KEY_PATH", keyPath),
      };
    } else {
      p.add("tls", "is required with httpsPort (or set TLS_CERT_PATH and TLS_KEY_PATH)");
    }
  }

  const hostname = checkString(p, "hostname", config.hostname) ?? "0.0.0.0";
  const suffixes: string[] = [];
  if (config.virtualHostSuffixes !== undefined) {
    if (!Array.isArray(config.virtualHostSuffixes)) {
      p.add("virtualHostSuffixes", "must be an array of host names");
    } else {
      config.virtualHostSuffixes.forEach((s, i) => {
        const v = checkString(p, `virtualHostSuffixes[${i}]`, s);
        if (v) suffixes.push(v.toLowerCase().replace(/^\./, ""));
      });
    }
  }
  const threads = config.threads === "auto"
    ? autoThreads()
    : checkNonNegative(p, "threads", config.threads, { integer: true, min: 1 }) ?? 1;
  const verify = checkBoolean(p, "verify", config.verify) ?? true;
  const skip = checkBoolean(p, "skipSignatureValidation", config.skipSignatureValidation) ?? false;
  const sigV2 = checkBoolean(p, "sigV2", config.sigV2) ?? true;
  const maxPresign = checkNonNegative(
    p,
    "maxPresignUrlUsageAttempts",
    config.maxPresignUrlUsageAttempts,
    { integer: true },
  ) ?? 3;
  let store: { redis: string } | undefined;
  if (config.store !== undefined) {
    if (!isRecord(config.store)) p.add("store", "must be {redis}");
    else {
      for (const field of Object.keys(config.store)) {
        if (field !== "redis") p.add(`store.${field}`, "is not a known field");
      }
      const redis = checkString(p, "store.redis", config.store.redis, { required: true });
      if (redis !== undefined && !/^rediss?:\/\/[^/]/.test(redis)) {
        p.add("store.redis", "must be a redis:// URL (or rediss:// for TLS)");
      } else if (redis !== undefined) store = { redis };
    }
  }
  const serverName = checkString(p, "serverName", config.serverName) ?? "osp";
  const metricsPort = checkPort(p, "metricsPort", config.metricsPort, { min: 0 });
  const logLevel = config.logLevel ?? "info";
  if (!LOG_LEVELS.includes(logLevel as string)) {
    p.add("logLevel", `must be one of ${LOG_LEVELS.join(", ")}`);
  }
  const accessLogSample =
    checkNonNegative(p, "accessLogSample", config.accessLogSample, { max: 1 }) ?? 1;
  const skew = checkNonNegative(p, "clockSkewSeconds", config.clockSkewSeconds) ?? 900;
  const secretTtl = checkNonNegative(p, "secretCacheTtl", config.secretCacheTtl) ?? 300;
  const cacheSize = checkNonNegative(p, "cacheSize", config.cacheSize, { integer: true, min: 1 }) ??
    10_000;
  const validatorCacheKey = resolveValidatorCacheKey(p, config.validatorCacheKey);
  const callbackTimeoutMs =
    checkNonNegative(p, "callbackTimeoutMs", config.callbackTimeoutMs, { integer: true }) ?? 5000;
  const upstreamTimeoutMs =
    checkNonNegative(p, "upstreamTimeoutMs", config.upstreamTimeoutMs, { integer: true }) ??
      120_000;
  const bodyIdleTimeoutMs =
    checkNonNegative(p, "bodyIdleTimeoutMs", config.bodyIdleTimeoutMs, { integer: true }) ??
      60_000;
  const downloadIdleTimeoutMs = checkNonNegative(
    p,
    "downloadIdleTimeoutMs",
    config.downloadIdleTimeoutMs,
    { integer: true },
  ) ?? 0;
  const maxConcurrentRequests = checkNonNegative(
    p,
    "maxConcurrentRequests",
    config.maxConcurrentRequests,
    { integer: true },
  ) ?? 0;
  const shutdownGraceMs =
    checkNonNegative(p, "shutdownGraceMs", config.shutdownGraceMs, { integer: true }) ?? 30_000;
  const iamEndpoint = checkString(p, "iamEndpoint", config.iamEndpoint) ??
    DEFAULT_IAM_ENDPOINT;
  if (!/^https?:\/\//.test(iamEndpoint)) p.add("iamEndpoint", "must be an http(s) URL");
  const enableRequestCounting =
    checkBoolean(p, "enableRequestCounting", config.enableRequestCounting) ??
      env("OSP_ENABLE_REQUEST_COUNTING") === "true";
  const clock = checkFunction<() => number>(p, "clock", config.clock) ?? Date.now;
  const fetchFn = checkFunction<typeof fetch>(p, "fetch", config.fetch) ?? fetch;

  if (p.list.length > 0) return { problems: p.list };
  return {
    config: {
      buckets,
      keystore,
      hmacFetcher,
      validator,
      bucketCredsFetcher,
      httpPort,
      httpsPort,
      tls,
      hostname,
      virtualHostSuffixes: suffixes,
      threads,
      verify,
      skipSignatureValidation: skip,
      sigV2,
      maxPresignUrlUsageAttempts: maxPresign,
      store,
      serverName,
      metricsPort,
      logLevel: logLevel as LogLevel,
      accessLogSample,
      clockSkewMs: skew * 1000,
      secretCacheTtlMs: secretTtl * 1000,
      cacheSize,
      validatorCacheKey,
      cors,
      callbackTimeoutMs,
      upstreamTimeoutMs,
      bodyIdleTimeoutMs,
      downloadIdleTimeoutMs,
      maxConcurrentRequests,
      shutdownGraceMs,
      iamEndpoint,
      enableRequestCounting,
      clock,
      fetch: fetchFn,
    },
  };
}
