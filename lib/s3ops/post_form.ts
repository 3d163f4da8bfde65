/**
 * Reads a browser form upload (`POST /{bucket}`, `multipart/form-data`) as
 * a stream: the fields before the `file` part into a bounded buffer, then
 * the file's bytes as a stream of exactly the length the request's
 * Content-Length leaves for them once the closing boundary
 * (`\r\n--boundary--\r\n`) is taken off. That stream holds back its last
 * piece until the closing boundary has arrived intact, so an upload cut
 * short or malformed never completes on the backend.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { S3Error } from "../request/errors.ts";

/** At most this many bytes of a form come before the file's bytes (fields and part headers). */
export const MAX_FORM_FIELDS_BYTES = 64 * 1024;

/** The form fields and the file of a form upload, its bytes not yet read. */
export interface PostForm {
  /** The fields before the file, by lower-case name (form field names are case-insensitive). */
  readonly fields: ReadonlyMap<string, string>;
  /** The field names as sent, in order. */
  readonly names: readonly string[];
  /** The file part's `filename` (empty when it has none). */
  readonly filename: string;
  /** Where the file's bytes start in the request body. */
  readonly fileOffset: number;
  /** The file's length: Content-Length less the fields, the part headers and the closing boundary. */
  readonly fileLength: number;
  /** Exactly `fileLength` bytes; errors (with an S3Error) when the body does not end as it must. */
  readonly file: ReadableStream<Uint8Array>;
}

/** Options for {@linkcode readPostForm}. */
export interface ReadPostFormOptions {
  /** The request's Content-Type (carries the boundary). */
  contentType: string;
  /** The request's Content-Length; form uploads must have one. */
  contentLength: number;
  /** Most bytes before the file's (default {@linkcode MAX_FORM_FIELDS_BYTES}). */
  maxFieldsBytes?: number;
}

const malformed = (why: string) =>
  new S3Error(
    "MalformedPOSTRequest",
    `The body of your POST request is not well-formed multipart/form-data: ${why}`,
  );

/** The boundary of a `multipart/form-data` Content-Type; a 400 when there is none. */
export function formBoundary(contentType: string): string {
  const [type, ...params] = contentType.split(";");
  if (type.trim().toLowerCase() !== "multipart/form-data") {
    throw malformed("not multipart/form-data");
  }
  for (const p of params) {
    const eq = p.indexOf("=");
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== "boundary") continue;
    let value = p.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    // RFC 2046: 1 to 70 characters of bchars.
    if (/^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/.test(value)) return value;
    throw malformed("invalid boundary");
  }
  throw malformed("no boundary");
}

const ENCODER = new TextEncoder();
const UTF8 = new TextDecoder();
const LATIN1 = new TextDecoder("latin1");

/** A growable byte buffer over the start of the body. */
class Bytes {
  buf = new Uint8Array(16 * 1024);
  length = 0;
  append(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + chunk.length));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    this.buf.set(chunk, this.length);
    this.length += chunk.length;
  }
  /** Index of `needle` at or after `from`, or -1. */
  indexOf(needle: Uint8Array, from: number): number {
    if (from >= this.length) return -1;
    return Buffer.from(this.buf.buffer, 0, this.length).indexOf(needle, from);
  }
}

/**
 * Reads the fields of a form upload up to the start of its `file` part and
 * returns them with the file as a stream. Throws an S3Error for a form that
 * is malformed, has no file, or whose fields are too long.
 */
