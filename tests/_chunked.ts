// Builds aws-chunked requests by hand (signed chunks, signed and unsigned
// trailers), as the tests need them: valid, or broken on purpose.
import type { ChunkedMode } from "../lib/sigv4/constants.ts";
import { encodeChunked } from "../lib/body/aws_chunked_encoder.ts";
import { type ChecksumAlgorithm, checksumBase64 } from "../lib/body/checksums.ts";
import { amzDate, deriveSigningKey } from "../lib/sigv4/sigv4.ts";
import { CHUNKED_MODE_VALUE } from "../lib/sigv4/constants.ts";
import { signHeaders } from "./_sign.ts";

/** The `x-amz-content-sha256` value of each mode (osp's own table). */
export const MODE_VALUE: Readonly<Record<ChunkedMode, string>> = CHUNKED_MODE_VALUE;

export interface ChunkedRequestOptions {
  key: { accessKey: string; secretKey: string };
  mode: ChunkedMode;
  data: Uint8Array;
  chunkSize: number;
  /** Checksum trailer algorithm (trailer modes). */
  checksum?: ChecksumAlgorithm;
  /** Replace the trailer's checksum value (to make it wrong). */
  checksumValue?: string;
  /** Declared x-amz-decoded-content-length; default the data length. */
  decodedLength?: number;
  /** Edits the framed body (to break it). */
  corrupt?: (framed: Uint8Array) => Uint8Array;
}

/** Headers and framed body of an aws-chunked PUT to `url`. */
export function chunkedRequest(
  method: string,
  url: string,
  options: ChunkedRequestOptions,
): { headers: Record<string, string>; body: Uint8Array } {
  const time = Date.now();
  const datetime = amzDate(time);
  const scope = { date: datetime.slice(0, 8), region: "us-east-1", service: "s3" };
  const trailerName = options.checksum ? `x-amz-checksum-${options.checksum}` : undefined;
  const extra: Record<string, string> = {
    "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": String(options.decodedLength ?? options.data.length),
  };
  if (trailerName) {
    extra["x-amz-trailer"] = trailerName;
    extra["x-amz-sdk-checksum-algorithm"] = options.checksum!.toUpperCase();
  }
  const headers = signHeaders(method, url, {
    ...options.key,
    time,
    payloadHash: MODE_VALUE[options.mode],
    headers: extra,
  });
  const seedSignature = /Signature=([0-9a-f]{64})/.exec(headers.authorization)![1];
  const trailers = trailerName
    ? { [trailerName]: options.checksumValue ?? checksumBase64(options.checksum!, options.data) }
    : undefined;
  let body = encodeChunked(options.data, {
    chunkSize: options.chunkSize,
    mode: options.mode,
    signing: options.mode === "streaming-unsigned-trailer" ? undefined : {
      signingKey: deriveSigningKey(options.key.secretKey, scope),
      datetime,
      scope,
      seedSignature,
    },
    trailers,
  });
  if (options.corrupt) body = options.corrupt(body);
  delete headers.host;
  return { headers, body };
}

/** Index of the n-th (1-based) `chunk-signature=` value in a framed body. */
export function chunkSignatureOffset(framed: Uint8Array, n: number): number {
  const text = new TextDecoder("latin1").decode(framed);
  let at = -1;
  for (let i = 0; i < n; i++) at = text.indexOf("chunk-signature=", at + 1);
  return at + "chunk-signature=".length;
}

/** A copy with the byte at `offset` changed to another hex digit. */
export function flipHex(framed: Uint8Array, offset: number): Uint8Array {
  const out = framed.slice();
  out[offset] = out[offset] === 0x30 ? 0x31 : 0x30;
  return out;
}

/** A stream of `body` in pieces of `size` bytes (Transfer-Encoding: chunked upstream). */
export function streamOf(body: Uint8Array, size = 16 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(c) {
      if (offset >= body.length) return c.close();
      c.enqueue(body.slice(offset, offset + size));
      offset += size;
    },
  });
}
