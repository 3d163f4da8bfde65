/**
 * A small HTTP/1.1 client on `Deno.connect` / `Deno.connectTls`, for what
 * `fetch` cannot send: a request body osp produced itself (decoded, re-framed
 * or verified) with an explicit Content-Length, and a path sent byte for byte
 * (dot segments included). It streams the body with backpressure and holds no
 * more than one chunk, unlike `node:http`, which buffers.
 *
 * Requests with a body get a connection of their own (`connection: close`):
 * these are uploads, where a handshake is small next to the body, and a
 * connection cut in the middle of a failed upload is never reused. Requests
 * without a body, or with a small one of known length, may reuse idle
 * keep-alive connections from an {@linkcode Http1Pool}; a small response
 * body (up to {@linkcode SMALL_BODY_MAX}) is then read whole and handed
 * over as bytes, which Deno.serve answers without a stream.
 *
 * Errors: a failure of the request body stream rejects with
 * {@linkcode BodySourceError} (its cause is the stream's error); a request
 * that went out, in part or whole, with no valid answer back rejects with
 * {@linkcode NoResponseError} (the backend may have carried it out);
 * anything else is a connection failure before anything was sent.
 *
 * @module
 */
import { type AbortLike, abortSignalOf } from "../_abort.ts";
import { releaseBlock } from "../body/block_pool.ts";
import { decimalLength } from "../_decimal.ts";

/** Where and what to send. */
export interface Http1Request {
  /** `http://host:port` or `https://host:port`. */
  origin: string;
  /** HTTP method. */
  method: string;
  /** Sent verbatim as the request target: visible ASCII only (a TypeError otherwise). */
  pathAndQuery: string;
  /**
   * Lower-case header names, `host` included; never `content-length`. Values
   * are byte strings, as `Headers` holds them: each character goes out as one
   * byte; CR, LF, NUL or a character above 0xFF is a TypeError.
   */
  headerList: readonly (readonly [string, string])[];
}

/** How to send it. */
export interface Http1Options {
  /** The request body, or null for none. */
  body: ReadableStream<Uint8Array> | null;
  /**
   * The exact body length, sent as Content-Length. Without one a body goes
   * out with `transfer-encoding: chunked`; no body is `content-length: 0`.
   */
  contentLength?: number;
  /** Closes the connection: before the response it rejects, after it the body errors. */
  signal?: AbortLike;
  /** Extra root certificates (PEM) for an HTTPS origin. */
  caCerts?: string[];
  /** The largest response head accepted, in bytes (default 64 KiB). */
  maxHeadBytes?: number;
  /**
   * Read the body with a BYOB reader into one reused buffer: no allocation
   * per chunk, so no garbage for the GC to catch up with. Only for a byte
   * stream whose chunks nobody else keeps (an untouched request body); other
   * streams are read normally.
   */
  reuseBuffer?: boolean;
  /**
   * Called whenever the request moves: `"read"` after a body chunk arrived
   * (now waiting for the backend to take it), `"written"` after the head or a
   * chunk went out (now waiting for the body source).
   */
  onProgress?: (event: "read" | "written") => void;
  /** Called once the whole request (head and body) has been written. */
  onBodySent?: () => void;
  /**
   * Keep-alive connections to reuse and return, for a request without a
   * body or with a small one of known length (at most
   * {@linkcode SMALL_BODY_MAX}), which is read whole before anything is sent
   * (a body that fails is never sent in part). Other requests always get a
   * connection of their own. Only a GET, HEAD or OPTIONS without a body is
   * sent again when a reused connection turns out closed before any answer
   * (or any request, of which not a byte went out).
   */
  pool?: Http1Pool;
  /** Lower-case header names left out of the Response (hop-by-hop headers). */
  dropHeaders?: ReadonlySet<string>;
  /** Names the request in a {@linkcode ResponseBodyError} its response body may fail with. */
  requestId?: string;
}

/** A body reader: default, or BYOB into one reused buffer. */
interface BodyReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(reason: unknown): Promise<void>;
}

function bodyReader(body: ReadableStream<Uint8Array>, reuse: boolean): BodyReader {
  if (reuse) {
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      byob = body.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream: read it normally.
    }
    if (byob !== undefined) {
      const reader = byob;
      let buffer = new Uint8Array(READ_SIZE);
      return {
        async read() {
          const result = await reader.read(buffer);
          // The buffer was transferred into the result; take it back for the next read.
          if (result.value !== undefined) buffer = new Uint8Array(result.value.buffer);
          return result.done
            ? { done: true, value: undefined }
            : { done: false, value: result.value! };
        },
        cancel: (reason) => reader.cancel(reason),
      };
    }
  }
  const reader = body.getReader();
  return { read: () => reader.read(), cancel: (reason) => reader.cancel(reason) };
}

/** The request body stream failed; `cause` is its error. */
export class BodySourceError extends Error {
  /** Wraps the body stream's error. */
  constructor(cause: unknown) {
    super("the request body stream failed", { cause });
    this.name = "BodySourceError";
  }
}

/**
 * The request went out, whole or in part, and no usable answer came back:
 * the connection closed or broke before a complete response head, or the
 * head was malformed. The backend may have carried the request out, so it
 * is not to be sent again blindly. `cause` is the underlying error.
 */
