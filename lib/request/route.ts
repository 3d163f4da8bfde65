/**
 * Stage 1, route: from the parsed target and the client's headers to a
 * verified request, its named operation and its bucket. Authentication
 * happens here (only `authenticate()` makes a `VerifiedRequest`), then every
 * check that keeps osp and a backend reading the request alike: signed
 * header names, query values, hoisted headers, the bucket name, key paths.
 *
 * @module
 */
import { headerSnapshot } from "../sigv4/header_snapshot.ts";
import { checkHoistedHeaders } from "../access/validator_request.ts";
import type { ResolvedBucket } from "../config/config.ts";
import { NO_BUCKET } from "../observe/metrics.ts";
import {
  checkQueryParams,
  operationName,
  type S3Operation,
  selectsOperation,
} from "../s3ops/operation.ts";
import {
  anonymousPostRequest,
  anonymousRequest,
  authenticate,
  type AuthenticateOptions,
  authenticatePostPolicy,
  type VerifiedRequest,
} from "../sigv4/authenticate.ts";
import { readPostForm } from "../s3ops/post_form.ts";
import { type PostUpload, postUpload } from "../s3ops/post_object.ts";
import { checkAnonymousHeaders, hasNoCredentials } from "../sigv4/anonymous.ts";
import { hoistedHeaders, isAnonymousForm, isPresignParam } from "../sigv4/parse_authorization.ts";
import { SIGV2_SUBRESOURCES } from "../sigv4/sigv2.ts";
import { checkSignedHeaderNames, droppedHeaderNames } from "./client_headers.ts";
import { bucketFor, bucketLabel, type Pipeline, type RequestState } from "./context.ts";
import { S3Error } from "./errors.ts";
import { checkKeyPath } from "./key_path.ts";
import type { RequestTarget } from "./request_target.ts";
import { decimalLength } from "../_decimal.ts";

/** A request on the service (`GET /`): no bucket. */
export interface ServiceRoute {
  /** Discriminant. */
  kind: "service";
  /** The authenticated request. */
  verified: VerifiedRequest;
  /** The operation (ListBuckets is the only one osp serves). */
  operation: S3Operation;
}

/** A request on a bucket or an object. */
export interface BucketRoute {
  /** Discriminant. */
  kind: "bucket";
  /** The authenticated request. */
  verified: VerifiedRequest;
  /** The operation. */
  operation: S3Operation;
  /** The client's bucket name. */
  clientBucket: string;
  /** The decoded key, if any. */
  key?: string;
  /** The bucket's config; undefined when neither cosMap nor a default route has it. */
  bucket?: ResolvedBucket;
  /** A verified browser form upload (`POST /{bucket}`), sent on as the PutObject it names. */
  form?: PostUpload;
}

/** Where a request goes, once authenticated and named. */
export type Routed = ServiceRoute | BucketRoute;

/** What the route reads of a request. */
export interface RouteRequest {
  /** HTTP method. */
  method: string;
  /** The client's headers. */
  headers: Headers;
  /** Where it points. */
  target: RequestTarget;
  /** The body: read here only for a browser form upload, up to its file. */
  body?: ReadableStream<Uint8Array> | null;
}

/** Authenticates the request, names its operation and finds its bucket. */
export async function route(
  pipeline: Pipeline,
  request: RouteRequest,
  state: RequestState,
): Promise<Routed> {
  const { method, headers, target } = request;
  if (isFormPost(request)) return await routeForm(pipeline, request, state);
  if (hasNoCredentials(headers, target.params)) return routeAnonymous(pipeline, request, state);
  const verified = await authenticate({ method, target, headers }, authenticateOptions(pipeline));
  recordSigner(state, verified);
  checkRequestShape(pipeline, verified, state);
  const operation = nameOperation(verified);
  state.operation = operation;
  if (target.bucket === undefined) {
    state.bucket = NO_BUCKET;
    return { kind: "service", verified, operation };
  }
  if (target.bucket === "") {
    throw new S3Error("InvalidBucketName", "The specified bucket is not valid.");
  }
  const bucket = bucketFor(pipeline, target.bucket);
  return bucketRoute(pipeline, { verified, operation, bucket }, state);
}

