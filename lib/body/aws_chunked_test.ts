// The golden test is the AWS S3 documentation's example "Signature
// Calculations for the Authorization Header: Transferring Payload in Multiple
// Chunks"; the rest round-trips the encoder through the decoder and breaks the
// framing, signatures, checksums and lengths on purpose.
import assert from "node:assert/strict";
import {
  type ChunkedDecoderOptions,
  type ChunkedMode,
  type ChunkedSigning,
  createChunkedDecoder,
  type DecodedUpload,
  MIN_SIGNED_CHUNK_SIZE,
  parseTrailerNames,
} from "./aws_chunked.ts";
import { chunkedEncodedLength, encodeChunked } from "./aws_chunked_encoder.ts";
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, checksumBase64 } from "./checksums.ts";
import { S3Error } from "../request/errors.ts";
import { deriveSigningKey, type Scope } from "../sigv4/sigv4.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SCOPE: Scope = { date: "20130524", region: "us-east-1", service: "s3" };
const DATETIME = "20130524T000000Z";
const SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const SIGNING: ChunkedSigning = {
  signingKey: deriveSigningKey(SECRET, SCOPE),
  datetime: DATETIME,
  scope: SCOPE,
  seedSignature: SEED,
};
const MODES: ChunkedMode[] = [
  "streaming-signed",
  "streaming-signed-trailer",
  "streaming-unsigned-trailer",
];

const enc = new TextEncoder();
/** Bytes as one character each, so string indexes are byte offsets. */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** xorshift32: deterministic "random" numbers for data and split points. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function randomBytes(n: number, seed: number): Uint8Array {
  const next = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(next() * 256);
  return out;
}

/** Splits bytes into pieces: random sizes, with runs of 1-byte pieces. */
function randomSplit(body: Uint8Array, seed: number, maxPiece = 300): Uint8Array[] {
  const next = rng(seed);
  const pieces: Uint8Array[] = [];
  let i = 0;
  while (i < body.length) {
    const r = next();
    const n = r < 0.3 ? 1 : r < 0.4 ? 2 : 1 + Math.floor(next() * maxPiece);
    pieces.push(body.subarray(i, i + n));
    i += n;
  }
  return pieces;
}

function bytewise(body: Uint8Array): Uint8Array[] {
  return Array.from({ length: body.length }, (_, i) => body.subarray(i, i + 1));
}

interface Outcome {
  /** Everything the consumer received, even when the stream later errored. */
  out: Uint8Array;
  /** The readable side's error, if any. */
  error?: unknown;
  upload?: DecodedUpload;
  doneError?: unknown;
}

/** Feeds the pieces through a decoder with a concurrent consumer. */
async function decode(pieces: Uint8Array[], options: ChunkedDecoderOptions): Promise<Outcome> {
  const { stream, done } = createChunkedDecoder(options);
  const reader = ReadableStream.from(pieces).pipeThrough(stream).getReader();
  const received: Uint8Array[] = [];
  let error: unknown;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      received.push(r.value);
    }
  } catch (e) {
    error = e;
  }
  let upload: DecodedUpload | undefined;
  let doneError: unknown;
  try {
    upload = await done;
  } catch (e) {
    doneError = e;
  }
  return { out: concat(received), error, upload, doneError };
}

function assertS3(outcome: Outcome, code: string, message?: RegExp): void {
  assert.ok(outcome.error instanceof S3Error, `expected ${code}, got ${String(outcome.error)}`);
  assert.equal(outcome.error.code, code, outcome.error.message);
  if (message) assert.match(outcome.error.message, message);
  assert.equal(outcome.doneError, outcome.error, "done rejects with the same error");
  assert.equal(outcome.upload, undefined);
}

function assertOk(outcome: Outcome, data: Uint8Array): DecodedUpload {
  assert.equal(outcome.error, undefined, String(outcome.error));
  assert.equal(outcome.out.length, data.length);
  assert.deepEqual(outcome.out, data);
  assert.ok(outcome.upload);
  assert.equal(outcome.upload.decodedLength, data.length);
  return outcome.upload;
}

interface Case {
  body: Uint8Array;
  options: ChunkedDecoderOptions;
}