export class NoResponseError extends Error {
  /** Wraps the error that ended the exchange. */
  constructor(cause: unknown) {
    super(
      `no valid answer after the request was sent: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
    this.name = "NoResponseError";
  }
}

/**
 * A response body failed after its head was handed on: the backend cut it
 * short, reset the connection or broke its framing; or, when `aborted`, osp
 * closed the connection itself because the exchange was aborted (the client
 * went away, or shutdown cut it), so the failure is an effect, not a fault.
 * `cause` is the underlying error.
 */
export class ResponseBodyError extends Error {
  /** The backend's origin. */
  readonly origin: string;
  /** The request the body answers, when the sender named it. */
  readonly requestId: string | undefined;
  /** osp closed the connection first (an aborted exchange). */
  readonly aborted: boolean;

  /** Wraps the error that ended the body. */
  constructor(
    cause: unknown,
    options: { origin: string; requestId?: string; aborted: boolean },
  ) {
    super(
      `the response body from ${options.origin} failed: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
    this.name = "ResponseBodyError";
    this.origin = options.origin;
    this.requestId = options.requestId;
    this.aborted = options.aborted;
  }
}

/** What names a response body in its errors. */
interface BodyLabel {
  origin: string;
  requestId?: string;
}

/** The backend closed the connection (EOF) before a response head. */
class ClosedBeforeHeadError extends Error {
  constructor() {
    super("the backend closed the connection before its response head");
  }
}

/**
 * The connection was lost, with no answer: closed (EOF) or reset by the
 * backend. Anything else (a malformed answer, a head too large, our own
 * close) is not.
 */
function connectionLost(err: unknown): boolean {
  return err instanceof ClosedBeforeHeadError ||
    err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.UnexpectedEof;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const READ_SIZE = 64 * 1024;
/** Chunk size for large sized response bodies, read past the socket buffer. */
const LARGE_CHUNK = 256 * 1024;
const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
const NO_BODY_STATUS = new Set([204, 304]);
/** Methods a request may be sent again with, having no effect (RFC 9110, 9.2.1). */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * A body the backend may still send after an answer that has none by rule
 * (to HEAD, or a 204 or 304) but declared one: RGW answers `HEAD ?acl` with
 * its Content-Length and then the body, and some HEADs with
 * `transfer-encoding: chunked` and then the last chunk. Those bytes belong
 * to no request; they are dropped before the next answer is read.
 */
interface Stray {
  chunked: boolean;
  /** Bytes left: of the whole body, or of the current chunk when chunked. */
  remaining: number;
  /** Where a chunked body is. */
  state: "size" | "data" | "crlf" | "trailer";
  /** Some of it arrived: what follows is more of it, whatever it looks like. */
  started: boolean;
}

/** A connection with a read buffer and an idempotent close. */
class Socket {
  #conn: Deno.Conn;
  #buf = new Uint8Array(READ_SIZE);
  #start = 0;
  #end = 0;
  #closed = false;
  #ended = false;
  #onClose: (() => void)[] = [];
  /** Where request heads are encoded (see writeMessage). */
  #out: Uint8Array | undefined;
  /** A read into the buffer started while the connection was idle (see readAhead). */
  #pending: Promise<boolean> | undefined;
  /** Bytes received since the socket was taken for the current request. */
  received = 0;
  /** Bytes written since the socket was taken for the current request. */
  sent = 0;
  /** In the pool, waiting for a request. */
  idle = false;
  /** A body the backend may still send for the previous answer. */
  stray: Stray | undefined;
  /** When it went back to the pool (performance.now()). */
  idleSince = 0;
  /** How long it may stay idle in the pool, in ms. */
  idleLimit = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Forgets the close callbacks of the request that used it. */
  resetForReuse(): void {
    this.#onClose.length = 0;
  }

  /** Taken from the pool for a request: it counts that request's bytes from now on. */
  claim(): void {
    this.idle = false;
    this.received = 0;
    this.sent = 0;
    try {
      this.#conn.ref();
    } catch {
      // Closed meanwhile: the request's first read or write says so.
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The backend closed its side (a read met EOF). */
  get ended(): boolean {
    return this.#ended;
  }

  /** A read is in flight (started while idle); `fill` takes its bytes. */
  get reading(): boolean {
    return this.#pending !== undefined;
  }

  /** Buffered bytes not yet taken. */
  get buffered(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** The first `n` buffered bytes (at most), as a view, not taken. */
  bufferedBytes(n: number): Uint8Array {
    return this.#buf.subarray(this.#start, Math.min(this.#end, this.#start + n));
  }

  /** How many bytes are buffered (without making a view of them, as `buffered` does). */
  get bufferedLength(): number {
    return this.#end - this.#start;
  }

  /** Calls `fn` once when the socket closes. */
  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  /** Reads more into the buffer (growing it up to `limit`); false at EOF. */
  fill(limit = READ_SIZE): Promise<boolean> {
    // A read started while idle goes on: its bytes come first.
    if (this.#pending !== undefined) return this.#pending;
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else if (this.#buf.length < limit) {
        const bigger = new Uint8Array(Math.min(limit, this.#buf.length * 2));
        bigger.set(this.#buf);
        this.#buf = bigger;
      } else {
        return Promise.reject(new Error(`the response head is larger than ${limit} bytes`));
      }
    }
    return this.#read();
  }

  async #read(): Promise<boolean> {
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#ended = true;
      return false;
    }
    this.#end += n;
    this.received += n;
    return true;
  }

  /**
   * Starts a read while the connection is idle, which does not keep the
   * process alive: it settles when the backend closes the connection or
   * sends anything. The request that takes the connection next goes on
   * with it (`fill`).
   */
  readAhead(): Promise<boolean> {
    if (this.#pending !== undefined) return this.#pending;
    try {
      this.#conn.unref();
    } catch {
      // Closed: the read below rejects.
    }
    const pending = this.fill().finally(() => {
      if (this.#pending === pending) this.#pending = undefined;
    });
    this.#pending = pending;
    return pending;
  }

  /** Reads into `target`, bypassing the buffer (which must be empty); null at EOF. */
  async readInto(target: Uint8Array): Promise<number | null> {
    const n = await this.#conn.read(target);
    if (n !== null) this.received += n;
    return n;
  }

  /** Takes up to `n` buffered bytes, as a copy. */
  take(n: number): Uint8Array<ArrayBuffer> {
    const count = Math.min(n, this.#end - this.#start);
    const out = this.#buf.slice(this.#start, this.#start + count);
    this.#start += count;
    return out;
  }

  /** Drops `n` buffered bytes. */
  skip(n: number): void {
    this.#start += n;
  }

  /**
   * Writes a request head (see `planHead`) and its payload in one write,
   * through a buffer this connection keeps for its next requests (up to
   * `OUT_KEPT` bytes; a larger message gets one of its own). No other request
   * uses the connection until the write has finished.
   */
  async writeMessage(head: HeadPlan, payload: Uint8Array | undefined): Promise<void> {
    const size = head.length + (payload?.length ?? 0);
    let out = this.#out;
    if (out === undefined || out.length < size) {
      out = new Uint8Array(Math.max(size, OUT_MIN));
      if (out.length <= OUT_KEPT) this.#out = out;
    }
    writeHead(head, out);
    if (payload !== undefined) out.set(payload, head.length);
    await this.writeAll(out.subarray(0, size));
  }

  async writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const n = await this.#conn.write(bytes.subarray(offset));
      offset += n;
      this.sent += n;
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
    for (const fn of this.#onClose.splice(0)) fn();
  }
}

/** Any character that is not ASCII. */
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * A request head checked and measured, written as bytes by `writeHead`
 * without ever being made a string: building it as text made a string per
 * header, then a flat copy of the whole to encode (`deno run -A
 * bench/alloc.ts`).
 */
interface HeadPlan {
  request: Http1Request;
  /** Sent as Content-Length; undefined for `transfer-encoding: chunked`. */
  contentLength: string | undefined;
  keepAlive: boolean;
  /** Its length in bytes. */
  length: number;
}

/** True if `text` may go into a head, one byte per character: no CR, LF, NUL nor character above 0xFF. */
function isFieldText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0 || c > 0xff) return false;
  }
  return true;
}

/** True if `text` is visible ASCII only, as a request target must be. */
function isVisibleAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** True for the framing headers osp writes itself (see `writeHead`). */
function isFraming(name: string): boolean {
  return name === "content-length" || name === "connection" || name === "transfer-encoding";
}

const CHUNKED_LINE = "transfer-encoding: chunked\r\n";
const CLOSE_LINE = "connection: close\r\n";

/**
 * Checks a request head and measures it. Header values are byte strings (a
 * non-ASCII value holds its wire bytes one per character, as `Headers`
 * does): each character is one byte. A TypeError for a method or header
 * with CR, LF, NUL or a character above 0xFF, and for a method or request
 * target that is not visible ASCII (a path goes out percent-encoded).
 */
function planHead(
  request: Http1Request,
  options: { contentLength: number | undefined; keepAlive: boolean },
): HeadPlan {
  const { method, pathAndQuery } = request;
  if (method === "" || !isVisibleAscii(method) || !isVisibleAscii(pathAndQuery)) {
    throw new TypeError("invalid request line");
  }
  // "METHOD SP target SP HTTP/1.1 CRLF"
  let length = method.length + pathAndQuery.length + 12;
  const list = request.headerList;
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0];
    const value = list[i][1];
    if (isFraming(name)) continue;
    if (!isFieldText(name) || !isFieldText(value)) {
      throw new TypeError(`invalid header ${JSON.stringify(name)}`);
    }
    // "name: value CRLF"
    length += name.length + value.length + 4;
  }
  const contentLength = options.contentLength === undefined
    ? undefined
    : String(options.contentLength);
  length += contentLength === undefined ? CHUNKED_LINE.length : contentLength.length + 18;
  length += (options.keepAlive ? 0 : CLOSE_LINE.length) + 2;
  return { request, contentLength, keepAlive: options.keepAlive, length };
}

/** Writes `text`, one byte per character (checked by planHead), at `out[at]`; returns the end. */
function put(text: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i);
  return at;
}

/** Writes the head into the start of `out` (at least `head.length` bytes). */
function writeHead(head: HeadPlan, out: Uint8Array): Uint8Array {
  const { request } = head;
  let at = put(request.method, out, 0);
  at = put(" ", out, at);
  at = put(request.pathAndQuery, out, at);
  at = put(" HTTP/1.1\r\n", out, at);
  const list = request.headerList;
  for (let i = 0; i < list.length; i++) {
    const name = list[i][0];
    if (isFraming(name)) continue;
    at = put(name, out, at);
    at = put(": ", out, at);
    at = put(list[i][1], out, at);
    at = put("\r\n", out, at);
  }
  if (head.contentLength === undefined) at = put(CHUNKED_LINE, out, at);
  else {
    at = put("content-length: ", out, at);
    at = put(head.contentLength, out, at);
    at = put("\r\n", out, at);
  }
  if (!head.keepAlive) at = put(CLOSE_LINE, out, at);
  if (put("\r\n", out, at) !== head.length) throw new Error("request head length mismatch");
  return out;
}

/** The head as bytes of its own. */
function headBytes(head: HeadPlan): Uint8Array {
  return writeHead(head, new Uint8Array(head.length));
}

/** The smallest write buffer a connection keeps, and the largest. */
const OUT_MIN = 4096;
const OUT_KEPT = 8192;

/**
 * The bytes of a response head as a byte string, one character per byte, as
 * `Headers` wants them (and as fetch and Deno.serve hand them over): UTF-8
 * metadata reaches the client as the bytes the backend sent.
 */
function headText(bytes: Uint8Array): string {
  const text = decoder.decode(bytes);
  // Pure ASCII decodes alike either way; any byte from 0x80 makes the UTF-8
  // decoding non-ASCII (a character or U+FFFD).
  if (!NON_ASCII.test(text)) return text;
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return out;
}

/** Index of the blank line ending a head in `bytes`, or -1. */
function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13
    ) return i + 1;
  }
  return -1;
}

