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
  chunkStringToSign,
  EMPTY_SHA256,
  sha256Hex,
  signature,
  trailerStringToSign,
} from "./sigv4.ts";

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

/** Frames a byte stream as aws-chunked, signing as it goes. */
export function createChunkedEncoder(
  options: ChunkedEncoderOptions,
): TransformStream<Uint8Array, Uint8Array> {
  const signed = options.mode !== "streaming-unsigned-trailer";
  const s = options.signing;
  if (signed && s === undefined) throw new TypeError(`${options.mode} needs signing options`);
  let previous = s?.seedSignature ?? "";
  let buffer = new Uint8Array(options.chunkSize);
  let filled = 0;

  const header = (hash: string, size: number): Uint8Array => {
    let line = size.toString(16);
    if (signed) {
      previous = signature(
        s!.signingKey,
        chunkStringToSign(hash, {
          datetime: s!.datetime,
          scope: s!.scope,
          previousSignature: previous,
        }),
      );
      line += `;chunk-signature=${previous}`;
    }
    return UTF8.encode(line + "\r\n");
  };
  const emitChunk = (
    controller: TransformStreamDefaultController<Uint8Array>,
    chunk: Uint8Array,
  ) => {
    controller.enqueue(header(signed ? sha256Hex(chunk) : "", chunk.length));
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
      controller.enqueue(header(EMPTY_SHA256, 0));
      if (options.mode !== "streaming-signed") {
        let canonical = "";
        for (const [name, value] of (await options.trailers?.()) ?? new Map()) {
          canonical += `${name}:${value}\n`;
        }
        let text = canonical.replaceAll("\n", "\r\n");
        if (options.mode === "streaming-signed-trailer") {
          const sig = signature(
            s!.signingKey,
            trailerStringToSign(sha256Hex(canonical), {
              datetime: s!.datetime,
              scope: s!.scope,
              previousSignature: previous,
            }),
          );
          text += `x-amz-trailer-signature:${sig}\r\n`;
        }
        controller.enqueue(UTF8.encode(text));
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
