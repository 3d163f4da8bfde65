/**
 * Sends upstream requests.
 *
 * - osp's own HTTP/1.1 client (`http1.ts`) carries requests without a body
 *   (GET, HEAD, DELETE…) over pooled keep-alive connections: half the CPU of
 *   `fetch` per small request. It also carries bodies osp transformed (fetch
 *   would send them chunked), large or unsized bodies (streamed through one
 *   reused buffer, with an idle timeout), and paths with `.`/`..` segments
 *   (WHATWG URL parsing would collapse them and change the key).
 * - `fetch` (one pooled `Deno.HttpClient` per backend) carries small
 *   untouched bodies, keeping their Content-Length; and everything when a
 *   `fetch` of the caller's was injected.
 * - `node:http(s)` is left for HTTPS backends whose certificate is not to be
 *   verified, which Deno's own TLS client cannot skip.
 *
 * @module
 */
import type http from "node:http";
import { S3Error } from "../request/errors.ts";
import { HOP_BY_HOP, type UpstreamRequest } from "./upstream_request.ts";
import { type Deadline, DeadlineQueue } from "../serve/deadlines.ts";
import { IdleWatch } from "../body/idle_watch.ts";
import { type AbortLike, abortSignalOf, RequestAbort } from "../_abort.ts";
import { decimalLength } from "../_decimal.ts";
import {
  BodySourceError,
  bufferedBodyLength,
  Http1Pool,
  labelledAnswer,
  NoResponseError,
  sendHttp1,
  SMALL_BODY_MAX,
} from "./http1.ts";

/** What a transport needs to send one request. */
export interface SendOptions {
  /** The body to stream, or null. */
  body: ReadableStream<Uint8Array> | null;
  /** The body length, when known (sent as Content-Length). */
  contentLength?: number;
  /** Aborts the upstream request (client gone). */
  signal?: AbortLike;
  /** Verify the backend's TLS certificate. */
  verify: boolean;
  /**
   * The body is a transformed stream (decoded or verified by osp): it goes
   * through osp's HTTP/1.1 client, which keeps the explicit Content-Length
   * that fetch would replace with chunked encoding.
   */
  transformedBody?: boolean;
  /**
   * Names the request in the `ResponseBodyError` (./http1.ts) a response body
   * streamed by osp's own client or node:http may fail with, after the head
   * was returned.
   */
  requestId?: string;
}

/**
 * Bodies of at least this many bytes, or of unknown length, go through osp's
 * own client even when untouched: it streams them through one reused buffer
 * and can time their inactivity, which fetch cannot. Smaller ones stay on
 * fetch's pooled connections, bounded by the header timeout.
 */
export const STREAMED_UPLOAD_MIN = 1024 * 1024;

/**
 * A pooled GET answer at least this large is fetched again through fetch,
 * whose body Deno pipes natively (see `#sendOwn`).
 */
export const NATIVE_DOWNLOAD_MIN = 8 * 1024 * 1024;

type Route = "fetch" | "own" | "pooled" | "node";

/** The node: modules of the `node` route. */
interface NodeHttp {
  http: typeof import("node:http");
  https: typeof import("node:https");
  Readable: typeof import("node:stream").Readable;
}

let nodeHttp: Promise<NodeHttp> | undefined;

/**
 * node:http, node:https and node:stream, loaded with the first request that
 * takes the `node` route (an https backend with `verify: false`): imported
 * with osp, they cost every process about 1 MiB of RSS (docs/performance.md, "Idle
 * memory").
 */
function loadNodeHttp(): Promise<NodeHttp> {
  return nodeHttp ??= Promise.all([
    import("node:http"),
    import("node:https"),
    import("node:stream"),
  ])
    .then(([http, https, stream]) => ({ http, https, Readable: stream.Readable }));
}

/** SendOptions plus the progress hooks of osp's own client. */
type RouteOptions = SendOptions & {
  onProgress?: (event: "read" | "written") => void;
  onBodySent?: () => void;
};

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** A GET for one byte range of at least NATIVE_DOWNLOAD_MIN bytes (ranged downloads in parts). */
function largeRange(request: UpstreamRequest): boolean {
  if (request.method !== "GET") return false;
  const list = request.headerList;
  for (let i = 0; i < list.length; i++) {
    if (list[i][0] !== "range") continue;
    const m = ONE_RANGE.exec(list[i][1].trim());
    return m !== null && Number(m[2]) - Number(m[1]) + 1 >= NATIVE_DOWNLOAD_MIN;
  }
  return false;
}

/** A Range of one closed byte range. */
const ONE_RANGE = /^bytes=(\d{1,15})-(\d{1,15})$/;

