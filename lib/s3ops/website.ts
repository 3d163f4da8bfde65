/**
 * A bucket's static website (`website` in its config), with S3 website
 * semantics, for anonymous `GET` and `HEAD` requests only (signed requests
 * keep plain S3 REST semantics):
 *
 * - `…/` and the bucket root serve `…/` + `indexDocument`; when there is
 *   none and `listing` is on, an HTML listing of the prefix (paginated with
 *   `?continuation-token=`, the only query a website request may carry);
 * - `key` that is missing while `key/` + `indexDocument` exists answers
 *   `302` to `key/`;
 * - a 404 or 403 serves `errorDocument` with that status; without one (or
 *   when it cannot be read) an HTML error page, rendered by the one error
 *   renderer.
 *
 * Each backend request the website makes — the object, the index, the
 * listing, the redirect's check, the error document — is its own anonymous
 * operation: routed like any unsigned request (the bucket's `anonymous` list
 * must allow it), put to the validator (null token, its own key or prefix)
 * by `admit`, and re-signed by the same stages as every other request. A
 * refusal is honoured: nothing is fetched for that operation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { websitePath } from "./website.ts";
 * const target = { bucket: "site", style: "path" as const };
 * assert.equal(websitePath(target, "docs/a b.html"), "/site/docs/a%20b.html");
 * // A key starting with `/` must not become a `//host` link.
 * assert.equal(websitePath({ ...target, style: "virtual" }, "/evil.example/"), "/%2Fevil.example/");
 * ```
 *
 * @module
 */
import type { AbortLike } from "../_abort.ts";
import type { ResolvedBucket, ResolvedWebsite } from "../config/config.ts";
import { afterRoute } from "../request/after_route.ts";
import { bucketIfValid, type Pipeline, type RequestState } from "../request/context.ts";
import { S3_ERROR_STATUS, S3Error, type S3ErrorCode, toS3Error } from "../request/errors.ts";
import type { RequestTarget } from "../request/request_target.ts";
import { routeAnonymous } from "../request/route.ts";
import { hasNoCredentials } from "../sigv4/anonymous.ts";
import { type RawQueryParam, uriEncode } from "../sigv4/sigv4.ts";
import { listingHtml, PAGE_PARAM, parseListingPage } from "./website_listing.ts";

/** An anonymous request a bucket's website answers. */
export interface WebsiteRequest {
  /** `GET` or `HEAD`. */
  method: string;
  /** The client's headers. */
  headers: Headers;
  /** Where it points. */
  target: RequestTarget;
  /** The bucket's config. */
  bucket: ResolvedBucket;
  /** Its website. */
  website: ResolvedWebsite;
  /** The decoded key, "" for the bucket root. */
  key: string;
  /** A listing page's continuation token, from `?continuation-token=`. */
  pageToken?: string;
}

/** The website request `request` is, or undefined when plain S3 (and today's checks) answer it. */
export function websiteRequest(
  pipeline: Pipeline,
  request: { method: string; headers: Headers; target: RequestTarget; body: unknown },
): WebsiteRequest | undefined {
  const { method, headers, target } = request;
  if (method !== "GET" && method !== "HEAD") return undefined;
  if (request.body !== null || !hasNoCredentials(headers, target.params)) return undefined;
  if (target.bucket === undefined || target.bucket === "") return undefined;
  const bucket = bucketIfValid(pipeline, target.bucket);
  const website = bucket?.website;
  if (bucket === undefined || website === undefined) return undefined;
  const key = target.key ?? "";
  const { params } = target;
  if (params.length === 0) return { method, headers, target, bucket, website, key };
  const page = params.length === 1 && params[0].name === PAGE_PARAM && isDirectory(key) &&
    website.listing;
  if (!page) return undefined;
  return { method, headers, target, bucket, website, key, pageToken: params[0].value };
}

/** True for the bucket root and keys ending in `/`. */
function isDirectory(key: string): boolean {
  return key === "" || key.endsWith("/");
}

/** What the website's steps share. */
interface Visit {
  pipeline: Pipeline;
  request: WebsiteRequest;
  state: RequestState;
  signal?: AbortLike;
  url: string;
}