/**
 * Encodes data in a mode, with a checksum trailer in the trailer modes. The
 * decoder accepts chunks of any size here, for chunks small enough to test
 * the framing; the signed modes' 8 KiB minimum has tests of its own.
 */
function makeCase(
  data: Uint8Array,
  mode: ChunkedMode,
  chunkSize: number,
  algs: ChecksumAlgorithm[] = mode === "streaming-signed" ? [] : ["crc32"],
): Case {
  const trailers: Record<string, string> = {};
  for (const alg of algs) trailers[`x-amz-checksum-${alg}`] = checksumBase64(alg, data);
  const body = encodeChunked(data, { chunkSize, mode, signing: SIGNING, trailers });
  return {
    body,
    options: {
      mode,
      signing: mode === "streaming-unsigned-trailer" ? undefined : SIGNING,
      decodedLength: data.length,
      expectedTrailers: Object.keys(trailers),
      minChunkSize: 1,
    },
  };
}

function replaceOnce(body: Uint8Array, from: string, to: string, occurrence = 0): Uint8Array {
  assert.equal(from.length, to.length);
  const text = latin1(body);
  let at = -1;
  for (let k = 0; k <= occurrence; k++) {
    at = text.indexOf(from, at + 1);
    assert.ok(at >= 0, `${from} not found`);
  }
  const out = body.slice();
  out.set(enc.encode(to), at);
  return out;
}

Deno.test("aws-chunked: AWS documented example decodes and re-encodes byte for byte", async () => {
  const data = new Uint8Array(65536 + 1024).fill(0x61);
  const expected = concat([
    enc.encode(
      "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
    ),
    data.subarray(0, 65536),
    enc.encode(
      "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n",
    ),
    data.subarray(65536),
    enc.encode(
      "\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n",
    ),
  ]);
  assert.equal(expected.length, 66824); // the example's Content-Length
  const options: ChunkedDecoderOptions = {
    mode: "streaming-signed",
    signing: SIGNING,
    decodedLength: 66560,
    expectedTrailers: [],
  };
  const upload = assertOk(await decode([expected], options), data);
  assert.equal(upload.trailers.size, 0);
  assertOk(await decode(randomSplit(expected, 7, 5000), options), data);

  const encoded = encodeChunked(data, {
    chunkSize: 65536,
    mode: "streaming-signed",
    signing: SIGNING,
  });
  assert.deepEqual(encoded, expected);
  assert.equal(chunkedEncodedLength(66560, { chunkSize: 65536, mode: "streaming-signed" }), 66824);
});

Deno.test("aws-chunked: 1, 3 and 100 valid chunks in every mode, whole and split", async () => {
  for (const mode of MODES) {
    for (const chunks of [1, 3, 100]) {
      const chunkSize = 1000;
      const data = randomBytes(chunkSize * (chunks - 1) + 617, chunks);
      const { body, options } = makeCase(data, mode, chunkSize);
      assert.equal(
        body.length,
        chunkedEncodedLength(data.length, {
          chunkSize,
          mode,
          trailers: Object.fromEntries(options.expectedTrailers.map((n) => [n, "AAAAAA=="])),
        }),
      );
      const upload = assertOk(await decode([body], options), data);
      if (mode === "streaming-signed") assert.equal(upload.trailers.size, 0);
      else {
        assert.deepEqual(
          [...upload.trailers],
          [["x-amz-checksum-crc32", checksumBase64("crc32", data)]],
        );
      }
      for (const seed of [1, 2, 3]) {
        assertOk(await decode(randomSplit(body, seed * 1000 + chunks), options), data);
      }
      // No decoded length given: still fine.
      assertOk(await decode([body], { ...options, decodedLength: undefined }), data);
    }
  }
});

Deno.test("aws-chunked: every split, including 1-byte pieces, gives the same bytes", async () => {
  for (const mode of MODES) {
    const data = randomBytes(3 * 64 + 5, 99);
    const { body, options } = makeCase(data, mode, 64);
    assertOk(await decode(bytewise(body), options), data);
    // Every single cut point into two pieces.
    for (let cut = 0; cut <= body.length; cut++) {
      assertOk(await decode([body.subarray(0, cut), body.subarray(cut)], options), data);
    }
  }
});