interface ResponseHead {
  status: number;
  statusText: string;
  headers: [string, string][];
  /** The connection may carry another request after this response. */
  keepAlive: boolean;
  /** The first Transfer-Encoding value. */
  transferEncoding?: string;
  /** The Content-Length; null when it is not 1 to 15 digits, or given twice with other values. */
  contentLength?: number | null;
  /** The first Keep-Alive value. */
  keepAliveParams?: string;
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/;
const CONNECTION_CLOSE = /(^|,)\s*close\s*(,|$)/i;
/** A chunk-size (RFC 9112, 7.1), at most 15 hex digits. */
const CHUNK_SIZE = /^[0-9a-fA-F]{1,15}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|,)\s*timeout\s*=\s*(\d+)/i;

/** SP or HTAB, the whitespace around a field's name and value. */
function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/** Parses a response head (without its blank line), its framing headers read on the way. */
function parseHead(text: string): ResponseHead {
  let lineEnd = text.indexOf("\r\n");
  if (lineEnd < 0) lineEnd = text.length;
  const statusLine = text.slice(0, lineEnd);
  const match = STATUS_LINE.exec(statusLine);
  if (match === null) {
    throw new Error(`malformed status line ${JSON.stringify(statusLine.slice(0, 80))}`);
  }
  const head: ResponseHead = {
    status: Number(match[1]),
    statusText: match[2] ?? "",
    headers: [],
    keepAlive: statusLine.startsWith("HTTP/1.1"),
  };
  let firstLength: string | undefined;
  for (let at = lineEnd + 2; at < text.length;) {
    let next = text.indexOf("\r\n", at);
    if (next < 0) next = text.length;
    if (next > at) {
      const colon = text.indexOf(":", at);
      const c = text.charCodeAt(at);
      if (colon <= at || colon >= next || c === 32 || c === 9) {
        throw new Error(
          `malformed header line ${JSON.stringify(text.slice(at, next).slice(0, 80))}`,
        );
      }
      // Trimmed of SP and HTAB only: `trim()` would also eat a UTF-8 byte 0xA0.
      let nameEnd = colon;
      while (isOws(text.charCodeAt(nameEnd - 1))) nameEnd--;
      let valueStart = colon + 1;
      let valueEnd = next;
      while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
      while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
      const name = text.slice(at, nameEnd).toLowerCase();
      const value = text.slice(valueStart, valueEnd);
      if (name === "connection") {
        if (CONNECTION_CLOSE.test(value)) head.keepAlive = false;
      } else if (name === "transfer-encoding") {
        head.transferEncoding ??= value;
      } else if (name === "content-length") {
        if (firstLength === undefined) {
          firstLength = value;
          head.contentLength = decimalLength(value) ?? null;
        } else if (value !== firstLength) head.contentLength = null;
      } else if (name === "keep-alive") {
        head.keepAliveParams ??= value;
      }
      head.headers.push([name, value]);
    }
    at = next + 2;
  }
  return head;
}

