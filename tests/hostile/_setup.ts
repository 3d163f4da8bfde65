// Shared setup for the hostile suite: a proxy in front of a counting backend
// (path style, no TLS), a validator that records what it was asked, raw
// socket helpers for requests `fetch` would refuse or normalise, S3 error
// parsing, a seeded PRNG and an unhandled-rejection recorder.
import assert from "node:assert/strict";
import net from "node:net";
import { type BucketConfig, type ProxyConfig, type ProxyServer, serve } from "../../mod.ts";
import type { ValidatorRequest } from "../../lib/config/config.ts";
import type { ChunkedMode } from "../../lib/sigv4/constants.ts";
import { encodeChunked } from "../../lib/body/aws_chunked_encoder.ts";
import { type ChecksumAlgorithm, checksumBase64 } from "../../lib/body/checksums.ts";
import {
  amzDate,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  deriveSigningKey,
  parseRawQuery,
  signature,
  stringToSign,
  UNSIGNED_PAYLOAD,
  uriEncode,
} from "../../lib/sigv4/sigv4.ts";
import { type CountingBackend, countingBackend, type SeenRequest } from "../_backend.ts";
import { signHeaders } from "../_sign.ts";
import { MODE_VALUE } from "../_chunked.ts";

/** The client key every valid request uses. */
export const CLIENT = { accessKey: "hostile-ak", secretKey: "hostile-secret" };
/** A known key the default validator allows nothing. */
export const NOBODY = { accessKey: "nobody-ak", secretKey: "nobody-secret" };

/** One validator call. */
export interface ValidatorCall {
  token: string | null;
  bucket: string;
  request: ValidatorRequest;
}

export interface HostileEnv {
  backend: CountingBackend;
  proxy: ProxyServer;
  port: number;
  base: string;
  /** Validator calls, in order (buckets have ttl 0: nothing is cached). */
  calls: ValidatorCall[];
  /** osp's JSON log lines while this env is open (console output is captured, not printed). */
  logs: Record<string, unknown>[];
  /** Other console output while this env is open (e.g. Deno printing a failed response stream). */
  stray: string[];
  /** `base + path`. */
  url(path: string): string;
  /** A valid signed GET still gets 200 from the backend; its traces are removed afterwards. */
  healthy(): Promise<void>;
  close(): Promise<void>;
}

export interface SetupOptions {
  /** Extra or replacement buckets; `backendPort` is filled in for host "127.0.0.1" entries without a port. */
  cosMap?: Record<string, Partial<BucketConfig>>;
  /** Replaces the default validator (the calls are still recorded). */
  validator?: (token: string | null, bucket: string, request: ValidatorRequest) => unknown;
  /** Other config fields. */
  config?: Partial<ProxyConfig>;
  /** Use this backend instead of a fresh counting backend. */
  backend?: CountingBackend;
}

export function bucketOn(port: number, name: string, extra: Partial<BucketConfig> = {}) {
  return {
    host: "127.0.0.1",
    port,
    tls: false,
    addressingStyle: "path" as const,
    accessKey: "backend-ak",
    secretKey: "backend-secret",
    backendBucket: `be-${name}`,
    ttl: 0,
    ...extra,
  };
}

export const HEALTH_KEY = "__healthy__";

/** Captures console.log/console.error until `restore()`: JSON lines are parsed. */
function captureConsole(logs: Record<string, unknown>[], stray: string[]): () => void {
  const original = { log: console.log, error: console.error };
  const capture = (...args: unknown[]) => {
    const text = args.map((a) => (typeof a === "string" ? a : Deno.inspect(a))).join(" ");
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed === "object" && "level" in parsed) {
        logs.push(parsed);
        return;
      }
    } catch { /* not a log line */ }
    stray.push(text);
  };
  console.log = capture;
  console.error = capture;
  return () => {
    console.log = original.log;
    console.error = original.error;
  };
}

