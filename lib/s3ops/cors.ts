/**
 * CORS, evaluated by osp the way S3 evaluates a bucket's CORS configuration:
 * a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
 * is answered from the rules without authentication and without a backend
 * request, and every answer to a request with an `Origin` (errors included)
 * carries the `Access-Control-*` headers of the first matching rule. The
 * backend's own CORS headers never reach the browser.
 *
 * Rules come from the config (per bucket, or the top-level default), or with
 * `cors: "backend"` from the bucket's own configuration on the backend
 * (GetBucketCors with the bucket's static identity), cached for the
 * bucket's `ttl` and dropped when a PutBucketCors or DeleteBucketCors
 * passes through osp.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { matchRule } from "./cors.ts";
 * const rules = [{
 *   allowedOrigins: ["https://*.example.com"],
 *   allowedMethods: ["GET", "PUT"],
 *   allowedHeaders: ["content-type", "x-amz-*"],
 *   exposeHeaders: [],
 * }];
 * const ok = { origin: "https://app.example.com", method: "PUT", headers: ["x-amz-date"] };
 * assert.equal(matchRule(rules, ok), rules[0]);
 * assert.equal(matchRule(rules, { ...ok, method: "DELETE" }), undefined);
 * ```
 *
 * @module
 */
import type { ResolvedBucket, ResolvedCorsRule } from "../config/config.ts";
import {
  bucketIfValid,
  bucketLabel,
  type Pipeline,
  type RequestState,
} from "../request/context.ts";
import type { RequestTarget } from "../request/request_target.ts";
import { S3Error } from "../request/errors.ts";

/** A CORS rule with every list present. */
export type CorsRule = ResolvedCorsRule;
export { parseCorsXml } from "./cors_rules.ts";

/** What a CORS rule is matched against. */
export interface CorsQuery {
  /** The `Origin` header. */
  origin: string;
  /** The method of the request (or of the preflighted one). */
  method: string;
  /** Lower-case header names the preflight asks for. */
  headers?: readonly string[];
}

/**
 * Headers osp always lets browsers read on CORS answers, besides a rule's own
 * `exposeHeaders` (S3 exposes only those): a page needs the ETag of what it
 * uploaded and the request id of what failed.
 */
export const ALWAYS_EXPOSED: readonly string[] = [
  "ETag",
  "x-amz-request-id",
  "x-amz-id-2",
  "x-amz-version-id",
  "x-amz-delete-marker",
  "Content-Length",
  "Content-Type",
  "Last-Modified",
];

/** `*` matches any run of characters (S3 allows one per pattern). */
function wildcard(pattern: string, value: string): boolean {
  const star = pattern.indexOf("*");
  if (star < 0) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) &&
    value.endsWith(tail);
}

/** The first rule allowing this origin, method and (for preflights) header names. */
export function matchRule(rules: readonly CorsRule[], query: CorsQuery): CorsRule | undefined {
  return rules.find((rule) =>
    rule.allowedOrigins.some((o) => wildcard(o, query.origin)) &&
    rule.allowedMethods.includes(query.method) &&
    (query.headers ?? []).every((h) =>
      rule.allowedHeaders.some((a) => wildcard(a.toLowerCase(), h))
    )
  );
}

/** The `Access-Control-Allow-Origin` value: `*` for a rule open to every origin. */
function allowOrigin(rule: CorsRule, origin: string): string {
  return rule.allowedOrigins.includes("*") ? "*" : origin;
}

function exposed(rule: CorsRule): string {
  const names = [...ALWAYS_EXPOSED];
  for (const h of rule.exposeHeaders) {
    if (!names.some((n) => n.toLowerCase() === h.toLowerCase())) names.push(h);
  }
  return names.join(", ");
}

/** The headers of an answer to a preflight that `rule` allows. */
export function preflightHeaders(rule: CorsRule, query: CorsQuery): Headers {
  const headers = new Headers({
    "access-control-allow-origin": allowOrigin(rule, query.origin),
    "access-control-allow-methods": rule.allowedMethods.join(", "),
    "access-control-expose-headers": exposed(rule),
    vary: "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
  });
  if ((query.headers ?? []).length > 0) {
    headers.set("access-control-allow-headers", query.headers!.join(", "));
  }
  if (rule.maxAgeSeconds !== undefined) {
    headers.set("access-control-max-age", String(rule.maxAgeSeconds));
  }
  if (allowOrigin(rule, query.origin) !== "*") {
    headers.set("access-control-allow-credentials", "true");
  }
  return headers;
}

