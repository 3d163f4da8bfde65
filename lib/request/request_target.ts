/**
 * Parses the request target into bucket and key without normalising anything:
 * the raw path and query stay exactly as the client sent them, because the
 * client signed them that way and S3 keys may hold `..`, `//` and `%`.
 *
 * @module
 */
import { parseRawQuery, percentDecode, type RawQueryParam } from "../sigv4/sigv4.ts";

/** Where a request points, raw and decoded. */
export interface RequestTarget {
  /** The path as on the wire, e.g. `/bucket/a%20b`. */
  rawPath: string;
  /** The query as on the wire, without `?`. */
  rawQuery: string;
  /** The query parameters, in order. */
  params: RawQueryParam[];
  /** The host the client addressed (Host header, else the URL authority), as sent. */
  host: string;
  /** The decoded client bucket; undefined for service requests (`GET /`). */
  bucket?: string;
  /** The raw key part of the path (after `bucket/`); undefined when there is no key. */
  rawKey?: string;
  /** The decoded key; undefined when there is no key. */
  key?: string;
  /** How the client named the bucket. */
  style: "path" | "virtual";
}

/** Splits `scheme://authority/path?query` without URL normalisation. */
export function splitUrl(url: string): { authority: string; rawPath: string; rawQuery: string } {
  const schemeEnd = url.indexOf("://");
  const start = schemeEnd < 0 ? 0 : schemeEnd + 3;
  let pathStart = url.indexOf("/", start);
  const queryStart = url.indexOf("?", start);
  if (pathStart < 0 || (queryStart >= 0 && queryStart < pathStart)) {
    pathStart = queryStart < 0 ? url.length : queryStart;
  }
  const authority = url.slice(start, pathStart);
  const rest = url.slice(pathStart);
  const q = rest.indexOf("?");
  const hash = rest.indexOf("#");
  const end = hash < 0 ? rest.length : hash;
  const rawPath = q < 0 || q > end ? rest.slice(0, end) : rest.slice(0, q);
  const rawQuery = q < 0 || q > end ? "" : rest.slice(q + 1, end);
  return { authority, rawPath: rawPath === "" ? "/" : rawPath, rawQuery };
}

/** Options for {@linkcode parseRequestTarget}. */
export interface ParseTargetOptions {
  /** The Host header, if any. */
  hostHeader: string | null;
  /** Suffixes under which `bucket.suffix` names a bucket. */
  virtualHostSuffixes: readonly string[];
}

/** Parses a request URL (as `Deno.serve` gives it) into a {@linkcode RequestTarget}. */
export function parseRequestTarget(url: string, options: ParseTargetOptions): RequestTarget {
  const { authority, rawPath, rawQuery } = splitUrl(url);
  const host = options.hostHeader ?? authority;
  const lower = host.toLowerCase();
  const hostname = lower.startsWith("[")
    ? lower.slice(0, lower.indexOf("]") + 1)
    : lower.split(":")[0];
  const params = parseRawQuery(rawQuery);
  for (const suffix of options.virtualHostSuffixes) {
    if (hostname.length > suffix.length + 1 && hostname.endsWith("." + suffix)) {
      const bucket = hostname.slice(0, -(suffix.length + 1));
      const rawKey = rawPath.slice(1);
      const target: RequestTarget = { rawPath, rawQuery, params, host, bucket, style: "virtual" };
      if (rawKey !== "") {
        target.rawKey = rawKey;
        target.key = percentDecode(rawKey);
      }
      return target;
    }
  }
  const rest = rawPath.slice(1);
  if (rest === "") return { rawPath, rawQuery, params, host, style: "path" };
  const slash = rest.indexOf("/");
  const rawBucket = slash < 0 ? rest : rest.slice(0, slash);
  const rawKey = slash < 0 ? "" : rest.slice(slash + 1);
  const target: RequestTarget = {
    rawPath,
    rawQuery,
    params,
    host,
    bucket: percentDecode(rawBucket),
    style: "path",
  };
  if (rawKey !== "") {
    target.rawKey = rawKey;
    target.key = percentDecode(rawKey);
  }
  return target;
}