async function readHead(socket: Socket, maxHeadBytes: number): Promise<ResponseHead> {
  await skipStray(socket);
  // Interim 1xx answers (100 Continue) are skipped.
  while (true) {
    let buffered = socket.buffered;
    let end = headEnd(buffered);
    while (end < 0) {
      if (!await socket.fill(maxHeadBytes)) throw new ClosedBeforeHeadError();
      buffered = socket.buffered;
      end = headEnd(buffered);
    }
    const head = parseHead(headText(buffered.subarray(0, end - 4)));
    socket.skip(end);
    if (head.status >= 200) return head;
  }
}

/** Whether a Transfer-Encoding value ends with `chunked`, the only framing it may have. */
function endsChunked(transferEncoding: string): boolean {
  return transferEncoding.toLowerCase().split(",").at(-1)?.trim() === "chunked";
}

const HTTP1 = encoder.encode("HTTP/1.");

/**
 * Whether `bytes` start like a response (`HTTP/1.`): undefined while too
 * few have arrived to tell.
 */
function startsLikeResponse(bytes: Uint8Array): boolean | undefined {
  const n = Math.min(bytes.length, HTTP1.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== HTTP1[i]) return false;
  return n === HTTP1.length ? true : undefined;
}

/**
 * The body a response without one by rule declared (see `Stray`),
 * or undefined when it declared none; null when its framing headers are
 * invalid (the connection is then not reused).
 */
function strayOf(head: ResponseHead): Stray | undefined | null {
  if (head.transferEncoding !== undefined) {
    if (!endsChunked(head.transferEncoding)) return null;
    return { chunked: true, remaining: 0, state: "size", started: false };
  }
  const length = head.contentLength;
  if (length === null) return null;
  return length === undefined || length === 0
    ? undefined
    : { chunked: false, remaining: length, state: "data", started: false };
}

/**
 * Drops what is buffered of a stray body: "done" when it is over (what
 * follows is not part of it), "more" when more of it is to come, "bad" when
 * the bytes are not the framing it declared.
 */
function dropStray(socket: Socket, stray: Stray): "done" | "more" | "bad" {
  while (true) {
    const bytes = socket.buffered;
    if (bytes.length === 0) return "more";
    stray.started = true;
    if (!stray.chunked || stray.state === "data") {
      const n = Math.min(bytes.length, stray.remaining);
      socket.skip(n);
      stray.remaining -= n;
      if (stray.remaining > 0) return "more";
      if (!stray.chunked) return "done";
      stray.state = "crlf";
      continue;
    }
    const lf = bytes.indexOf(10);
    if (lf < 0) return bytes.length > 4096 ? "bad" : "more";
    if (lf === 0 || bytes[lf - 1] !== 13) return "bad";
    const line = decoder.decode(bytes.subarray(0, lf - 1));
    socket.skip(lf + 1);
    if (stray.state === "crlf") {
      if (line !== "") return "bad";
      stray.state = "size";
    } else if (stray.state === "size") {
      const size = line.split(";")[0].trim();
      if (!CHUNK_SIZE.test(size)) return "bad";
      stray.remaining = parseInt(size, 16);
      stray.state = stray.remaining === 0 ? "trailer" : "data";
    } else if (line === "") return "done"; // the blank line after the last chunk and trailers
  }
}

/**
 * Drops, while the connection is idle, what arrived of a stray body; false
 * when the buffer holds anything else (an unsolicited answer, garbage):
 * the connection is then closed.
 */
function settleIdle(socket: Socket): boolean {
  if (socket.bufferedLength === 0) return true;
  const stray = socket.stray;
  if (stray === undefined) return false;
  // With no request out, bytes that look like an answer are not a body.
  if (!stray.started && startsLikeResponse(socket.buffered) !== false) return false;
  const result = dropStray(socket, stray);
  if (result === "bad") return false;
  if (result === "done") {
    socket.stray = undefined;
    return socket.bufferedLength === 0;
  }
  return true;
}

/**
 * Before an answer is read on a reused connection: drops the previous
 * answer's stray body if the backend sends one (see `Stray`). The
 * answer starts with `HTTP/1.`; a stray body that has not started yet is
 * told from it by that.
 */
async function skipStray(socket: Socket): Promise<void> {
  const stray = socket.stray;
  if (stray === undefined) return;
  while (true) {
    if (socket.bufferedLength > 0) {
      const response = stray.started ? false : startsLikeResponse(socket.buffered);
      if (response === true) break;
      if (response === false) {
        const result = dropStray(socket, stray);
        if (result === "done") break;
        if (result === "bad") throw new Error("malformed bytes before the response head");
      }
    }
    if (!await socket.fill()) throw new ClosedBeforeHeadError();
  }
  socket.stray = undefined;
}

