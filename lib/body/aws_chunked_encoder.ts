/**
 * A streaming aws-chunked encoder: object bytes in, framed chunks out, each
 * chunk (and the trailer) signed with the given key. osp uses it to re-frame a
 * verified upload for a backend with the backend's key
 * (`payloadForwarding: "resign"`); memory holds at most one chunk.
 *
 * @module
 */
import { type ChunkedMode, TRAILER_SIGNATURE } from "../sigv4/constants.ts";
import {
  byteStringBytes,
  type ChunkedSigning,
  chunkStringToSign,
  EMPTY_SHA256,
  sha256Hex,
  signature,
  trailerStringToSign,
} from "../sigv4/sigv4.ts";

const UTF8 = new TextEncoder();
const CRLF = UTF8.encode("\r\n");

/** Options for {@linkcode createChunkedEncoder}. */
export interface ChunkedEncoderOptions {
  /** Data bytes per chunk (the last may be shorter). */
  chunkSize: number;
  /** The payload mode to produce. */
  mode: ChunkedMode;
  /** Required for the signed modes: the key and seed signature to chain from. */
  signing?: ChunkedSigning;
  /** Trailer modes: the trailers, known only once the input has ended. */
  trailers?: () => Promise<Map<string, string>> | Map<string, string>;
}

/** Makes chunk header lines and the trailer block, chaining the signatures. */
export function chunkFramer(
  mode: ChunkedMode,
  signing?: ChunkedSigning,
): {
  header(size: number, chunkSha256: string): Uint8Array;
  trailer(trailers: Iterable<[string, string]>): Uint8Array;
} {
  const signed = mode !== "streaming-unsigned-trailer";
  if (signed && signing === undefined) throw new TypeError(`${mode} needs signing options`);
  const s = signing!;
  let previous = signing?.seedSignature ?? "";
  return {
    header(size, chunkSha256) {
      let line = size.toString(16);
      if (signed) {
        previous = signature(
          s.signingKey,
          chunkStringToSign(chunkSha256, {
            datetime: s.datetime,
            scope: s.scope,
            previousSignature: previous,
          }),
        );
        line += `;chunk-signature=${previous}`;
      }
      return UTF8.encode(line + "\r\n");
    },
    trailer(trailers) {
      let canonical = "";
      for (const [name, value] of trailers) canonical += `${name}:${value}\n`;
      let text = canonical.replaceAll("\n", "\r\n");
      if (mode === "streaming-signed-trailer") {
        const sig = signature(
          s.signingKey,
          trailerStringToSign(sha256Hex(byteStringBytes(canonical)), {
            datetime: s.datetime,
            scope: s.scope,
            previousSignature: previous,
          }),
        );
        text += `${TRAILER_SIGNATURE}:${sig}\r\n`;
      }
      // Trailer values are byte strings, like header values: one byte each.
      return byteStringBytes(text);
    },
  };
}

/** Frames a byte stream as aws-chunked, signing as it goes. */
export function createChunkedEncoder(
  options: ChunkedEncoderOptions,
): TransformStream<Uint8Array, Uint8Array> {
  const signed = options.mode !== "streaming-unsigned-trailer";
  const framer = chunkFramer(options.mode, options.signing);
  let buffer = new Uint8Array(options.chunkSize);
  let filled = 0;
  const emitChunk = (
    controller: TransformStreamDefaultController<Uint8Array>,
    chunk: Uint8Array,
  ) => {
    controller.enqueue(framer.header(chunk.length, signed ? sha256Hex(chunk) : ""));
    controller.enqueue(chunk);
    controller.enqueue(CRLF);
  };

  return new TransformStream({
    transform(piece, controller) {
      let offset = 0;
      while (offset < piece.length) {
        const take = Math.min(options.chunkSize - filled, piece.length - offset);
        if (filled === 0 && take === options.chunkSize) {
          // A whole chunk straight from the input: no copy.
          emitChunk(controller, piece.subarray(offset, offset + take));
        } else {
          buffer.set(piece.subarray(offset, offset + take), filled);
          filled += take;
          if (filled === options.chunkSize) {
            emitChunk(controller, buffer);
            buffer = new Uint8Array(options.chunkSize);
            filled = 0;
          }
        }
        offset += take;
      }
    },
    async flush(controller) {
      if (filled > 0) emitChunk(controller, buffer.subarray(0, filled));
      controller.enqueue(framer.header(0, EMPTY_SHA256));
      if (options.mode !== "streaming-signed") {
        controller.enqueue(framer.trailer((await options.trailers?.()) ?? new Map()));
      }
      controller.enqueue(CRLF);
    },
  });
}

