/**
 * A streaming aws-chunked encoder: object bytes in, framed chunks out, each
 * chunk (and the trailer) signed with the given key. osp uses it to re-frame a
 * verified upload for a backend with the backend's key
 * (`payloadForwarding: "resign"`); memory holds at most one chunk.
 *
 * @module
 */
import type { ChunkedMode, ChunkedSigning } from "./aws_chunked.ts";
import {
  byteStringBytes,
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
        text += `x-amz-trailer-signature:${sig}\r\n`;
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
