/**
 * aws-chunked request bodies (`Content-Encoding: aws-chunked`): a streaming
 * decoder that checks chunk signatures, trailer signature, checksum trailers
 * and the decoded length, and an encoder for tests and re-signing.
 *
 * Framing (see the S3 "Signature Calculations … in Multiple Chunks" and
 * "… Trailing Headers" documents):
 *
 * ```text
 * <hex size>[;chunk-signature=<64 hex>]\r\n<data>\r\n     (repeated)
 * 0[;chunk-signature=<64 hex>]\r\n                         (final chunk)
 * \r\n                                                      (streaming-signed)
 * name:value\r\n … [x-amz-trailer-signature:<64 hex>\r\n] \r\n   (trailer modes)
 * ```
 *
 * Leniency, only where real clients differ: in the two trailer modes the
 * final empty line may be missing when the body ends right after the
 * trailer lines (after at least one trailer line, and in signed-trailer mode
 * after the `x-amz-trailer-signature` line). Everything else is strict.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { signaturesEqual } from "../sigv4/constant_time.ts";
import {
  type Checksum,
  type ChecksumAlgorithm,
  checksumMismatch,
  createChecksum,
  parseChecksumHeaderName,
} from "./checksums.ts";
import { S3Error } from "../request/errors.ts";
import {
  type ChunkedSigning,
  chunkStringToSign,
  EMPTY_SHA256,
  signature,
  trailerStringToSign,
} from "../sigv4/sigv4.ts";
import { CHUNKED_MODE_VALUE, type ChunkedMode, TRAILER_SIGNATURE } from "../sigv4/constants.ts";
import { releaseBlock, retainBlock } from "./block_pool.ts";

export type { ChunkedMode, ChunkedSigning };

/** Options for {@linkcode createChunkedDecoder}. */
export interface ChunkedDecoderOptions {
  /** The payload mode. */
  mode: ChunkedMode;
  /**
   * For signed modes: the client's signing key, the request's x-amz-date,
   * scope, and the seed signature (the Authorization header's signature).
   */
  signing?: ChunkedSigning;
  /** `x-amz-decoded-content-length`, if the request had it. */
  decodedLength?: number;
  /** Names from the `x-amz-trailer` header, lower case (e.g. `["x-amz-checksum-crc32"]`). */
  expectedTrailers: readonly string[];
  /** Largest chunk size accepted (default 16 MiB); a bigger declared size is InvalidRequest. */
  maxChunkSize?: number;
  /**
   * Smallest size of a data chunk that is not the last one (default
   * {@linkcode MIN_SIGNED_CHUNK_SIZE} in the signed modes, none with
   * `streaming-unsigned-trailer`); a smaller one is 400 InvalidChunkSizeError.
   */
  minChunkSize?: number;
}

/** What a successfully decoded upload carried besides its bytes. */
export interface DecodedUpload {
  /** Trailers by lower-case name (without `x-amz-trailer-signature`). */
  trailers: Map<string, string>;
  /** Number of decoded object bytes. */
  decodedLength: number;
}

/** The decoder: a transform stream of framed bytes to object bytes, and its outcome. */
export interface ChunkedDecoder {
  /** Framed body in, object bytes out. Errors with an {@linkcode S3Error} on any failure. */
  stream: TransformStream<Uint8Array, Uint8Array>;
  /** Resolves once the body is complete and every check passed; rejects on failure. */
  done: Promise<DecodedUpload>;
}

/**
 * Default {@linkcode ChunkedDecoderOptions.minChunkSize} in the signed modes:
 * S3 answers a signed chunk under 8 KiB that is not the last with 400
 * InvalidChunkSizeError (and its SigV4 streaming page asks for at least 8
 * KB). It also bounds osp's work per byte: every signed chunk costs an HMAC
 * and a native SHA-256 object only a major GC frees (docs/performance.md,
 * "Upload memory"). Unsigned chunks are not held to it, as RGW does not.
 */
export const MIN_SIGNED_CHUNK_SIZE = 8192;