/** Base64 length of each checksum trailer's value, by header name. */
export const TRAILER_VALUE_LENGTH: Record<string, number> = {
  "x-amz-checksum-crc32": 8,
  "x-amz-checksum-crc32c": 8,
  "x-amz-checksum-crc64nvme": 12,
  "x-amz-checksum-sha1": 28,
  "x-amz-checksum-sha256": 44,
};

/** Options for {@linkcode encodeChunked} and {@linkcode chunkedEncodedLength}. */
export interface EncodeChunkedOptions {
  /** Data bytes per chunk (the last chunk may be shorter). */
  chunkSize: number;
  /** The payload mode. */
  mode: ChunkedMode;
  /** Required for the signed modes. */
  signing?: ChunkedSigning;
  /** Trailers to send, in order (trailer modes only). */
  trailers?: Record<string, string>;
}

function checkEncodeOptions(options: EncodeChunkedOptions): void {
  if (!Number.isSafeInteger(options.chunkSize) || options.chunkSize <= 0) {
    throw new RangeError("chunkSize must be a positive integer");
  }
  if (
    options.mode === "streaming-signed" && options.trailers !== undefined &&
    Object.keys(options.trailers).length > 0
  ) {
    throw new TypeError("streaming-signed carries no trailers");
  }
}

/**
 * Frames bytes as an aws-chunked body, signing every chunk (and the trailer)
 * in the signed modes.
 */
export function encodeChunked(data: Uint8Array, options: EncodeChunkedOptions): Uint8Array {
  checkEncodeOptions(options);
  const framer = chunkFramer(options.mode, options.signing);
  const signed = options.mode !== "streaming-unsigned-trailer";
  const crlf = UTF8.encode("\r\n");
  const parts: Uint8Array[] = [];
  for (let o = 0; o < data.length; o += options.chunkSize) {
    const chunk = data.subarray(o, o + options.chunkSize);
    parts.push(framer.header(chunk.length, signed ? sha256Hex(chunk) : ""), chunk, crlf);
  }
  parts.push(framer.header(0, EMPTY_SHA256));
  if (options.mode !== "streaming-signed") {
    parts.push(framer.trailer(Object.entries(options.trailers ?? {})));
  }
  parts.push(crlf);
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The framed length of `decodedLength` object bytes, as {@linkcode encodeChunked}
 * would produce it: the `Content-Length` of an aws-chunked request. Signatures
 * are always 64 hex digits, so signing does not change the length.
 */
export function chunkedEncodedLength(
  decodedLength: number,
  options: Omit<EncodeChunkedOptions, "signing">,
): number {
  checkEncodeOptions(options);
  const sigLength = options.mode === "streaming-unsigned-trailer" ? 0 : 17 + 64;
  const full = Math.floor(decodedLength / options.chunkSize);
  const rest = decodedLength % options.chunkSize;
  const chunkLength = (size: number) => size.toString(16).length + sigLength + 2 + size + 2;
  let length = full * chunkLength(options.chunkSize) + (rest > 0 ? chunkLength(rest) : 0);
  length += 1 + sigLength + 2; // final chunk
  if (options.mode !== "streaming-signed") {
    for (const [name, value] of Object.entries(options.trailers ?? {})) {
      length += UTF8.encode(`${name}:${value}\r\n`).length;
    }
    if (options.mode === "streaming-signed-trailer") {
      length += TRAILER_SIGNATURE.length + 1 + 64 + 2;
    }
  }
  return length + 2;
}