/** True when WHATWG URL parsing would change this path (dot segments). */
export function fetchWouldRewrite(pathAndQuery: string): boolean {
  const q = pathAndQuery.indexOf("?");
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  // A dot segment follows a slash.
  if (!path.includes("/.")) return false;
  return path.split("/").some((s) => s === "." || s === "..");
}

function responseHeaders(source: Iterable<[string, string]>): Headers {
  const headers = new Headers();
  for (const [name, value] of source) {
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.append(name, value);
  }
  return headers;
}

/** The client stopped sending its body (or left): its fault, not the backend's. */
function clientGone(err: unknown): S3Error {
  return new S3Error(
    "IncompleteBody",
    "The client closed the connection before the request was complete",
    { cause: err },
  );
}

function isClientBodyError(err: unknown): boolean {
  const text = `${(err as Error)?.message ?? ""} ${(err as Error)?.cause ?? ""}`;
  return /request body|BadResource/i.test(text);
}

/**
 * Whether a `fetch` or `node:http` error came before any connection to the
 * backend (refused, DNS, unreachable): then nothing of the request went out.
 * Deno's fetch names the stage (`client error (Connect)`, against
 * `(SendRequest)` once the request is on a connection).
 */
function failedToConnect(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string") return CONNECT_ERRORS.has(code);
  return /client error \(Connect\)/.test(`${(err as Error)?.cause ?? ""} ${err}`);
}

const CONNECT_ERRORS = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** Nothing of the request reached the backend: sending it again is safe. */
function unreachable(origin: string, err: unknown): S3Error {
  return new S3Error(
    "ServiceUnavailable",
    `The backend ${origin} could not be reached; please retry`,
    { cause: err },
  );
}

/**
 * The request went out but no valid answer came back: the backend may have
 * carried it out, so this neither says it could not be reached nor asks for
 * a retry.
 */
function noAnswer(origin: string, err: unknown): S3Error {
  return new S3Error(
    "ServiceUnavailable",
    `The backend ${origin} gave no valid answer after the request was sent; it may have been carried out`,
    { cause: err },
  );
}

/** Sends requests to backends, choosing fetch or node:http per request. */
export class Transport {
  #clients = new Map<string, Deno.HttpClient>();
  #agents = new Map<string, http.Agent>();
  #deadlines = new Map<number, DeadlineQueue>();
  #idle = new Map<number, IdleWatch>();
  #pool = new Http1Pool();
  #fetch: typeof fetch;
  #customFetch: boolean;

  /**
   * Creates a transport. `fetch` is injectable for tests: an injected one
   * carries every request that would otherwise go through a pooled connection.
   */
  constructor(options: { fetch?: typeof fetch } = {}) {
    this.#fetch = options.fetch ?? fetch;
    this.#customFetch = this.#fetch !== globalThis.fetch;
  }