export function setup(options: SetupOptions = {}): HostileEnv {
  const logs: Record<string, unknown>[] = [];
  const stray: string[] = [];
  const restoreConsole = captureConsole(logs, stray);
  const backend = options.backend ?? countingBackend();
  const calls: ValidatorCall[] = [];
  const cosMap: Record<string, BucketConfig> = {
    data: bucketOn(backend.port, "data"),
    other: bucketOn(backend.port, "other"),
  };
  for (const [name, b] of Object.entries(options.cosMap ?? {})) {
    cosMap[name] = { ...bucketOn(backend.port, name), ...b } as BucketConfig;
  }
  const decide = options.validator ??
    ((token: string | null) => token !== NOBODY.accessKey);
  const proxy = serve({
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: "error",
    hmacKeystore: [CLIENT, NOBODY],
    cosMap,
    validator: (token, bucket, request) => {
      calls.push({ token, bucket, request });
      return decide(token, bucket, request) as boolean;
    },
    ...options.config,
  });
  const port = proxy.http!.port;
  const base = `http://127.0.0.1:${port}`;
  const env: HostileEnv = {
    backend,
    proxy,
    port,
    base,
    calls,
    logs,
    stray,
    url: (path) => base + path,
    async healthy() {
      const url = `${base}/data/${HEALTH_KEY}`;
      const before = backend.requests.length;
      const res = await fetch(url, { headers: signHeaders("GET", url, CLIENT) });
      const text = await res.text();
      assert.equal(res.status, 200, `the proxy is healthy: ${text}`);
      assert.equal(text, "backend-ok");
      assert.equal(backend.requests.length, before + 1);
      forgetHealth(env);
    },
    async close() {
      try {
        await proxy.shutdown();
        if (options.backend === undefined) await backend.close();
      } finally {
        restoreConsole();
      }
    },
  };
  return env;
}

function forgetHealth(env: HostileEnv): void {
  const isHealth = (url: string) => url.endsWith(`/${HEALTH_KEY}`);
  for (let i = env.backend.requests.length - 1; i >= 0; i--) {
    if (isHealth(env.backend.requests[i].url)) env.backend.requests.splice(i, 1);
  }
  for (let i = env.calls.length - 1; i >= 0; i--) {
    if (env.calls[i].request.key === HEALTH_KEY) env.calls.splice(i, 1);
  }
}

/** Waits a little for backend bookkeeping (a cut-off body is noted when the read fails). */
export function settle(ms = 50): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The backend request path (raw, as the backend saw it). */
export function backendPath(url: string): string {
  const u = url.replace(/^https?:\/\/[^/]+/, "");
  const q = u.indexOf("?");
  return q < 0 ? u : u.slice(0, q);
}

/** The backend request query (raw, without `?`). */
export function backendQuery(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? "" : url.slice(q + 1);
}

/**
 * Checks the backend signature of a forwarded request against what the
 * backend actually received (raw path and query, headers): what osp signed
 * is what it sent. Returns the credential's access key.
 */
export function assertBackendSigned(
  seen: SeenRequest,
  secretKey = "backend-secret",
): string {
  const auth = seen.headers.get("authorization") ?? "";
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/
      .exec(auth);
  assert.ok(m, `a SigV4 Authorization to the backend: ${auth}`);
  const [, accessKey, date, region, signedHeaders, sig] = m;
  const datetime = seen.headers.get("x-amz-date")!;
  const scope = { date, region, service: "s3" };
  const canonical = canonicalRequest({
    method: seen.method,
    uri: canonicalUri(backendPath(seen.url)),
    query: canonicalQuery(parseRawQuery(backendQuery(seen.url))),
    header: (n) => seen.headers.get(n),
    signedHeaders: signedHeaders.split(";"),
    payloadHash: seen.headers.get("x-amz-content-sha256")!,
  });
  const expected = signature(
    deriveSigningKey(secretKey, scope),
    stringToSign(canonical, { datetime, scope }),
  );
  assert.equal(sig, expected, `the backend signature covers what was sent: ${seen.url}`);
  return accessKey;
}