/** A CRLF-terminated line from the socket (chunked framing), at most 4 KiB. */
async function readLine(socket: Socket): Promise<string> {
  while (true) {
    const buffered = socket.buffered;
    const lf = buffered.indexOf(10);
    if (lf >= 0) {
      if (lf === 0 || buffered[lf - 1] !== 13) throw new Error("chunked framing: bare LF");
      const line = decoder.decode(buffered.subarray(0, lf - 1));
      socket.skip(lf + 1);
      return line;
    }
    if (buffered.length > 4096) throw new Error("chunked framing: line too long");
    if (!await socket.fill()) throw new Error("the backend closed the connection mid-body");
  }
}

/**
 * The chunks of a streamed response body remembered for
 * {@linkcode releaseBodyChunks}: up to this many bytes per body (past that a
 * body's chunks are left to the GC, as all were before).
 */
export const RELEASE_TRACK_MAX = 2 * 1024 * 1024;

/** What a streamed Response's body handed out (see releaseBodyChunks, failedBodyBytes). */
const handedChunks = new WeakMap<Response, HandedChunks>();

/**
 * Counts the bytes a body stream hands out, notes whether it failed, and
 * remembers up to RELEASE_TRACK_MAX bytes of its chunks, weakly: a chunk the
 * GC would have freed anyway is never kept alive.
 */
class HandedChunks {
  readonly chunks: WeakRef<Uint8Array>[] = [];
  /** All bytes handed out. */
  bytes = 0;
  /** The body failed (a ResponseBodyError). */
  failed = false;
  #tracked = 0;
  readonly #release: boolean;
  /** `release: false` counts only: chunks that are not this client's own are never detached. */
  constructor(options: { release: boolean }) {
    this.#release = options.release;
  }
  add(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    if (!this.#release || this.#tracked + chunk.byteLength > RELEASE_TRACK_MAX) return;
    this.#tracked += chunk.byteLength;
    this.chunks.push(new WeakRef(chunk));
  }
}

/**
 * The bytes a response body from this client had handed out when it failed
 * (the backend cut it, reset or mis-framed it, or osp closed the connection
 * on an abort); undefined when it has not failed, or the response is not a
 * streamed one of this client. Deno.serve's `completed` resolves even when
 * the body it was sending failed, so the declared length alone would count
 * bytes that never went out.
 */
export function failedBodyBytes(response: Response): number | undefined {
  const handed = handedChunks.get(response);
  return handed?.failed ? handed.bytes : undefined;
}

/**
 * The Response of another client's streamed body (node:http's), made to fail
 * like this client's: an error of `body` becomes a {@linkcode ResponseBodyError}
 * (`aborted` when `label.aborted()` says osp cut the exchange), and
 * {@linkcode failedBodyBytes} counts what it passed. Its chunks are counted,
 * never released: they may be views of someone else's buffers.
 */
export function labelledAnswer(
  body: ReadableStream<Uint8Array>,
  init: ResponseInit,
  label: BodyLabel & { aborted: () => boolean },
): Response {
  const handed = new HandedChunks({ release: false });
  const reader = body.getReader();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        handed.add(value);
        controller.enqueue(value);
      } catch (err) {
        handed.failed = true;
        const { origin, requestId } = label;
        controller.error(
          new ResponseBodyError(err, { origin, requestId, aborted: label.aborted() }),
        );
      }
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  const answer = new Response(stream, init);
  handedChunks.set(answer, handed);
  return answer;
}

/**
 * Frees at once the memory of the body chunks a streamed response of this
 * client handed out, instead of at V8's next GC: every chunk is a fresh
 * ArrayBuffer, counted as external memory, and a megabyte per answer makes
 * V8 run a full GC every 64 MB (docs/performance.md, "After the second CPU
 * pass"). Each chunk's ArrayBuffer is detached; memory Deno still holds
 * (bytes not yet written) stays alive until Deno drops it.
 *
 * Only for a response whose body was read by nobody but Deno.serve, once
 * Deno.serve has sent it whole (`completed` resolved): a chunk detached
 * earlier, or one another reader keeps, would read as empty. A no-op for
 * other responses, and for a second call.
 */
export function releaseBodyChunks(response: Response): void {
  const chunks = handedChunks.get(response)?.chunks;
  if (chunks === undefined) return;
  for (const ref of chunks) {
    const buffer = ref.deref()?.buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.detached) continue;
    try {
      buffer.transfer(0);
    } catch {
      // Not detachable: left to the GC, as before.
    }
  }
  chunks.length = 0;
}

/** Response body bytes: `length` of them, or chunked, or up to EOF (length -1). */
function bodyStream(
  socket: Socket,
  framing: { chunked: boolean; length: number },
  options: { finished: () => void; handed: HandedChunks; label: BodyLabel },
): ReadableStream<Uint8Array> {
  const { finished, handed, label } = options;
  let remaining = framing.length; // bytes left: whole body, or current chunk when chunked
  let chunkState: "size" | "data" | "crlf" = "size";
  let done = false;
  const available = async (): Promise<boolean> => {
    if (socket.bufferedLength > 0) return true;
    return await socket.fill();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (framing.chunked) {
          if (chunkState === "crlf") {
            if (await readLine(socket) !== "") throw new Error("chunked framing: missing CRLF");
            chunkState = "size";
          }
          if (chunkState === "size") {
            const line = await readLine(socket);
            const size = line.split(";")[0].trim();
            if (!CHUNK_SIZE.test(size)) {
              throw new Error("chunked framing: bad chunk size");
            }
            remaining = parseInt(size, 16);
            if (remaining === 0) {
              while (await readLine(socket) !== "") { /* trailers: dropped */ }
              done = true;
            } else chunkState = "data";
          }
        } else if (remaining === 0) done = true;
        if (done) {
          finished();
          controller.close();
          return;
        }
        if (
          !framing.chunked && remaining >= READ_SIZE && socket.bufferedLength === 0 &&
          !socket.reading
        ) {
          // A large sized body: read straight into a big chunk of its own
          // (fewer, larger chunks for Deno.serve to write; no buffer copy).
          let chunk = new Uint8Array(Math.min(remaining, LARGE_CHUNK));
          let got = 0;
          while (got < chunk.length) {
            const n = await socket.readInto(chunk.subarray(got));
            if (n === null) {
              if (got === 0) throw new Error("the backend closed the connection mid-body");
              // What arrived goes out; the next pull meets the end and fails.
              chunk = chunk.subarray(0, got);
              break;
            }
            got += n;
          }
          remaining -= got;
          handed.add(chunk);
          controller.enqueue(chunk);
          return;
        }
        if (!await available()) {
          if (framing.length < 0) {
            socket.close();
            controller.close();
            return;
          }
          throw new Error("the backend closed the connection mid-body");
        }
        const want = remaining < 0 ? READ_SIZE : Math.min(remaining, READ_SIZE);
        const bytes = socket.take(want);
        if (remaining > 0) remaining -= bytes.length;
        if (framing.chunked && remaining === 0) chunkState = "crlf";
        handed.add(bytes);
        controller.enqueue(bytes);
      } catch (err) {
        // Closed already: by an abort while a read was pending (a cancel
        // leaves the stream closed, and this error unseen).
        const aborted = socket.closed;
        socket.close();
        handed.failed = true;
        controller.error(new ResponseBodyError(err, { ...label, aborted }));
      }
    },
    cancel() {
      socket.close();
    },
  }, { highWaterMark: 1 });
}