/** What signature checks need from the config, for a header, presigned or form signature. */
function authenticateOptions(pipeline: Pipeline): AuthenticateOptions {
  const { config, credentials, signingKeys } = pipeline;
  return {
    now: config.clock(),
    clockSkewMs: config.clockSkewMs,
    secretFor: (ak) => credentials.secretFor(ak),
    signingKeys,
    skipSignatureValidation: config.skipSignatureValidation,
    sigV2: config.sigV2,
  };
}

/** Who signed the request, for the access log and metrics. */
function recordSigner(state: RequestState, verified: VerifiedRequest): void {
  state.accessKey = verified.token ?? undefined;
  state.sigVersion = verified.auth.version === 2 ? "2" : "4";
}

/** The route of a bucket request; the metrics label and strict key paths applied. */
function bucketRoute(
  pipeline: Pipeline,
  parts: { verified: VerifiedRequest; operation: S3Operation; bucket?: ResolvedBucket },
  state: RequestState,
): BucketRoute {
  const { verified, operation, bucket } = parts;
  const { bucket: clientBucket, key } = verified.target;
  if (bucket) state.bucket = bucketLabel(pipeline, bucket);
  if (bucket?.strictKeyPaths && key !== undefined) checkKeyPath(key);
  return { kind: "bucket", verified, operation, clientBucket: clientBucket!, key, bucket };
}

/**
 * A request without credentials: allowed only where the bucket lists its
 * operation in `anonymous`, with no `x-amz-*` header (or query parameter)
 * that would change what the backend does; the validator is still asked
 * (with a null token) in admit. A bucket's static website routes each
 * backend operation it makes here.
 */
export function routeAnonymous(
  pipeline: Pipeline,
  request: { method: string; headers: Headers; target: RequestTarget },
  state: RequestState,
): BucketRoute {
  const refused = () =>
    new S3Error("AccessDenied", "Anonymous requests are not allowed; sign the request");
  checkAnonymousHeaders(request.headers);
  const verified = anonymousRequest(request);
  checkRequestShape(pipeline, verified, state);
  const hoisted = hoistedHeaders(verified.target.params, verified.auth);
  checkAnonymousHeaders(new Headers(hoisted.map(([name]) => [name, ""])));
  const operation = nameOperation(verified);
  state.operation = operation;
  state.anonymous = true;
  const { target } = request;
  if (target.bucket === undefined || target.bucket === "") throw refused();
  const bucket = bucketFor(pipeline, target.bucket);
  if (bucket === undefined || !bucket.anonymous.has(operation)) throw refused();
  return bucketRoute(pipeline, { verified, operation, bucket }, state);
}

/** The checks that make osp and a backend read the request alike. */
function checkRequestShape(
  pipeline: Pipeline,
  verified: VerifiedRequest,
  state: RequestState,
): void {
  checkSignedHeaderNames(verified.auth.signedHeaders);
  checkSigV2Coverage(verified);
  refuseFormUploads(verified);
  checkQueryParams(verified.target.params, { method: verified.method });
  checkHoistedHeaders(verified);
  if (pipeline.logger.enabled("debug")) {
    const dropped = droppedHeaderNames(verified.headers);
    if (dropped.length > 0) {
      pipeline.logger.log("debug", "dropped headers", { requestId: state.id, dropped });
    }
  }
}

/** True for a browser form upload: `POST /{bucket}`, no query, a `multipart/form-data` body. */
function isFormPost(request: RouteRequest): boolean {
  const { method, target, headers } = request;
  return method === "POST" && target.bucket !== undefined && target.key === undefined &&
    target.params.length === 0 && isFormBody(headers);
}

function isFormBody(headers: Headers): boolean {
  const type = headerSnapshot(headers).get("content-type");
  return type !== null && type.toLowerCase().includes("multipart/form-data");
}

