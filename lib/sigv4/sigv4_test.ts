// Golden tests: the worked examples of the AWS S3 documentation ("Signature
// Calculations for the Authorization Header: Transferring Payload in a Single
// Chunk", "Authenticating Requests: Using Query Parameters", "Signature
// Calculations ... in Multiple Chunks", "Examples of how to derive a signing key").
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { denoEval } from "../../tests/_deno_eval.ts";
import {
  amzDate,
  canonicalHeaderValue,
  canonicalQuery,
  canonicalRequest,
  canonicalRequestHash,
  canonicalUri,
  chunkStringToSign,
  deriveSigningKey,
  EMPTY_SHA256,
  hashCanonicalRequest,
  parseAmzDate,
  parseRawQuery,
  percentDecode,
  type Scope,
  sha256Hex,
  SHORT_HASH_MAX,
  signature,
  SigningKeyCache,
  stringToSign,
  stringToSignOf,
  UNSIGNED_PAYLOAD,
  uriEncode,
  utf8ByteString,
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
  // Each field of the scope, and the secret, tells keys apart.
  const wide = new SigningKeyCache();
  const scopes = [SCOPE, { ...SCOPE, date: "20130525" }, { ...SCOPE, service: "iam" }];
  for (let round = 0; round < 3; round++) {
    for (const secret of [SECRET, "other-secret"]) {
      for (const scope of scopes) {
        assert.deepEqual(wide.get(secret, scope), deriveSigningKey(secret, scope));
      }
    }
  }
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
  assert.equal(canonicalHeaderValue("\ta\t\tb\r\n"), "a b");
  assert.equal(canonicalHeaderValue("plain"), "plain");
  assert.equal(canonicalHeaderValue(""), "");
});

Deno.test("sigv4: a UTF-8 byte 0xA0 in a header value is a byte, not a no-break space", () => {
  // "voilà" ends in C3 A0 and "Рим" starts with D0 A0: trim() and \s would eat the A0.
  const voila = utf8ByteString("voilà");
  assert.equal(voila, "voil\xC3\xA0");
  assert.equal(canonicalHeaderValue(` ${voila} `), voila);
  const rim = utf8ByteString("Рим  x");
  assert.equal(canonicalHeaderValue(rim), utf8ByteString("Рим x"));
});

Deno.test("sigv4: utf8ByteString gives a text's UTF-8 bytes one per character", () => {
  assert.equal(utf8ByteString("Hello World\u00e9"), "Hello World\xC3\xA9");
  assert.equal(utf8ByteString("ascii"), "ascii");
  assert.equal(utf8ByteString("😀"), "\xF0\x9F\x98\x80");
  const long = "é".repeat(10_000);
  assert.equal(utf8ByteString(long), "\xC3\xA9".repeat(10_000));
});

/** The bytes of a canonical request with one header value given as raw bytes. */
function bytesOf(...parts: (string | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) => typeof p === "string" ? new TextEncoder().encode(p) : p);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

Deno.test("sigv4: a canonical request hashes as its bytes (UTF-8 metadata as a byte string)", () => {
  const value = new Uint8Array([...new TextEncoder().encode("Hello World"), 0xc3, 0xa9]);
  // As Deno's Headers hands the value over: one character per byte.
  const byteString = String.fromCharCode(...value);
  const canonical = canonicalRequest({
    method: "PUT",
    uri: "/b/foo",
    query: "",
    header: (n) => n === "host" ? "h" : byteString,
    signedHeaders: ["host", "x-amz-meta-meta1"],
    payloadHash: EMPTY_SHA256,
  });
  const wire = bytesOf(
    "PUT\n/b/foo\n\nhost:h\nx-amz-meta-meta1:",
    value,
    `\n\nhost;x-amz-meta-meta1\n${EMPTY_SHA256}`,
  );
  const expected = createHash("sha256").update(wire).digest("hex");
  assert.equal(hashCanonicalRequest(canonical), expected);
  assert.ok(
    stringToSign(canonical, { datetime: DATETIME, scope: SCOPE }).endsWith(`\n${expected}`),
  );
  // Every character from 0x80 to 0xFF is one byte.
  const all = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b)).join("");
  assert.equal(
    hashCanonicalRequest(all),
    createHash("sha256").update(Uint8Array.from({ length: 256 }, (_, b) => b)).digest("hex"),
  );
  // ASCII hashes as before.
  assert.equal(hashCanonicalRequest("abc"), sha256Hex("abc"));
});

Deno.test("sigv4: a character above 0xFF in a canonical request is a TypeError, not a wrong hash", () => {
  assert.throws(() => hashCanonicalRequest("x-amz-meta-a:\u0100"), TypeError);
  assert.throws(
    () => stringToSign("x-amz-meta-a:日本", { datetime: DATETIME, scope: SCOPE }),
    /not a byte string: U\+65E5/,
  );
  // A lone surrogate is no byte either.
  assert.throws(() => hashCanonicalRequest("\ud800"), TypeError);
  // The same text as its UTF-8 bytes signs.
  assert.equal(
    hashCanonicalRequest(utf8ByteString("x-amz-meta-a:日本")),
    sha256Hex("x-amz-meta-a:日本"),
  );
});