// ---------------------------------------------------------------------------
// S3 errors

export interface S3ErrorInfo {
  status: number;
  code: string;
  message: string;
  text: string;
}

/** Reads an S3 XML error response (asserts the XML shape and the request id). */
export async function s3Error(res: Response): Promise<S3ErrorInfo> {
  const text = await res.text();
  assert.equal(res.headers.get("content-type"), "application/xml", `${res.status} ${text}`);
  assert.ok(res.headers.get("x-amz-request-id"), "x-amz-request-id is set");
  return parseErrorXml(res.status, text);
}

export function parseErrorXml(status: number, text: string): S3ErrorInfo {
  assert.match(text, /^<\?xml[^>]*>\s*<Error>.*<\/Error>$/s, `an S3 XML error: ${text}`);
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? "";
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? "";
  return { status, code, message, text };
}

/** Asserts an S3 XML error with this status and code. */
export async function expectError(
  res: Response | Promise<Response>,
  status: number,
  code: string,
): Promise<S3ErrorInfo> {
  const err = await s3Error(await res);
  assert.equal(err.status, status, `${err.code}: ${err.message}`);
  assert.equal(err.code, code, err.message);
  return err;
}

// ---------------------------------------------------------------------------
// Raw sockets

const LATIN1 = new TextDecoder("latin1");
const enc = (s: string | Uint8Array) => typeof s === "string" ? Buffer.from(s, "latin1") : s;

/** A raw TCP connection that collects everything it receives. */
export class RawConn {
  readonly socket: net.Socket;
  readonly connected: Promise<void>;
  #chunks: Uint8Array[] = [];
  #waiters: (() => void)[] = [];
  closed = false;
  error: Error | undefined;

  constructor(port: number, host = "127.0.0.1") {
    this.socket = net.connect(port, host);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
    this.connected.catch(() => {});
    this.socket.on("data", (d: Uint8Array) => {
      this.#chunks.push(d);
      this.#wake();
    });
    this.socket.on("error", (e) => {
      this.error = e;
      this.#wake();
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Everything received so far, as latin1 text. */
  text(): string {
    return LATIN1.decode(Buffer.concat(this.#chunks));
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.#chunks);
  }

  /** Writes and waits until the data is handed to the kernel (false if the socket failed). */
  write(data: string | Uint8Array): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.socket.write(enc(data), (err) => resolve(!err));
    });
  }

  /** Waits until `done(text)` holds, the socket closes, or the timeout passes. */
  async waitFor(done: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.text()) && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.text();
  }

  /** Waits for one complete response (or close). */
  async response(timeoutMs = 5000): Promise<RawResponse | undefined> {
    await this.waitFor((t) => parseResponse(t, { skipInterim: true }) !== undefined, timeoutMs);
    return parseResponse(this.text(), { skipInterim: true });
  }

  /** Half-closes (FIN). */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Destroys the socket and waits for its close. */
  async close(): Promise<void> {
    if (!this.closed) {
      const closed = new Promise((r) => this.socket.once("close", r));
      this.socket.destroy();
      await closed;
    }
  }
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
  /** Bytes of the raw text the response used. */
  length: number;
}

/** Parses one HTTP/1.1 response from raw text, or undefined when it is not complete yet. */
export function parseResponse(
  text: string,
  options: { skipInterim?: boolean } = {},
): RawResponse | undefined {
  let rest = text;
  let offset = 0;
  while (true) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return undefined;
    const lines = rest.slice(0, end).split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
    assert.ok(status > 0, `a status line: ${JSON.stringify(lines[0])}`);
    const headers = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    const bodyStart = end + 4;
    if (status >= 100 && status < 200) {
      if (!options.skipInterim) return { status, headers, body: "", length: offset + bodyStart };
      rest = rest.slice(bodyStart);
      offset += bodyStart;
      continue;
    }
    const cl = headers.get("content-length");
    if (cl !== null) {
      const n = Number(cl);
      if (rest.length - bodyStart < n) return undefined;
      return {
        status,
        headers,
        body: rest.slice(bodyStart, bodyStart + n),
        length: offset + bodyStart + n,
      };
    }
    if ((headers.get("transfer-encoding") ?? "").includes("chunked")) {
      let pos = bodyStart;
      let body = "";
      while (true) {
        const eol = rest.indexOf("\r\n", pos);
        if (eol < 0) return undefined;
        const size = parseInt(rest.slice(pos, eol), 16);
        if (size === 0) {
          const fin = rest.indexOf("\r\n", eol + 2);
          if (fin < 0) return undefined;
          return { status, headers, body, length: offset + fin + 2 };
        }
        if (rest.length < eol + 2 + size + 2) return undefined;
        body += rest.slice(eol + 2, eol + 2 + size);
        pos = eol + 2 + size + 2;
      }
    }
    return { status, headers, body: "", length: offset + bodyStart };
  }
}