export async function readPostForm(
  body: ReadableStream<Uint8Array> | null,
  options: ReadPostFormOptions,
): Promise<PostForm> {
  const boundary = formBoundary(options.contentType);
  const max = options.maxFieldsBytes ?? MAX_FORM_FIELDS_BYTES;
  const reader = (body ?? ReadableStream.from<Uint8Array>([])).getReader();
  const bytes = new Bytes();
  let ended = false;
  const tooLarge = () =>
    new S3Error(
      "MaxPostPreDataLengthExceededError",
      `Your POST request fields preceding the upload file were too large (at most ${max} bytes)`,
    );
  const more = async (): Promise<void> => {
    if (bytes.length > max) throw tooLarge();
    if (ended) throw malformed("the body ended before the file");
    const { done, value } = await reader.read();
    if (done) ended = true;
    else bytes.append(value);
  };
  try {
    const form = await readFields(bytes, more, { boundary, reader, options });
    if (form.fileOffset > max) throw tooLarge();
    return form;
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
}

async function readFields(
  bytes: Bytes,
  more: () => Promise<void>,
  context: {
    boundary: string;
    reader: ReadableStreamDefaultReader<Uint8Array>;
    options: ReadPostFormOptions;
  },
): Promise<PostForm> {
  const { boundary, reader, options } = context;
  const dashBoundary = ENCODER.encode(`--${boundary}`);
  const delimiter = ENCODER.encode(`\r\n--${boundary}`);
  const CRLF2 = ENCODER.encode("\r\n\r\n");
  // Finds `needle` from `from`, reading more as needed.
  const find = async (needle: Uint8Array, from: number): Promise<number> => {
    let scanFrom = from;
    for (;;) {
      const at = bytes.indexOf(needle, scanFrom);
      if (at >= 0) return at;
      scanFrom = Math.max(from, bytes.length - needle.length + 1);
      await more();
    }
  };
  const have = async (n: number): Promise<void> => {
    while (bytes.length < n) await more();
  };
  // The first boundary: at the start, or after a preamble.
  await have(dashBoundary.length);
  let pos: number;
  if (Buffer.from(bytes.buf.buffer, 0, dashBoundary.length).equals(dashBoundary)) {
    pos = dashBoundary.length;
  } else {
    pos = (await find(delimiter, 0)) + delimiter.length;
  }
  const fields = new Map<string, string>();
  const names: string[] = [];
  for (;;) {
    // After a boundary: `--` ends the form, else CRLF (transport padding allowed before it).
    await have(pos + 2);
    if (bytes.buf[pos] === 0x2d && bytes.buf[pos + 1] === 0x2d) {
      throw new S3Error("InvalidArgument", "POST requires exactly one file upload per request.");
    }
    while (bytes.buf[pos] === 0x20 || bytes.buf[pos] === 0x09) {
      pos++;
      await have(pos + 2);
    }
    if (bytes.buf[pos] !== 0x0d || bytes.buf[pos + 1] !== 0x0a) {
      throw malformed("bad boundary line");
    }
    pos += 2;
    const headersEnd = await find(CRLF2, pos - 2);
    const part = partHeaders(LATIN1.decode(bytes.buf.subarray(pos, headersEnd)));
    pos = headersEnd + CRLF2.length;
    const lower = part.name.toLowerCase();
    if (lower === "file") {
      const fileOffset = pos;
      const fileLength = options.contentLength - fileOffset - delimiter.length - 4;
      const head = bytes.buf.slice(pos, bytes.length);
      const filename = part.filename ?? "";
      const rest = options.contentLength - fileOffset;
      if (rest <= SMALL_FILE_MAX + delimiter.length + 4) {
        // Read whole: either ending (with or without the final CRLF) is known before anything is sent.
        const data = await smallFile(head, reader, { boundary, rest });
        const file = ReadableStream.from([data]);
        return { fields, names, filename, fileOffset, fileLength: data.length, file };
      }
      if (fileLength < 0) throw malformed("Content-Length is shorter than the form");
      const file = fileStream(head, reader, { boundary, fileLength });
      return { fields, names, filename, fileOffset, fileLength, file };
    }
    const end = await find(delimiter, pos);
    if (fields.has(lower)) {
      throw new S3Error("InvalidArgument", `The form field ${part.name} is given more than once`);
    }
    fields.set(lower, UTF8.decode(bytes.buf.subarray(pos, end)));
    names.push(part.name);
    pos = end + delimiter.length;
  }
}

/**
 * Files up to this size are read whole by {@linkcode readPostForm}, so the
 * form may end with or without a CRLF after its closing boundary (Deno's
 * `FormData` leaves it out; browsers, curl and python requests send it).
 * A larger file is streamed, and its length taken with the CRLF.
 */
export const SMALL_FILE_MAX = 64 * 1024;

async function smallFile(
  head: Uint8Array,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  options: { boundary: string; rest: number },
): Promise<Uint8Array> {
  const all = new Bytes();
  all.append(head);
  for (;;) {
    if (all.length > options.rest) throw malformed("the body is longer than its Content-Length");
    if (all.length === options.rest) break;
    const { done, value } = await reader.read();
    if (done) {
      throw new S3Error(
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
      );
    }
    all.append(value);
  }
  const body = all.buf.subarray(0, all.length);
  const closing = ENCODER.encode(`\r\n--${options.boundary}--`);
  const ends = (suffix: Uint8Array) =>
    body.length >= suffix.length &&
    Buffer.from(body.buffer, body.length - suffix.length, suffix.length).equals(suffix);
  const length = ends(ENCODER.encode(`\r\n--${options.boundary}--\r\n`))
    ? body.length - closing.length - 2
    : ends(closing)
    ? body.length - closing.length
    : -1;
  const data = body.slice(0, Math.max(length, 0));
  const delimiter = closing.subarray(0, closing.length - 2);
  if (length < 0 || Buffer.from(data.buffer).indexOf(delimiter) >= 0) {
    throw malformed(
      "the file must be the last part, followed by `\\r\\n--boundary--` and nothing else",
    );
  }
  return data;
}

/** A part's `name` and `filename`, from its Content-Disposition. */
function partHeaders(text: string): { name: string; filename?: string } {
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) throw malformed("bad part header");
    if (line.slice(0, colon).trim().toLowerCase() !== "content-disposition") continue;
    const value = line.slice(colon + 1);
    const params = new Map<string, string>();
    const re = /;\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
    if (!/^\s*form-data\s*(;|$)/i.test(value)) throw malformed("a part is not form-data");
    for (const m of value.matchAll(re)) {
      const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3];
      // Browsers send names and file names as UTF-8 bytes.
      params.set(m[1].toLowerCase(), UTF8.decode(Uint8Array.from(raw, (c) => c.charCodeAt(0))));
    }
    const name = params.get("name");
    if (name === undefined || name === "") throw malformed("a part has no name");
    return { name, filename: params.get("filename") };
  }
  throw malformed("a part has no Content-Disposition");
}

