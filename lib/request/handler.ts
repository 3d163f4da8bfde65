/**
 * The request path, in order: parse → authenticate → authorize → map →
 * backend credentials → re-sign and forward. Every failure is an S3Error and
 * becomes XML here, in one place.
 *
 * @module
 */
import { authenticate, type VerifiedRequest } from "../sigv4/authenticate.ts";
import { Authorizer, type LazyValidatorRequest } from "../access/validator.ts";
import {
  DEFAULT_ROUTE,
  type HmacKey,
  type ResolvedBucket,
  type ResolvedConfig,
} from "../config/config.ts";
import { formatCopySource, parseCopySource } from "../s3ops/copy_source.ts";
import { requireValidBucketName } from "./bucket_name.ts";
import { checkSignedHeaderNames, droppedHeaderNames } from "./client_headers.ts";
import { checkKeyPath } from "./key_path.ts";
import {
  checkHoistedHeaders,
  type ValidatorFields,
  validatorRequest,
} from "../access/validator_request.ts";
import { type BackendCredentials, Credentials } from "../upstream/credentials.ts";
import { errorResponse, S3Error, toS3Error } from "./errors.ts";
import { listBucketsXml, type ListedBucket, parseListBuckets } from "../s3ops/list_buckets.ts";
import type { Logger } from "../observe/log.ts";
import { checkQueryParams, operationName } from "../s3ops/operation.ts";
import { parseRequestTarget, type RequestTarget } from "./request_target.ts";
import { SigningKeyCache, uriEncode } from "../sigv4/sigv4.ts";
import { STREAMED_UPLOAD_MIN, type Transport } from "../upstream/transport.ts";
import { idleTimedStream, IdleWatch } from "../body/idle_watch.ts";
import { bufferedBodyLength } from "../upstream/http1.ts";
import { buildServiceRequest, buildUpstreamRequest } from "../upstream/resign.ts";
import type { UseCounter } from "../access/use_counter.ts";
import { isPresignParam } from "../sigv4/parse_authorization.ts";
import { createHash } from "node:crypto";
import { planBody } from "../body/payload.ts";
import { IamTokens } from "../upstream/iam.ts";
import { BUCKET_NAMING_OPERATIONS, MAX_REWRITE_BYTES, rewriteBucketNames } from "../s3ops/alias.ts";
import { countingStream, type Metrics, NO_BUCKET, UNKNOWN_BUCKET } from "../observe/metrics.ts";
import { parseChecksumHeaderName } from "../body/checksums.ts";
import {
  type DeleteEntry,
  deleteRequestXml,
  deniedResultXml,
  MAX_DELETE_BODY,
  mergeDeleteResult,
  parseDeleteRequest,
} from "../s3ops/delete_objects.ts";

/** What the handler runs on. */
export interface HandlerDeps {
  /** The resolved config. */
  config: ResolvedConfig;
  /** Where logs go. */
  logger: Logger;
  /** Sends backend requests. */
  transport: Transport;
  /** Presigned URL use counts. */
  useCounter: UseCounter;
  /** Prometheus metrics, when enabled. */
  metrics?: Metrics;
  /** Request counts per bucket and operation, when enabled. */
  requestCounts?: Map<string, Map<string, number>>;
}

/** Connection facts of a request. */
export interface ConnInfo {
  /** The client's IP address (may be computed when first read). */
  readonly remoteIp: string;
  /** Aborts when the client goes away before the response is delivered. */
  signal?: AbortSignal;
  /** Settles once the response has been delivered (rejects if it was not). */
  completed?: Promise<void>;
}

/** A request handler: Request in, Response out, never throws. */
export type Handler = (request: Request, conn: ConnInfo) => Promise<Response>;

/** What the request path learns about a request, for logs and metrics. */
interface RequestState {
  /** The request id, also sent as `x-amz-request-id`. */
  id: string;
  operation: string;
  bucket: string;
  accessKey?: string;
  /** The client's IP address, read only when needed (the validator or the log). */
  sourceIp: () => string;
  upstreamMs?: number;
  presigned?: "hit" | "rejected";
}