/** The answer to a preflight no rule allows (S3's text). */
export function corsRefused(): S3Error {
  return new S3Error(
    "AccessForbidden",
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
  );
}

/** The bucket config a CORS lookup applies to, without throwing for names osp refuses. */
function corsBucket(
  pipeline: Pipeline,
  target: RequestTarget | undefined,
): ResolvedBucket | undefined {
  if (target?.bucket === undefined || target.bucket === "") return undefined;
  return bucketIfValid(pipeline, target.bucket);
}

/**
 * Answers a preflight (`OPTIONS`) from the bucket's rules, without
 * authentication and without touching the backend (but for reading
 * `"backend"` rules, cached). 200 with the `Access-Control-Allow-*` headers,
 * else 403 AccessForbidden "CORSResponse: …", as S3 answers.
 */
export async function preflight(
  pipeline: Pipeline,
  request: Request,
  options: { target: RequestTarget; state: RequestState },
): Promise<Response> {
  options.state.operation = "CorsPreflight";
  const origin = request.headers.get("origin");
  const method = request.headers.get("access-control-request-method");
  if (origin === null || method === null) {
    throw new S3Error(
      "BadRequest",
      "Insufficient information. Origin request header needed.",
    );
  }
  const bucket = corsBucket(pipeline, options.target);
  if (bucket === undefined) throw corsRefused();
  options.state.bucket = bucketLabel(pipeline, bucket);
  const headers = (request.headers.get("access-control-request-headers") ?? "").split(",")
    .map((h) => h.trim().toLowerCase()).filter((h) => h !== "");
  const query = { origin, method, headers };
  const rule = matchRule(await pipeline.cors.rulesFor(bucket), query);
  if (rule === undefined) throw corsRefused();
  const answer = preflightHeaders(rule, query);
  for (const [name, value] of Object.entries(pipeline.serverHeaders)) answer.set(name, value);
  return new Response(null, { status: 200, headers: answer });
}

/**
 * `response` as a browser should see it: the backend's CORS headers removed,
 * and the matching rule's added (errors included, so a page can read a
 * 403's XML). Responses to requests without `Origin` are left alone.
 */
export async function withCorsHeaders(
  pipeline: Pipeline,
  response: Response,
  options: { request: Request; target?: RequestTarget },
): Promise<Response> {
  const { request } = options;
  const origin = request.headers.get("origin");
  if (origin === null || request.method === "OPTIONS") return response;
  const bucket = corsBucket(pipeline, options.target);
  const rules = bucket === undefined ? [] : await pipeline.cors.rulesFor(bucket).catch(() => []);
  const rule = matchRule(rules, { origin, method: request.method });
  const set: [string, string][] = [["vary", "Origin"]];
  if (rule !== undefined) {
    set.push(
      ["access-control-allow-origin", allowOrigin(rule, origin)],
      ["access-control-allow-methods", rule.allowedMethods.join(", ")],
      ["access-control-expose-headers", exposed(rule)],
    );
    if (allowOrigin(rule, origin) !== "*") set.push(["access-control-allow-credentials", "true"]);
  }
  return editHeaders(response, set);
}

/** Sets `set` and drops every other `access-control-*` header, in place when the headers allow. */
function editHeaders(response: Response, set: [string, string][]): Response {
  const apply = (headers: Headers) => {
    const stale: string[] = [];
    headers.forEach((_v, name) => {
      if (name.startsWith("access-control-")) stale.push(name);
    });
    for (const name of stale) headers.delete(name);
    for (const [name, value] of set) {
      if (name === "vary" && headers.has("vary")) {
        headers.set("vary", `${headers.get("vary")}, ${value}`);
      } else headers.set(name, value);
    }
  };
  try {
    apply(response.headers);
    return response;
  } catch {
    // A fetch response's headers are immutable: the same body, new headers.
    const headers = new Headers(response.headers);
    apply(headers);
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  }
}