  /**
   * Sends the request and returns the backend's response, body streaming.
   *
   * - `headerTimeoutMs` bounds the wait for the response head: from the start
   *   (connect included), or for a body osp streams itself, from the moment
   *   the body has gone out, so a long upload is never cut for its length.
   * - `idleTimeoutMs` cuts an upload through osp's own client when no byte
   *   moves for that long: 400 RequestTimeout when the client stopped
   *   sending, 503 when the backend stopped taking bytes.
   */
  async send(
    request: UpstreamRequest,
    options: SendOptions & { headerTimeoutMs?: number; idleTimeoutMs?: number },
  ): Promise<Response> {
    const route = this.#route(request, options);
    const headerMs = options.headerTimeoutMs ?? 0;
    // Bodies osp pumps itself (own client, node:http) report progress; fetch's do not.
    const watchBody = route !== "fetch" && options.body !== null;
    const idleMs = watchBody ? options.idleTimeoutMs ?? 0 : 0;
    if (headerMs <= 0 && idleMs <= 0) return await this.#go(route, request, options);
    // (fetch and node:http get a real AbortSignal that follows it: abortSignalOf.)
    const abort = new RequestAbort();
    const onClient = () => abort.abort(options.signal?.reason);
    if (options.signal?.aborted) onClient();
    // (No options object: converting one costs more than the listener; abort fires once.)
    options.signal?.addEventListener("abort", onClient);
    let expired: S3Error | undefined;
    const expire = (error: S3Error) => {
      if (expired !== undefined) return;
      expired = error;
      abort.abort(error);
    };
    let queue: DeadlineQueue | undefined;
    let deadline: Deadline | undefined;
    const startHeaderClock = () => {
      if (headerMs <= 0 || deadline !== undefined || expired !== undefined) return;
      queue = this.#deadlines.get(headerMs);
      if (queue === undefined) this.#deadlines.set(headerMs, queue = new DeadlineQueue(headerMs));
      deadline = queue.add(() =>
        expire(
          new S3Error(
            "ServiceUnavailable",
            `The backend ${request.origin} did not answer within ${headerMs} ms; please retry`,
          ),
        )
      );
    };
    let waitingOnClient = false;
    const idle = idleMs > 0
      ? this.#idleWatch(idleMs).watch(() =>
        expire(
          waitingOnClient
            ? new S3Error(
              "RequestTimeout",
              `Your socket connection to the server was not read from or written to within the timeout period (${idleMs} ms). Idle connections will be closed.`,
            )
            : new S3Error(
              "ServiceUnavailable",
              `The backend ${request.origin} took no data for ${idleMs} ms; please retry`,
            ),
        )
      )
      : undefined;
    if (!watchBody) startHeaderClock();
    try {
      return await this.#go(route, request, {
        ...options,
        signal: abort,
        onProgress: watchBody
          ? (event) => {
            waitingOnClient = event === "written";
            idle?.touch();
          }
          : undefined,
        onBodySent: watchBody
          ? () => {
            idle?.stop();
            startHeaderClock();
          }
          : undefined,
      });
    } catch (err) {
      throw expired ?? err;
    } finally {
      if (deadline !== undefined) queue!.settle(deadline);
      idle?.stop();
    }
  }

  /**
   * Which client carries a request: node:http for unverified TLS; osp's own
   * over pooled connections for bodiless requests; osp's own over a new
   * connection for transformed bodies, dot-segment paths and large or unsized
   * bodies; fetch for the rest.
   */
  #route(request: UpstreamRequest, options: SendOptions): Route {
    if (!options.verify && request.origin.startsWith("https:")) return "node";
    if (options.transformedBody === true) return "own";
    if (options.body === null) {
      if (fetchWouldRewrite(request.pathAndQuery)) return "pooled";
      return this.#customFetch || largeRange(request) ? "fetch" : "pooled";
    }
    if (
      options.contentLength !== undefined && options.contentLength <= SMALL_BODY_MAX &&
      (!this.#customFetch || fetchWouldRewrite(request.pathAndQuery))
    ) return "pooled";
    if (
      fetchWouldRewrite(request.pathAndQuery) || options.contentLength === undefined ||
      options.contentLength >= STREAMED_UPLOAD_MIN
    ) return "own";
    return "fetch";
  }

  #go(route: Route, request: UpstreamRequest, options: RouteOptions): Promise<Response> {
    return route === "pooled"
      ? this.#sendOwn(request, options, { pooled: true })
      : route === "own"
      ? this.#sendOwn(request, options, { pooled: false })
      : route === "node"
      ? this.#sendNode(request, options)
      : this.#sendFetch(request, options);
  }

  #idleWatch(ms: number): IdleWatch {
    let watch = this.#idle.get(ms);
    if (watch === undefined) this.#idle.set(ms, watch = new IdleWatch(ms));
    return watch;
  }

  async #sendFetch(request: UpstreamRequest, options: SendOptions): Promise<Response> {
    let client = this.#clients.get(request.origin);
    if (client === undefined) {
      client = Deno.createHttpClient({ allowHost: true });
      this.#clients.set(request.origin, client);
    }
    let response: Response;
    try {
      response = await this.#fetch(request.origin + request.pathAndQuery, {
        method: request.method,
        headers: request.headerList,
        body: options.body,
        signal: abortSignalOf(options.signal),
        redirect: "manual",
        client,
      } as RequestInit);
    } catch (err) {
      if (options.signal?.aborted || isClientBodyError(err)) throw clientGone(err);
      if (!failedToConnect(err)) throw noAnswer(request.origin, err);
      throw unreachable(request.origin, err);
    }
    const body = NULL_BODY_STATUS.has(response.status) || request.method === "HEAD"
      ? null
      : response.body;
    if (body === null) response.body?.cancel().catch(() => {});
    // A Headers init is copied as a list (the cheapest copy Deno makes); the
    // copy is mutable, unlike a fetched response's.
    const forwarded = new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    const headers = forwarded.headers;
    for (const name of HOP_BY_HOP) {
      if (headers.has(name)) headers.delete(name);
    }
    return forwarded;
  }

  /**
   * A request through osp's own HTTP/1 client: over a pooled connection
   * (`pooled`: bodiless or small bodies), or a connection of its own. A
   * pooled GET whose answer turns out large is sent again through fetch, and
   * the first answer dropped: fetch's body is piped by Deno natively, which
   * moves large downloads faster than any JavaScript stream can (no chunk
   * allocation, no GC); one extra request is small next to a transfer of that
   * size. (One async method for both, with `pooled` apart: no copy of the
   * options and no extra promise per request.)
   */
  async #sendOwn(
    request: UpstreamRequest,
    options: RouteOptions,
    how: { pooled: boolean },
  ): Promise<Response> {
    let response: Response;
    try {
      response = await sendHttp1(request, {
        pool: how.pooled ? this.#pool : undefined,
        body: options.body,
        contentLength: options.contentLength,
        signal: options.signal,
        // An untouched client body is read into one reused buffer.
        reuseBuffer: options.transformedBody !== true,
        onProgress: options.onProgress,
        onBodySent: options.onBodySent,
        dropHeaders: HOP_BY_HOP,
        requestId: options.requestId,
      });
    } catch (err) {
      if (err instanceof BodySourceError) {
        // A verification failure inside the body stream is the client's answer.
        if (err.cause instanceof S3Error) throw err.cause;
        throw clientGone(err.cause);
      }
      if (options.signal?.aborted) throw clientGone(err);
      if (err instanceof NoResponseError) throw noAnswer(request.origin, err);
      throw unreachable(request.origin, err);
    }
    if (
      !how.pooled || request.method !== "GET" ||
      // (Bytes first: reading `body` would make a stream of them.)
      bufferedBodyLength(response) !== undefined || response.body === null ||
      fetchWouldRewrite(request.pathAndQuery) ||
      (response.status !== 200 && response.status !== 206)
    ) return response;
    const length = decimalLength(response.headers.get("content-length"));
    if (length === undefined || length < NATIVE_DOWNLOAD_MIN) return response;
    await response.body.cancel();
    return await this.#sendFetch(request, options);
  }

  #agent(origin: string, options: SendOptions & { node: NodeHttp }): http.Agent {
    // Uploads osp transforms may be cut off mid-body when a check fails; Deno's
    // node:http then returns the broken socket to a keep-alive pool and leaks a
    // listener each time. They get connections of their own.
    const keepAlive = options.transformedBody !== true;
    const id = `${origin}|${options.verify}|${keepAlive}`;
    let agent = this.#agents.get(id);
    if (agent === undefined) {
      const { http, https } = options.node;
      agent = origin.startsWith("https:")
        ? new https.Agent({ keepAlive, rejectUnauthorized: options.verify })
        : new http.Agent({ keepAlive });
      this.#agents.set(id, agent);
    }
    return agent;
  }

  async #sendNode(request: UpstreamRequest, options: RouteOptions): Promise<Response> {
    const node = await loadNodeHttp();
    const { http, https, Readable } = node;
    const url = new URL(request.origin);
    const headers: Record<string, string> = {};
    for (const [name, value] of request.headerList) headers[name] = value;
    if (options.contentLength !== undefined) {
      headers["content-length"] = String(options.contentLength);
    } else if (options.body === null) {
      headers["content-length"] = "0";
    }
    const lib = url.protocol === "https:" ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const req = lib.request({
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port),
        method: request.method,
        path: request.pathAndQuery,
        headers,
        agent: this.#agent(request.origin, { ...options, node }),
        signal: abortSignalOf(options.signal),
        // SNI takes a name, never an IP address.
        ...(/^[\d.]+$|:/.test(url.hostname) ? {} : { servername: url.hostname }),
      });
      let bodyError: unknown;
      req.on("error", (err) => {
        // A verification failure inside the body stream is the client's answer.
        if (bodyError instanceof S3Error) reject(bodyError);
        else if (bodyError !== undefined || options.signal?.aborted) {
          reject(clientGone(bodyError ?? err));
        } else {
          reject(
            failedToConnect(err) ? unreachable(request.origin, err) : noAnswer(request.origin, err),
          );
        }
      });
      req.on("response", (res) => {
        const pairs: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          pairs.push([res.rawHeaders[i], res.rawHeaders[i + 1]]);
        }
        const status = res.statusCode ?? 502;
        const empty = NULL_BODY_STATUS.has(status) || request.method === "HEAD";
        if (empty) res.resume();
        const init = { status, statusText: res.statusMessage, headers: responseHeaders(pairs) };
        resolve(
          empty
            ? new Response(null, init)
            : labelledAnswer(Readable.toWeb(res) as ReadableStream<Uint8Array>, init, {
              origin: request.origin,
              requestId: options.requestId,
              aborted: () => options.signal?.aborted === true,
            }),
        );
      });
      if (options.body === null) {
        req.end();
        return;
      }
      (async () => {
        try {
          const progress = options.onProgress ?? (() => {});
          for await (const chunk of options.body!) {
            progress("read");
            if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
            progress("written");
          }
          req.end();
          options.onBodySent?.();
        } catch (err) {
          bodyError = err;
          req.destroy(err as Error);
        }
      })();
    });
  }

  /** Closes pooled connections. */
  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#pool.close();
    for (const agent of this.#agents.values()) agent.destroy();
    for (const queue of this.#deadlines.values()) queue.close();
    for (const watch of this.#idle.values()) watch.close();
    this.#idle.clear();
    this.#deadlines.clear();
    this.#clients.clear();
    this.#agents.clear();
  }
}
