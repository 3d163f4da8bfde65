/**
 * What every stage of the request pipeline runs on: the resolved config and
 * the long-lived parts built from it once per handler (caches, clients,
 * signing keys), and the per-request state the outer exchange observes.
 *
 * @module
 */
import type { UseCounter } from "../access/use_counter.ts";
import { Authorizer, type LazyValidatorRequest } from "../access/validator.ts";
import { type ValidatorFields, validatorRequest } from "../access/validator_request.ts";
import { DEFAULT_ROUTE, type ResolvedBucket, type ResolvedConfig } from "../config/config.ts";
import type { Logger } from "../observe/log.ts";
import type { Metrics } from "../observe/metrics.ts";
import type { S3Operation } from "../s3ops/operation.ts";
import type { VerifiedRequest } from "../sigv4/authenticate.ts";
import { SigningKeyCache } from "../sigv4/sigv4.ts";
import { CorsRules } from "../s3ops/cors_rules.ts";
import { Credentials } from "../upstream/credentials.ts";
import { IamTokens } from "../upstream/iam.ts";
import type { Transport } from "../upstream/transport.ts";
import { requireValidBucketName } from "./bucket_name.ts";

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

/** The handler's long-lived parts, shared by every stage. */
export interface Pipeline extends HandlerDeps {
  /** Signing keys, cached per secret and day (client and backend alike). */
  signingKeys: SigningKeyCache;
  /** Client secrets and backend credentials, cached. */
  credentials: Credentials;
  /** The validator and its decision cache. */
  authorizer: Authorizer;
  /** IBM IAM bearer tokens for API-key buckets. */
  iam: IamTokens;
  /** The default route (`cosMap["*"]`), if configured. */
  defaultRoute?: ResolvedBucket;
  /** When the handler was made: the creation date ListBuckets shows for cosMap entries. */
  startedAt: Date;
  /** Headers on osp's own answers. */
  serverHeaders: Record<string, string>;
  /** Each bucket's CORS rules. */
  cors: CorsRules;
}

/** Builds the long-lived parts of a handler from its dependencies. */
export function createPipeline(deps: HandlerDeps): Pipeline {
  const { config, logger, metrics, transport } = deps;
  const signingKeys = new SigningKeyCache();
  const iam = new IamTokens({
    endpoint: config.iamEndpoint,
    fetch: config.fetch,
    clock: config.clock,
    logger,
  });
  return {
    ...deps,
    signingKeys,
    credentials: new Credentials(config, { metrics }),
    authorizer: new Authorizer(config, { metrics }),
    iam,
    cors: new CorsRules({ config, transport, iam, signingKeys }, { maxEntries: config.cacheSize }),
    defaultRoute: config.buckets.get(DEFAULT_ROUTE),
    startedAt: new Date(config.clock()),
    serverHeaders: { server: config.serverName },
  };
}

/** What the pipeline learns about a request, for the access log and metrics. */
export interface RequestState {
  /** The request id, also sent as `x-amz-request-id`. */
  id: string;
  /** The S3 operation, once named. */
  operation: S3Operation;
  /** The bucket label for metrics (`_default` for default-route buckets). */
  bucket: string;
  /** The client's access key id, once authenticated. */
  accessKey?: string;
  /** The AWS signature version the client signed with, once authenticated. */
  sigVersion?: "2" | "4";
  /** The client's IP address, read only when needed (the validator or the log). */
  sourceIp: () => string;
  /** How long the backend took to answer, ms. */
  upstreamMs?: number;
  /** Whether a presigned URL's use was counted or refused. */
  presigned?: "hit" | "rejected";
  /** True for a request without credentials. */
  anonymous?: boolean;
  /** True for a request a bucket's static website answers: its errors are HTML pages. */
  website?: boolean;
}

/**
 * The bucket's config: an explicit cosMap entry, else the default route under
 * the bucket's own name. A name that is not explicit must be a valid S3
 * bucket name (else 400 InvalidBucketName), before any validator call or
 * backend URL: it becomes a host label or a path segment there.
 */
export function bucketFor(pipeline: Pipeline, name: string): ResolvedBucket | undefined {
  const explicit = pipeline.config.buckets.get(name);
  if (explicit !== undefined && name !== DEFAULT_ROUTE) return explicit;
  requireValidBucketName(name);
  const route = pipeline.defaultRoute;
  return route === undefined ? undefined : { ...route, name, backendBucket: name };
}

/**
 * Like {@linkcode bucketFor}, but undefined for a name osp refuses: for
 * answers given before the route (a CORS preflight, a static website), which
 * leave refusing the name to the route.
 */
export function bucketIfValid(pipeline: Pipeline, name: string): ResolvedBucket | undefined {
  try {
    return bucketFor(pipeline, name);
  } catch {
    return undefined;
  }
}

/** The bucket's metrics label: default-route buckets are named by clients, so they share one. */
export function bucketLabel(pipeline: Pipeline, bucket: ResolvedBucket): string {
  return pipeline.config.buckets.has(bucket.name) ? bucket.name : "_default";
}

/** The validator's question about `verified`: built whole only if the validator is asked. */
export function question(
  pipeline: Pipeline,
  verified: VerifiedRequest,
  options: { fields: ValidatorFields; sourceIp: () => string },
): LazyValidatorRequest {
  return validatorRequest(verified, options.fields, {
    sourceIp: options.sourceIp,
    cacheKey: pipeline.config.validatorCacheKey,
  });
}