function framingOf(
  head: ResponseHead,
  method: string,
): { chunked: boolean; length: number } | null {
  if (method === "HEAD" || NO_BODY_STATUS.has(head.status)) return null;
  const te = head.transferEncoding;
  if (te !== undefined) {
    if (!endsChunked(te)) throw new Error(`unsupported transfer-encoding ${JSON.stringify(te)}`);
    return { chunked: true, length: 0 };
  }
  if (head.contentLength === null) throw new Error("invalid content-length in the response");
  return { chunked: false, length: head.contentLength ?? -1 };
}

async function connect(origin: string, options: Http1Options): Promise<Deno.Conn> {
  const url = new URL(origin);
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const tls = url.protocol === "https:";
  const port = Number(url.port) || (tls ? 443 : 80);
  if (!tls) return await Deno.connect({ hostname, port, signal: abortSignalOf(options.signal) });
  const pending = Deno.connectTls({ hostname, port, caCerts: options.caCerts });
  if (options.signal === undefined) return await pending;
  // connectTls takes no signal: close the connection if it arrives too late.
  const signal = options.signal;
  return await new Promise<Deno.Conn>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    pending.then((conn) => {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) {
        conn.close();
        reject(signal.reason);
      } else resolve(conn);
    }, (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(err);
    });
  });
}

/** Response bodies up to this many bytes are read whole on a pooled connection. */
export const SMALL_BODY_MAX = 64 * 1024;

const bufferedLengths = new WeakMap<Response, number>();

/**
 * The length of a response body this client read whole (bytes, not a
 * stream), or undefined. Reading `response.body` would turn the bytes into a
 * stream, which costs Deno.serve its fast path; this says how much will go
 * out without touching it.
 */
export function bufferedBodyLength(response: Response): number | undefined {
  return bufferedLengths.get(response);
}

/**
 * Idle keep-alive connections, per origin, for requests without a body or
 * with a small one. A connection goes back after its response was read to
 * the end, when the backend did not ask to close it; it is dropped after
 * `idleTimeoutMs` unused (or the backend's `keep-alive: timeout`, less a
 * second, if that is shorter).
 *
 * An idle connection is watched: a read is kept open on it, so one the
 * backend closes, or sends anything unasked on, is dropped at once instead
 * of being handed to the next request (a stray body the previous answer
 * declared, as RGW sends after some HEAD answers, is dropped and the
 * connection kept).
 * A request that still finds its reused connection closed before any byte
 * of an answer is sent again on a new one only when that cannot do twice
 * what the backend may already have done: a GET, HEAD or OPTIONS without a
 * body, or a request of which not a byte went out.
 */
export class Http1Pool {
  #idle = new Map<string, Socket[]>();
  #maxIdle: number;
  #idleMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Creates an empty pool. */
  constructor(options: { maxIdlePerOrigin?: number; idleTimeoutMs?: number } = {}) {
    this.#maxIdle = options.maxIdlePerOrigin ?? 256;
    this.#idleMs = options.idleTimeoutMs ?? 4000;
  }

  /** Idle connections held, over all origins. */
  get idleCount(): number {
    let n = 0;
    for (const list of this.#idle.values()) {
      for (const s of list) if (!s.closed) n++;
    }
    return n;
  }

  /** The most recently returned live connection to `origin`, if any. */
  take(origin: string): Socket | undefined {
    const list = this.#idle.get(origin);
    if (list === undefined) return undefined;
    const now = performance.now();
    while (list.length > 0) {
      const socket = list.pop()!;
      // (Bytes may have arrived since the watch last looked: checked again.)
      if (
        socket.closed || socket.ended || now - socket.idleSince > socket.idleLimit ||
        !settleIdle(socket)
      ) {
        socket.close();
        continue;
      }
      socket.claim();
      return socket;
    }
    return undefined;
  }

