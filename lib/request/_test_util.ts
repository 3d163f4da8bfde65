/**
 * Test helpers for the request stages: a pipeline on a resolved config whose
 * backend is an in-process function (through the transport's injectable
 * fetch), signed client requests, and a fresh request state.
 *
 * @internal
 * @module
 */
import { MemoryUseCounter } from "../access/use_counter.ts";
import { type BucketConfig, type ProxyConfig, resolveConfig } from "../config/config.ts";
import { createLogger } from "../observe/log.ts";
import { Transport } from "../upstream/transport.ts";
import { presignV2Url, signHeaders, signV2Headers } from "../../tests/_sign.ts";
import { admit, type Admitted } from "./admit.ts";
import { createPipeline, type Pipeline, type RequestState } from "./context.ts";
import { route, type Routed, type ServiceRoute } from "./route.ts";
import { parseRequestTarget, type RequestTarget } from "./request_target.ts";

/** The test clock. */
export const NOW = Date.UTC(2025, 0, 15, 12, 30, 0);
/** The client key every test request is signed with. */
export const CLIENT = { accessKey: "stage-client", secretKey: "stage-client-secret" };
/** The proxy's URL in test requests. */
export const BASE = "http://proxy.test:8080";

/** A request as the backend received it. */
export interface BackendSeen {
  /** `scheme://host:port/path?query`. */
  url: string;
  /** The method. */
  method: string;
  /** The headers. */
  headers: Headers;
  /** The body, read whole. */
  body: Uint8Array;
}

/** Answers backend requests in tests. */
export type Backend = (seen: BackendSeen) => Response | Promise<Response>;

/**
 * A pipeline with a `data` bucket (path style, alias `be-data`, `ttl: 0`;
 * `bucket` changes its fields) and the requests its backend saw.
 */
export function testPipeline(
  options: { config?: Partial<ProxyConfig>; bucket?: Partial<BucketConfig>; backend?: Backend } =
    {},
): { pipeline: Pipeline; seen: BackendSeen[] } {
  const seen: BackendSeen[] = [];
  const backend = options.backend ?? (() => new Response("backend body", { status: 200 }));
  const fake = async (input: string | URL | Request, init?: RequestInit) => {
    const body = init?.body ? new Uint8Array(await new Response(init.body).arrayBuffer()) : null;
    const request: BackendSeen = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: new Headers(init?.headers),
      body: body ?? new Uint8Array(),
    };
    seen.push(request);
    return await backend(request);
  };
  const config = resolveConfig({
    httpPort: 0,
    clock: () => NOW,
    hmacKeystore: [CLIENT],
    fetch: fake as typeof fetch,
    cosMap: {
      data: {
        host: "backend.test",
        port: 9000,
        tls: false,
        addressingStyle: "path",
        backendBucket: "be-data",
        accessKey: "backend-ak",
        secretKey: "backend-secret",
        ttl: 0,
        ...options.bucket,
      },
    },
    ...options.config,
  });
  const pipeline = createPipeline({
    config,
    logger: createLogger({ level: "error", write: () => {} }),
    transport: new Transport({ fetch: fake as typeof fetch }),
    useCounter: new MemoryUseCounter({ clock: () => NOW }),
  });
  return { pipeline, seen };
}

/** A header-signed client request for `path` (raw, as on the wire). */
export function signed(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; unsigned?: string[] } = {},
): Request {
  const url = BASE + path;
  const headers = signHeaders(method, url, { ...CLIENT, time: NOW, ...options });
  // As Deno.serve presents a request with a body: its length is a header.
  if (options.body !== undefined) {
    headers["content-length"] = String(new TextEncoder().encode(options.body).length);
  }
  return new Request(url, { method, headers, body: options.body });
}

/** A SigV2 header-signed client request for `path` (raw, as on the wire). */
export function signedV2(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; amzDate?: boolean } = {},
): Request {
  const url = BASE + path;
  const headers = signV2Headers(method, url, { ...CLIENT, time: NOW, ...options });
  if (options.body !== undefined) {
    headers["content-length"] = String(new TextEncoder().encode(options.body).length);
  }
  return new Request(url, { method, headers, body: options.body });
}

/** A SigV2 presigned client request for `path`; `extra` is appended to the URL after signing. */
export function presignedV2(
  method: string,
  path: string,
  options: { expires?: number; headers?: Record<string, string>; extra?: string } = {},
): Request {
  const url = presignV2Url(method, BASE + path, {
    ...CLIENT,
    expires: options.expires ?? NOW / 1000 + 600,
    contentType: options.headers?.["content-type"],
  });
  return new Request(url + (options.extra ?? ""), { method, headers: options.headers });
}

/** The target of a request, as the exchange parses it. */
export function targetOf(request: Request): RequestTarget {
  return parseRequestTarget(request.url, {
    hostHeader: request.headers.get("host"),
    virtualHostSuffixes: [],
  });
}

/** A fresh request state. */
export function freshState(): RequestState {
  return { id: "TESTID", operation: "Unknown", bucket: "_unknown", sourceIp: () => "10.0.0.1" };
}

/** Routes `request` as the exchange would. */
export async function routed(
  pipeline: Pipeline,
  request: Request,
  state: RequestState = freshState(),
): Promise<Routed> {
  const target = targetOf(request);
  const { method, headers, body } = request;
  return await route(pipeline, { method, headers, target, body }, state);
}

/** Routes and admits `request` (the validator from the pipeline's config decides). */
export async function admitted(
  pipeline: Pipeline,
  request: Request,
  state: RequestState = freshState(),
): Promise<Admitted | ServiceRoute> {
  const target = targetOf(request);
  const { method, headers, body } = request;
  const routed = await route(pipeline, { method, headers, target, body }, state);
  return await admit(pipeline, routed, state);
}
