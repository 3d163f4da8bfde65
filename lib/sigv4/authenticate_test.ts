import assert from "node:assert/strict";
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