  /** Takes a connection back; anything in doubt is closed instead. */
  give(origin: string, socket: Socket, options: { idleLimitMs?: number } = {}): void {
    socket.resetForReuse();
    if (socket.closed || socket.ended || this.#maxIdle <= 0 || !settleIdle(socket)) {
      socket.close();
      return;
    }
    socket.idle = true;
    socket.idleSince = performance.now();
    socket.idleLimit = Math.min(this.#idleMs, options.idleLimitMs ?? Infinity);
    let list = this.#idle.get(origin);
    if (list === undefined) this.#idle.set(origin, list = []);
    list.push(socket);
    if (list.length > this.#maxIdle) list.shift()!.close();
    this.#watch(origin, socket);
    if (this.#timer === undefined) {
      const timer = setInterval(() => this.#sweep(), Math.max(250, this.#idleMs / 2));
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Keeps a read open on an idle connection (see the class doc). */
  #watch(origin: string, socket: Socket): void {
    socket.readAhead().then((more) => {
      // Taken meanwhile: the request reads on from what arrived.
      if (!socket.idle || socket.closed) return;
      if (more && settleIdle(socket)) this.#watch(origin, socket);
      else this.#drop(origin, socket);
    }, () => {
      if (socket.idle) this.#drop(origin, socket);
    });
  }

  /** Closes an idle connection and forgets it. */
  #drop(origin: string, socket: Socket): void {
    socket.close();
    const list = this.#idle.get(origin);
    const at = list?.indexOf(socket) ?? -1;
    if (at >= 0) list!.splice(at, 1);
  }

  #sweep(): void {
    const now = performance.now();
    for (const [origin, list] of this.#idle) {
      const kept = list.filter((s) => {
        if (!s.closed && now - s.idleSince <= s.idleLimit) return true;
        s.close();
        return false;
      });
      if (kept.length === 0) this.#idle.delete(origin);
      else this.#idle.set(origin, kept);
    }
    if (this.#idle.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Closes every idle connection. */
  close(): void {
    for (const list of this.#idle.values()) for (const s of list) s.close();
    this.#idle.clear();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** `keep-alive: timeout=N` of a response, in ms less a second of margin. */
function keepAliveLimit(head: ResponseHead): number | undefined {
  const value = head.keepAliveParams;
  const match = value === undefined ? null : KEEP_ALIVE_TIMEOUT.exec(value);
  return match === null ? undefined : Math.max(0, Number(match[1]) * 1000 - 1000);
}

/**
 * Reads a small body of exactly `length` bytes; rejects when it is longer or
 * shorter, or when `signal` aborts (the body is then cancelled).
 */
async function readWhole(
  body: ReadableStream<Uint8Array>,
  length: number,
  signal: AbortLike | undefined,
): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let got = 0;
  const reader = body.getReader();
  const onAbort = () => reader.cancel(signal!.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort);
  try {
    while (true) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (done) break;
      if (got + value.length > length) {
        throw new Error(`the body is longer than its Content-Length ${length}`);
      }
      out.set(value, got);
      got += value.length;
    }
    if (got !== length) throw new Error(`the body ended at ${got} of ${length} bytes`);
    return out;
  } catch (err) {
    reader.cancel(err).catch(() => {});
    throw err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** A body of the bytes that arrived, then failing with `err`. */
function cutShort(bytes: Uint8Array, err: unknown): ReadableStream<Uint8Array> {
  let sent = bytes.length === 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return controller.error(err);
      sent = true;
      controller.enqueue(bytes);
    },
  }, { highWaterMark: 0 });
}

/** A request without a body, or with a small one, over a pooled keep-alive connection. */
async function sendPooled(
  request: Http1Request,
  options: Http1Options,
  pool: Http1Pool,
): Promise<Response> {
  const signal = options.signal;
  signal?.throwIfAborted();
  let payload: Uint8Array | undefined;
  if (options.body !== null) {
    options.onProgress?.("written"); // waiting on the client's body
    try {
      payload = await readWhole(options.body, options.contentLength!, signal);
    } catch (err) {
      throw new BodySourceError(err);
    }
    options.onProgress?.("read");
  }
  const head = planHead(request, { contentLength: payload?.length ?? 0, keepAlive: true });
  // Sent again after a lost connection only if doing it twice is harmless.
  const replayable = payload === undefined && SAFE_METHODS.has(request.method);
  for (let attempt = 0;; attempt++) {
    // A retry never takes another idle connection: they are likely as stale.
    const reused = attempt === 0 ? pool.take(request.origin) : undefined;
    const socket = reused ?? new Socket(await connect(request.origin, options));
    const onAbort = () => socket.close();
    const detach = () => signal?.removeEventListener("abort", onAbort);
    if (signal !== undefined) {
      if (signal.aborted) socket.close();
      signal.addEventListener("abort", onAbort);
      socket.onClose(detach);
    }
    let response: ResponseHead;
    let framing: { chunked: boolean; length: number } | null;
    try {
      await socket.writeMessage(head, payload);
      options.onProgress?.("written");
      options.onBodySent?.();
      response = await readHead(socket, options.maxHeadBytes ?? 64 * 1024);
      framing = framingOf(response, request.method);
    } catch (err) {
      socket.close();
      if (signal?.aborted) throw err;
      // Nothing went out: the backend saw nothing of this request.
      if (socket.sent === 0) {
        if (reused !== undefined) continue;
        throw err;
      }
      // The backend had closed the idle connection: nothing of an answer
      // came. It may still have read the request: sent again only if safe.
      if (
        reused !== undefined && replayable && socket.received === 0 && connectionLost(err)
      ) continue;
      throw new NoResponseError(err);
    }
    // A stray body the answer may still be followed by is dropped before the
    // next answer on this connection (see Stray); one of invalid framing
    // makes the connection unfit for another.
    const stray = framing === null ? strayOf(response) : undefined;
    socket.stray = stray ?? undefined;
    const reusable = response.keepAlive && stray !== null &&
      (framing === null || framing.length >= 0 || framing.chunked);
    const finished = () => {
      detach();
      if (reusable && !socket.closed) {
        pool.give(request.origin, socket, { idleLimitMs: keepAliveLimit(response) });
      } else socket.close();
    };
    if (framing === null || (!framing.chunked && framing.length === 0)) {
      finished();
    } else if (!framing.chunked && framing.length > 0 && framing.length <= SMALL_BODY_MAX) {
      let cut: unknown;
      try {
        while (socket.bufferedLength < framing.length) {
          if (!await socket.fill(READ_SIZE + SMALL_BODY_MAX)) {
            cut = new Error("the backend closed the connection mid-body");
            break;
          }
        }
      } catch (err) {
        cut = err;
      }
      if (cut === undefined) {
        // The Response copies a byte body as it is made (Fetch: "extract a
        // body"), before the connection can read into its buffer again.
        const answer = answerOf(response, socket.bufferedBytes(framing.length), options);
        socket.skip(framing.length);
        finished();
        bufferedLengths.set(answer, framing.length);
        return answer;
      } else {
        socket.close();
        if (signal?.aborted) throw cut;
        // The answer came, its body cut short: it goes out as far as it
        // came and then fails, as a streamed one would.
        const arrived = socket.take(framing.length);
        const answer = answerOf(
          response,
          cutShort(
            arrived,
            new ResponseBodyError(cut, {
              origin: request.origin,
              requestId: options.requestId,
              aborted: false,
            }),
          ),
          options,
        );
        const handed = new HandedChunks({ release: true });
        handed.add(arrived);
        handed.failed = true;
        handedChunks.set(answer, handed);
        return answer;
      }
    } else {
      return streamedAnswer(response, {
        socket,
        framing,
        finished,
        dropHeaders: options.dropHeaders,
        label: { origin: request.origin, requestId: options.requestId },
      });
    }
    return answerOf(response, null, options);
  }
}

/** The Response of a head and its body streamed from the socket (see releaseBodyChunks). */
function streamedAnswer(
  head: ResponseHead,
  options: {
    socket: Socket;
    framing: { chunked: boolean; length: number };
    finished: () => void;
    dropHeaders?: ReadonlySet<string>;
    label: BodyLabel;
  },
): Response {
  const handed = new HandedChunks({ release: true });
  const body = bodyStream(options.socket, options.framing, {
    finished: options.finished,
    handed,
    label: options.label,
  });
  const answer = answerOf(head, body, options);
  handedChunks.set(answer, handed);
  return answer;
}

/** The Response of a head and its body, without the headers `options.dropHeaders` names. */
function answerOf(
  head: ResponseHead,
  body: ReadableStream<Uint8Array> | Uint8Array | null,
  options: { dropHeaders?: ReadonlySet<string> },
): Response {
  const drop = options.dropHeaders;
  // The headers are appended to the new Response's own: Deno takes 4.7 µs to
  // make a Response from bytes and six headers given in its init, against
  // 1.9 µs for the bytes alone and then six appends (`deno bench`, each in a
  // process of its own), with the same checks on every name and value.
  const answer = new Response(body as BodyInit | null, {
    status: head.status,
    statusText: head.statusText,
  });
  const headers = answer.headers;
  const list = head.headers;
  for (let i = 0; i < list.length; i++) {
    if (drop === undefined || !drop.has(list[i][0])) headers.append(list[i][0], list[i][1]);
  }
  return answer;
}

/**
 * Sends one request (over a new connection, or a pooled one for a bodiless
 * request when `pool` is given) and resolves with the response as
 * soon as its head arrives; the response body streams from the socket. The
 * request body keeps streaming meanwhile; if the backend answers early, what
 * is left of it is cancelled.
 */
export function sendHttp1(request: Http1Request, options: Http1Options): Promise<Response> {
  if (options.body === null && (options.contentLength ?? 0) !== 0) {
    return Promise.reject(new TypeError("contentLength without a body"));
  }
  // (Not an async function: a pooled request goes straight on, without one more promise.)
  if (
    options.pool !== undefined &&
    (options.body === null ||
      (options.contentLength !== undefined && options.contentLength <= SMALL_BODY_MAX))
  ) {
    return sendPooled(request, options, options.pool);
  }
  return sendOwnConnection(request, options);
}

/** A request over a connection of its own, closed after the answer. */
async function sendOwnConnection(
  request: Http1Request,
  options: Http1Options,
): Promise<Response> {
  const contentLength = options.body === null ? 0 : options.contentLength;
  const chunked = contentLength === undefined;
  const head = headBytes(planHead(request, { contentLength, keepAlive: false }));
  const socket = new Socket(await connect(request.origin, options));
  const signal = options.signal;
  const onAbort = () => socket.close();
  if (signal !== undefined) {
    if (signal.aborted) socket.close();
    signal.addEventListener("abort", onAbort);
    socket.onClose(() => signal.removeEventListener("abort", onAbort));
  }

  let bodyError: { error: unknown } | undefined;
  const reader = options.body ? bodyReader(options.body, options.reuseBuffer === true) : undefined;
  const progress = options.onProgress ?? (() => {});
  let writeDone = false;
  // The connection closed with the body unsent (failure, abort, early
  // answer): release the body source, which may be waiting on a stalled client.
  socket.onClose(() => {
    if (!writeDone) reader?.cancel(new Error("the upstream connection closed")).catch(() => {});
  });
  const writing = (async () => {
    await socket.writeAll(head);
    progress("written");
    if (reader === undefined) {
      writeDone = true;
      options.onBodySent?.();
      return;
    }
    let sent = 0;
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
        if (contentLength !== undefined) {
          if (!result.done && sent + result.value.length > contentLength) {
            throw new Error(`the body is longer than its Content-Length ${contentLength}`);
          }
          if (result.done && sent !== contentLength) {
            throw new Error(`the body ended at ${sent} of ${contentLength} bytes`);
          }
        }
      } catch (err) {
        // The body failed: cut the connection before the last byte goes out,
        // so the backend never completes the request.
        bodyError = { error: err };
        socket.close();
        return;
      }
      if (result.done) {
        if (chunked) await socket.writeAll(LAST_CHUNK);
        writeDone = true;
        options.onBodySent?.();
        return;
      }
      const bytes = result.value;
      if (bytes.length === 0) continue;
      progress("read");
      sent += bytes.length;
      if (chunked) await socket.writeAll(encoder.encode(`${bytes.length.toString(16)}\r\n`));
      await socket.writeAll(bytes);
      // Written: a pooled block under these bytes may carry the next ones.
      releaseBlock(bytes);
      if (chunked) await socket.writeAll(CRLF);
      progress("written");
    }
  })().catch((err) => {
    // A write failed: the backend answered early and closed, or the
    // connection broke (the response read reports it). Stop reading the body.
    reader?.cancel(err).catch(() => {});
  });

  let response: ResponseHead;
  try {
    response = await readHead(socket, options.maxHeadBytes ?? 64 * 1024);
  } catch (err) {
    socket.close();
    await writing;
    if (bodyError !== undefined) throw new BodySourceError(bodyError.error);
    if (socket.sent === 0 || signal?.aborted) throw err;
    throw new NoResponseError(err);
  }
  let framing: { chunked: boolean; length: number } | null;
  try {
    framing = framingOf(response, request.method);
  } catch (err) {
    socket.close();
    throw new NoResponseError(err);
  }
  if (framing === null || (!framing.chunked && framing.length === 0)) {
    // With nothing to read the exchange is over: a request body still
    // streaming (an early answer) is cancelled by the failing write.
    socket.close();
    return answerOf(response, null, options);
  }
  return streamedAnswer(response, {
    socket,
    framing,
    finished: () => socket.close(),
    dropHeaders: options.dropHeaders,
    label: { origin: request.origin, requestId: options.requestId },
  });
}