Deno.test("aws-chunked: empty object in every mode", async () => {
  for (const mode of MODES) {
    const { body, options } = makeCase(new Uint8Array(), mode, 100);
    assertOk(await decode([body], options), new Uint8Array());
    assertOk(await decode(bytewise(body), options), new Uint8Array());
  }
});

Deno.test("aws-chunked: a bad signature in chunk 3 emits nothing of chunk 3", async () => {
  for (const mode of ["streaming-signed", "streaming-signed-trailer"] as const) {
    const chunkSize = 100;
    const data = randomBytes(chunkSize * 5, 3);
    const { body, options } = makeCase(data, mode, chunkSize);
    const text = latin1(body);
    // The third chunk's signature, one hex digit changed.
    let at = -1;
    for (let k = 0; k < 3; k++) at = text.indexOf("chunk-signature=", at + 1);
    const sigAt = at + "chunk-signature=".length;
    const bad = body.slice();
    bad[sigAt] = bad[sigAt] === 0x30 ? 0x31 : 0x30;
    for (const pieces of [[bad], bytewise(bad), randomSplit(bad, 5)]) {
      const outcome = await decode(pieces, options);
      assertS3(outcome, "SignatureDoesNotMatch", /chunk 3/);
      // At most chunks 1 and 2 (verified) arrive, never anything of chunk 3; an
      // error drops chunks still queued, so the consumer may see fewer.
      assert.ok(outcome.out.length <= 2 * chunkSize, `got ${outcome.out.length} bytes`);
      assert.deepEqual(outcome.out, data.subarray(0, outcome.out.length));
    }
    // Chunk 3's data changed instead: the changed bytes never come out.
    const dataAt = text.indexOf("\r\n", sigAt) + 2 + 10;
    const tampered = body.slice();
    tampered[dataAt] ^= 0xff;
    for (const pieces of [[tampered], bytewise(tampered)]) {
      const outcome = await decode(pieces, options);
      assertS3(outcome, "SignatureDoesNotMatch", /chunk 3/);
      assert.ok(outcome.out.length <= 2 * chunkSize);
      assert.deepEqual(outcome.out, data.subarray(0, outcome.out.length));
    }
  }
});

Deno.test("aws-chunked: wrong seed signature or signing key fails on chunk 1", async () => {
  const data = randomBytes(500, 4);
  const { body, options } = makeCase(data, "streaming-signed", 100);
  const wrongSeed = { ...SIGNING, seedSignature: "0".repeat(64) };
  let outcome = await decode([body], { ...options, signing: wrongSeed });
  assertS3(outcome, "SignatureDoesNotMatch", /chunk 1\)/);
  assert.equal(outcome.out.length, 0);
  const wrongKey = { ...SIGNING, signingKey: deriveSigningKey("other", SCOPE) };
  outcome = await decode([body], { ...options, signing: wrongKey });
  assertS3(outcome, "SignatureDoesNotMatch");
  assert.equal(outcome.out.length, 0);
});

Deno.test("aws-chunked: a bad final-chunk signature is caught before the last bytes go out", async () => {
  const data = randomBytes(300, 5);
  const { body, options } = makeCase(data, "streaming-signed", 100);
  const text = latin1(body);
  const at = text.lastIndexOf("0;chunk-signature=") + 18;
  const bad = body.slice();
  bad[at] = bad[at] === 0x30 ? 0x31 : 0x30;
  const outcome = await decode([bad], options);
  assertS3(outcome, "SignatureDoesNotMatch", /chunk 4/);
  assert.ok(outcome.out.length < data.length);
});

