/**
 * Requests osp makes on its own behalf, built from config only and signed
 * with a backend identity: ListBuckets for the caller's identity, a bucket's
 * CORS configuration.
 *
 * @module
 */
import type { HmacKey, ResolvedBucket } from "../config/config.ts";
import {
  amzDate,
  authorizationHeader,
  EMPTY_SHA256,
  signature,
  type SigningKeyCache,
  stringToSignOf,
  uriEncode,
} from "../sigv4/sigv4.ts";
import {
  backendHost,
  backendOrigin,
  bucketHostName,
  HeaderList,
  type UpstreamRequest,
  upstreamRequest,
  withBearer,
} from "./upstream_request.ts";

/**
 * A request osp makes on its own behalf, signed with a backend identity and
 * built from config only: ListBuckets (`GET /`) for the caller's backend
 * identity, or, with `subresource`, a read of one of the bucket's
 * sub-resources (`GET /bucket?cors`).
 */
export function buildServiceRequest(options: {
  bucket: ResolvedBucket;
  credentials: HmacKey | { bearer: string };
  now: number;
  signingKeys: SigningKeyCache;
  subresource?: "cors";
}): UpstreamRequest {
  const { bucket, credentials, subresource } = options;
  const virtual = subresource !== undefined && bucket.addressingStyle === "virtual";
  const hostName = virtual ? bucketHostName(bucket) : bucket.host;
  const path = subresource === undefined || virtual ? "/" : `/${uriEncode(bucket.backendBucket)}`;
  const query = subresource === undefined ? "" : `${subresource}=`;
  const headers = new HeaderList();
  headers.set("host", backendHost(hostName, bucket));
  headers.set("accept-encoding", "identity");
  const base = {
    method: "GET",
    origin: backendOrigin(hostName, bucket),
    pathAndQuery: query === "" ? path : `${path}?${query}`,
  };
  if ("bearer" in credentials) {
    return withBearer(base, headers, { bearer: credentials.bearer, bucket });
  }
  const datetime = amzDate(options.now);
  headers.set("x-amz-date", datetime);
  headers.set("x-amz-content-sha256", EMPTY_SHA256);
  const signedHeaders = ["host", "x-amz-content-sha256", "x-amz-date"];
  const scope = { date: datetime.slice(0, 8), region: bucket.region, service: "s3" };
  const canonical = {
    method: "GET",
    uri: path,
    query,
    header: (n: string) => headers.get(n) ?? null,
    signedHeaders,
    payloadHash: EMPTY_SHA256,
  };
  const key = options.signingKeys.get(credentials.secretKey, scope);
  headers.set(
    "authorization",
    authorizationHeader(credentials.accessKey, {
      scope,
      signedHeaders,
      signature: signature(key, stringToSignOf(canonical, { datetime, scope })),
    }),
  );
  return upstreamRequest(base, headers);
}