/** Answers a website request. Throws an S3Error (rendered as an HTML page) when nothing else can. */
export async function serveWebsite(
  pipeline: Pipeline,
  request: WebsiteRequest,
  options: { state: RequestState; signal?: AbortLike; url: string },
): Promise<Response> {
  options.state.website = true;
  options.state.anonymous = true;
  const visit: Visit = { pipeline, request, ...options };
  return isDirectory(request.key) ? await directory(visit) : await object(visit);
}

/** `key`: the object; when it is missing but `key/` has an index, a redirect to `key/`. */
async function object(visit: Visit): Promise<Response> {
  const { request } = visit;
  const outcome = await attempt(operation(visit, { method: request.method, key: request.key }));
  if (outcome instanceof Response) return outcome;
  if (outcome.status === 404 && await hasIndex(visit, `${request.key}/`)) {
    return redirect(visit, `${request.key}/`);
  }
  return await errorAnswer(visit, outcome);
}

/** `prefix/` (or the root): its index document, else (with `listing`) a listing. */
async function directory(visit: Visit): Promise<Response> {
  const { request } = visit;
  const { website, key, pageToken } = request;
  if (pageToken === undefined) {
    const index = `${key}${website.indexDocument}`;
    const outcome = await attempt(operation(visit, { method: request.method, key: index }));
    if (outcome instanceof Response) return outcome;
    if (outcome.status !== 404 || !website.listing) return await errorAnswer(visit, outcome);
  }
  const listed = await attempt(listing(visit));
  return listed instanceof Response ? listed : await errorAnswer(visit, listed);
}

/** One backend operation, routed, admitted and forwarded like any anonymous request. */
async function operation(
  visit: Visit,
  step: { method: string; key?: string; params?: RawQueryParam[]; headers?: Headers },
): Promise<Response> {
  const { pipeline, request, state } = visit;
  const target = stepTarget(request.target, { key: step.key, params: step.params ?? [] });
  const headers = step.headers ?? request.headers;
  const routed = routeAnonymous(pipeline, { method: step.method, headers, target }, state);
  return await afterRoute(pipeline, routed, {
    body: null,
    state,
    signal: visit.signal,
    url: visit.url,
  });
}

/** The target of one of the website's operations on the client's bucket, as the client would address it. */
function stepTarget(
  client: RequestTarget,
  step: { key?: string; params: RawQueryParam[] },
): RequestTarget {
  const rawKey = step.key === undefined ? undefined : uriEncode(step.key, { keepSlash: true });
  const bucketPath = client.style === "path" ? `/${uriEncode(client.bucket!)}` : "";
  return {
    rawPath: `${bucketPath}/${rawKey ?? ""}`,
    rawQuery: step.params.map((p) => `${p.rawName}=${p.rawValue}`).join("&"),
    params: step.params,
    host: client.host,
    bucket: client.bucket,
    rawKey,
    key: step.key,
    style: client.style,
  };
}

/** A query parameter as a client would send it. */
function param(name: string, value: string): RawQueryParam {
  return { rawName: uriEncode(name), rawValue: uriEncode(value), name, value };
}

/** Headers for the website's own operations: none of the client's but its user agent. */
function ownHeaders(request: WebsiteRequest): Headers {
  const headers = new Headers();
  const agent = request.headers.get("user-agent");
  if (agent !== null) headers.set("user-agent", agent);
  return headers;
}

/** A successful answer (below 400, e.g. 200, 206, 304), or the error it is. */
async function attempt(answer: Promise<Response>): Promise<Response | S3Error> {
  let response: Response;
  try {
    response = await answer;
  } catch (err) {
    return toS3Error(err);
  }
  if (response.status < 400) return response;
  return await backendError(response);
}

/** Messages of the backend errors a website shows (never the backend's own text). */
const MESSAGES: Partial<Record<S3ErrorCode, string>> = {
  NoSuchKey: "The specified key does not exist.",
  NoSuchBucket: "The specified bucket does not exist",
  AccessDenied: "Access Denied",
  PreconditionFailed: "At least one of the pre-conditions you specified did not hold",
  InvalidRange: "The requested range is not satisfiable",
};

/** The code a backend error status stands for when its body names none osp knows. */
function codeOfStatus(status: number): S3ErrorCode {
  // MESSAGES' order decides: a bare 404 is NoSuchKey, not NoSuchBucket.
  const known = (Object.keys(MESSAGES) as S3ErrorCode[])
    .find((code) => S3_ERROR_STATUS[code] === status);
  return known ?? (status >= 500 ? "InternalError" : "InvalidRequest");
}

