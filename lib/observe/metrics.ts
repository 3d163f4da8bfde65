/**
 * Prometheus metrics for the proxy, held per {@linkcode Metrics} instance (no
 * global registry, so tests and several servers in one process do not clash)
 * and rendered by ./exposition.ts.
 *
 * Every metric name starts with `osp_`. Label values must have bounded
 * cardinality, which is the caller's duty:
 *
 * - `operation`: the S3 operation name (from `operationName()`), a fixed set.
 * - `bucket`: a bucket named in the configuration, or {@linkcode UNKNOWN_BUCKET}
 *   (`_unknown`) for any other bucket name, and {@linkcode NO_BUCKET}
 *   (`_none`) for requests that name no bucket (ListBuckets). The caller maps
 *   the name; this module never sees the configuration.
 * - `code`: an S3 error code (`AccessDenied`, `NoSuchKey`, …).
 * - `version`: the AWS signature version of an authenticated request, `2` or `4`.
 *
 * @module
 */
import {
  Counter,
  EXPOSITION_CONTENT_TYPE,
  type FamilySnapshot,
  Gauge,
  Histogram,
  renderFamilies,
} from "./exposition.ts";

/** The prefix of every metric name, applied once here. */
export const METRIC_PREFIX = "osp_";

/** Bucket label for a bucket name that is not in the configuration. */
export const UNKNOWN_BUCKET = "_unknown";

/** Bucket label for a request that names no bucket (ListBuckets). */
export const NO_BUCKET = "_none";

/** Error-code label for an error response that carries no S3 error code. */
export const NO_CODE = "_none";

/** The caches whose lookups are counted in `osp_auth_cache_hits_total`. */
export type CacheName = "validator" | "creds" | "secret";

/** The configured callbacks timed in `osp_callback_duration_seconds`. */
export type CallbackName = "validator" | "hmacFetcher" | "bucketCredsFetcher" | "iam";

const CACHES: readonly CacheName[] = ["validator", "creds", "secret"];

/** Seconds: 1 ms to 5 min, for whole requests, which may stream large bodies. */
const REQUEST_SECONDS = [
  0.001,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
];

/** Seconds: 1 ms to 30 s, for time to the backend's headers and callbacks. */
const SHORT_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Bytes: 0, then powers of 4 from 256 B to 4 GiB. */
const SIZE_BYTES = [0, ...Array.from({ length: 13 }, (_, i) => 256 * 4 ** i)];

/** What one finished request reports to {@linkcode Metrics.requestFinished}. */
export interface RequestRecord {
  /** S3 operation name, e.g. `GetObject`. */
  operation: string;
  /** Bucket label: a configured bucket, `_unknown` or `_none` (see the module docs). */
  bucket: string;
  /** HTTP status sent to the client. */
  status: number;
  /**
   * S3 error code of an error response. The request also counts in
   * `osp_request_errors_total` when this is set or `status` is 400 or more;
   * the code label is `_none` when it is missing.
   */
  code?: string;
  /** Wall time from receiving the request to the end of the response body, in ms. */
  durationMs: number;
  /** Time from sending the backend request to its response headers, in ms; omit when no backend request was made. */
  upstreamMs?: number;
  /** Request body bytes received from the client. */
  bytesIn: number;
  /** Response body bytes sent to the client. */
  bytesOut: number;
  /** Set for presigned-URL requests: `hit` when accepted, `rejected` when refused. */
  presigned?: "hit" | "rejected";
  /** True for a request without credentials (a bucket's `anonymous` operations). */
  anonymous?: boolean;
  /** The AWS signature version the client signed with; omit for unauthenticated requests. */
  sigVersion?: "2" | "4";
}

/** Options of {@linkcode Metrics}. */
export interface MetricsOptions {
  /** The proxy's version, shown in `osp_build_info`. */
  version: string;
  /**
   * The isolate this instance counts for in `osp_isolate_requests_total`:
   * 0 for the main isolate, 1… for workers (`threads` > 1); default 0.
   */
  isolate?: number;
}

/** One instance's metrics as plain data (structured-cloneable), from {@linkcode Metrics.snapshot}. */
export type MetricsSnapshot = FamilySnapshot[];

/**
 * Merges the snapshots of several isolates' registries into one text
 * exposition: counters and histograms are summed, as is
 * `osp_active_requests`; the process-wide gauges (`osp_memory_bytes`,
 * `osp_build_info`) are taken once, by their `aggregator` (`max`, `first`).
 */