Deno.test("aws-chunked: signed trailer: bad signature, tampered value, missing signature", async () => {
  const data = randomBytes(250, 6);
  const { body, options } = makeCase(data, "streaming-signed-trailer", 100);
  const text = latin1(body);
  const sigAt = text.indexOf("x-amz-trailer-signature:") + 24;
  const bad = body.slice();
  bad[sigAt] = bad[sigAt] === 0x30 ? 0x31 : 0x30;
  let outcome = await decode([bad], options);
  assertS3(outcome, "SignatureDoesNotMatch", /trailer/);
  assert.ok(outcome.out.length < data.length);

  // The checksum value changed but the signature kept: the signature catches it.
  const crc = checksumBase64("crc32", data);
  const other = crc === "AAAAAA==" ? "AAAAAQ==" : "AAAAAA==";
  outcome = await decode([replaceOnce(body, crc, other)], options);
  assertS3(outcome, "SignatureDoesNotMatch", /trailer/);

  // No signature line at all.
  const unsigned = concat([
    body.subarray(0, text.indexOf("x-amz-trailer-signature:")),
    enc.encode("\r\n"),
  ]);
  outcome = await decode([unsigned], options);
  assertS3(outcome, "InvalidRequest", /x-amz-trailer-signature/);

  // A trailer signature in unsigned-trailer mode.
  const u = makeCase(data, "streaming-unsigned-trailer", 100);
  const withSig = concat([
    u.body.subarray(0, u.body.length - 2),
    enc.encode(`x-amz-trailer-signature:${"0".repeat(64)}\r\n\r\n`),
  ]);
  assertS3(await decode([withSig], u.options), "InvalidRequest", /x-amz-trailer-signature/);
});

Deno.test("aws-chunked: the trailer signature covers name:value\\n lines of several trailers", async () => {
  const data = randomBytes(1000, 7);
  const algs: ChecksumAlgorithm[] = ["crc32c", "sha256"];
  const { body, options } = makeCase(data, "streaming-signed-trailer", 256, algs);
  const upload = assertOk(await decode(randomSplit(body, 8), options), data);
  assert.deepEqual([...upload.trailers.keys()], ["x-amz-checksum-crc32c", "x-amz-checksum-sha256"]);
  assert.equal(upload.trailers.get("x-amz-checksum-sha256"), checksumBase64("sha256", data));
});

Deno.test("aws-chunked: each checksum algorithm, valid and wrong, in both trailer modes", async () => {
  const data = randomBytes(20_000, 9);
  const wrongData = randomBytes(20_000, 10);
  for (const mode of ["streaming-unsigned-trailer", "streaming-signed-trailer"] as const) {
    for (const alg of CHECKSUM_ALGORITHMS) {
      const name = `x-amz-checksum-${alg}`;
      const options: ChunkedDecoderOptions = {
        mode,
        signing: mode === "streaming-signed-trailer" ? SIGNING : undefined,
        decodedLength: data.length,
        expectedTrailers: [name],
      };
      const good = encodeChunked(data, {
        chunkSize: 8192,
        mode,
        signing: SIGNING,
        trailers: { [name]: checksumBase64(alg, data) },
      });
      const upload = assertOk(await decode(randomSplit(good, 11, 2000), options), data);
      assert.equal(upload.trailers.get(name), checksumBase64(alg, data));

      const wrong = encodeChunked(data, {
        chunkSize: 8192,
        mode,
        signing: SIGNING,
        trailers: { [name]: checksumBase64(alg, wrongData) },
      });
      const outcome = await decode([wrong], options);
      assertS3(
        outcome,
        "BadDigest",
        new RegExp(`^The ${alg.toUpperCase()} checksum you specified did not match`),
      );
      assert.ok(outcome.out.length < data.length, `${mode} ${alg}: held back`);
    }
  }
});

