/**
 * osp: an S3 reverse proxy. It verifies clients' AWS Signature V4, asks your
 * validator, maps each client bucket to a backend (AWS S3, IBM COS, MinIO,
 * Garage, Ceph RGW…), re-signs with that backend's credentials and streams
 * bodies both ways.
 *
 * @example Start a proxy in front of one bucket
 * ```ts ignore
 * import { serve } from "@osp/osp";
 *
 * const server = serve({
 *   httpPort: 8080,
 *   hmacKeystore: [{ accessKey: "client", secretKey: "client-secret" }],
 *   cosMap: {
 *     photos: { host: "s3.eu-de.cloud-object-storage.appdomain.cloud", port: 443,
 *       region: "eu-de", accessKey: "backend", secretKey: "backend-secret" },
 *   },
 *   validator: (token, bucket, req) => token === "client" || req.method === "GET",
 * });
 * await server.finished;
 * ```
 *
 * @module
 */

export { serve } from "./lib/serve/server.ts";
export type { ProxyServer, ServeOptions } from "./lib/serve/server.ts";
export { S3Error } from "./lib/request/errors.ts";
export type { S3ErrorCode, S3ErrorOptions } from "./lib/request/errors.ts";
export { checkConfig } from "./lib/config/check_config.ts";
export type {
  AnonymousAs,
  Awaitable,
  BucketConfig,
  BucketCredsFetcher,
  CorsRule,
  HmacFetcher,
  HmacKey,
  LogLevel,
  ProxyConfig,
  TlsConfig,
  Validator,
  ValidatorCacheKeyConfig,
  ValidatorRequest,
  WebsiteConfig,
} from "./lib/config/config.ts";
