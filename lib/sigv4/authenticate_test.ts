import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import { authenticate } from "./authenticate.ts";
import { signaturesEqual } from "./constant_time.ts";
import { S3Error } from "../request/errors.ts";
import { parseRequestTarget } from "../request/request_target.ts";
import { SigningKeyCache } from "./sigv4.ts";

const SIG = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

Deno.test("authenticate: signatures compare equal only when identical", () => {
  assert.equal(signaturesEqual(SIG, SIG), true);
  assert.equal(signaturesEqual(SIG, SIG.slice(0, 63) + "0"), false);
  assert.equal(
    signaturesEqual(SIG, SIG.toUpperCase()),
    false,
    "upper-case hex is a different signature",
  );
  assert.equal(signaturesEqual(SIG, SIG.slice(1)), false, "shorter");
  assert.equal(signaturesEqual(SIG, SIG + "0"), false, "longer");
  assert.equal(signaturesEqual(SIG, ""), false);
  assert.equal(
    signaturesEqual(SIG, SIG.slice(0, 62) + "é"),
    false,
    "non-ASCII never truncates into a match",
  );
  assert.equal(
    signaturesEqual(SIG, SIG.slice(0, 63) + "ā".replace("ā", String.fromCharCode(0x131))),
    false,
  );
});

// ---------------------------------------------------------------------------
// Non-ASCII header values: the client signs the bytes it sends.

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const ACCESS = "AKIDEXAMPLE";
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const DATETIME = "20260102T030405Z";
const EMPTY_SHA256_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const ascii = (text: string) => new TextEncoder().encode(text);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Signs a PUT with node:crypto over raw bytes, independently of sigv4.ts, the
 * way botocore does it: header values are bytes (trimmed by the caller).
 * Returns the raw HTTP/1.1 request.
 */
function rawSignedPut(host: string, path: string, meta: Uint8Array): Uint8Array {
  const headers: [string, Uint8Array][] = [
    ["host", ascii(host)],
    ["x-amz-content-sha256", ascii(EMPTY_SHA256_HEX)],
    ["x-amz-date", ascii(DATETIME)],
    ["x-amz-meta-meta1", meta],
  ];
  const signed = headers.map(([n]) => n).join(";");
  const canonical = concat([
    ascii(`PUT\n${path}\n\n`),
    ...headers.flatMap(([n, v]) => [ascii(`${n}:`), v, ascii("\n")]),
    ascii(`\n${signed}\n${EMPTY_SHA256_HEX}`),
  ]);
  const scope = `${DATETIME.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${DATETIME}\n${scope}\n${
    createHash("sha256").update(canonical).digest("hex")
  }`;
  let key: Uint8Array = ascii(`AWS4${SECRET}`);
  for (const part of [DATETIME.slice(0, 8), "us-east-1", "s3", "aws4_request"]) {
    key = createHmac("sha256", key).update(part).digest();
  }
  const sig = createHmac("sha256", key).update(toSign).digest("hex");
  return concat([
    ascii(`PUT ${path} HTTP/1.1\r\n`),
    ...headers.flatMap(([n, v]) => [ascii(`${n}: `), v, ascii("\r\n")]),
    ascii(
      `authorization: AWS4-HMAC-SHA256 Credential=${ACCESS}/${scope}, SignedHeaders=${signed}, Signature=${sig}\r\n` +
        "content-length: 0\r\nconnection: close\r\n\r\n",
    ),
  ]);
}

/** Deno.serve + authenticate(): sends raw bytes, answers with "ok" or the S3 error code. */
async function authenticateOverHttp(
  build: (host: string) => Uint8Array,
): Promise<{ answer: string; seen: string | null }> {
  let seen: string | null = null;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen = req.headers.get("x-amz-meta-meta1");
    try {
      await authenticate({
        method: req.method,
        target: parseRequestTarget(req.url, {
          hostHeader: req.headers.get("host"),
          virtualHostSuffixes: [],
        }),
        headers: req.headers,
      }, {
        now: NOW,
        clockSkewMs: 900_000,
        secretFor: (ak) => Promise.resolve(ak === ACCESS ? SECRET : null),
        signingKeys: new SigningKeyCache(),
        skipSignatureValidation: false,
      });
      return new Response("ok");
    } catch (err) {
      return new Response(err instanceof S3Error ? err.code : String(err));
    }
  });
  try {
    const host = `127.0.0.1:${server.addr.port}`;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(build(host));
    const response = await new Response(conn.readable).text();
    return { answer: response.slice(response.indexOf("\r\n\r\n") + 4), seen };
  } finally {
    await server.shutdown();
  }
}