Deno.test("aws-chunked: trailers must match x-amz-trailer exactly", async () => {
  const data = randomBytes(300, 12);
  const mode = "streaming-unsigned-trailer";
  const crc = checksumBase64("crc32", data);
  const body = (trailers: Record<string, string>) =>
    encodeChunked(data, { chunkSize: 100, mode, trailers });
  const options = (expectedTrailers: string[]): ChunkedDecoderOptions => ({
    mode,
    decodedLength: data.length,
    expectedTrailers,
  });
  // Not announced.
  assertS3(
    await decode([body({ "x-amz-checksum-crc32": crc })], options([])),
    "InvalidRequest",
    /not announced/,
  );
  // Announced, missing.
  assertS3(
    await decode([body({})], options(["x-amz-checksum-crc32"])),
    "InvalidRequest",
    /missing/,
  );
  assertS3(
    await decode(
      [body({ "x-amz-checksum-crc32": crc })],
      options(["x-amz-checksum-crc32", "x-amz-checksum-sha1"]),
    ),
    "InvalidRequest",
    /x-amz-checksum-sha1.*missing/,
  );
  // Sent twice.
  const twice = replaceOnce(
    body({ "x-amz-checksum-crc32": crc, "x-amz-checksum-crc3x": crc }),
    "crc3x",
    "crc32",
  );
  assertS3(await decode([twice], options(["x-amz-checksum-crc32"])), "InvalidRequest", /twice/);
  // Case of the trailer name does not matter; a non-checksum trailer is returned as is.
  const mixed = body({ "X-Amz-Checksum-CRC32": crc, "x-amz-meta-note": "hi there" });
  const upload = assertOk(
    await decode([mixed], options(parseTrailerNames("x-amz-checksum-crc32, X-Amz-Meta-Note"))),
    data,
  );
  assert.equal(upload.trailers.get("x-amz-meta-note"), "hi there");
  // Not name:value.
  const noColon = replaceOnce(
    body({ "x-amz-checksum-crc32": crc }),
    "x-amz-checksum-crc32:",
    "x-amz-checksum-crc32 ",
  );
  assertS3(await decode([noColon], options(["x-amz-checksum-crc32"])), "InvalidRequest");
});

Deno.test("aws-chunked: x-amz-trailer with streaming-signed, or signed mode without keys, is refused", () => {
  assert.throws(
    () =>
      createChunkedDecoder({
        mode: "streaming-signed",
        signing: SIGNING,
        expectedTrailers: ["x-amz-checksum-crc32"],
      }),
    (e: unknown) => e instanceof S3Error && e.code === "InvalidRequest",
  );
  assert.throws(
    () => createChunkedDecoder({ mode: "streaming-signed-trailer", expectedTrailers: [] }),
    TypeError,
  );
});

Deno.test("aws-chunked: every truncation is IncompleteBody, except the tolerated missing last line", async () => {
  for (const mode of MODES) {
    const data = randomBytes(250, 13);
    const { body, options } = makeCase(data, mode, 100);
    for (let cut = 0; cut < body.length; cut++) {
      const outcome = await decode([body.subarray(0, cut)], options);
      if (mode !== "streaming-signed" && cut === body.length - 2) {
        // The trailer block without its final empty line: accepted.
        assertOk(outcome, data);
        continue;
      }
      assertS3(outcome, "IncompleteBody");
      assert.ok(outcome.out.length < data.length, `cut ${cut}: held back`);
      assert.deepEqual(outcome.out, data.subarray(0, outcome.out.length));
    }
  }
});

Deno.test("aws-chunked: the trailer block may end with CRLF CRLF or at the end of the body", async () => {
  const data = randomBytes(10, 14);
  const crc = checksumBase64("crc32", data);
  const head = `${data.length.toString(16)}\r\n`;
  const options: ChunkedDecoderOptions = {
    mode: "streaming-unsigned-trailer",
    decodedLength: data.length,
    expectedTrailers: ["x-amz-checksum-crc32"],
  };
  const framed = (tail: string) =>
    concat([enc.encode(head), data, enc.encode(`\r\n0\r\nx-amz-checksum-crc32:${crc}${tail}`)]);
  assertOk(await decode([framed("\r\n\r\n")], options), data);
  assertOk(await decode([framed("\r\n")], options), data);
  assertS3(await decode([framed("")], options), "IncompleteBody");
  assertS3(await decode([framed("\r")], options), "IncompleteBody");
  assertS3(await decode([framed("\r\n\r")], options), "IncompleteBody");
  assertS3(await decode([framed("\r\n\r\n\r\n")], options), "InvalidRequest", /after the end/);
  // Only 0\r\n and nothing after it: not tolerated.
  const bare = concat([enc.encode(head), data, enc.encode("\r\n0\r\n")]);
  assertS3(await decode([bare], { ...options, expectedTrailers: [] }), "IncompleteBody");
});