/**
 * The file's bytes: `head` (already read) then the rest of the body, cut at
 * `fileLength`; what follows must be exactly `\r\n--boundary--\r\n`. The
 * last piece is held back until it is, so the consumer never gets every
 * byte of a body that ends wrong; a delimiter inside the file (a part after
 * it) is refused too.
 */
export function fileStream(
  head: Uint8Array,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  options: { boundary: string; fileLength: number },
): ReadableStream<Uint8Array> {
  const check = new FileCheck(options);
  let started = false;
  let held: Uint8Array | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        for (;;) {
          let chunk: Uint8Array;
          if (!started) {
            started = true;
            chunk = head;
          } else {
            const { done, value } = await reader.read();
            if (done) {
              check.end();
              if (held !== undefined) controller.enqueue(held);
              controller.close();
              return;
            }
            chunk = value;
          }
          const data = check.take(chunk);
          if (data.length === 0) continue;
          const out = held;
          held = data;
          if (out !== undefined) {
            controller.enqueue(out);
            return;
          }
        }
      } catch (err) {
        reader.cancel().catch(() => {});
        throw err;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** Splits the body after the file's first byte into file bytes and the closing boundary. */
export class FileCheck {
  #length: number;
  #seen = 0;
  #delimiter: Uint8Array;
  #closing: Uint8Array;
  #tail: Uint8Array;
  #tailLength = 0;
  #carry: Uint8Array = new Uint8Array(0);

  /** Checks a file of `fileLength` bytes in a form with `boundary`. */
  constructor(options: { boundary: string; fileLength: number }) {
    this.#length = options.fileLength;
    this.#delimiter = ENCODER.encode(`\r\n--${options.boundary}`);
    this.#closing = ENCODER.encode(`\r\n--${options.boundary}--\r\n`);
    this.#tail = new Uint8Array(this.#closing.length);
  }

  /** The file bytes in `chunk` (the rest is kept as the closing boundary). */
  take(chunk: Uint8Array): Uint8Array {
    const n = Math.min(chunk.length, this.#length - this.#seen);
    const data = chunk.subarray(0, n);
    if (n > 0) {
      this.#scan(data);
      this.#seen += n;
    }
    const rest = chunk.subarray(n);
    if (rest.length > 0) {
      if (this.#tailLength + rest.length > this.#tail.length) throw this.#badEnd();
      this.#tail.set(rest, this.#tailLength);
      this.#tailLength += rest.length;
    }
    return data;
  }

  /** At the body's end: throws unless the file was whole and the closing boundary exact. */
  end(): void {
    if (this.#seen < this.#length || this.#tailLength < this.#tail.length) {
      throw new S3Error(
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header",
      );
    }
    this.#scan(new Uint8Array(0));
    if (!Buffer.from(this.#tail).equals(Buffer.from(this.#closing))) throw this.#badEnd();
  }

  #badEnd(): S3Error {
    return malformed(
      "the file must be the last part, followed by `\\r\\n--boundary--\\r\\n` and nothing else",
    );
  }

  // A delimiter inside the file means another part follows it: refused.
  #scan(data: Uint8Array): void {
    const d = this.#delimiter;
    const keep = d.length - 1;
    const edge = new Uint8Array(this.#carry.length + Math.min(keep, data.length));
    edge.set(this.#carry);
    edge.set(data.subarray(0, edge.length - this.#carry.length), this.#carry.length);
    if (
      Buffer.from(edge.buffer, 0, edge.length).indexOf(d) >= 0 ||
      Buffer.from(data.buffer, data.byteOffset, data.length).indexOf(d) >= 0
    ) {
      throw this.#badEnd();
    }
    if (data.length >= keep) this.#carry = data.slice(data.length - keep);
    else {
      const joined = new Uint8Array(this.#carry.length + data.length);
      joined.set(this.#carry);
      joined.set(data, this.#carry.length);
      this.#carry = joined.slice(Math.max(0, joined.length - keep));
    }
  }
}