/** Default {@linkcode ChunkedDecoderOptions.maxChunkSize}: 16 MiB. */
export const DEFAULT_MAX_CHUNK_SIZE = 16 * 1024 * 1024;
/** The longest chunk header or trailer line accepted, CRLF included. */
const MAX_LINE = 8192;
/** The most trailer lines accepted (the signature line not counted). */
const MAX_TRAILERS = 32;
const CR = 0x0d;
const LF = 0x0a;
/** Held pieces whose average size is below this are merged into one array before output. */
const MERGE_BELOW = 4096;

const SIGNATURE_MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your key and signing method.";

/** Parser states. */
const enum State {
  /** Expecting a chunk header line. */
  Header,
  /** Inside chunk data. */
  Data,
  /** Expecting the CR after chunk data. */
  DataCr,
  /** Expecting the LF after chunk data. */
  DataLf,
  /** Expecting trailer lines or the final empty line (trailer modes). */
  Trailer,
  /** Expecting only the final empty line. */
  FinalLine,
  /** Complete: nothing more may follow. */
  Done,
}

function invalid(message: string): S3Error {
  return new S3Error("InvalidRequest", `Malformed aws-chunked body: ${message}`);
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  return -1;
}

function latin1(bytes: Uint8Array): string {
  // Lines are at most MAX_LINE bytes: well within the argument limit.
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

function isSignatureHex(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}

function displayName(name: string): string {
  return JSON.stringify(name.length > 64 ? name.slice(0, 64) + "…" : name);
}

class Decoder {
  readonly #mode: ChunkedMode;
  readonly #signed: boolean;
  readonly #trailerMode: boolean;
  readonly #signing: ChunkedSigning | undefined;
  readonly #decodedLength: number | undefined;
  readonly #maxChunkSize: number;
  readonly #minChunkSize: number;
  readonly #expected: Set<string>;
  readonly #checksums: [name: string, alg: ChecksumAlgorithm, checksum: Checksum][] = [];
  readonly #checksumList: Checksum[] = [];
  readonly #resolve: (value: DecodedUpload) => void;
  readonly #reject: (reason: unknown) => void;

  #state = State.Header;
  #failed = false;
  /** Partial line carried across input pieces. */
  #lineBuf: Uint8Array | undefined;
  #lineLen = 0;
  /** The line just read by #readLine, without CRLF. */
  #line: Uint8Array = new Uint8Array();

  /** 1-based number of the chunk being read. */
  #chunkNo = 0;
  #remaining = 0;
  /** Object bytes declared by the chunk headers so far. */
  #total = 0;
  #previousSignature = "";
  #chunkSignature = "";
  #chunkHash: Hash | undefined;
  /** Pieces of the chunk being read (views of the input, no copies). */
  #current: Uint8Array[] = [];
  #currentLen = 0;
  /** The last complete, verified chunk, held back until more data or the end proves it safe. */
  #held: Uint8Array[] = [];
  #heldLen = 0;

  readonly #trailers = new Map<string, string>();
  /** Raw trailer lines, each with `\n`, as the trailer signature covers them. */
  readonly #trailerLines: Uint8Array[] = [];
  #trailerSignatureSeen = false;

  constructor(
    options: ChunkedDecoderOptions,
    resolve: (value: DecodedUpload) => void,
    reject: (reason: unknown) => void,
  ) {
    this.#mode = options.mode;
    if (!(options.mode in CHUNKED_MODE_VALUE)) {
      throw new TypeError(`unknown aws-chunked mode ${String(options.mode)}`);
    }
    this.#signed = options.mode !== "streaming-unsigned-trailer";
    this.#trailerMode = options.mode !== "streaming-signed";
    this.#decodedLength = options.decodedLength;
    this.#maxChunkSize = options.maxChunkSize ?? DEFAULT_MAX_CHUNK_SIZE;
    this.#minChunkSize = options.minChunkSize ??
      (options.mode === "streaming-unsigned-trailer" ? 0 : MIN_SIGNED_CHUNK_SIZE);
    this.#resolve = resolve;
    this.#reject = reject;
    if (this.#signed) {
      if (options.signing === undefined) {
        throw new TypeError(`aws-chunked mode ${options.mode} needs signing options`);
      }
      this.#signing = options.signing;
      this.#previousSignature = options.signing.seedSignature;
    }
    if (
      this.#decodedLength !== undefined &&
      !(Number.isSafeInteger(this.#decodedLength) && this.#decodedLength >= 0)
    ) {
      throw new S3Error("InvalidRequest", "x-amz-decoded-content-length is not a valid length");
    }
    this.#expected = new Set(options.expectedTrailers.map((n) => n.trim().toLowerCase()));
    this.#expected.delete(TRAILER_SIGNATURE);
    if (!this.#trailerMode && this.#expected.size > 0) {
      throw new S3Error(
        "InvalidRequest",
        `x-amz-trailer is not allowed with x-amz-content-sha256: ${CHUNKED_MODE_VALUE[this.#mode]}`,
      );
    }
    for (const name of this.#expected) {
      const alg = parseChecksumHeaderName(name);
      if (alg !== undefined) {
        const checksum = createChecksum(alg);
        this.#checksums.push([name, alg, checksum]);
        this.#checksumList.push(checksum);
      }
    }
  }

  transform(piece: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>): void {
    try {
      if (!(piece instanceof Uint8Array)) throw new TypeError("aws-chunked input must be bytes");
      this.#consume(piece, controller);
    } catch (err) {
      throw this.#fail(err, controller);
    }
  }

  flush(controller: TransformStreamDefaultController<Uint8Array>): void {
    try {
      this.#finish(controller);
    } catch (err) {
      throw this.#fail(err, controller);
    }
  }

  cancel(reason: unknown): void {
    this.#failed = true;
    this.#reject(
      reason ?? new S3Error("IncompleteBody", "The aws-chunked body was cancelled before its end"),
    );
  }

  #fail(err: unknown, controller: TransformStreamDefaultController<Uint8Array>): unknown {
    if (!this.#failed) {
      this.#failed = true;
      // Never sent now: their pooled blocks are free.
      for (const p of this.#held) releaseBlock(p);
      for (const p of this.#current) releaseBlock(p);
      this.#held = [];
      this.#current = [];
      controller.error(err);
      this.#reject(err);
    }
    return err;
  }

  #consume(piece: Uint8Array, controller: TransformStreamDefaultController<Uint8Array>): void {
    const n = piece.length;
    let pos = 0;
    while (pos < n) {
      switch (this.#state) {
        case State.Data: {
          const take = Math.min(this.#remaining, n - pos);
          const sub = piece.subarray(pos, pos + take);
          pos += take;
          this.#remaining -= take;
          retainBlock(sub);
          this.#current.push(sub);
          this.#currentLen += take;
          this.#chunkHash?.update(sub);
          for (const c of this.#checksumList) c.update(sub);
          if (this.#remaining === 0) {
            if (this.#signed) this.#verifyChunk(this.#chunkHash!.digest("hex"));
            this.#chunkHash = undefined;
            this.#state = State.DataCr;
          }
          break;
        }
        case State.DataCr:
          if (piece[pos++] !== CR) {
            throw invalid(`chunk ${this.#chunkNo} data is not followed by CRLF`);
          }
          this.#state = State.DataLf;
          break;
        case State.DataLf:
          if (piece[pos++] !== LF) {
            throw invalid(`chunk ${this.#chunkNo} data is not followed by CRLF`);
          }
          this.#held = this.#current;
          this.#heldLen = this.#currentLen;
          this.#current = [];
          this.#currentLen = 0;
          this.#state = State.Header;
          break;
        case State.Done:
          throw invalid("unexpected bytes after the end of the body");
        default: {
          pos = this.#readLine(piece, pos);
          if (pos < 0) return; // the line continues in the next piece
          if (this.#state === State.Header) this.#onHeader(controller);
          else this.#onTrailerLine();
        }
      }
    }
  }

  /** Reads a CRLF-terminated line into #line; returns the position after it, or -1 if incomplete. */
  #readLine(piece: Uint8Array, pos: number): number {
    const room = MAX_LINE - this.#lineLen;
    const window = piece.subarray(pos, pos + room);
    const at = window.indexOf(LF);
    if (at < 0) {
      if (window.length === room) throw invalid(`a line is longer than ${MAX_LINE} bytes`);
      this.#append(window);
      return -1;
    }
    let line: Uint8Array;
    if (this.#lineLen === 0) {
      line = window.subarray(0, at);
    } else {
      this.#append(window.subarray(0, at));
      line = this.#lineBuf!.subarray(0, this.#lineLen);
      this.#lineLen = 0;
    }
    if (line.length === 0 || line[line.length - 1] !== CR) {
      throw invalid(
        this.#state === State.Header
          ? `chunk ${this.#chunkNo + 1} header is not terminated by CRLF`
          : "a trailer line is not terminated by CRLF",
      );
    }
    this.#line = line.subarray(0, line.length - 1);
    return pos + at + 1;
  }

  #append(bytes: Uint8Array): void {
    this.#lineBuf ??= new Uint8Array(MAX_LINE);
    this.#lineBuf.set(bytes, this.#lineLen);
    this.#lineLen += bytes.length;
  }

  #onHeader(controller: TransformStreamDefaultController<Uint8Array>): void {
    const line = this.#line;
    const no = ++this.#chunkNo;
    let i = 0;
    let size = 0;
    for (; i < line.length; i++) {
      const h = hexValue(line[i]);
      if (h < 0) break;
      size = size * 16 + h;
      if (size > this.#maxChunkSize) {
        throw invalid(
          `chunk ${no} declares a size over the maximum of ${this.#maxChunkSize} bytes`,
        );
      }
    }
    if (i === 0) {
      throw invalid(
        `chunk ${no} header ${displayName(latin1(line))} does not start with a hex size`,
      );
    }
    let sig: string | undefined;
    if (i < line.length) {
      const ext = latin1(line.subarray(i));
      if (!ext.startsWith(";chunk-signature=")) {
        throw invalid(`chunk ${no} header has an invalid size or extension ${displayName(ext)}`);
      }
      sig = ext.slice(17);
      if (!isSignatureHex(sig)) {
        throw invalid(`chunk ${no} chunk-signature is not 64 lower-case hex digits`);
      }
    }
    if (this.#signed && sig === undefined) {
      throw invalid(
        `chunk ${no} has no chunk-signature, required by ${CHUNKED_MODE_VALUE[this.#mode]}`,
      );
    }
    if (!this.#signed && sig !== undefined) {
      throw invalid(
        `chunk ${no} has a chunk-signature, not allowed by ${CHUNKED_MODE_VALUE[this.#mode]}`,
      );
    }
    this.#chunkSignature = sig ?? "";
    if (size === 0) {
      if (this.#signed) this.#verifyChunk(EMPTY_SHA256);
      if (this.#decodedLength !== undefined && this.#total !== this.#decodedLength) {
        throw new S3Error(
          "IncompleteBody",
          `The aws-chunked body has ${this.#total} bytes of data, not the ${this.#decodedLength} of x-amz-decoded-content-length`,
        );
      }
      this.#state = this.#trailerMode ? State.Trailer : State.FinalLine;
      return;
    }
    if (this.#decodedLength !== undefined && this.#total + size > this.#decodedLength) {
      throw new S3Error(
        "IncompleteBody",
        `The aws-chunked body has more data than the ${this.#decodedLength} bytes of x-amz-decoded-content-length`,
      );
    }
    // More data follows, so the held chunk (the previous one, none before
    // the first) is not the last one: it must be large enough, and may go.
    if (this.#heldLen > 0 && this.#heldLen < this.#minChunkSize) {
      throw new S3Error(
        "InvalidChunkSizeError",
        `Only the last chunk is allowed to have a size less than ${this.#minChunkSize} bytes (chunk ${
          no - 1
        } has ${this.#heldLen})`,
      );
    }
    this.#release(controller);
    this.#total += size;
    this.#remaining = size;
    if (this.#signed) this.#chunkHash = createHash("sha256");
    this.#state = State.Data;
  }

  #verifyChunk(chunkSha256: string): void {
    const s = this.#signing!;
    const expected = signature(
      s.signingKey,
      chunkStringToSign(chunkSha256, {
        datetime: s.datetime,
        scope: s.scope,
        previousSignature: this.#previousSignature,
      }),
    );
    if (!signaturesEqual(expected, this.#chunkSignature)) {
      throw new S3Error(
        "SignatureDoesNotMatch",
        `${SIGNATURE_MISMATCH} (aws-chunked chunk ${this.#chunkNo})`,
      );
    }
    this.#previousSignature = expected;
  }

  #onTrailerLine(): void {
    const line = this.#line;
    if (line.length === 0) {
      if (this.#mode === "streaming-signed-trailer" && !this.#trailerSignatureSeen) {
        throw invalid(`the trailer has no ${TRAILER_SIGNATURE}`);
      }
      this.#state = State.Done;
      return;
    }
    if (this.#state === State.FinalLine) {
      throw invalid(
        this.#trailerSignatureSeen
          ? `a trailer line follows ${TRAILER_SIGNATURE}`
          : `the final chunk is not followed by an empty line (no trailers with ${
            CHUNKED_MODE_VALUE[this.#mode]
          })`,
      );
    }
    const text = latin1(line);
    const colon = text.indexOf(":");
    if (colon <= 0) throw invalid(`trailer line ${displayName(text)} is not name:value`);
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (name === TRAILER_SIGNATURE) {
      if (this.#mode !== "streaming-signed-trailer") {
        throw invalid(`${TRAILER_SIGNATURE} is not allowed with ${CHUNKED_MODE_VALUE[this.#mode]}`);
      }
      if (!isSignatureHex(value)) {
        throw invalid(`${TRAILER_SIGNATURE} is not 64 lower-case hex digits`);
      }
      const hash = createHash("sha256");
      for (const l of this.#trailerLines) hash.update(l);
      const s = this.#signing!;
      const expected = signature(
        s.signingKey,
        trailerStringToSign(hash.digest("hex"), {
          datetime: s.datetime,
          scope: s.scope,
          previousSignature: this.#previousSignature,
        }),
      );
      if (!signaturesEqual(expected, value)) {
        throw new S3Error("SignatureDoesNotMatch", `${SIGNATURE_MISMATCH} (aws-chunked trailer)`);
      }
      this.#trailerSignatureSeen = true;
      this.#state = State.FinalLine;
      return;
    }
    if (!this.#expected.has(name)) {
      throw new S3Error(
        "InvalidRequest",
        `The trailer ${displayName(name)} was not announced in x-amz-trailer`,
      );
    }
    if (this.#trailers.has(name)) {
      throw new S3Error("InvalidRequest", `The trailer ${displayName(name)} is sent twice`);
    }
    if (this.#trailers.size >= MAX_TRAILERS) throw invalid("too many trailers");
    this.#trailers.set(name, value);
    const raw = new Uint8Array(line.length + 1);
    raw.set(line);
    raw[line.length] = LF;
    this.#trailerLines.push(raw);
  }

  #finish(controller: TransformStreamDefaultController<Uint8Array>): void {
    switch (this.#state) {
      case State.Done:
        break;
      case State.Trailer:
        // Tolerated: the body ends right after complete trailer lines (unsigned trailer).
        if (
          this.#mode === "streaming-unsigned-trailer" && this.#lineLen === 0 &&
          this.#trailers.size > 0
        ) break;
        throw new S3Error("IncompleteBody", "The aws-chunked body ended inside its trailer");
      case State.FinalLine:
        // Tolerated: the body ends right after the x-amz-trailer-signature line.
        if (this.#lineLen === 0 && this.#trailerSignatureSeen) break;
        throw new S3Error(
          "IncompleteBody",
          "The aws-chunked body ended before its final empty line",
        );
      default:
        throw new S3Error("IncompleteBody", "The aws-chunked body ended before its final chunk");
    }
    for (const name of this.#expected) {
      if (!this.#trailers.has(name)) {
        throw new S3Error(
          "InvalidRequest",
          `The trailer ${displayName(name)} announced in x-amz-trailer is missing`,
        );
      }
    }
    for (const [name, alg, checksum] of this.#checksums) {
      if (checksum.digestBase64() !== this.#trailers.get(name)) {
        throw checksumMismatch(alg);
      }
    }
    if (this.#decodedLength !== undefined && this.#total !== this.#decodedLength) {
      throw new S3Error(
        "IncompleteBody",
        `The aws-chunked body has ${this.#total} bytes of data, not the ${this.#decodedLength} of x-amz-decoded-content-length`,
      );
    }
    // Every check passed: the last data may go out now.
    this.#release(controller);
    this.#resolve({ trailers: this.#trailers, decodedLength: this.#total });
  }

  #release(controller: TransformStreamDefaultController<Uint8Array>): void {
    const pieces = this.#held;
    if (pieces.length === 0) return;
    if (pieces.length === 1) {
      controller.enqueue(pieces[0]);
    } else if (this.#heldLen / pieces.length < MERGE_BELOW) {
      // Many small input pieces: one copy beats many tiny outputs.
      const out = new Uint8Array(this.#heldLen);
      let o = 0;
      for (const p of pieces) {
        out.set(p, o);
        o += p.length;
        releaseBlock(p);
      }
      controller.enqueue(out);
    } else {
      for (const p of pieces) controller.enqueue(p);
    }
    this.#held = [];
    this.#heldLen = 0;
  }
}

/**
 * Creates a streaming aws-chunked decoder. Write the framed body to
 * `stream.writable`, read the object bytes from `stream.readable`.
 *
 * - Signed modes: each chunk is verified before any of its bytes are emitted.
 * - The last chunk's bytes are held back until the body has ended and every
 *   check (final chunk signature, trailer signature, announced trailers,
 *   checksums, decoded length) has passed, so a consumer that forwards the
 *   bytes never completes with an unverified object. Earlier chunks go out as
 *   soon as the next data chunk's header shows they are not the last one, so
 *   at most about one chunk is buffered.
 * - On failure, both sides of the stream error with an {@linkcode S3Error}
 *   and `done` rejects with it.
 * - Output arrays are views of the input arrays (no copy), except that many
 *   small input pieces of one chunk are merged: do not reuse input buffers.
 *   Input in pooled blocks ({@linkcode pooledBytes}) is the exception: every
 *   output view holds a reference to its block, to be dropped with
 *   {@linkcode releaseBlock} once it has been written (osp's HTTP/1.1 client
 *   does), and the decoder drops its own.
 *
 * Throws synchronously (S3Error InvalidRequest) when `expectedTrailers` is
 * non-empty in `streaming-signed` mode, and TypeError when a signed mode
 * lacks `signing`.
 */
export function createChunkedDecoder(options: ChunkedDecoderOptions): ChunkedDecoder {
  let resolve!: (value: DecodedUpload) => void;
  let reject!: (reason: unknown) => void;
  const done = new Promise<DecodedUpload>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller that only watches the stream must not see an unhandled rejection.
  done.catch(() => {});
  const decoder = new Decoder(options, resolve, reject);
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, controller) => {
      try {
        decoder.transform(chunk, controller);
      } finally {
        // The piece itself is done with; the views kept of it hold their own references.
        releaseBlock(chunk);
      }
    },
    flush: (controller) => decoder.flush(controller),
    cancel: (reason) => decoder.cancel(reason),
  });
  return { stream, done };
}

/** Splits an `x-amz-trailer` header value into lower-case names. */
export function parseTrailerNames(header: string | null | undefined): string[] {
  if (header === null || header === undefined) return [];
  return header.split(",").map((n) => n.trim().toLowerCase()).filter((n) => n !== "");
}
