// Golden tests: the worked examples of the AWS S3 documentation ("Signature
// Calculations for the Authorization Header: Transferring Payload in a Single
// Chunk", "Authenticating Requests: Using Query Parameters", "Signature
// Calculations ... in Multiple Chunks", "Examples of how to derive a signing key").
import assert from "node:assert/strict";
import {
  amzDate,
  canonicalHeaderValue,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  chunkStringToSign,
  deriveSigningKey,
  EMPTY_SHA256,
  parseAmzDate,
  parseRawQuery,
  percentDecode,
  type Scope,
  sha256Hex,
  signature,
  SigningKeyCache,
  stringToSign,
  UNSIGNED_PAYLOAD,
  uriEncode,
} from "./sigv4.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SCOPE: Scope = { date: "20130524", region: "us-east-1", service: "s3" };
const DATETIME = "20130524T000000Z";

function sign(
  method: string,
  rawPath: string,
  rawQuery: string,
  options: { headers: Record<string, string>; payloadHash: string },
): { canonical: string; signature: string } {
  const headers = new Headers(options.headers);
  const signedHeaders = [...headers.keys()].sort();
  const canonical = canonicalRequest({
    method,
    uri: canonicalUri(rawPath),
    query: canonicalQuery(parseRawQuery(rawQuery)),
    header: (n) => headers.get(n),
    signedHeaders,
    payloadHash: options.payloadHash,
  });
  const key = deriveSigningKey(SECRET, SCOPE);
  return {
    canonical,
    signature: signature(key, stringToSign(canonical, { datetime: DATETIME, scope: SCOPE })),
  };
}