/** Checks a buffered body against the client's literal SHA-256 and Content-MD5. */
function checkDeclaredDigests(verified: VerifiedRequest, bytes: Uint8Array): void {
  const payload = verified.auth.payload;
  if (
    payload.kind === "sha256" && createHash("sha256").update(bytes).digest("hex") !== payload.hash
  ) {
    throw new S3Error(
      "XAmzContentSHA256Mismatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
  const md5 = verified.headers.get("content-md5");
  if (md5 !== null && createHash("md5").update(bytes).digest("base64") !== md5.trim()) {
    throw new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.");
  }
}
/** Bodies buffered to add a Content-MD5 are at most this large. */
const MAX_MD5_BODY = 1024 * 1024;

async function readSmallBody(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  if (body) {
    for await (const part of body) {
      length += part.length;
      if (length > limit) {
        throw new S3Error("InvalidRequest", `This request's body must be at most ${limit} bytes`);
      }
      parts.push(part);
    }
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

// Request ids: 16 upper-case hex digits, a random per-process prefix and a
// counter — unique within a process without asking for random bytes each time.
const REQUEST_ID_PREFIX = Array.from(
  crypto.getRandomValues(new Uint8Array(3)),
  (b) => b.toString(16).padStart(2, "0"),
).join("").toUpperCase();
let requestCounter = 0;

const REQUEST_ID_KEY = crypto.getRandomValues(new Uint32Array(1))[0];

function requestId(): string {
  // 40 bits: a trillion requests before the counter wraps. The low 32 bits go
  // through a keyed bijection (xor, multiply by an odd constant, xorshift), so
  // ids stay unique but do not tell clients how many requests were served.
  requestCounter = (requestCounter + 1) % 0x10000000000;
  let low = (requestCounter % 0x100000000) ^ REQUEST_ID_KEY;
  low = Math.imul(low, 0x9e3779b1);
  low = (low ^ (low >>> 16)) >>> 0;
  const high = Math.floor(requestCounter / 0x100000000);
  return REQUEST_ID_PREFIX + high.toString(16).toUpperCase().padStart(2, "0") +
    low.toString(16).toUpperCase().padStart(8, "0");
}

function sameCredentials(a: BackendCredentials, b: BackendCredentials): boolean {
  if (a.kind === "hmac" && b.kind === "hmac") {
    return a.accessKey === b.accessKey && a.secretKey === b.secretKey;
  }
  return a.kind === "apiKey" && b.kind === "apiKey" && a.apiKey === b.apiKey;
}

/** Creates the proxy's request handler. */
export function createHandler(deps: HandlerDeps): Handler {
  const { config, logger, transport, useCounter, metrics, requestCounts } = deps;
  const signingKeys = new SigningKeyCache();
  const credentials = new Credentials(config, { metrics });
  const authorizer = new Authorizer(config, { metrics });
  const iam = new IamTokens({
    endpoint: config.iamEndpoint,
    fetch: config.fetch,
    clock: config.clock,
    logger,
  });
  const startedAt = new Date(config.clock());
  const serverHeaders = { server: config.serverName };
  const downloadIdle = config.downloadIdleTimeoutMs > 0
    ? new IdleWatch(config.downloadIdleTimeoutMs)
    : undefined;

  /** The validator's question: built whole only if the validator is asked (not cached). */
  function question(
    verified: VerifiedRequest,
    fields: ValidatorFields,
    sourceIp: () => string,
  ): LazyValidatorRequest {
    return validatorRequest(verified, fields, { sourceIp, cacheKey: config.validatorCacheKey });
  }

  const defaultRoute = config.buckets.get(DEFAULT_ROUTE);

  /**
   * The bucket's config: an explicit cosMap entry, else the default route
   * under the bucket's own name. A name that is not explicit must be a valid
   * S3 bucket name (else 400 InvalidBucketName), before any validator call or
   * backend URL: it becomes a host label or a path segment there.
   */
  function bucketFor(name: string): ResolvedBucket | undefined {
    const explicit = config.buckets.get(name);
    if (explicit !== undefined && name !== DEFAULT_ROUTE) return explicit;
    requireValidBucketName(name);
    if (defaultRoute === undefined) return undefined;
    return { ...defaultRoute, name, backendBucket: name };
  }

  /** The backend's own buckets for the caller's identity, through the default route. */
  async function backendBuckets(
    verified: VerifiedRequest,
    signal?: AbortSignal,
  ): Promise<ListedBucket[]> {
    if (defaultRoute === undefined) return [];
    const creds = await credentials.backendFor(verified.token, defaultRoute);
    const upstream = buildServiceRequest({
      bucket: defaultRoute,
      credentials: creds.kind === "apiKey" ? { bearer: await iam.tokenFor(creds.apiKey) } : creds,
      now: config.clock(),
      signingKeys,
    });
    const response = await transport.send(upstream, { body: null, signal, verify: config.verify });
    const text = await response.text();
    if (!response.ok) {
      throw new S3Error(
        "ServiceUnavailable",
        `The backend's ListBuckets failed (HTTP ${response.status})`,
      );
    }
    return parseListBuckets(text);
  }

  async function listBuckets(
    verified: VerifiedRequest,
    sourceIp: () => string,
    signal?: AbortSignal,
  ): Promise<Response> {
    const listed = new Map<string, ListedBucket>();
    for (const b of await backendBuckets(verified, signal)) listed.set(b.name, b);
    for (const name of config.buckets.keys()) {
      if (name !== DEFAULT_ROUTE && !listed.has(name)) {
        listed.set(name, { name, creationDate: startedAt.toISOString() });
      }
    }
    const candidates = [...listed.values()];
    const allowed = await Promise.all(candidates.map((b) =>
      authorizer.allowed(
        verified.token,
        question(verified, { operation: "ListBuckets", bucket: b.name }, sourceIp),
        { ttlMs: (config.buckets.get(b.name) ?? defaultRoute)?.ttlMs ?? 0 },
      )
    ));
    const shown = candidates.filter((_, i) => allowed[i]).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
    const body = listBucketsXml(shown, { owner: verified.token });
    return new Response(body, {
      headers: { "content-type": "application/xml", ...serverHeaders },
    });
  }

  async function copySourceFor(
    verified: VerifiedRequest,
    options: { bucket: ResolvedBucket; creds: BackendCredentials; sourceIp: () => string },
  ): Promise<string> {
    const source = parseCopySource(verified.headers.get("x-amz-copy-source")!);
    const sourceBucket = bucketFor(source.bucket);
    if (sourceBucket === undefined) {
      throw new S3Error("AccessDenied", "Access Denied to the copy source bucket");
    }
    if (sourceBucket.strictKeyPaths) checkKeyPath(source.key);
    await authorizer.require(
      verified.token,
      question(verified, {
        operation: "GetObject",
        bucket: source.bucket,
        key: source.key,
      }, options.sourceIp),
      { ttlMs: sourceBucket.ttlMs },
    );
    const sourceCreds = await credentials.backendFor(verified.token, sourceBucket);
    if (
      sourceBucket.origin !== options.bucket.origin ||
      !sameCredentials(sourceCreds, options.creds)
    ) {
      throw new S3Error(
        "NotImplemented",
        `Copying from ${source.bucket} to ${options.bucket.name} is not supported: they are on different backends or use different backend credentials`,
      );
    }
    return formatCopySource(source, { backendBucket: sourceBucket.backendBucket });
  }

  async function proxy(
    request: Request,
    target: RequestTarget,
    state: RequestState,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const verified = await authenticate(
      { method: request.method, target, headers: request.headers },
      {
        now: config.clock(),
        clockSkewMs: config.clockSkewMs,
        secretFor: (ak) => credentials.secretFor(ak),
        signingKeys,
        skipSignatureValidation: config.skipSignatureValidation,
      },
    );
    state.accessKey = verified.token;
    checkSignedHeaderNames(verified.auth.signedHeaders);
    checkQueryParams(target.params, { method: request.method });
    checkHoistedHeaders(verified);
    if (logger.enabled("debug")) {
      const dropped = droppedHeaderNames(request.headers);
      if (dropped.length > 0) {
        logger.log("debug", "dropped headers", { requestId: state.id, dropped });
      }
    }
    const queryNames = new Set<string>();
    for (const p of target.params) if (!isPresignParam(p.name)) queryNames.add(p.name);
    const operation = operationName({
      method: request.method,
      hasBucket: target.bucket !== undefined,
      hasKey: target.key !== undefined,
      query: queryNames,
      header: (n) => request.headers.get(n),
    });
    state.operation = operation;
    if (target.bucket === undefined) {
      state.bucket = NO_BUCKET;
      if (operation === "ListBuckets") return await listBuckets(verified, state.sourceIp, signal);
      throw new S3Error(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
      );
    }
    if (target.bucket === "") {
      throw new S3Error("InvalidBucketName", "The specified bucket is not valid.");
    }
    const bucket = bucketFor(target.bucket);
    // Default-route buckets are named by clients: one label keeps metrics bounded.
    if (bucket) state.bucket = config.buckets.has(bucket.name) ? bucket.name : "_default";
    if (operation === "Unknown" && config.validator === undefined) {
      throw new S3Error(
        "NotImplemented",
        "osp cannot name this request's S3 operation; without a validator it is refused",
      );
    }
    if (bucket?.strictKeyPaths && target.key !== undefined) checkKeyPath(target.key);
    // Synchronous when the decision is cached (the common case).
    const decision = authorizer.check(
      verified.token,
      question(verified, {
        operation,
        bucket: target.bucket,
        key: target.key,
      }, state.sourceIp),
      { ttlMs: bucket?.ttlMs ?? 0 },
    );
    if (!(decision === true || (decision !== false && await decision))) {
      throw new S3Error("AccessDenied", "Access Denied");
    }
    if (bucket === undefined) {
      throw new S3Error("NoSuchBucket", "The specified bucket does not exist");
    }
    if (verified.auth.kind === "presigned" && config.maxPresignUrlUsageAttempts > 0) {
      const uses = await useCounter.increment(verified.auth.signature, {
        expiresAt: verified.auth.timeMs + verified.auth.expiresSeconds! * 1000,
      });
      state.presigned = uses > config.maxPresignUrlUsageAttempts ? "rejected" : "hit";
      if (uses > config.maxPresignUrlUsageAttempts) {
        throw new S3Error("AccessDenied", "presigned URL use limit reached");
      }
    }
    const creds = await credentials.backendFor(verified.token, bucket);
    const plan = planBody(verified, bucket, { bearer: creds.kind === "apiKey" });
    let copySource: string | undefined;
    if (request.headers.has("x-amz-copy-source")) {
      if (operation !== "CopyObject" && operation !== "UploadPartCopy") {
        throw new S3Error("InvalidRequest", `x-amz-copy-source is not valid on ${operation}`);
      }
      copySource = await copySourceFor(verified, { bucket, creds, sourceIp: state.sourceIp });
    }
    let clientBody: ReadableStream<Uint8Array> | null = request.body;
    let deniedDeletes: DeleteEntry[] = [];
    if (operation === "DeleteObjects" && config.validator !== undefined) {
      // Authorize every key as DeleteObject; denied keys never reach the backend.
      if (plan.transformed) {
        throw new S3Error(
          "NotImplemented",
          "DeleteObjects with an aws-chunked body is not supported",
        );
      }
      const bytes = await readSmallBody(request.body, MAX_DELETE_BODY);
      checkDeclaredDigests(verified, bytes);
      const parsed = parseDeleteRequest(new TextDecoder().decode(bytes));
      const allowed = await Promise.all(parsed.objects.map((o) =>
        authorizer.allowed(
          verified.token,
          question(verified, {
            operation: "DeleteObject",
            bucket: target.bucket!,
            key: o.key,
          }, state.sourceIp),
          { ttlMs: bucket.ttlMs },
        )
      ));
      deniedDeletes = parsed.objects.filter((_, i) => !allowed[i]);
      const kept = parsed.objects.filter((_, i) => allowed[i]);
      if (kept.length === 0) {
        return new Response(deniedResultXml(deniedDeletes), {
          headers: { "content-type": "application/xml", ...serverHeaders },
        });
      }
      // Always the rebuilt document: the backend deletes exactly what was authorized.
      const forward = new TextEncoder().encode(deleteRequestXml({ ...parsed, objects: kept }));
      plan.payloadHash = createHash("sha256").update(forward).digest("hex");
      plan.headerEdits["content-md5"] = createHash("md5").update(forward).digest("base64");
      plan.headerEdits["x-amz-sdk-checksum-algorithm"] = null;
      for (const name of request.headers.keys()) {
        if (parseChecksumHeaderName(name)) plan.headerEdits[name] = null;
      }
      clientBody = ReadableStream.from([forward]);
      plan.transformed = true;
      plan.contentLength = forward.length;
    }
    if (
      bucket.addContentMd5 && !request.headers.has("content-md5") && !plan.transformed &&
      (operation === "DeleteObjects" || (operation.startsWith("Put") && operation !== "PutObject"))
    ) {
      const bytes = await readSmallBody(request.body, MAX_MD5_BODY);
      plan.headerEdits["content-md5"] = createHash("md5").update(bytes).digest("base64");
      clientBody = ReadableStream.from([bytes]);
      plan.transformed = true;
      plan.contentLength = bytes.length;
    }
    const send = async (bearer?: string) => {
      const upstream = buildUpstreamRequest(verified, {
        bucket,
        credentials: bearer === undefined ? creds as HmacKey : { bearer },
        now: config.clock(),
        signingKeys,
        copySource,
        payloadHash: plan.payloadHash,
        headerEdits: plan.headerEdits,
      });
      const sent = performance.now();
      const response = await transport.send(upstream, {
        body: plan.body(clientBody, upstream),
        contentLength: plan.contentLength,
        transformedBody: plan.transformed,
        signal,
        verify: config.verify,
        headerTimeoutMs: config.upstreamTimeoutMs,
        idleTimeoutMs: config.bodyIdleTimeoutMs,
      });
      state.upstreamMs = performance.now() - sent;
      return response;
    };
    const forward = async (): Promise<Response> => {
      if (deniedDeletes.length > 0) {
        const response = await send(
          creds.kind === "apiKey" ? await iam.tokenFor(creds.apiKey) : undefined,
        );
        if (!response.ok) return response;
        const merged = mergeDeleteResult(await response.text(), deniedDeletes);
        const headers = new Headers(response.headers);
        headers.delete("content-length");
        return new Response(merged, { status: response.status, headers });
      }
      if (creds.kind !== "apiKey") return await send();
      const token = await iam.tokenFor(creds.apiKey);
      const response = await send(token);
      // An expired or revoked token: evict it and retry once, when that is safe.
      const retryable = (response.status === 401 || response.status === 403) &&
        plan.contentLength === 0 && ["GET", "HEAD", "DELETE"].includes(request.method);
      if (!retryable) return response;
      await response.body?.cancel();
      iam.evict(creds.apiKey, token);
      return await send(await iam.tokenFor(creds.apiKey));
    };
    const response = await forward();
    if (
      bucket.backendBucket === bucket.name || request.method === "HEAD" ||
      !(BUCKET_NAMING_OPERATIONS.has(operation) || response.status >= 400) ||
      !/xml/.test(response.headers.get("content-type") ?? "") ||
      Number(response.headers.get("content-length") ?? 0) > MAX_REWRITE_BYTES
    ) {
      return response;
    }
    // An alias: the client never sees the backend's bucket name.
    const scheme = request.url.slice(0, request.url.indexOf(":"));
    const xml = rewriteBucketNames(await response.text(), {
      clientBucket: bucket.name,
      backendBucket: bucket.backendBucket,
      clientBucketUrl: target.style === "virtual"
        ? `${scheme}://${target.host}`
        : `${scheme}://${target.host}/${uriEncode(bucket.name)}`,
    });
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    return new Response(xml, { status: response.status, statusText: response.statusText, headers });
  }

  return async (request, conn) => {
    const id = requestId();
    const started = performance.now();
    // The log line is written after the response, when Deno no longer has the address.
    const clientIp = logger.enabled("info") ? conn.remoteIp : undefined;
    metrics?.requestStarted();
    const state: RequestState = {
      id,
      operation: "Unknown",
      bucket: UNKNOWN_BUCKET,
      sourceIp: () => conn.remoteIp,
    };
    let target: RequestTarget | undefined;
    let response: Response;
    let error: S3Error | undefined;
    try {
      target = parseRequestTarget(request.url, {
        hostHeader: request.headers.get("host"),
        virtualHostSuffixes: config.virtualHostSuffixes,
      });
      response = await proxy(request, target, state, conn.signal);
      if (!response.headers.has("x-amz-request-id")) response.headers.set("x-amz-request-id", id);
    } catch (err) {
      error = toS3Error(err);
      response = errorResponse(error, {
        requestId: id,
        resource: target?.rawPath ?? "/",
        method: request.method,
        headers: serverHeaders,
      });
    }
    if (error && (error.status >= 500 || logger.enabled("debug"))) {
      logger.log(error.status >= 500 ? "error" : "debug", "request failed", {
        requestId: id,
        code: error.code,
        reason: error.message,
        cause: error.cause,
      });
    }
    const length = request.headers.get("x-amz-decoded-content-length") ??
      request.headers.get("content-length");
    const bytesIn = length !== null && /^\d+$/.test(length) ? Number(length) : 0;
    const status = response.status;
    const key = target?.key;
    // Logged and counted once the body has gone out (or failed to).
    const finish = (bytesOut: number) => {
      const durationMs = performance.now() - started;
      if (requestCounts) {
        let ops = requestCounts.get(state.bucket);
        if (ops === undefined) requestCounts.set(state.bucket, ops = new Map());
        ops.set(state.operation, (ops.get(state.operation) ?? 0) + 1);
      }
      metrics?.requestFinished({
        operation: state.operation,
        bucket: state.bucket,
        status,
        code: error?.code,
        durationMs,
        upstreamMs: state.upstreamMs,
        bytesIn,
        bytesOut,
        presigned: state.presigned,
      });
      if (!logger.enabled("info")) return;
      logger.log("info", "request", {
        requestId: id,
        clientIp,
        accessKey: state.accessKey,
        method: request.method,
        bucket: state.bucket,
        operation: state.operation,
        key,
        status,
        code: error?.code,
        bytesIn,
        bytesOut,
        ms: Math.round(durationMs * 10) / 10,
        upstreamMs: state.upstreamMs === undefined
          ? undefined
          : Math.round(state.upstreamMs * 10) / 10,
      });
    };
    // Bytes read whole from the backend: `response.body` is not touched, so
    // Deno.serve sends them without a stream.
    const buffered = bufferedBodyLength(response);
    if (buffered !== undefined) {
      if (conn.completed === undefined) finish(buffered);
      else conn.completed.then(() => finish(buffered), () => finish(0));
      return response;
    }
    if (response.body === null) {
      finish(0);
      return response;
    }
    // With a Content-Length and Deno.serve's `completed`, the body streams
    // untouched (no per-chunk JavaScript); only chunked answers are counted.
    // With downloadIdleTimeoutMs, large and unsized bodies are watched for
    // inactivity instead (a stalled backend or a client that stopped
    // reading); that costs the native pipe.
    const declared = response.headers.get("content-length");
    const sized = declared !== null && /^\d+$/.test(declared);
    if (downloadIdle !== undefined && (!sized || Number(declared) >= STREAMED_UPLOAD_MIN)) {
      const idleMs = config.downloadIdleTimeoutMs;
      return new Response(
        response.body.pipeThrough(idleTimedStream(downloadIdle, {
          idleError: () => new Error(`no byte moved for ${idleMs} ms`),
          onIdle: () =>
            logger.log("warn", "response body idle: cut", {
              requestId: id,
              bucket: state.bucket,
              key,
              idleMs,
            }),
          onDone: finish,
        })),
        { status, statusText: response.statusText, headers: response.headers },
      );
    }
    if (conn.completed !== undefined && sized) {
      conn.completed.then(() => finish(Number(declared)), () => finish(0));
      return response;
    }
    return new Response(response.body.pipeThrough(countingStream(finish)), {
      status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}
