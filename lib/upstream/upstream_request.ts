/**
 * A request ready to send to a backend: what re-signing produces and the
 * transports consume.
 *
 * @module
 */
import type { HmacKey, ResolvedBucket } from "../config/config.ts";
import { isDnsName } from "../request/bucket_name.ts";
import { S3Error } from "../request/errors.ts";
import type { ChunkedSigning } from "../sigv4/sigv4.ts";

/**
 * How a backend request is authorized: a SigV4 signature with an HMAC pair,
 * an IBM IAM bearer token, or nothing at all ({@linkcode UNSIGNED}: the
 * backend's own anonymous caller).
 */
export type UpstreamIdentity = HmacKey | { bearer: string } | typeof UNSIGNED;

/** The identity of an unsigned backend request: the backend's anonymous caller. */
export const UNSIGNED: { readonly unsigned: true } = { unsigned: true };

/** A request ready to send to a backend. */
export interface UpstreamRequest {
  /** HTTP method. */
  method: string;
  /** `scheme://host:port`, the host being `bucket.host` for virtual addressing. */
  origin: string;
  /** The path and query to send, already in canonical encoding. */
  pathAndQuery: string;
  /**
   * All headers to send, `host` and `authorization` included: lower-case
   * names, one entry per name. What the transports send (a plain list costs
   * `fetch` half of what a `Headers` does).
   */
  headerList: [string, string][];
  /** The same headers as a `Headers` (built on first use). */
  readonly headers: Headers;
  /** What the backend signature was made with: the seed for re-signed chunks (none for bearer or unsigned). */
  signing?: ChunkedSigning;
}

/**
 * A backend request's headers while they are built: a Map's semantics for
 * lower-case names, held as the plain list the transports send. Walking a
 * Map (its iterator, an entry array per header) and spreading it into a
 * list cost about 50 bytes per header each time; a dozen headers are looked
 * up by a linear scan at least as fast.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const headers = new HeaderList();
 * headers.set("host", "a");
 * headers.set("x-amz-date", "20250101T000000Z");
 * headers.set("host", "b");
 * assert.deepEqual(headers.entries, [["host", "b"], ["x-amz-date", "20250101T000000Z"]]);
 * ```
 */
export class HeaderList {
  /** The headers, in the order first set. A pair is never changed: set replaces it. */
  readonly entries: [string, string][] = [];

  /** The value of a lower-case name, or undefined. */
  get(name: string): string | undefined {
    const list = this.entries;
    for (let i = 0; i < list.length; i++) if (list[i][0] === name) return list[i][1];
    return undefined;
  }

  /** Sets a lower-case name, in place of its value if it has one. */
  set(name: string, value: string): void {
    const list = this.entries;
    for (let i = 0; i < list.length; i++) {
      if (list[i][0] === name) {
        list[i] = [name, value];
        return;
      }
    }
    list.push([name, value]);
  }

  /**
   * Appends a pair whose name is not in the list yet (a client header, each
   * name once), as it is: it is never changed.
   */
  adopt(pair: readonly [string, string]): void {
    this.entries.push(pair as [string, string]);
  }

  /** Removes a lower-case name. */
  delete(name: string): void {
    const list = this.entries;
    for (let i = 0; i < list.length; i++) {
      if (list[i][0] === name) {
        list.splice(i, 1);
        return;
      }
    }
  }
}

/** An UpstreamRequest from its parts; `headers` is made from the list when first read. */
class Upstream implements UpstreamRequest {
  method: string;
  origin: string;
  pathAndQuery: string;
  headerList: [string, string][];
  signing?: ChunkedSigning;
  #headers?: Headers;

  constructor(
    parts: Omit<UpstreamRequest, "headerList" | "headers">,
    headers: HeaderList,
  ) {
    this.method = parts.method;
    this.origin = parts.origin;
    this.pathAndQuery = parts.pathAndQuery;
    this.headerList = headers.entries;
    if (parts.signing !== undefined) this.signing = parts.signing;
  }

  get headers(): Headers {
    return this.#headers ??= new Headers(this.headerList);
  }
}

/** An {@linkcode UpstreamRequest} from its parts and its headers. */
export function upstreamRequest(
  parts: Omit<UpstreamRequest, "headerList" | "headers">,
  headers: HeaderList,
): UpstreamRequest {
  return new Upstream(parts, headers);
}

/** Hop-by-hop headers, never forwarded in either direction. */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * `bucket.host` for virtual-host addressing. The bucket is a DNS name by then
 * (checked at config time for cosMap entries, per request for the default
 * route); checked again here, where a name would become part of a URL's
 * authority.
 */
export function bucketHostName(bucket: ResolvedBucket): string {
  if (!isDnsName(bucket.backendBucket)) {
    throw new S3Error("InvalidBucketName", "The specified bucket is not valid.");
  }
  return `${bucket.backendBucket}.${bucket.host}`;
}

/** The Host header for `hostName` on the bucket's backend port (the default port left out). */
export function backendHost(hostName: string, bucket: ResolvedBucket): string {
  const { port, tls } = bucket;
  return (tls && port === 443) || (!tls && port === 80) ? hostName : `${hostName}:${port}`;
}

/** `scheme://host:port` of the bucket's backend, `hostName` being `bucket.host` for virtual hosts. */
export function backendOrigin(hostName: string, bucket: ResolvedBucket): string {
  return `${bucket.tls ? "https" : "http"}://${hostName}:${bucket.port}`;
}

/**
 * IBM COS with an API key: the request with a bearer token instead of a
 * signature (and the bucket's service instance id).
 */
export function withBearer(
  parts: Omit<UpstreamRequest, "headerList" | "headers">,
  headers: HeaderList,
  options: { bearer: string; bucket: ResolvedBucket },
): UpstreamRequest {
  headers.set("authorization", `Bearer ${options.bearer}`);
  const instance = options.bucket.serviceInstanceId;
  if (instance) headers.set("ibm-service-instance-id", instance);
  return upstreamRequest(parts, headers);
}