Deno.test("sigv4: AWS example GET object with Range", () => {
  const { canonical, signature } = sign("GET", "/test.txt", "", {
    headers: {
      host: "examplebucket.s3.amazonaws.com",
      range: "bytes=0-9",
      "x-amz-content-sha256": EMPTY_SHA256,
      "x-amz-date": DATETIME,
    },
    payloadHash: EMPTY_SHA256,
  });
  assert.equal(
    sha256Hex(canonical),
    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
  );
  assert.equal(signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
});

Deno.test("sigv4: AWS example PUT object ($ in the key, Date header signed)", () => {
  const payloadHash = sha256Hex("Welcome to Amazon S3.");
  assert.equal(payloadHash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const { canonical, signature } = sign("PUT", "/test$file.text", "", {
    headers: {
      date: "Fri, 24 May 2013 00:00:00 GMT",
      host: "examplebucket.s3.amazonaws.com",
      "x-amz-content-sha256": payloadHash,
      "x-amz-date": DATETIME,
      "x-amz-storage-class": "REDUCED_REDUNDANCY",
    },
    payloadHash,
  });
  assert.match(canonical, /^PUT\n\/test%24file\.text\n/);
  assert.equal(signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
});

Deno.test("sigv4: AWS example GET bucket lifecycle (bare query key)", () => {
  const { canonical, signature } = sign("GET", "/", "lifecycle", {
    headers: {
      host: "examplebucket.s3.amazonaws.com",
      "x-amz-content-sha256": EMPTY_SHA256,
      "x-amz-date": DATETIME,
    },
    payloadHash: EMPTY_SHA256,
  });
  assert.match(canonical, /^GET\n\/\nlifecycle=\n/);
  assert.equal(signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
});

Deno.test("sigv4: AWS example ListObjects (sorted query)", () => {
  const { canonical, signature } = sign("GET", "/", "prefix=J&max-keys=2", {
    headers: {
      host: "examplebucket.s3.amazonaws.com",
      "x-amz-content-sha256": EMPTY_SHA256,
      "x-amz-date": DATETIME,
    },
    payloadHash: EMPTY_SHA256,
  });
  assert.match(canonical, /^GET\n\/\nmax-keys=2&prefix=J\n/);
  assert.equal(signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
});

Deno.test("sigv4: AWS example presigned GET", () => {
  const rawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256" +
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host";
  const { signature } = sign("GET", "/test.txt", rawQuery, {
    headers: { host: "examplebucket.s3.amazonaws.com" },
    payloadHash: UNSIGNED_PAYLOAD,
  });
  assert.equal(signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
});

Deno.test("sigv4: AWS example signing key derivation", () => {
  const key = deriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", {
    date: "20120215",
    region: "us-east-1",
    service: "iam",
  });
  assert.equal(
    Buffer.from(key).toString("hex"),
    "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d",
  );
});

Deno.test("sigv4: signing key cache returns the derived key and stays bounded", () => {
  const cache = new SigningKeyCache({ maxEntries: 2 });
  const a = cache.get(SECRET, SCOPE);
  assert.deepEqual(a, deriveSigningKey(SECRET, SCOPE));
  assert.equal(cache.get(SECRET, SCOPE), a);
  cache.get(SECRET, { ...SCOPE, region: "eu-west-1" });
  cache.get(SECRET, { ...SCOPE, region: "eu-west-2" });
  assert.notEqual(cache.get(SECRET, SCOPE), a, "oldest entry was evicted");
});

Deno.test("sigv4: AWS example aws-chunked seed and chunk signatures", () => {
  const headers = {
    "content-encoding": "aws-chunked",
    "content-length": "66824",
    host: "s3.amazonaws.com",
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "x-amz-date": DATETIME,
    "x-amz-decoded-content-length": "66560",
    "x-amz-storage-class": "REDUCED_REDUNDANCY",
  };
  const { signature: seed } = sign("PUT", "/examplebucket/chunkObject.txt", "", {
    headers,
    payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
  });
  assert.equal(seed, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  const key = deriveSigningKey(SECRET, SCOPE);
  const expected = [
    [65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"],
    [1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"],
    [0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"],
  ] as const;
  let previous = seed;
  for (const [size, want] of expected) {
    const data = new Uint8Array(size).fill(0x61);
    const sig = signature(
      key,
      chunkStringToSign(sha256Hex(data), {
        datetime: DATETIME,
        scope: SCOPE,
        previousSignature: previous,
      }),
    );
    assert.equal(sig, want, `chunk of ${size} bytes`);
    previous = sig;
  }
});

Deno.test("sigv4: canonical URI keeps dot segments, double slashes and encodes once", () => {
  assert.equal(canonicalUri("/b/x/../y"), "/b/x/../y");
  assert.equal(canonicalUri("/b/%2e%2e/z"), "/b/../z");
  assert.equal(canonicalUri("/b//a"), "/b//a");
  assert.equal(canonicalUri("/b/a%20b%2Bc%3Dd/%C3%BC%25.txt"), "/b/a%20b%2Bc%3Dd/%C3%BC%25.txt");
  assert.equal(canonicalUri("/b/a b+c=d/ü%25.txt"), "/b/a%20b%2Bc%3Dd/%C3%BC%25.txt");
  assert.equal(canonicalUri("/b/a%2fb"), "/b/a/b", "an encoded slash is a slash in S3 keys");
  assert.equal(canonicalUri("/b/~_-.x"), "/b/~_-.x");
  assert.equal(canonicalUri("/b/100%"), "/b/100%25", "a lone % is kept literally");
  assert.equal(canonicalUri("/b/%zz"), "/b/%25zz");
  assert.equal(canonicalUri(""), "/");
});

Deno.test("sigv4: canonical query encodes, sorts by name then value, bare keys get =", () => {
  assert.equal(canonicalQuery(parseRawQuery("uploads")), "uploads=");
  assert.equal(canonicalQuery(parseRawQuery("b=2&a=2&a=1")), "a=1&a=2&b=2");
  assert.equal(
    canonicalQuery(parseRawQuery("prefix=a%20b&delimiter=/&x=%7e")),
    "delimiter=%2F&prefix=a%20b&x=~",
  );
  assert.equal(canonicalQuery(parseRawQuery("k=a+b")), "k=a%2Bb", "+ is literal, never a space");
  assert.equal(canonicalQuery(parseRawQuery("")), "");
  assert.equal(canonicalQuery(parseRawQuery("&&a=1&")), "a=1");
  // Sorting is by encoded bytes: upper case before lower case.
  assert.equal(canonicalQuery(parseRawQuery("a=1&B=2")), "B=2&a=1");
});

Deno.test("sigv4: header values are trimmed and inner spaces folded", () => {
  assert.equal(canonicalHeaderValue("  a   b  c "), "a b c");
});

Deno.test("sigv4: uriEncode and percentDecode round trip unicode", () => {
  assert.equal(uriEncode("ü/ x"), "%C3%BC%2F%20x");
  assert.equal(uriEncode("ü/ x", { keepSlash: true }), "%C3%BC/%20x");
  assert.equal(percentDecode("%C3%BC%2F%20x"), "ü/ x");
});

Deno.test("sigv4: amz dates format and parse strictly", () => {
  assert.equal(amzDate(Date.UTC(2013, 4, 24)), DATETIME);
  assert.equal(parseAmzDate(DATETIME), Date.UTC(2013, 4, 24));
  assert.ok(Number.isNaN(parseAmzDate("20130524T000000")));
  assert.ok(Number.isNaN(parseAmzDate("20131324T000000Z")), "month 13");
  assert.ok(Number.isNaN(parseAmzDate("Fri, 24 May 2013 00:00:00 GMT")));
});