for (
  const [label, text] of [
    ["é (C3 A9, s3-tests)", "Hello World\u00e9"],
    ["à at the end (C3 A0: 0xA0 is no space)", "voilà"],
    ["Cyrillic Р (D0 A0)", "Рим и Париж"],
    ["emoji (4 bytes)", "ok 😀"],
  ]
) {
  Deno.test(`authenticate: a header value of UTF-8 bytes verifies over its bytes: ${label}`, async () => {
    const meta = new TextEncoder().encode(text);
    const { answer, seen } = await authenticateOverHttp((host) =>
      rawSignedPut(host, "/bucket/key", meta)
    );
    // Deno hands the value over as a byte string: one character per byte.
    assert.equal(seen, String.fromCharCode(...meta));
    assert.equal(answer, "ok");
  });
}

Deno.test("authenticate: a signature over other bytes than those sent is refused", async () => {
  // Signed over C3 A9 but E9 sent: still SignatureDoesNotMatch.
  const { answer } = await authenticateOverHttp((host) => {
    const raw = rawSignedPut(host, "/bucket/key", new TextEncoder().encode("Hello World\u00e9"));
    const at = raw.findIndex((b, i) => b === 0xc3 && raw[i + 1] === 0xa9);
    return concat([raw.subarray(0, at), new Uint8Array([0xe9]), raw.subarray(at + 2)]);
  });
  assert.equal(answer, "SignatureDoesNotMatch");
});

// ---------------------------------------------------------------------------
// SigV2: header-signed and presigned, verified by authenticate(). Signatures
// are made here with node:crypto over a hand-written string to sign.

const V2_NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const V2_DATE = "Fri, 02 Jan 2026 03:04:05 GMT";

function v2Signature(toSign: string, secret = SECRET): string {
  return createHmac("sha1", secret).update(toSign).digest("base64");
}

function v2Authenticate(
  method: string,
  url: string,
  headers: Record<string, string>,
  options: { now?: number; sigV2?: boolean; skip?: boolean } = {},
) {
  const h = new Headers(headers);
  return authenticate({
    method,
    target: parseRequestTarget(url, { hostHeader: h.get("host"), virtualHostSuffixes: [] }),
    headers: h,
  }, {
    now: options.now ?? V2_NOW,
    clockSkewMs: 900_000,
    secretFor: (ak) => Promise.resolve(ak === ACCESS ? SECRET : null),
    signingKeys: new SigningKeyCache(),
    skipSignatureValidation: options.skip ?? false,
    sigV2: options.sigV2,
  });
}