Deno.test("aws-chunked: wrong x-amz-decoded-content-length is IncompleteBody", async () => {
  for (const mode of MODES) {
    const data = randomBytes(350, 15);
    const { body, options } = makeCase(data, mode, 100);
    for (const declared of [0, 99, 100, 101, 349, 351, 10_000]) {
      const outcome = await decode([body], { ...options, decodedLength: declared });
      assertS3(outcome, "IncompleteBody", /x-amz-decoded-content-length/);
      assert.ok(outcome.out.length < Math.min(declared, data.length) || declared === 0);
      assert.deepEqual(outcome.out, data.subarray(0, outcome.out.length));
    }
  }
});

Deno.test("aws-chunked: malformed chunk headers are InvalidRequest", async () => {
  const unsigned = (framing: string): Promise<Outcome> =>
    decode([enc.encode(framing)], { mode: "streaming-unsigned-trailer", expectedTrailers: [] });
  for (
    const framing of [
      "zz\r\nabc\r\n0\r\n\r\n", // non-hex size
      "-3\r\nabc\r\n0\r\n\r\n", // negative
      " 3\r\nabc\r\n0\r\n\r\n", // leading space
      "3 \r\nabc\r\n0\r\n\r\n", // trailing space
      "\r\nabc\r\n0\r\n\r\n", // empty size
      "3;foo=bar\r\nabc\r\n0\r\n\r\n", // unknown extension
      `3;chunk-signature=${"a".repeat(64)}\r\nabc\r\n0\r\n\r\n`, // signature in unsigned mode
      "3\nabc\r\n0\r\n\r\n", // bare LF
      "3\r\nabcXY0\r\n\r\n", // missing CRLF after data
      "3\r\nabc\rX0\r\n\r\n", // CR without LF after data
      "3\r\nabcd\r\n0\r\n\r\n", // data longer than its size
      "ffffffffffffffffffff\r\n", // huge size
      "1000001\r\n", // 16 MiB + 1
      `${"0".repeat(9000)}3\r\n`, // over-long line
      "3\r\nabc\r\n0\r\n\r\ngarbage", // bytes after the end
      "3\r\nabc\r\n0\r\n\r\n\r\n", // an extra CRLF after the end
    ]
  ) {
    const outcome = await unsigned(framing);
    assertS3(outcome, "InvalidRequest");
    assert.equal(outcome.out.length, 0, JSON.stringify(framing.slice(0, 40)));
  }
  assertOk(await unsigned("3\r\nabc\r\n0\r\n\r\n"), enc.encode("abc"));
  assertOk(await unsigned("A\r\n0123456789\r\n0\r\n\r\n"), enc.encode("0123456789"));
  // maxChunkSize: exactly the limit is fine, one more is not.
  const data = randomBytes(1000, 16);
  const ok = encodeChunked(data, { chunkSize: 1000, mode: "streaming-unsigned-trailer" });
  const opts = { mode: "streaming-unsigned-trailer", expectedTrailers: [] } as const;
  assertOk(await decode([ok], { ...opts, maxChunkSize: 1000 }), data);
  assertS3(await decode([ok], { ...opts, maxChunkSize: 999 }), "InvalidRequest", /maximum/);
});

Deno.test("aws-chunked: signed modes need chunk-signature on every chunk, well formed", async () => {
  const data = randomBytes(200, 17);
  const { body, options } = makeCase(data, "streaming-signed", 100);
  const text = latin1(body);
  // Drop the second chunk's signature extension.
  const second = text.indexOf("64;chunk-signature=", 10);
  const noSig = concat([
    body.subarray(0, second + 2),
    body.subarray(second + 2 + 17 + 64),
  ]);
  assertS3(await decode([noSig], options), "InvalidRequest", /no chunk-signature/);
  // Upper-case or short signatures are malformed.
  const upper = replaceOnce(body, "chunk-signature=", "chunk-signature=", 1);
  const at = latin1(upper).indexOf("chunk-signature=", second) + 16;
  const badHex = upper.slice();
  badHex[at] = 0x47; // 'G'
  assertS3(await decode([badHex], options), "InvalidRequest", /64 lower-case hex/);
  // The final chunk too.
  const finalAt = text.lastIndexOf("0;chunk-signature=");
  const noFinalSig = concat([body.subarray(0, finalAt + 1), enc.encode("\r\n\r\n")]);
  assertS3(await decode([noFinalSig], options), "InvalidRequest", /no chunk-signature/);
  // streaming-signed: the final empty line is required, and no trailers allowed.
  assertS3(await decode([body.subarray(0, body.length - 2)], options), "IncompleteBody");
  const withTrailer = concat([
    body.subarray(0, body.length - 2),
    enc.encode("x-amz-checksum-crc32:AAAAAA==\r\n\r\n"),
  ]);
  assertS3(await decode([withTrailer], options), "InvalidRequest", /empty line/);
});