/** Request head text: request line, headers (a header may repeat), empty line. */
export function requestHead(
  method: string,
  target: string,
  headers: Record<string, string> | [string, string][],
): string {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  return `${method} ${target} HTTP/1.1\r\n` +
    pairs.map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
}

/**
 * Sends one raw request (head and optional body) on a fresh connection with
 * `connection: close` and returns the parsed response (undefined when the
 * server closed without one).
 */
export async function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> | [string, string][],
  body?: string | Uint8Array,
  timeoutMs = 5000,
): Promise<RawResponse | undefined> {
  const pairs: [string, string][] = Array.isArray(headers) ? headers : Object.entries(headers);
  const has = (name: string) => pairs.some(([k]) => k.toLowerCase() === name);
  const withClose = has("connection")
    ? [...pairs]
    : [...pairs, ["connection", "close"] as [string, string]];
  if (body !== undefined && !has("content-length") && !has("transfer-encoding")) {
    withClose.push(["content-length", String(enc(body).length)]);
  }
  const conn = new RawConn(port);
  try {
    await conn.connected;
    await conn.write(requestHead(method, target, withClose));
    if (body !== undefined) await conn.write(body);
    return await conn.response(timeoutMs);
  } finally {
    await conn.close();
  }
}

/** Signed headers for a raw request to `target` on the proxy (host included). */
export function signRaw(
  method: string,
  port: number,
  target: string,
  options: Omit<Parameters<typeof signHeaders>[2], "accessKey" | "secretKey"> & {
    accessKey?: string;
    secretKey?: string;
  } = {},
): Record<string, string> {
  return signHeaders(method, `http://127.0.0.1:${port}${target}`, { ...CLIENT, ...options });
}

// ---------------------------------------------------------------------------
// Presigned URLs with every field under the test's control

export interface PresignOptions {
  accessKey?: string;
  secretKey?: string;
  /** Raw X-Amz-Expires value. */
  expires?: string;
  time?: number;
  /** Raw X-Amz-Credential value (before URI encoding); default the right one. */
  credential?: string;
  /** Raw X-Amz-Date; default from `time`. */
  date?: string;
  signedHeaders?: string;
  /** Edits the final signature. */
  editSignature?: (sig: string) => string;
  /** Host to sign; default the URL's. */
  host?: string;
}