/**
 * SigV2 signs only some query parameters (the sub-resources): one that names
 * the operation but is not among them (`?retention`, `?encryption`,
 * `?attributes`…) could be added to a SigV2 URL without breaking its
 * signature, turning it into another operation than the signer's. Refused.
 */
function checkSigV2Coverage(verified: VerifiedRequest): void {
  if (verified.auth.version !== 2) return;
  for (const { name } of verified.target.params) {
    if (selectsOperation(name) && !SIGV2_SUBRESOURCES.has(name)) {
      throw new S3Error(
        "AccessDenied",
        `Signature Version 2 does not sign the query parameter ${name}, which names the operation; sign the request with AWS Signature Version 4`,
      );
    }
  }
}

/**
 * A browser form upload: its fields are read (bounded) up to the file, its
 * policy verified by `authenticatePostPolicy` (SigV4 or SigV2), which makes
 * the PutObject of the form's key that the rest of the pipeline sees; RGW
 * never sees a form. A form without credentials nor policy is an anonymous
 * PutObject, allowed only where the bucket lists PutObject in `anonymous`
 * (the validator is still asked, with a null token).
 */
async function routeForm(
  pipeline: Pipeline,
  request: RouteRequest,
  state: RequestState,
): Promise<BucketRoute> {
  const { headers, target } = request;
  const clientBucket = target.bucket!;
  if (clientBucket === "") {
    throw new S3Error("InvalidBucketName", "The specified bucket is not valid.");
  }
  state.operation = "PutObject";
  const bucket = bucketFor(pipeline, clientBucket);
  if (bucket) state.bucket = bucketLabel(pipeline, bucket);
  const contentLength = decimalLength(headers.get("content-length"));
  if (contentLength === undefined) {
    throw new S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.");
  }
  const form = await readPostForm(request.body ?? null, {
    contentType: headers.get("content-type")!,
    contentLength,
  });
  try {
    let verified: VerifiedRequest;
    if (isAnonymousForm(form.fields)) {
      // No credentials and no policy: S3 accepts it on a public-write bucket only.
      state.anonymous = true;
      if (bucket === undefined || !bucket.anonymous.has("PutObject")) {
        throw new S3Error("AccessDenied", "Anonymous requests are not allowed; sign the request");
      }
      verified = anonymousPostRequest({ target, ...form });
      checkAnonymousHeaders(verified.headers);
    } else {
      verified = await authenticatePostPolicy(
        { target, ...form },
        authenticateOptions(pipeline),
      );
      recordSigner(state, verified);
    }
    checkRequestShape(pipeline, verified, state);
    const key = verified.target.key!;
    if (bucket?.strictKeyPaths) checkKeyPath(key);
    return {
      kind: "bucket",
      verified,
      operation: "PutObject",
      clientBucket,
      key,
      bucket,
      form: postUpload(form),
    };
  } catch (err) {
    form.file.cancel().catch(() => {});
    throw err;
  }
}

/**
 * Any other POST with a `multipart/form-data` body would be a browser form
 * upload to RGW (whatever its query: `?restore`, `?select`, none), which
 * writes the key the form names, not one osp saw: refused. Form uploads are
 * `POST /{bucket}`, which osp verifies itself (`routeForm`).
 */
function refuseFormUploads(verified: VerifiedRequest): void {
  if (verified.method !== "POST") return;
  if (isFormBody(verified.headers)) {
    throw new S3Error("NotImplemented", "POST form uploads are not supported");
  }
}

function nameOperation(verified: VerifiedRequest): S3Operation {
  const { target, headers, method } = verified;
  const query = new Set<string>();
  for (const p of target.params) if (!isPresignParam(p.name, verified.auth)) query.add(p.name);
  return operationName({
    method,
    hasBucket: target.bucket !== undefined,
    hasKey: target.key !== undefined,
    query,
    header: (n) => headerSnapshot(headers).get(n),
  });
}