export function renderAggregated(snapshots: MetricsSnapshot[]): Promise<string> {
  return Promise.resolve(renderFamilies(snapshots));
}

/** The full name of an osp metric. */
function name(s: string): string {
  return METRIC_PREFIX + s;
}

/** A non-negative finite number, else 0: metrics must never throw on the request path. */
function amount(n: number | undefined): number {
  return typeof n === "number" && n > 0 && n !== Infinity ? n : 0;
}

/**
 * The proxy's Prometheus metrics. Create one per server; every method is cheap
 * and never throws on bad numbers (negative, NaN or infinite values count as 0).
 */
export class Metrics {
  /** Content type of {@linkcode Metrics.render}'s output. */
  readonly contentType: string = EXPOSITION_CONTENT_TYPE;

  #active = 0;
  readonly #requests = new Counter({
    name: name("requests_total"),
    help: "Requests handled, by S3 operation, bucket and HTTP status.",
    labelNames: ["operation", "bucket", "status"],
  });
  readonly #errors = new Counter({
    name: name("request_errors_total"),
    help: "Error responses, by S3 operation, bucket and S3 error code.",
    labelNames: ["operation", "bucket", "code"],
  });
  readonly #transfer = new Counter({
    name: name("transfer_bytes_total"),
    help: "Body bytes received from clients (rx) and sent to clients (tx).",
    labelNames: ["direction", "bucket"],
  });
  readonly #presignedHits = new Counter({
    name: name("presigned_url_hits_total"),
    help: "Requests accepted through a presigned URL.",
    labelNames: ["bucket"],
  });
  readonly #presignedRejected = new Counter({
    name: name("presigned_url_rejected_total"),
    help: "Presigned-URL requests refused (bad signature, expired, denied).",
    labelNames: ["bucket"],
  });
  readonly #anonymous = new Counter({
    name: name("anonymous_requests_total"),
    help: "Requests without credentials, to buckets that allow their operation anonymously.",
    labelNames: ["operation", "bucket", "status"],
  });
  readonly #signatures = new Counter({
    name: name("signature_requests_total"),
    help: "Authenticated requests, by the AWS signature version the client signed with (2 or 4).",
    labelNames: ["version"],
  });
  readonly #activeGauge = new Gauge({
    name: name("active_requests"),
    help: "Requests in progress.",
    collect: () => this.#active,
  });
  // Process-wide: every isolate reads the same RSS, so isolates are not summed.
  readonly #memory = new Gauge({
    name: name("memory_bytes"),
    help: "Resident set size of the process, in bytes.",
    aggregator: "max",
    collect: () => Deno.memoryUsage().rss,
  });
  readonly #buildInfo = new Gauge({
    name: name("build_info"),
    help: "Always 1; labels name the proxy and Deno versions.",
    labelNames: ["version", "deno"],
    aggregator: "first",
  });
  readonly #requestDuration = new Histogram({
    name: name("request_duration_seconds"),
    help: "Time from receiving a request to the end of its response body.",
    labelNames: ["operation", "bucket"],
    buckets: REQUEST_SECONDS,
  });
  readonly #upstreamDuration = new Histogram({
    name: name("upstream_duration_seconds"),
    help: "Time from sending a backend request to its response headers.",
    labelNames: ["operation", "bucket"],
    buckets: SHORT_SECONDS,
  });
  readonly #responseSize = new Histogram({
    name: name("response_size_bytes"),
    help: "Response body bytes sent to clients.",
    labelNames: ["operation", "bucket"],
    buckets: SIZE_BYTES,
  });
  readonly #cache = new Counter({
    name: name("auth_cache_hits_total"),
    help: "Authentication cache lookups, by cache and result (hit or miss).",
    labelNames: ["cache", "result"],
  });
  readonly #callbackDuration = new Histogram({
    name: name("callback_duration_seconds"),
    help: "Time spent in configured callbacks (validator, fetchers, IAM).",
    labelNames: ["callback"],
    buckets: SHORT_SECONDS,
  });
  readonly #isolateRequests = new Counter({
    name: name("isolate_requests_total"),
    help: "Requests handled, by isolate (0 = the main one; 1… = workers with threads > 1).",
    labelNames: ["isolate"],
  });
  readonly #isolate: readonly string[];

  /** Creates the metrics, all of them this instance's own. */
  constructor(options: MetricsOptions) {
    this.#buildInfo.set([options.version, Deno.version.deno], 1);
    for (const cache of CACHES) {
      this.#cache.inc([cache, "hit"], 0);
      this.#cache.inc([cache, "miss"], 0);
    }
    this.#isolate = [String(options.isolate ?? 0)];
  }

  /** Requests in progress now, as `osp_active_requests` will show it. */
  get activeRequests(): number {
    return this.#active;
  }

  /** Counts a request as in progress. Pair each call with one {@linkcode requestFinished}. */
  requestStarted(): void {
    this.#active++;
  }

  /**
   * Records a finished request: ends one {@linkcode requestStarted} (the active
   * gauge never drops below 0) and updates every per-request counter and
   * histogram. Call it once per request, when the response body has ended.
   */
  requestFinished(r: RequestRecord): void {
    if (this.#active > 0) this.#active--;
    const { operation, bucket } = r;
    const labels = [operation, bucket];
    const status = String(r.status);
    this.#requests.inc([operation, bucket, status]);
    this.#isolateRequests.inc(this.#isolate);
    if (r.code !== undefined || r.status >= 400) {
      this.#errors.inc([operation, bucket, r.code || NO_CODE]);
    }
    const bytesIn = amount(r.bytesIn);
    const bytesOut = amount(r.bytesOut);
    this.#transfer.inc(["rx", bucket], bytesIn);
    this.#transfer.inc(["tx", bucket], bytesOut);
    if (r.presigned === "hit") this.#presignedHits.inc([bucket]);
    else if (r.presigned === "rejected") this.#presignedRejected.inc([bucket]);
    if (r.anonymous) this.#anonymous.inc([operation, bucket, status]);
    if (r.sigVersion !== undefined) this.#signatures.inc([r.sigVersion]);
    this.#requestDuration.observe(labels, amount(r.durationMs) / 1000);
    if (r.upstreamMs !== undefined) {
      this.#upstreamDuration.observe(labels, amount(r.upstreamMs) / 1000);
    }
    this.#responseSize.observe(labels, bytesOut);
  }

  /** Counts one lookup in an authentication cache. */
  cacheLookup(cache: CacheName, result: "hit" | "miss"): void {
    this.#cache.inc([cache, result]);
  }

  /** Records the duration, in ms, of one call to a configured callback. */
  callbackTimed(callback: CallbackName, ms: number): void {
    this.#callbackDuration.observe([callback], amount(ms) / 1000);
  }

  /**
   * Runs `fn` and records its duration under `callback`, whether it resolves
   * or rejects; returns or rethrows its outcome.
   */
  async timeCallback<T>(callback: CallbackName, fn: () => T | Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.callbackTimed(callback, performance.now() - start);
    }
  }

  /** Renders every metric in the Prometheus text exposition format (see {@linkcode contentType}). */
  render(): Promise<string> {
    return renderAggregated([this.#families()]);
  }

  /** Every metric as plain data, for the main isolate to merge (see {@linkcode renderAggregated}). */
  snapshot(): Promise<MetricsSnapshot> {
    return Promise.resolve(this.#families());
  }

  /** Every family as plain data, in the order they render. */
  #families(): MetricsSnapshot {
    return [
      this.#requests,
      this.#errors,
      this.#transfer,
      this.#presignedHits,
      this.#presignedRejected,
      this.#anonymous,
      this.#signatures,
      this.#activeGauge,
      this.#memory,
      this.#buildInfo,
      this.#requestDuration,
      this.#upstreamDuration,
      this.#responseSize,
      this.#cache,
      this.#callbackDuration,
      this.#isolateRequests,
    ].map((family) => family.snapshot());
  }
}

/**
 * A pass-through stream that counts the bytes flowing through it without
 * buffering, and calls `onDone(bytes, { failed })` exactly once: when the
 * stream ends (`failed` false), when its source errors or when its reader
 * cancels it (`failed` true). A stream that is never read to the end nor
 * cancelled never calls it.
 *
 * ```ts ignore
 * const body = upstream.body?.pipeThrough(countingStream((bytesOut) => {
 *   metrics.requestFinished({ ...record, bytesOut, durationMs: performance.now() - start });
 * }));
 * ```
 */
export function countingStream(
  onDone: (bytes: number, end: { failed: boolean }) => void,
): TransformStream<Uint8Array, Uint8Array> {
  let bytes = 0;
  let done = false;
  const finish = (failed: boolean) => {
    if (done) return;
    done = true;
    onDone(bytes, { failed });
  };
  const transformer: Transformer<Uint8Array, Uint8Array> = {
    transform(chunk, controller) {
      bytes += chunk.byteLength;
      controller.enqueue(chunk);
    },
    flush: () => finish(false),
    cancel: () => finish(true),
  };
  return new TransformStream(transformer);
}
