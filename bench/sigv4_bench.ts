// SigV4 costs on the request path: verifying a client's header signature
// (signing key derived vs cached), re-signing for the backend, and
// canonicalising an awkward key and query.
//
//   deno bench -A bench/sigv4_bench.ts
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { authenticate, type AuthenticateOptions } from "../lib/sigv4/authenticate.ts";
import { resolveConfig } from "../lib/config/config.ts";
import { parseRequestTarget, splitUrl } from "../lib/request/request_target.ts";
import {
  amzDate,
  authorizationHeader,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  chunkStringToSign,
  deriveSigningKey,
  EMPTY_SHA256,
  parseRawQuery,
  signature,
  SigningKeyCache,
  stringToSign,
} from "../lib/sigv4/sigv4.ts";
import { buildUpstreamRequest } from "../lib/upstream/resign.ts";
import { MemoryUseCounter } from "../lib/access/use_counter.ts";
import { createLogger } from "../lib/observe/log.ts";
import { admit } from "../lib/request/admit.ts";
import { createPipeline, type RequestState } from "../lib/request/context.ts";
import { route } from "../lib/request/route.ts";
import type { Transport } from "../lib/upstream/transport.ts";

const CLIENT = {
  accessKey: "AKIAOSPBENCHCLIENT01",
  secretKey: "c2VjcmV0LWJlbmNoLWNsaWVudC1rZXktMDAwMDAwMDA",
};
const BACKEND = {
  accessKey: "backend-hmac-access-key",
  secretKey: "backend-hmac-secret-key-0123456789abcdef",
};
const NOW = Date.UTC(2025, 0, 15, 12, 30, 0);

/** Signs a request the way an SDK does (see tests/_sign.ts) and returns its headers. */
function signGet(url: string, extra: Record<string, string>): Headers {
  const { authority: host, rawPath, rawQuery } = splitUrl(url);
  const datetime = amzDate(NOW);
  const headers: Record<string, string> = {
    host,
    "x-amz-date": datetime,
    "x-amz-content-sha256": EMPTY_SHA256,
    ...extra,
  };
  // Like the AWS SDKs: every header but user-agent is signed.
  const signedHeaders = Object.keys(headers).filter((h) => h !== "user-agent").sort();
  const scope = { date: datetime.slice(0, 8), region: "us-east-1", service: "s3" };
  const canonical = canonicalRequest({
    method: "GET",
    uri: canonicalUri(rawPath),
    query: canonicalQuery(parseRawQuery(rawQuery)),
    header: (n) => headers[n] ?? null,
    signedHeaders,
    payloadHash: EMPTY_SHA256,
  });
  const sig = signature(
    deriveSigningKey(CLIENT.secretKey, scope),
    stringToSign(canonical, { datetime, scope }),
  );
  return new Headers({
    ...headers,
    authorization: authorizationHeader(CLIENT.accessKey, { scope, signedHeaders, signature: sig }),
  });
}

// A ranged GetObject as @aws-sdk/client-s3 sends it, 11 headers with authorization.
const URL_ =
  "http://osp.example.com:8080/photos/2024/holiday/IMG_0042.jpg?versionId=3HL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY";
const headers = signGet(URL_, {
  "x-amz-user-agent": "aws-sdk-js/3.936.0",
  "x-amz-checksum-mode": "ENABLED",
  "user-agent": "aws-sdk-js/3.936.0 ua/2.1 os/linux#6.1 lang/js md/deno#2.9.6 api/s3#3.936.0",
  "amz-sdk-invocation-id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  "amz-sdk-request": "attempt=1; max=3",
  range: "bytes=0-1048575",
  "if-none-match": '"9b2cf535f27731c974343645a3985328"',
});
assert.equal([...headers.keys()].length, 11);
const target = parseRequestTarget(URL_, {
  hostHeader: headers.get("host"),
  virtualHostSuffixes: [],
});
const incoming = { method: "GET", target, headers };

const cached = new SigningKeyCache();
const options = (signingKeys: SigningKeyCache): AuthenticateOptions => ({
  now: NOW,
  clockSkewMs: 900_000,
  secretFor: (ak) => Promise.resolve(ak === CLIENT.accessKey ? CLIENT.secretKey : null),
  signingKeys,
  skipSignatureValidation: false,
});