/** A presigned URL signed correctly over whatever (possibly invalid) fields it carries. */
export function presign(method: string, url: string, options: PresignOptions = {}): string {
  const m = /^https?:\/\/([^/?]+)([^?]*)(?:\?(.*))?$/.exec(url)!;
  const host = options.host ?? m[1];
  const rawPath = m[2] || "/";
  const rawQuery = m[3] ?? "";
  const time = options.time ?? Date.now();
  const datetime = options.date ?? amzDate(time);
  const scope = { date: amzDate(time).slice(0, 8), region: "us-east-1", service: "s3" };
  const key = { ...CLIENT, ...options };
  const credential = options.credential ??
    `${key.accessKey}/${scope.date}/${scope.region}/s3/aws4_request`;
  const q = [
    rawQuery,
    `X-Amz-Algorithm=AWS4-HMAC-SHA256`,
    `X-Amz-Credential=${uriEncode(credential)}`,
    `X-Amz-Date=${uriEncode(datetime)}`,
    `X-Amz-Expires=${uriEncode(options.expires ?? "300")}`,
    `X-Amz-SignedHeaders=${uriEncode(options.signedHeaders ?? "host")}`,
  ].filter((s) => s !== "").join("&");
  const signed = (options.signedHeaders ?? "host").split(";");
  const canonical = canonicalRequest({
    method,
    uri: canonicalUri(rawPath),
    query: canonicalQuery(parseRawQuery(q)),
    header: (n) => (n === "host" ? host : null),
    signedHeaders: signed,
    payloadHash: UNSIGNED_PAYLOAD,
  });
  let sig = signature(
    deriveSigningKey(key.secretKey, scope),
    stringToSign(canonical, { datetime, scope }),
  );
  if (options.editSignature) sig = options.editSignature(sig);
  return `${url.split("?")[0]}?${q}&X-Amz-Signature=${sig}`;
}

// ---------------------------------------------------------------------------
// aws-chunked uploads

export interface FramedOptions {
  mode: ChunkedMode;
  data: Uint8Array;
  chunkSize: number;
  checksum?: ChecksumAlgorithm;
  /** The x-amz-decoded-content-length header: default the data length; null leaves it out. */
  decodedLength?: string | null;
}

/** Signed headers and a valid framed body for an aws-chunked PUT to `url`. */
export function framedPut(
  url: string,
  options: FramedOptions,
): { headers: Record<string, string>; body: Uint8Array<ArrayBuffer> } {
  const time = Date.now();
  const datetime = amzDate(time);
  const scope = { date: datetime.slice(0, 8), region: "us-east-1", service: "s3" };
  const trailerName = options.checksum ? `x-amz-checksum-${options.checksum}` : undefined;
  const extra: Record<string, string> = { "content-encoding": "aws-chunked" };
  const declared = options.decodedLength === undefined
    ? String(options.data.length)
    : options.decodedLength;
  if (declared !== null) extra["x-amz-decoded-content-length"] = declared;
  if (trailerName) extra["x-amz-trailer"] = trailerName;
  const headers = signHeaders("PUT", url, {
    ...CLIENT,
    time,
    payloadHash: MODE_VALUE[options.mode],
    headers: extra,
  });
  const seedSignature = /Signature=([0-9a-f]{64})/.exec(headers.authorization)![1];
  const body = encodeChunked(options.data, {
    chunkSize: options.chunkSize,
    mode: options.mode,
    signing: options.mode === "streaming-unsigned-trailer" ? undefined : {
      signingKey: deriveSigningKey(CLIENT.secretKey, scope),
      datetime,
      scope,
      seedSignature,
    },
    trailers: trailerName
      ? { [trailerName]: checksumBase64(options.checksum!, options.data) }
      : undefined,
  });
  delete headers.host;
  return { headers, body: body.slice() };
}

// ---------------------------------------------------------------------------
// Misc

/** mulberry32: a small seeded PRNG, returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function bytesEqual(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Records unhandled promise rejections (and prevents them from killing the test run). */
export function recordUnhandled(): { reasons: unknown[]; stop(): void } {
  const reasons: unknown[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    reasons.push(e.reason);
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    reasons.push(e.error ?? e.message);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return {
    reasons,
    stop() {
      globalThis.removeEventListener("unhandledrejection", onRejection);
      globalThis.removeEventListener("error", onError);
    },
  };
}

/** A TCP port nobody listens on (bound, then closed). */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export { signHeaders };