Deno.test("sigv4: botocore's signature of UTF-8 metadata (s3-tests unicode metadata) verifies", () => {
  // Captured from botocore 1.29.27 (Debian python3-boto3): put_object with
  // x-amz-meta-meta1 set to u"Hello World\xe9" in a before-call handler, as
  // ceph/s3-tests test_object_set_get_unicode_metadata does. botocore sends
  // and signs the UTF-8 bytes C3 A9; secret "SK".
  const datetime = "20261203T042725Z";
  const scope: Scope = { date: "20261203", region: "us-east-1", service: "s3" };
  const headers = new Headers({
    "content-md5": "N7UdGUp1E+RbVvZSTy1R8g==",
    host: "127.0.0.1:18777",
    "x-amz-content-sha256": "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
    "x-amz-date": datetime,
    // The wire bytes, as Deno.serve presents them.
    "x-amz-meta-meta1": "Hello World\xC3\xA9",
  });
  const canonical = canonicalRequest({
    method: "PUT",
    uri: canonicalUri("/b/foo"),
    query: "",
    header: (n) => headers.get(n),
    signedHeaders: [
      "content-md5",
      "host",
      "x-amz-content-sha256",
      "x-amz-date",
      "x-amz-meta-meta1",
    ],
    payloadHash: headers.get("x-amz-content-sha256")!,
  });
  assert.equal(
    signature(deriveSigningKey("SK", scope), stringToSign(canonical, { datetime, scope })),
    "689fdbc74feac849526c5035fe4791611e8452244659f0afa57b67bb662253d0",
  );
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

Deno.test("sigv4: hashCanonicalRequest matches node:crypto on both sides of SHORT_HASH_MAX", () => {
  const lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 1023, 1024, 1025, 5000];
  for (const length of lengths) {
    for (const high of [false, true]) {
      // ASCII, or with bytes from 0x80 (one character each).
      const text = Array.from(
        { length },
        (_, i) => String.fromCharCode(high && i % 7 === 3 ? 0x80 + (i % 128) : 0x20 + (i % 95)),
      ).join("");
      const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
      assert.equal(
        hashCanonicalRequest(text),
        createHash("sha256").update(bytes).digest("hex"),
        `${length} ${high}`,
      );
    }
  }
  assert.equal(SHORT_HASH_MAX, 1024);
});

Deno.test("sigv4: canonicalRequestHash hashes exactly the bytes of canonicalRequest", () => {
  // Header values of every length around SHORT_HASH_MAX and the kept buffer
  // (4 KiB), ASCII and with raw UTF-8 bytes; a short one after each long one,
  // so a buffer grown for one request leaves nothing in the next.
  const values = [
    "",
    "  a  b\t c ",
    "\xc3\xa9t\xc3\xa9",
    ...[100, 700, 1000, 1024, 3000, 4096, 9000].flatMap((n) => [
      "v".repeat(n),
      "\xd0\xa0".repeat(n >> 1),
      "x",
    ]),
  ];
  for (const value of values) {
    const parts = {
      method: "PUT",
      uri: "/b/photos/k%20ey",
      query: "partNumber=1&uploadId=a%2Fb",
      header: (n: string) =>
        n === "host"
          ? "s3.test"
          : n === "x-amz-meta-v"
          ? value
          : n === "x-amz-date"
          ? DATETIME
          : null,
      signedHeaders: ["host", "x-amz-date", "x-amz-meta-absent", "x-amz-meta-v"],
      payloadHash: UNSIGNED_PAYLOAD,
    };
    const text = canonicalRequest(parts);
    assert.equal(canonicalRequestHash(parts), hashCanonicalRequest(text), `${value.length}`);
    assert.equal(
      stringToSignOf(parts, { datetime: DATETIME, scope: SCOPE }),
      stringToSign(text, { datetime: DATETIME, scope: SCOPE }),
    );
  }
});

Deno.test("sigv4: canonicalRequestHash refuses a character that is no byte, as hashCanonicalRequest does", () => {
  const parts = (value: string) => ({
    method: "GET",
    uri: "/b/k",
    query: "",
    header: (n: string) => n === "host" ? "s3.test" : value,
    signedHeaders: ["host", "x-amz-meta-a"],
    payloadHash: UNSIGNED_PAYLOAD,
  });
  for (const value of ["\u0100", "日本", "ok\ud800"]) {
    let expected: unknown;
    try {
      hashCanonicalRequest(canonicalRequest(parts(value)));
    } catch (err) {
      expected = err;
    }
    assert.ok(expected instanceof TypeError);
    assert.throws(() => canonicalRequestHash(parts(value)), {
      name: "TypeError",
      message: (expected as TypeError).message,
    });
  }
  // A refused request leaves nothing behind for the next.
  const good = parts("fine");
  assert.equal(canonicalRequestHash(good), hashCanonicalRequest(canonicalRequest(good)));
});

// Why canonical requests up to 1 KiB are hashed in TypeScript: every
// node:crypto createHash in Deno is a native object only a major GC frees;
// two per request (verified, signed) held some 30 MiB more in a warmed-up
// proxy (docs/performance.md). In a process of its own: 300 000 canonical
// requests of 400 bytes hashed, then RSS growth; with node:crypto it was
// 40+ MiB on this machine type.
Deno.test("sigv4: hashing short canonical requests leaves no native objects behind", async () => {
  const script = `
    import { hashCanonicalRequest } from ${
    JSON.stringify(new URL("./sigv4.ts", import.meta.url).href)
  };
    const base = "GET\\n/bucket/key\\n\\nhost:example.com\\nx-amz-date:20261203T000000Z\\n".padEnd(400, "x");
    for (let i = 0; i < 20000; i++) hashCanonicalRequest(base + (i % 10));
    const before = Deno.memoryUsage().rss;
    for (let i = 0; i < 300000; i++) hashCanonicalRequest(base + (i % 10));
    console.log(JSON.stringify({ grewMiB: (Deno.memoryUsage().rss - before) / 1048576 }));
  `;
  const out = await denoEval(script, { flags: ["--ext=ts"] });
  assert.equal(out.code, 0, out.stderr);
  const { grewMiB } = JSON.parse(out.stdout);
  assert.ok(grewMiB < 12, `RSS grew by ${grewMiB.toFixed(1)} MiB`);
});
