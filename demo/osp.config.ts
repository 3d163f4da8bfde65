/**
 * The demo's osp config, and a readable example of a real one.
 *
 * osp's command line loads a module like this one and serves its default
 * export (a config object, or an (async) function returning one):
 *
 *   deno run --allow-net --allow-read --allow-env main.ts --config demo/osp.config.ts
 *
 * Run that way it expects an S3 backend on 127.0.0.1:4568 holding the buckets
 * `osp-demo-data` and `osp-demo-public` (s3rver's default port); `deno task
 * demo` starts such a backend itself and calls {@linkcode demoConfig} with its
 * port.
 *
 * @module
 */
import type { BucketConfig, HmacKey, ProxyConfig } from "../mod.ts";

/** The client key that may do everything. */
export const ADMIN: HmacKey = { accessKey: "demo-admin", secretKey: "demo-admin-secret" };

/** The client key that may only read (GET/HEAD) and list buckets. */
export const READER: HmacKey = { accessKey: "demo-reader", secretKey: "demo-reader-secret" };

/** Client bucket name → the bucket's name on the backend. */
export const BUCKETS: Record<string, string> = {
  "demo-data": "osp-demo-data",
  "demo-public": "osp-demo-public",
};

/** Where the demo's proxy and backend listen. */
export interface DemoConfigOptions {
  /** The S3 backend's port on 127.0.0.1; default 4568. */
  backendPort?: number;
  /** The proxy's plain-HTTP port; default 8080, 0 = any free port. */
  httpPort?: number;
  /**
   * The origin of the demo's upload page (`http://127.0.0.1:<port>`): CORS
   * lets it POST forms to, and read from, `demo-data`. Default: no page, no CORS.
   */
  pageOrigin?: string;
}

/** Builds the demo config. */
export function demoConfig(options: DemoConfigOptions = {}): ProxyConfig {
  const backendPort = options.backendPort ?? 4568;

  // Every client bucket lives on the same local backend, under another name.
  // s3rver checks signatures against its fixed key pair S3RVER / S3RVER.
  const bucket = (backendBucket: string): BucketConfig => ({
    host: "127.0.0.1",
    port: backendPort,
    tls: false, // plain HTTP to the backend
    addressingStyle: "path", // http://127.0.0.1:4568/osp-demo-data/key
    region: "us-east-1",
    accessKey: "S3RVER",
    secretKey: "S3RVER",
    backendBucket,
  });

  // What clients call the buckets → where they really are.
  const cosMap: Record<string, BucketConfig> = Object.fromEntries(
    Object.entries(BUCKETS).map(([client, backend]) => [client, bucket(backend)]),
  );
  if (options.pageOrigin !== undefined) {
    // The upload page (another origin) POSTs forms to demo-data and reads the
    // answer's ETag; GET and PUT for pages that fetch presigned URLs.
    cosMap["demo-data"].cors = [{
      allowedOrigins: [options.pageOrigin],
      allowedMethods: ["GET", "PUT", "POST"],
      allowedHeaders: ["content-type"],
      maxAgeSeconds: 600,
    }];
  }

  return {
    httpPort: options.httpPort ?? 8080,
    hostname: "127.0.0.1", // only this machine; use "0.0.0.0" to listen everywhere
    logLevel: "info", // one JSON line per request

    // The keys clients sign their requests with (aws-cli, SDKs, rclone…).
    hmacKeystore: [ADMIN, READER],

    cosMap,

    // Called with the client's access key id for every request (decisions are
    // cached per token, bucket, method, operation and key for the bucket's ttl).
    validator: (token, _bucket, request) => {
      if (token === ADMIN.accessKey) return true;
      if (token === READER.accessKey) {
        return request.operation === "ListBuckets" || request.method === "GET" ||
          request.method === "HEAD";
      }
      return false;
    },
  };
}

/** What `main.ts --config demo/osp.config.ts` serves. */
export default function (): ProxyConfig {
  return demoConfig();
}