// The inputs are real: verification must succeed before anything is timed.
const verified = await authenticate(incoming, options(cached));
assert.equal(verified.token, CLIENT.accessKey);

const config = resolveConfig({
  httpPort: 8080,
  hmacKeystore: [CLIENT],
  cosMap: {
    photos: {
      host: "s3.eu-de.cloud-object-storage.appdomain.cloud",
      port: 443,
      region: "eu-de",
      ...BACKEND,
      backendBucket: "acme-prod-photos",
    },
  },
  clock: () => NOW,
});
// Re-signing accepts only an admitted request: route and admit it once.
const pipeline = createPipeline({
  config,
  logger: createLogger({ level: "error" }),
  transport: {} as Transport,
  useCounter: new MemoryUseCounter(),
});
const state: RequestState = { id: "bench", operation: "Unknown", bucket: "", sourceIp: () => "" };
const admitted = await admit(pipeline, await route(pipeline, incoming, state), state);
assert.ok(!("kind" in admitted));
const upstreamKeys = new SigningKeyCache();
const upstream = buildUpstreamRequest(admitted, {
  credentials: BACKEND,
  now: NOW,
  signingKeys: upstreamKeys,
});
assert.ok(upstream.headers.get("authorization")?.startsWith("AWS4-HMAC-SHA256 Credential="));

// ~600 bytes of the keys S3 allows and proxies get wrong: spaces, `+`, `%`,
// `..`, `//`, `~`, escaped slashes, non-ASCII and astral characters.
const awkward = "/bucket/" +
  Array.from(
    { length: 6 },
    (_, i) =>
      `d%C3%A9j%C3%A0%20vu/${i}/../a//b/%2Fescaped%2Fslash/100%25+sure~=&x/日本語/😀%F0%9F%98%80/file name (copy ${i}).tar.gz`,
  ).join("/");
const awkwardParams = parseRawQuery(
  "list-type=2&prefix=d%C3%A9j%C3%A0%20vu%2F%2B%2B&delimiter=%2F&encoding-type=url&max-keys=1000" +
    "&continuation-token=1vX%2Bq0w%3D%3D%2Fabc~def&start-after=%E6%97%A5%E6%9C%AC+%F0%9F%98%80&fetch-owner",
);

Deno.bench({
  name: "verify header-signed GET, signing key derived",
  group: "verify",
  async fn() {
    await authenticate(incoming, options(new SigningKeyCache()));
  },
});

Deno.bench({
  name: "verify header-signed GET, signing key cached",
  group: "verify",
  baseline: true,
  async fn() {
    await authenticate(incoming, options(cached));
  },
});

Deno.bench("re-sign for the backend (buildUpstreamRequest, 11 headers)", () => {
  buildUpstreamRequest(admitted, {
    credentials: BACKEND,
    now: NOW,
    signingKeys: upstreamKeys,
  });
});

Deno.bench(`canonicalUri + canonicalQuery (${awkward.length}-char path, 8 params)`, () => {
  canonicalUri(awkward);
  canonicalQuery(awkwardParams);
});

// One aws-chunked chunk signature (a 271-byte string to sign) with a cached
// signing key: osp's TypeScript HMAC from the key's pad states, against
// node:crypto's createHmac, which Deno builds as a native object and a stream.
const chunkKey = deriveSigningKey(CLIENT.secretKey, {
  date: "20250115",
  region: "us-east-1",
  service: "s3",
});
const chunkToSign = chunkStringToSign("a".repeat(64), {
  datetime: amzDate(NOW),
  scope: { date: "20250115", region: "us-east-1", service: "s3" },
  previousSignature: "b".repeat(64),
});
assert.equal(
  signature(chunkKey, chunkToSign),
  createHmac("sha256", chunkKey).update(chunkToSign).digest("hex"),
);

Deno.bench({
  name: "chunk signature: signature() (HmacSha256, cached key state)",
  group: "hmac",
  baseline: true,
  fn() {
    signature(chunkKey, chunkToSign);
  },
});

Deno.bench({
  name: "chunk signature: node:crypto createHmac",
  group: "hmac",
  fn() {
    createHmac("sha256", chunkKey).update(chunkToSign).digest("hex");
  },
});