/** A backend's error answer as an S3Error with its status; its body is read and dropped. */
async function backendError(response: Response): Promise<S3Error> {
  const text = await response.text().catch(() => "");
  const named = /<Code>([A-Za-z]+)<\/Code>/.exec(text)?.[1];
  const code = named !== undefined && Object.hasOwn(S3_ERROR_STATUS, named)
    ? named as S3ErrorCode
    : codeOfStatus(response.status);
  const message = MESSAGES[code] ?? `The request failed (HTTP ${response.status})`;
  return new S3Error(code, message, { status: response.status });
}

/** True when `prefix` + the index document exists (an admitted HeadObject of it). */
async function hasIndex(visit: Visit, prefix: string): Promise<boolean> {
  const key = `${prefix}${visit.request.website.indexDocument}`;
  const headers = ownHeaders(visit.request);
  return await aside(visit, async () => {
    const head = await operation(visit, { method: "HEAD", key, headers });
    await head.body?.cancel();
    return head.status === 200;
  }).catch(() => false);
}

/** Runs a side operation; the request keeps the name of the operation that answers it. */
async function aside<T>(visit: Visit, run: () => Promise<T>): Promise<T> {
  const { operation } = visit.state;
  try {
    return await run();
  } finally {
    visit.state.operation = operation;
  }
}

/** A link to `key` on this website: an absolute path, the key encoded segment by segment. */
export function websitePath(
  target: Pick<RequestTarget, "bucket" | "style">,
  key: string,
): string {
  const encoded = uriEncode(key, { keepSlash: true });
  // A leading `/` would make `//host/…`, a link to another site: encode it.
  const path = encoded.startsWith("/") ? `%2F${encoded.slice(1)}` : encoded;
  return target.style === "path" ? `/${uriEncode(target.bucket!)}/${path}` : `/${path}`;
}

/** S3 websites' answer for a "directory" asked without its `/`. */
function redirect(visit: Visit, key: string): Response {
  const headers = new Headers(visit.pipeline.serverHeaders);
  headers.set("location", websitePath(visit.request.target, key));
  return new Response(null, { status: 302, headers });
}

/** The listing of the requested prefix (one admitted ListObjectsV2 page), as an HTML page. */
async function listing(visit: Visit): Promise<Response> {
  const { request } = visit;
  const { key: prefix, website, pageToken, target } = request;
  const params = [
    param("list-type", "2"),
    param("prefix", prefix),
    param("delimiter", "/"),
    param("max-keys", String(website.listingPageSize)),
    ...(pageToken === undefined ? [] : [param(PAGE_PARAM, pageToken)]),
  ];
  const answer = await operation(visit, { method: "GET", params, headers: ownHeaders(request) });
  if (!answer.ok) return answer;
  const page = parseListingPage(await answer.text());
  const empty = page.prefixes.length === 0 && page.objects.length === 0;
  if (empty && prefix !== "" && pageToken === undefined) {
    throw new S3Error("NoSuchKey", MESSAGES.NoSuchKey!);
  }
  const headers = new Headers(visit.pipeline.serverHeaders);
  headers.set("content-type", "text/html; charset=utf-8");
  if (request.method === "HEAD") return new Response(null, { status: 200, headers });
  const html = listingHtml(page, {
    prefix,
    title: `${target.bucket}/${prefix}`,
    href: (key) => websitePath(target, key),
  });
  return new Response(html, { status: 200, headers });
}

/**
 * The answer to a failed website request: the error document (its own
 * admitted GetObject) with the error's status for a 404 or 403, else the
 * error itself, which the exchange renders as an HTML page.
 */
async function errorAnswer(visit: Visit, error: S3Error): Promise<Response> {
  const { request } = visit;
  const doc = request.website.errorDocument;
  if (
    doc === undefined || request.method !== "GET" || (error.status !== 404 && error.status !== 403)
  ) {
    throw error;
  }
  const served = await aside(visit, async () => {
    const answer = await operation(visit, {
      method: "GET",
      key: doc,
      headers: ownHeaders(request),
    });
    if (answer.status === 200) return answer;
    await answer.body?.cancel();
    return undefined;
  }).catch(() => undefined);
  if (served === undefined) throw error;
  const headers = new Headers(served.headers);
  return new Response(served.body, { status: error.status, headers });
}
