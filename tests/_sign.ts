// Test-side SigV4 signing (header and presigned) on top of lib/sigv4/sigv4.ts, for
// hand-built requests: wrong secrets, skewed dates, foreign hosts…
import {
  amzDate,
  authorizationHeader,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  deriveSigningKey,
  parseRawQuery,
  sha256Hex,
  signature,
  stringToSign,
  UNSIGNED_PAYLOAD,
  uriEncode,
  utf8ByteString,
} from "../lib/sigv4/sigv4.ts";

export { utf8ByteString };

export interface SignOptions {
  accessKey: string;
  secretKey: string;
  region?: string;
  /** Epoch ms; default now. */
  time?: number;
  /** Header values as byte strings (one character per byte), sent and signed as they are. */
  headers?: Record<string, string>;
  /**
   * Header values as Unicode text: sent and signed as their UTF-8 bytes (see
   * `utf8ByteString`), as botocore and the AWS SDKs do with non-ASCII metadata.
   */
  textHeaders?: Record<string, string>;
  body?: Uint8Array | string;
  /** Overrides x-amz-content-sha256. */
  payloadHash?: string;
  /** Sign for this host instead of the URL's. */
  signHost?: string;
  /** Extra header names to leave out of SignedHeaders. */
  unsigned?: string[];
}

function splitTarget(url: string): { host: string; rawPath: string; rawQuery: string } {
  const m = /^https?:\/\/([^/?]+)([^?]*)(?:\?(.*))?$/.exec(url)!;
  return { host: m[1], rawPath: m[2] || "/", rawQuery: m[3] ?? "" };
}

/** Returns headers (Authorization included) for a header-signed request. */
export function signHeaders(
  method: string,
  url: string,
  options: SignOptions,
): Record<string, string> {
  const { host, rawPath, rawQuery } = splitTarget(url);
  const time = options.time ?? Date.now();
  const datetime = amzDate(time);
  const body = options.body ?? "";
  const payloadHash = options.payloadHash ?? sha256Hex(body);
  const headers: Record<string, string> = {
    host: options.signHost ?? host,
    "x-amz-date": datetime,
    "x-amz-content-sha256": payloadHash,
    ...Object.fromEntries(
      Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    ),
    ...Object.fromEntries(
      Object.entries(options.textHeaders ?? {}).map(([k, v]) => [
        k.toLowerCase(),
        utf8ByteString(v),
      ]),
    ),
  };
  const skip = new Set(options.unsigned ?? []);
  const signedHeaders = Object.keys(headers).filter((h) => !skip.has(h)).sort();
  const scope = {
    date: datetime.slice(0, 8),
    region: options.region ?? "us-east-1",
    service: "s3",
  };
  const canonical = canonicalRequest({
    method,
    uri: canonicalUri(rawPath),
    query: canonicalQuery(parseRawQuery(rawQuery)),
    header: (n) => headers[n] ?? null,
    signedHeaders,
    payloadHash,
  });
  const sig = signature(
    deriveSigningKey(options.secretKey, scope),
    stringToSign(canonical, { datetime, scope }),
  );
  const out: Record<string, string> = {
    ...headers,
    authorization: authorizationHeader(options.accessKey, { scope, signedHeaders, signature: sig }),
  };
  if (options.signHost) out.host = host;
  return out;
}

/** Returns a presigned URL. */
export function presignUrl(
  method: string,
  url: string,
  options: {
    accessKey: string;
    secretKey: string;
    expires: number;
    time?: number;
    region?: string;
  },
): string {
  const { host, rawPath, rawQuery } = splitTarget(url);
  const time = options.time ?? Date.now();
  const datetime = amzDate(time);
  const scope = {
    date: datetime.slice(0, 8),
    region: options.region ?? "us-east-1",
    service: "s3",
  };
  const credential = `${options.accessKey}/${scope.date}/${scope.region}/s3/aws4_request`;
  const q = [
    rawQuery,
    `X-Amz-Algorithm=AWS4-HMAC-SHA256`,
    `X-Amz-Credential=${uriEncode(credential)}`,
    `X-Amz-Date=${datetime}`,
    `X-Amz-Expires=${options.expires}`,
    `X-Amz-SignedHeaders=host`,
  ].filter((s) => s !== "").join("&");
  const canonical = canonicalRequest({
    method,
    uri: canonicalUri(rawPath),
    query: canonicalQuery(parseRawQuery(q)),
    header: (n) => (n === "host" ? host : null),
    signedHeaders: ["host"],
    payloadHash: UNSIGNED_PAYLOAD,
  });
  const sig = signature(
    deriveSigningKey(options.secretKey, scope),
    stringToSign(canonical, { datetime, scope }),
  );
  return `${url.split("?")[0]}?${q}&X-Amz-Signature=${sig}`;
}