Deno.test("aws-chunked: 10000 tiny chunks", async () => {
  for (const mode of ["streaming-signed", "streaming-unsigned-trailer"] as const) {
    const data = randomBytes(10_000 * 3, 18);
    const { body, options } = makeCase(
      data,
      mode,
      3,
      mode === "streaming-signed" ? [] : ["crc64nvme"],
    );
    assertOk(await decode([body], options), data);
    assertOk(await decode(randomSplit(body, 19, 4000), options), data);
  }
});

Deno.test("aws-chunked: hold-back: a failing final check keeps the last bytes from the consumer", async () => {
  const chunkSize = 4096;
  const data = randomBytes(chunkSize * 4 + 100, 20);
  const wrongCrc = checksumBase64("crc32", randomBytes(10, 21));
  const body = encodeChunked(data, {
    chunkSize,
    mode: "streaming-unsigned-trailer",
    trailers: { "x-amz-checksum-crc32": wrongCrc },
  });
  const { stream, done } = createChunkedDecoder({
    mode: "streaming-unsigned-trailer",
    decodedLength: data.length,
    expectedTrailers: ["x-amz-checksum-crc32"],
  });
  // Feed slowly through a writer, reading concurrently, as an upload stream would.
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  let received = 0;
  const reading = (async () => {
    for (;;) {
      const r = await reader.read();
      if (r.done) return "closed";
      assert.deepEqual(r.value, data.subarray(received, received + r.value.length));
      received += r.value.length;
    }
  })();
  let writeError: unknown;
  try {
    for (const piece of randomSplit(body, 22, 1500)) await writer.write(piece);
    await writer.close();
  } catch (e) {
    writeError = e;
  }
  await assert.rejects(reading, (e: unknown) => e instanceof S3Error && e.code === "BadDigest");
  await assert.rejects(done, (e: unknown) => e instanceof S3Error && e.code === "BadDigest");
  assert.ok(writeError instanceof S3Error && writeError.code === "BadDigest");
  assert.ok(received < data.length, `consumer got ${received} of ${data.length}`);
  assert.ok(received > 0, "earlier chunks were streamed");
  assert.ok(received <= data.length - 100, "the whole last chunk was held back");

  // A single-chunk object: nothing at all reaches the consumer.
  const one = makeCase(data.subarray(0, 1000), "streaming-unsigned-trailer", 4096);
  const tampered = replaceOnce(
    one.body,
    `:${checksumBase64("crc32", data.subarray(0, 1000))}`,
    `:${wrongCrc}`,
  );
  const outcome = await decode([tampered], one.options);
  assertS3(outcome, "BadDigest", /CRC32/);
  assert.equal(outcome.out.length, 0);
});

Deno.test("aws-chunked: cancelling the readable side rejects done", async () => {
  const data = randomBytes(1000, 23);
  const { body, options } = makeCase(data, "streaming-signed", 100);
  const { stream, done } = createChunkedDecoder(options);
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const writing = writer.write(body.subarray(0, 500)).catch(() => {});
  await reader.read();
  await reader.cancel(new Error("client went away"));
  await writing;
  await assert.rejects(done, /client went away/);
});

