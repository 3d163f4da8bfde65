// Test-side SigV4 signing (header and presigned) on top of lib/sigv4/sigv4.ts, for
// hand-built requests: wrong secrets, skewed dates, foreign hosts… And SigV2 (header and
// presigned), signed independently of lib/sigv4/sigv2.ts.
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
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

// --- SigV2 (HMAC-SHA1), written here independently of lib/sigv4/sigv2.ts --------------

/** Sub-resources this test signer puts in the resource (a subset of what SigV2 signs). */
const V2_SUBRESOURCES = [
  "acl",
  "delete",
  "partNumber",
  "restore",
  "tagging",
  "uploadId",
  "uploads",
  "versionId",
  "versioning",
  "versions",
];

/**
 * The CanonicalizedResource of a path-style URL: the raw path (`/bucket/` for
 * the bucket itself), then the sub-resources of {@linkcode V2_SUBRESOURCES},
 * sorted, values decoded.
 */
export function v2Resource(url: string): string {
  const { rawPath, rawQuery } = splitTarget(url);
  const path = /^\/[^/]+$/.test(rawPath) ? `${rawPath}/` : rawPath;
  const subs = rawQuery.split("&").filter((p) => p !== "").map((p) => {
    const eq = p.indexOf("=");
    return eq < 0 ? [p, ""] : [p.slice(0, eq), decodeURIComponent(p.slice(eq + 1))];
  }).filter(([n]) => V2_SUBRESOURCES.includes(n)).sort(([a], [b]) => a < b ? -1 : 1);
  return subs.length === 0
    ? path
    : `${path}?${subs.map(([n, v]) => v === "" ? n : `${n}=${v}`).join("&")}`;
}

function hmacSha1(secret: string, text: string): string {
  // Header values are byte strings: one character per byte.
  return createHmac("sha1", secret).update(Buffer.from(text, "latin1")).digest("base64");
}

export interface SignV2Options {
  accessKey: string;
  secretKey: string;
  /** Epoch ms; default now. */
  time?: number;
  /** Extra headers (lower-case names; values as byte strings), signed when they are x-amz-*, Content-MD5 or Content-Type. */
  headers?: Record<string, string>;
  /** Date the request with x-amz-date instead of Date (the Date position is then empty). */
  amzDate?: boolean;
  /** The resource to sign instead of the URL's. */
  resource?: string;
}

/** Returns headers (Authorization included) for a SigV2 header-signed request. */
export function signV2Headers(
  method: string,
  url: string,
  options: SignV2Options,
): Record<string, string> {
  const date = new Date(options.time ?? Date.now()).toUTCString();
  const headers: Record<string, string> = {
    ...(options.amzDate ? { "x-amz-date": date } : { date }),
    ...options.headers,
  };
  const amz = Object.keys(headers).filter((n) => n.startsWith("x-amz-")).sort()
    .map((n) => `${n}:${headers[n].trim()}\n`).join("");
  const toSign = `${method}\n${headers["content-md5"] ?? ""}\n${headers["content-type"] ?? ""}\n${
    options.amzDate ? "" : date
  }\n${amz}${options.resource ?? v2Resource(url)}`;
  return {
    ...headers,
    authorization: `AWS ${options.accessKey}:${hmacSha1(options.secretKey, toSign)}`,
  };
}

/** Returns a SigV2 presigned URL (`AWSAccessKeyId`, `Expires`, `Signature` appended). */
export function presignV2Url(
  method: string,
  url: string,
  options: {
    accessKey: string;
    secretKey: string;
    /** Expires, epoch seconds; default an hour from now. */
    expires?: number;
    /** Content-Type the request will send (signed). */
    contentType?: string;
    /** The resource to sign instead of the URL's. */
    resource?: string;
  },
): string {
  const expires = options.expires ?? Math.floor(Date.now() / 1000) + 3600;
  const toSign = `${method}\n\n${options.contentType ?? ""}\n${expires}\n${
    options.resource ?? v2Resource(url)
  }`;
  const signature = encodeURIComponent(hmacSha1(options.secretKey, toSign));
  const sep = url.includes("?") ? "&" : "?";
  return `${url}${sep}AWSAccessKeyId=${options.accessKey}&Expires=${expires}&Signature=${signature}`;
}

/** A browser form upload: the fields (a signed policy included) and the multipart body. */
export interface PostFormOptions {
  accessKey: string;
  secretKey: string;
  region?: string;
  /** Epoch ms of x-amz-date; default now. */
  time?: number;
  /** Policy expiration, epoch ms; default time + 1 h. */
  expiration?: number;
  /** The policy's conditions; default: bucket, key, the credential fields and every other field. */
  conditions?: unknown[];
  bucket: string;
  /** Fields before the file (key included), in order. */
  fields: Record<string, string>;
  /** The file's bytes and name. */
  file: Uint8Array | string;
  filename?: string;
  boundary?: string;
  /** Replace the computed signature. */
  signature?: string;
  /** Change the policy after signing. */
  tamper?: (policy: string) => string;
  /**
   * 4 (default): a SigV4 form; 2: a SigV2 form (`AWSAccessKeyId`, `policy`,
   * `signature` = base64 HMAC-SHA1 of the policy); 0: no credentials, no policy.
   */
  sigVersion?: 4 | 2 | 0;
}

/** Builds a signed form upload as a browser would send it (file last, `--boundary--\r\n`). */
export function postForm(
  options: PostFormOptions,
): { body: Uint8Array<ArrayBuffer>; contentType: string } {
  const time = options.time ?? Date.now();
  const datetime = amzDate(time);
  const region = options.region ?? "us-east-1";
  const scope = { date: datetime.slice(0, 8), region, service: "s3" };
  const credential = `${options.accessKey}/${scope.date}/${region}/s3/aws4_request`;
  const version = options.sigVersion ?? 4;
  const auth: Record<string, string> = version === 4
    ? {
      "x-amz-algorithm": "AWS4-HMAC-SHA256",
      "x-amz-credential": credential,
      "x-amz-date": datetime,
    }
    : {};
  const conditions = options.conditions ?? [
    { bucket: options.bucket },
    ...Object.entries(options.fields).map(([k, v]) => ({ [k]: v })),
    ...Object.entries(auth).map(([k, v]) => ({ [k]: v })),
  ];
  const policyJson = JSON.stringify({
    expiration: new Date(options.expiration ?? time + 3600_000).toISOString(),
    conditions,
  });
  const policy = btoa(utf8ByteString(policyJson));
  const sig = options.signature ??
    (version === 2
      ? createHmac("sha1", options.secretKey).update(policy).digest("base64")
      : signature(deriveSigningKey(options.secretKey, scope), policy));
  const sent = options.tamper ? options.tamper(policy) : policy;
  const all: Record<string, string> = version === 0
    ? { ...options.fields }
    : version === 2
    ? { ...options.fields, AWSAccessKeyId: options.accessKey, policy: sent, signature: sig }
    : { ...options.fields, ...auth, policy: sent, "x-amz-signature": sig };
  const boundary = options.boundary ?? "----osptestboundary7MA4YWxkTrZu0gW";
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const [name, value] of Object.entries(all)) {
    parts.push(
      enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`),
      enc.encode(value),
      enc.encode("\r\n"),
    );
  }
  parts.push(
    enc.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${
        options.filename ?? "upload.bin"
      }"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    typeof options.file === "string" ? enc.encode(options.file) : options.file,
    enc.encode(`\r\n--${boundary}--\r\n`),
  );
  const body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    body.set(p, at);
    at += p.length;
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
