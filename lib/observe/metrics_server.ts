/**
 * A small HTTP server, on its own listener apart from the S3 endpoint, for
 * Prometheus scrapes and health probes:
 *
 * - `GET /metrics`: the metrics in the Prometheus text format.
 * - `GET /healthz`: `200 ok` while the process serves requests (liveness).
 * - `GET /readyz`: `200 ready` when `ready()` returns true, else `503 not ready`.
 * - `GET /readyz?verbose`: the same status with a JSON body
 *   `{ "ready": boolean, "details": { … } }`, details from `readyDetails()`.
 *
 * `HEAD` works wherever `GET` does; other methods get 405, other paths 404.
 *
 * @module
 */
import type { Metrics } from "./metrics.ts";

/** Options of {@linkcode startMetricsServer}. */
export interface MetricsServerOptions {
  /** Port to listen on; 0 picks a free one (read it from `addr`). */
  port: number;
  /** Address to listen on, e.g. `0.0.0.0` or `127.0.0.1`. */
  hostname: string;
  /**
   * The metrics served at `/metrics`: a {@linkcode Metrics}, or anything that
   * renders the text format (the main isolate merging every isolate's).
   */
  metrics: Pick<Metrics, "render" | "contentType">;
  /** True when the proxy can serve traffic; a throw counts as not ready. */
  ready: () => boolean;
  /**
   * Extra facts for `/readyz?verbose`, e.g. per-backend reachability. Called
   * only for verbose probes; a throw or rejection is reported as
   * `details: { error: message }` with the status still given by `ready()`.
   */
  readyDetails?: () => Promise<Record<string, unknown>>;
}

/** A running metrics server. */
export interface MetricsServer {
  /** The address actually listened on. */
  readonly addr: Deno.NetAddr;
  /** Stops listening and waits for requests in flight to end. */
  shutdown(): Promise<void>;
}

const NO_STORE = { "cache-control": "no-store" };

function text(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...NO_STORE, ...headers },
  });
}

function isReady(ready: () => boolean): boolean {
  try {
    return ready() === true;
  } catch {
    return false;
  }
}

function verbose(url: URL): boolean {
  if (!url.searchParams.has("verbose")) return false;
  const v = url.searchParams.get("verbose");
  return v !== "0" && v !== "false";
}

/** Builds the request handler of the metrics server; exported for tests and embedding. */
export function metricsHandler(
  options: Omit<MetricsServerOptions, "port" | "hostname">,
): (request: Request) => Promise<Response> {
  const { metrics, ready, readyDetails } = options;
  return async (request) => {
    const url = new URL(request.url);
    const known = url.pathname === "/metrics" || url.pathname === "/healthz" ||
      url.pathname === "/readyz";
    if (!known) return text("not found", 404);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text("method not allowed", 405, { allow: "GET, HEAD" });
    }
    switch (url.pathname) {
      case "/metrics": {
        try {
          return new Response(await metrics.render(), {
            headers: { "content-type": metrics.contentType, ...NO_STORE },
          });
        } catch (e) {
          return text(`metrics unavailable: ${e instanceof Error ? e.message : e}`, 500);
        }
      }
      case "/healthz":
        return text("ok");
      default: {
        const ok = isReady(ready);
        const status = ok ? 200 : 503;
        if (!verbose(url)) return text(ok ? "ready" : "not ready", status);
        let details: Record<string, unknown> = {};
        if (readyDetails) {
          try {
            details = await readyDetails();
          } catch (e) {
            details = { error: e instanceof Error ? e.message : String(e) };
          }
        }
        return new Response(JSON.stringify({ ready: ok, details }) + "", {
          status,
          headers: { "content-type": "application/json", ...NO_STORE },
        });
      }
    }
  };
}

/**
 * Starts the metrics and health server on its own listener. It is listening
 * when this returns; `addr.port` gives the bound port when `port` was 0.
 */
export function startMetricsServer(options: MetricsServerOptions): MetricsServer {
  const server = Deno.serve({
    port: options.port,
    hostname: options.hostname,
    onListen: () => {},
    onError: () => text("internal error", 500),
  }, metricsHandler(options));
  return {
    addr: server.addr,
    shutdown: () => server.shutdown(),
  };
}