Deno.test("aws-chunked: encoded length matches the encoder for many shapes", () => {
  for (const mode of MODES) {
    for (const size of [0, 1, 99, 100, 101, 4096, 70_000]) {
      for (const chunkSize of [1, 100, 8192, 65_536]) {
        if (size / chunkSize > 5000) continue;
        const trailers = mode === "streaming-signed"
          ? undefined
          : { "x-amz-checksum-crc64nvme": "AAAAAAAAAAA=" };
        const data = new Uint8Array(size);
        assert.equal(
          encodeChunked(data, { chunkSize, mode, signing: SIGNING, trailers }).length,
          chunkedEncodedLength(size, { chunkSize, mode, trailers }),
          `${mode} ${size}/${chunkSize}`,
        );
      }
    }
  }
  assert.throws(() => encodeChunked(new Uint8Array(1), { chunkSize: 0, mode: "streaming-signed" }));
  assert.throws(
    () => encodeChunked(new Uint8Array(1), { chunkSize: 1, mode: "streaming-signed" }),
    TypeError,
  );
});

Deno.test("aws-chunked: parseTrailerNames", () => {
  assert.deepEqual(parseTrailerNames(null), []);
  assert.deepEqual(parseTrailerNames(""), []);
  assert.deepEqual(parseTrailerNames("x-amz-checksum-crc32"), ["x-amz-checksum-crc32"]);
  assert.deepEqual(parseTrailerNames(" X-Amz-Checksum-CRC32 , x-amz-checksum-sha256,"), [
    "x-amz-checksum-crc32",
    "x-amz-checksum-sha256",
  ]);
});

// S3 answers a signed chunk under 8 KiB that is not the last with 400
// InvalidChunkSizeError; osp does too, which also bounds its work per byte
// (an HMAC and a native SHA-256 object per signed chunk).
Deno.test("aws-chunked: in the signed modes a chunk under 8 KiB that is not the last is InvalidChunkSizeError", async () => {
  const minimum = MIN_SIGNED_CHUNK_SIZE;
  assert.equal(minimum, 8192);
  for (const mode of ["streaming-signed", "streaming-signed-trailer"] as const) {
    const options = (data: Uint8Array, trailers: Record<string, string>) => ({
      mode,
      signing: SIGNING,
      decodedLength: data.length,
      expectedTrailers: Object.keys(trailers),
    });
    const trailersOf = (data: Uint8Array): Record<string, string> =>
      mode === "streaming-signed" ? {} : { "x-amz-checksum-crc32": checksumBase64("crc32", data) };
    // Chunks of 8191 bytes, then the rest: refused at the second chunk's
    // header, before anything of the first went on.
    const small = randomBytes(3 * (minimum - 1), 30);
    const tooSmall = encodeChunked(small, {
      chunkSize: minimum - 1,
      mode,
      signing: SIGNING,
      trailers: trailersOf(small),
    });
    const refused = await decode(
      randomSplit(tooSmall, 31, 3000),
      options(small, trailersOf(small)),
    );
    assertS3(
      refused,
      "InvalidChunkSizeError",
      /^Only the last chunk is allowed to have a size less than 8192 bytes \(chunk 1 has 8191\)$/,
    );
    assert.equal(refused.out.length, 0);
    assert.equal((refused.error as S3Error).status, 400);
    // 8 KiB chunks with a short last one, and one short chunk alone, pass.
    for (
      const [data, chunkSize] of [[randomBytes(2 * minimum + 5, 32), minimum], [
        randomBytes(100, 33),
        4096,
      ]] as const
    ) {
      const body = encodeChunked(data, {
        chunkSize,
        mode,
        signing: SIGNING,
        trailers: trailersOf(data),
      });
      assertOk(await decode(randomSplit(body, 34, 3000), options(data, trailersOf(data))), data);
    }
  }
  // Unsigned chunks are not held to it (RGW takes them).
  const data = randomBytes(1000, 35);
  const trailers = { "x-amz-checksum-crc32": checksumBase64("crc32", data) };
  const body = encodeChunked(data, {
    chunkSize: 100,
    mode: "streaming-unsigned-trailer",
    trailers,
  });
  assertOk(
    await decode([body], {
      mode: "streaming-unsigned-trailer",
      decodedLength: data.length,
      expectedTrailers: Object.keys(trailers),
    }),
    data,
  );
});
