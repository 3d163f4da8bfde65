/**
 * Where a bucket's CORS rules come from: its config, or (`cors: "backend"`)
 * its own CORS configuration on the backend, read with the bucket's static
 * identity and cached for the bucket's `ttl`.
 *
 * @module
 */
import { TtlCache } from "../access/ttl_cache.ts";
import type {
  ResolvedBucket,
  ResolvedConfig,
  ResolvedCorsRule as CorsRule,
} from "../config/config.ts";
import { S3Error, xmlUnescape } from "../request/errors.ts";
import type { SigningKeyCache } from "../sigv4/sigv4.ts";
import type { IamTokens } from "../upstream/iam.ts";
import { buildServiceRequest } from "../upstream/service_request.ts";
import type { Transport } from "../upstream/transport.ts";

/** What reading a bucket's CORS configuration from its backend takes. */
export interface BackendDeps {
  /** The resolved config. */
  config: ResolvedConfig;
  /** Sends backend requests. */
  transport: Transport;
  /** IBM IAM tokens, for API-key buckets. */
  iam: IamTokens;
  /** Signing keys. */
  signingKeys: SigningKeyCache;
}

/** Reads the rules of a `CORSConfiguration` document. */
export function parseCorsXml(xml: string): CorsRule[] {
  const all = (body: string, tag: string) =>
    [...body.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map((m) =>
      xmlUnescape(m[1].trim())
    );
  return [...xml.matchAll(/<CORSRule>([\s\S]*?)<\/CORSRule>/g)].map((m) => {
    const maxAge = all(m[1], "MaxAgeSeconds")[0];
    return {
      allowedOrigins: all(m[1], "AllowedOrigin"),
      allowedMethods: all(m[1], "AllowedMethod"),
      allowedHeaders: all(m[1], "AllowedHeader"),
      exposeHeaders: all(m[1], "ExposeHeader"),
      ...(maxAge !== undefined && /^\d+$/.test(maxAge) ? { maxAgeSeconds: Number(maxAge) } : {}),
    };
  });
}

/** The CORS rules of each bucket: from the config, or read from the backend and cached. */
export class CorsRules {
  #cache: TtlCache<readonly CorsRule[]>;
  #deps: BackendDeps;

  /** A cache holding at most `maxEntries` buckets' backend rules, read with `deps`. */
  constructor(deps: BackendDeps, options: { maxEntries: number }) {
    this.#deps = deps;
    this.#cache = new TtlCache({ ...options, clock: deps.config.clock });
  }

  /** The rules that apply to `bucket`. */
  async rulesFor(bucket: ResolvedBucket): Promise<readonly CorsRule[]> {
    if (bucket.cors !== "backend") return bucket.cors;
    return await this.#cache.getOrLoad(
      cacheKey(bucket),
      () => backendRules(this.#deps, bucket),
      { ttlMs: bucket.ttlMs },
    );
  }

  /** Forgets a bucket's backend rules (after a PutBucketCors or DeleteBucketCors). */
  forget(bucket: ResolvedBucket): void {
    this.#cache.deletePrefix(cacheKey(bucket));
  }
}

function cacheKey(bucket: ResolvedBucket): string {
  return `${bucket.origin} ${bucket.backendBucket}\n`;
}

/** GetBucketCors with the bucket's static identity; no configuration is no rules. */
async function backendRules(pipeline: BackendDeps, bucket: ResolvedBucket): Promise<CorsRule[]> {
  const creds = bucket.credentials;
  if (creds.kind === "fetch") return [];
  const upstream = buildServiceRequest({
    bucket,
    credentials: creds.kind === "apiKey"
      ? { bearer: await pipeline.iam.tokenFor(creds.apiKey) }
      : creds,
    now: pipeline.config.clock(),
    signingKeys: pipeline.signingKeys,
    subresource: "cors",
  });
  const response = await pipeline.transport.send(upstream, {
    body: null,
    verify: pipeline.config.verify,
    headerTimeoutMs: pipeline.config.upstreamTimeoutMs,
  });
  const text = await response.text();
  if (response.status === 404) return [];
  if (!response.ok) {
    throw new S3Error(
      "ServiceUnavailable",
      `Reading the bucket's CORS configuration failed (HTTP ${response.status})`,
    );
  }
  return parseCorsXml(text);
}