async function v2Refused(promise: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof S3Error, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const V2_GET = `GET\n\n\n${V2_DATE}\n/bucket/a%20b.txt`;
const v2Header = (sig = v2Signature(V2_GET)) => ({
  host: "h",
  date: V2_DATE,
  authorization: `AWS ${ACCESS}:${sig}`,
});
const V2_EXPIRES = String(V2_NOW / 1000 + 60);
const v2Url = (path = "/bucket/a%20b.txt", sig = v2Signature(`GET\n\n\n${V2_EXPIRES}\n${path}`)) =>
  `http://h${path}?AWSAccessKeyId=${ACCESS}&Expires=${V2_EXPIRES}&Signature=${
    encodeURIComponent(sig)
  }`;

Deno.test("authenticate: a SigV2 header-signed request verifies (no signing key)", async () => {
  const verified = await v2Authenticate("GET", "http://h/bucket/a%20b.txt", v2Header());
  assert.equal(verified.token, ACCESS);
  assert.equal(verified.auth.version, 2);
  assert.equal(verified.auth.kind, "header");
  assert.equal(verified.signingKey, undefined);
});

Deno.test("authenticate: a SigV2 presigned URL verifies until Expires", async () => {
  const verified = await v2Authenticate("GET", v2Url(), { host: "h" });
  assert.equal(verified.auth.version === 2 && verified.auth.kind, "presigned");
  await v2Authenticate("GET", v2Url(), { host: "h" }, { now: Number(V2_EXPIRES) * 1000 });
  await v2Refused(
    v2Authenticate("GET", v2Url(), { host: "h" }, { now: Number(V2_EXPIRES) * 1000 + 1 }),
    "AccessDenied",
    /expired/,
  );
});

Deno.test("authenticate: SigV2 with the wrong secret is SignatureDoesNotMatch", async () => {
  await v2Refused(
    v2Authenticate("GET", "http://h/bucket/a%20b.txt", v2Header(v2Signature(V2_GET, "wrong"))),
    "SignatureDoesNotMatch",
  );
  await v2Refused(
    v2Authenticate(
      "GET",
      v2Url(undefined, v2Signature(`GET\n\n\n${V2_EXPIRES}\n/bucket/a%20b.txt`, "wrong")),
      { host: "h" },
    ),
    "SignatureDoesNotMatch",
  );
});

Deno.test("authenticate: a SigV2 signature made for another resource is SignatureDoesNotMatch", async () => {
  for (
    const url of [
      "http://h/bucket/a%20b.txt2",
      "http://h/bucket/a+b.txt",
      "http://h/other/a%20b.txt",
      "http://h/bucket/a%20b.txt?acl",
      "http://h/bucket/a%20b.txt?versionId=1",
    ]
  ) {
    await v2Refused(v2Authenticate("GET", url, v2Header()), "SignatureDoesNotMatch");
  }
  await v2Refused(
    v2Authenticate("DELETE", "http://h/bucket/a%20b.txt", v2Header()),
    "SignatureDoesNotMatch",
  );
  await v2Refused(
    v2Authenticate("GET", "http://h/bucket/a%20b.txt", { ...v2Header(), "x-amz-meta-added": "1" }),
    "SignatureDoesNotMatch",
  );
  await v2Refused(
    v2Authenticate("GET", "http://h/bucket/a%20b.txt", { ...v2Header(), "content-type": "x/y" }),
    "SignatureDoesNotMatch",
  );
  await v2Refused(
    v2Authenticate("GET", v2Url().replace("/a%20b.txt", "/other.txt"), { host: "h" }),
    "SignatureDoesNotMatch",
  );
  await v2Refused(
    v2Authenticate("GET", `${v2Url()}&uploadId=x`, { host: "h" }),
    "SignatureDoesNotMatch",
  );
});

Deno.test("authenticate: a SigV2 header outside the skew window is RequestTimeTooSkewed", async () => {
  for (const offset of [-16 * 60_000, 16 * 60_000]) {
    await v2Refused(
      v2Authenticate("GET", "http://h/bucket/a%20b.txt", v2Header(), { now: V2_NOW + offset }),
      "RequestTimeTooSkewed",
    );
  }
  await v2Authenticate("GET", "http://h/bucket/a%20b.txt", v2Header(), {
    now: V2_NOW + 14 * 60_000,
  });
  // x-amz-date wins over Date: a stale Date does not matter, and is not signed.
  const amzDate = V2_DATE;
  const signed = v2Signature(`GET\n\n\n\nx-amz-date:${amzDate}\n/bucket/a%20b.txt`);
  const headers = {
    host: "h",
    date: "Thu, 01 Jan 1970 00:00:00 GMT",
    "x-amz-date": amzDate,
    authorization: `AWS ${ACCESS}:${signed}`,
  };
  await v2Authenticate("GET", "http://h/bucket/a%20b.txt", headers);
  await v2Refused(
    v2Authenticate("GET", "http://h/bucket/a%20b.txt", {
      ...headers,
      "x-amz-date": "Thu, 01 Jan 1970 00:00:00 GMT",
    }),
    "RequestTimeTooSkewed",
  );
});

Deno.test("authenticate: a SigV2 presigned URL without Expires is AccessDenied", async () => {
  await v2Refused(
    v2Authenticate("GET", v2Url().replace(/&Expires=\d+/, ""), { host: "h" }),
    "AccessDenied",
    /requires the Signature, Expires and AWSAccessKeyId/,
  );
});

Deno.test("authenticate: a SigV2 signature that is not base64 of the HMAC is SignatureDoesNotMatch", async () => {
  const good = v2Signature(V2_GET);
  for (
    const sig of [
      "!".repeat(28),
      good.slice(0, -1),
      good.replace("=", ""),
      good + "=",
      Buffer.from(good, "base64").toString("hex"),
      "é".repeat(28),
      "A".repeat(200),
    ]
  ) {
    await v2Refused(
      v2Authenticate("GET", "http://h/bucket/a%20b.txt", v2Header(sig)),
      "SignatureDoesNotMatch",
    );
  }
});

Deno.test("authenticate: a SigV2 request with an unknown key is InvalidAccessKeyId", async () => {
  await v2Refused(
    v2Authenticate("GET", "http://h/bucket/a%20b.txt", {
      ...v2Header(),
      authorization: `AWS nobody:${v2Signature(V2_GET)}`,
    }),
    "InvalidAccessKeyId",
  );
});

Deno.test("authenticate: sigV2 false refuses even a valid SigV2 request", async () => {
  await v2Refused(
    v2Authenticate("GET", "http://h/bucket/a%20b.txt", v2Header(), { sigV2: false }),
    "AccessDenied",
    /Signature Version 2 is disabled/,
  );
  await v2Refused(
    v2Authenticate("GET", v2Url(), { host: "h" }, { sigV2: false }),
    "AccessDenied",
    /Signature Version 2 is disabled/,
  );
});
