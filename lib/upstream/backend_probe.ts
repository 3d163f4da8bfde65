/**
 * Backend reachability for `/readyz?verbose`: a TCP connect to each backend
 * origin, closed at once, all in parallel, each bounded by a timeout.
 *
 * Results are cached per origin for a short time, and probes asked for while
 * one is under way share it, so a burst of health checks opens at most one
 * connection per backend per TTL.
 *
 * Reachability is reported, never enforced: readiness (`ready`, the status of
 * `/readyz`) does not depend on it. A backend outage must not make a load
 * balancer drop the proxy, which still answers (with S3 errors) and serves the
 * buckets of other backends; only the verbose details say which backend is
 * down.
 *
 * @example
 * ```ts ignore
 * import { BackendProbe } from "./backend_probe.ts";
 * const probe = new BackendProbe({ timeoutMs: 2000, ttlMs: 5000 });
 * console.log(await probe.check(["http://127.0.0.1:9000"]));
 * // { "http://127.0.0.1:9000": { reachable: true, ms: 0 } }
 * ```
 *
 * @module
 */
import { DEFAULT_ROUTE, type ResolvedBucket } from "../config/config.ts";

/** What one probe of a backend found. */
export interface BackendStatus {
  /** True when a TCP connection was established within the timeout. */
  reachable: boolean;
  /** How long the connect took (or until it failed or timed out), in whole ms. */
  ms: number;
  /** Why the backend is unreachable; absent when reachable. */
  error?: string;
}

/** The connection a {@linkcode BackendProbeOptions.connect} returns: only closed. */
export interface ProbeConnection {
  /** Closes the connection. */
  close(): void;
}

/** Options of {@linkcode BackendProbe}. */
export interface BackendProbeOptions {
  /** Longest wait for one connect, ms; default 2000. */
  timeoutMs?: number;
  /** How long a result is reused, ms, counted from when the probe ended; default 5000. */
  ttlMs?: number;
  /** Monotonic clock in ms, for durations and the TTL; default `performance.now()`. */
  clock?: () => number;
  /** Opens a TCP connection; default `Deno.connect`. The signal aborts at the timeout. */
  connect?: (options: { hostname: string; port: number; signal: AbortSignal }) => Promise<
    ProbeConnection
  >;
}

interface Entry {
  /** The probe, shared by everyone who asks while it runs and until it expires. */
  status: Promise<BackendStatus>;
  /** When the result stops being reused; Infinity while the probe runs. */
  expires: number;
}

/**
 * The origins the proxy connects to for these buckets, unique and sorted:
 * `scheme://host:port`, the host being `backendBucket.host` for virtual
 * addressing, as the proxy sends it. The default route (`*`) serves
 * whichever bucket a client names, so its plain `host` is probed.
 */
export function backendOrigins(buckets: Iterable<ResolvedBucket>): string[] {
  const origins = new Set<string>();
  for (const bucket of buckets) {
    const virtual = bucket.addressingStyle === "virtual" && bucket.name !== DEFAULT_ROUTE;
    const host = virtual ? `${bucket.backendBucket}.${bucket.host}` : bucket.host;
    origins.add(`${bucket.tls ? "https" : "http"}://${host}:${bucket.port}`);
  }
  return [...origins].sort();
}

/** Splits `scheme://host:port` into a connect target; IPv6 hosts lose their brackets. */
function target(origin: string): { hostname: string; port: number } {
  const url = new URL(origin);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`unsupported scheme ${url.protocol}`);
  }
  const port = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
  return { hostname: url.hostname.replace(/^\[(.*)\]$/, "$1"), port };
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    return e.name && e.name !== "Error" ? `${e.name}: ${e.message}` : e.message;
  }
  return String(e);
}

function close(conn: ProbeConnection): void {
  try {
    conn.close();
  } catch {
    // Already closed: nothing to release.
  }
}

/**
 * Probes backend origins with a TCP connect, caching each result for a short
 * TTL and sharing probes in flight.
 */
export class BackendProbe {
  #timeoutMs: number;
  #ttlMs: number;
  #clock: () => number;
  #connect: NonNullable<BackendProbeOptions["connect"]>;
  #entries = new Map<string, Entry>();

  /** Creates a probe; see {@linkcode BackendProbeOptions} for the defaults. */
  constructor(options: BackendProbeOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#ttlMs = options.ttlMs ?? 5000;
    this.#clock = options.clock ?? (() => performance.now());
    this.#connect = options.connect ?? ((o) => Deno.connect(o));
  }

  /**
   * The reachability of each origin (`scheme://host:port`), keyed by origin.
   * Never rejects: an origin that cannot be parsed or reached is reported
   * with `reachable: false` and an `error`.
   */
  async check(origins: Iterable<string>): Promise<Record<string, BackendStatus>> {
    const now = this.#clock();
    // Forget expired results, including those of origins no longer asked for.
    for (const [origin, entry] of this.#entries) {
      if (entry.expires <= now) this.#entries.delete(origin);
    }
    const unique = [...new Set(origins)];
    const statuses = await Promise.all(unique.map((origin) => this.#status(origin)));
    const result: Record<string, BackendStatus> = {};
    unique.forEach((origin, i) => (result[origin] = statuses[i]));
    return result;
  }

  #status(origin: string): Promise<BackendStatus> {
    const cached = this.#entries.get(origin);
    if (cached !== undefined) return cached.status;
    const entry: Entry = { status: this.#probe(origin), expires: Infinity };
    this.#entries.set(origin, entry);
    entry.status.then(() => (entry.expires = this.#clock() + this.#ttlMs));
    return entry.status;
  }

  async #probe(origin: string): Promise<BackendStatus> {
    const started = this.#clock();
    const elapsed = () => Math.max(0, Math.round(this.#clock() - started));
    let to: { hostname: string; port: number };
    try {
      to = target(origin);
    } catch (e) {
      return { reachable: false, ms: 0, error: `invalid origin: ${describe(e)}` };
    }
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new Error(`no connection within ${this.#timeoutMs} ms`);
        error.name = "TimedOut";
        abort.abort(error);
        reject(error);
      }, this.#timeoutMs);
    });
    let connecting: Promise<ProbeConnection>;
    try {
      connecting = this.#connect({ ...to, signal: abort.signal });
    } catch (e) {
      connecting = Promise.reject(e);
    }
    try {
      close(await Promise.race([connecting, timedOut]));
      return { reachable: true, ms: elapsed() };
    } catch (e) {
      // A connect that ignores the signal and succeeds late is still closed.
      connecting.then(close, () => {});
      return {
        reachable: false,
        ms: elapsed(),
        error: abort.signal.aborted ? describe(abort.signal.reason) : describe(e),
      };
    } finally {
      clearTimeout(timer);
    }
  }
}
