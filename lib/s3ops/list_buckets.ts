/**
 * ListBuckets (`GET /`) answered by osp: the `cosMap` buckets the validator
 * allows this token, plus, with a default route, the backend's own list for
 * the caller's backend identity.
 *
 * @module
 */
import type { AbortLike } from "../_abort.ts";
import { DEFAULT_ROUTE } from "../config/config.ts";
import { type Pipeline, question } from "../request/context.ts";
import { S3Error, xmlEscape, xmlUnescape } from "../request/errors.ts";
import type { VerifiedRequest } from "../sigv4/authenticate.ts";
import { buildServiceRequest } from "../upstream/service_request.ts";

/** A bucket as ListBuckets shows it. */
export interface ListedBucket {
  /** The bucket name. */
  name: string;
  /** ISO 8601 creation date. */
  creationDate: string;
}

/** Renders a ListAllMyBucketsResult document. */
export function listBucketsXml(
  buckets: readonly ListedBucket[],
  options: { owner: string },
): string {
  const owner = xmlEscape(options.owner);
  const items = buckets.map((b) =>
    `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${
      xmlEscape(b.creationDate)
    }</CreationDate></Bucket>`
  ).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${owner}</ID><DisplayName>${owner}</DisplayName></Owner><Buckets>${items}</Buckets></ListAllMyBucketsResult>`;
}

/** Reads the buckets of a backend's ListAllMyBucketsResult. */
export function parseListBuckets(xml: string): ListedBucket[] {
  const out: ListedBucket[] = [];
  for (const m of xml.matchAll(/<Bucket>([\s\S]*?)<\/Bucket>/g)) {
    const name = /<Name>([\s\S]*?)<\/Name>/.exec(m[1])?.[1];
    const date = /<CreationDate>([\s\S]*?)<\/CreationDate>/.exec(m[1])?.[1];
    if (name !== undefined) {
      out.push({ name: xmlUnescape(name), creationDate: xmlUnescape(date ?? "") });
    }
  }
  return out;
}

/** The backend's own buckets for the caller's identity, through the default route. */
async function backendBuckets(
  pipeline: Pipeline,
  verified: VerifiedRequest,
  signal?: AbortLike,
): Promise<ListedBucket[]> {
  const { defaultRoute, credentials, iam, config } = pipeline;
  if (defaultRoute === undefined) return [];
  const creds = await credentials.backendFor(verified.token, defaultRoute);
  // Only a null token is anonymous, and an unsigned `GET /` never gets this far (routeAnonymous).
  if (creds.kind === "anonymous") throw new S3Error("AccessDenied", "Access Denied");
  const upstream = buildServiceRequest({
    bucket: defaultRoute,
    credentials: creds.kind === "apiKey" ? { bearer: await iam.tokenFor(creds.apiKey) } : creds,
    now: config.clock(),
    signingKeys: pipeline.signingKeys,
  });
  const response = await pipeline.transport.send(upstream, {
    body: null,
    signal,
    verify: config.verify,
  });
  const text = await response.text();
  if (!response.ok) {
    throw new S3Error(
      "ServiceUnavailable",
      `The backend's ListBuckets failed (HTTP ${response.status})`,
    );
  }
  return parseListBuckets(text);
}

/**
 * ListBuckets, answered by osp: the cosMap buckets and (with a default route)
 * the backend's own, each shown only when the validator allows this token
 * `ListBuckets` on it.
 */
export async function listBuckets(
  pipeline: Pipeline,
  verified: VerifiedRequest,
  options: { sourceIp: () => string; signal?: AbortLike },
): Promise<Response> {
  const { config, defaultRoute } = pipeline;
  const listed = new Map<string, ListedBucket>();
  for (const b of await backendBuckets(pipeline, verified, options.signal)) listed.set(b.name, b);
  for (const name of config.buckets.keys()) {
    if (name !== DEFAULT_ROUTE && !listed.has(name)) {
      listed.set(name, { name, creationDate: pipeline.startedAt.toISOString() });
    }
  }
  const candidates = [...listed.values()];
  const allowed = await Promise.all(candidates.map((b) =>
    pipeline.authorizer.allowed(
      verified.token,
      question(pipeline, verified, {
        fields: { operation: "ListBuckets", bucket: b.name },
        sourceIp: options.sourceIp,
      }),
      { ttlMs: (config.buckets.get(b.name) ?? defaultRoute)?.ttlMs ?? 0 },
    )
  ));
  const shown = candidates.filter((_, i) => allowed[i]).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0
  );
  return new Response(listBucketsXml(shown, { owner: verified.token ?? "" }), {
    headers: { "content-type": "application/xml", ...pipeline.serverHeaders },
  });
}
