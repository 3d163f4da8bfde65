// Load generator for bench/e2e.ts, in its own process: raw HTTP/1.1 over TCP
// (keep-alive, one connection per concurrent worker), every request
// SigV4-signed here (unless the job says `unsigned`), every GET body checked.
//
// Driven over stdin/stdout: one JSON command per line in, one JSON result per
// line out (see `Job` and `Result`). `{"cmd":"exit"}` ends it.
//   deno run --allow-net bench/load.ts
//
// Body checks: GET bodies are compared byte for byte (memcmp) against the
// no-op backend's pattern (byte at offset o is (o*31+7) & 0xff), their length
// against the request's size, and on a sample of requests (`hashEvery`) their
// SHA-256 against the pattern's. PUT answers must be 200 with the ETag the
// no-op backend derives from the byte count it received (`"<n>"`).
import { Buffer } from "node:buffer";
import { spawnDeno } from "./_procs.ts";
import { createHash, type Hash } from "node:crypto";
import {
  amzDate,
  authorizationHeader,
  canonicalRequest,
  canonicalUri,
  EMPTY_SHA256,
  sha256Hex,
  signature,
  SigningKeyCache,
  stringToSign,
  UNSIGNED_PAYLOAD,
} from "../lib/sigv4/sigv4.ts";
import { signHeaders } from "../tests/_sign.ts";

/** One measurement asked of the generator. */
export interface Job {
  cmd: "run";
  method: "GET" | "PUT";
  host: string;
  port: number;
  /** Object path, `/<bucket>/<key>`; the key's trailing digits are the size for the no-op backend. */
  path: string;
  size: number;
  accessKey: string;
  secretKey: string;
  region?: string;
  concurrency: number;
  /** Run until this many ms have passed (checked between requests)… */
  durationMs?: number;
  /** …or for exactly this many requests. */
  count?: number;
  /** SHA-256 every n-th GET body (0 = never; 1 = every one). */
  hashEvery: number;
  /** PUT payload hash mode: the body's hex SHA-256, or UNSIGNED-PAYLOAD. */
  putPayload?: "sha256" | "unsigned";
  /** Expected ETag on PUT answers; default `"<size>"` (the no-op backend's). */
  expectEtag?: string | null;
  /** Send no SigV4 headers at all (for peers that verify nothing from clients). */
  unsigned?: boolean;
}

/**
 * A job for the no-op backend's `bench` bucket as the bench proxies serve it
 * (bench/proxy_process.ts): 1 KiB GETs signed with the bench client's key,
 * at `port`, with `fields` on top.
 */
export function benchJob(port: number, fields: Partial<Job> = {}): Job {
  return {
    cmd: "run",
    method: "GET",
    host: "127.0.0.1",
    port,
    path: "/bench/obj-1024",
    size: 1024,
    accessKey: "bench-client",
    secretKey: "bench-client-secret",
    concurrency: 16,
    hashEvery: 0,
    putPayload: "unsigned",
    ...fields,
  };
}

/** A load generator (this file) in a process of its own, taking one job at a time. */
export interface LoadGenerator {
  /** Its process id, for CPU accounting. */
  readonly pid: number;
  /** Runs `job`; rejects when the generator reports a fatal error. */
  run(job: Job): Promise<Result>;
  /** Asks the generator to exit and waits until it has. */
  exit(): Promise<void>;
}

/** Starts this file as a load generator process (`deno run --allow-net`). */
export async function startLoadGenerator(): Promise<LoadGenerator> {
  const proc = await spawnDeno(["run", "--allow-net", new URL(import.meta.url).pathname], {
    stdin: true,
  });
  const input = proc.child.stdin.getWriter();
  const send = (message: object) =>
    input.write(new TextEncoder().encode(JSON.stringify(message) + "\n"));
  return {
    pid: proc.pid,
    async run(job) {
      await send(job);
      const answer = JSON.parse(await proc.lines.next());
      if (answer.fatal) throw new Error(`load generator: ${answer.fatal}`);
      return answer as Result;
    },
    async exit() {
      await send({ cmd: "exit" }).catch(() => {});
      await proc.child.status;
    },
  };
}

/** What a job measured. */
export interface Result {
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  bytes: number;
  /** Latencies in ms of the successful requests. */
  p50: number;
  p99: number;
  max: number;
  hashed: number;
}

const PATTERN_PERIOD = 256;
const SLICE = 1 << 20;
// The byte at offset o is (o*31+7) & 0xff: a period of 256, so one buffer of
// SLICE + 256 bytes holds the expected bytes for any piece up to SLICE long.
const pattern = Buffer.alloc(SLICE + PATTERN_PERIOD);
for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 31 + 7) & 0xff;

const expectedHashes = new Map<number, string>();
function expectedSha256(size: number): string {
  let h = expectedHashes.get(size);
  if (h === undefined) {
    const hash = createHash("sha256");
    for (let o = 0; o < size; o += SLICE) {
      hash.update(pattern.subarray(0, Math.min(SLICE, size - o)));
    }
    h = hash.digest("hex");
    expectedHashes.set(size, h);
  }
  return h;
}

function matchesPattern(chunk: Uint8Array, offset: number): boolean {
  for (let at = 0; at < chunk.length; at += SLICE) {
    const n = Math.min(SLICE, chunk.length - at);
    const start = (offset + at) % PATTERN_PERIOD;
    const got = Buffer.from(chunk.buffer, chunk.byteOffset + at, n);
    if (!got.equals(pattern.subarray(start, start + n))) return false;
  }
  return true;
}

// Signing with a cached signing key (derived once a day, as SDKs do); checked
// at start against tests/_sign.ts signHeaders.
const signingKeys = new SigningKeyCache();
function signedHead(
  job: Job,
  payloadHash: string,
  time: number,
  contentLength?: number,
): string {
  const host = `${job.host}:${job.port}`;
  if (job.unsigned) {
    const length = contentLength === undefined ? "" : `content-length: ${contentLength}\r\n`;
    return `${job.method} ${job.path} HTTP/1.1\r\nhost: ${host}\r\n${length}\r\n`;
  }
  const datetime = amzDate(time);
  const scope = { date: datetime.slice(0, 8), region: job.region ?? "us-east-1", service: "s3" };
  const values: Record<string, string> = {
    host,
    "x-amz-content-sha256": payloadHash,
    "x-amz-date": datetime,
  };
  const signedHeaders = ["host", "x-amz-content-sha256", "x-amz-date"];
  const canonical = canonicalRequest({
    method: job.method,
    uri: canonicalUri(job.path),
    query: "",
    header: (n) => values[n] ?? null,
    signedHeaders,
    payloadHash,
  });
  const sig = signature(
    signingKeys.get(job.secretKey, scope),
    stringToSign(canonical, { datetime, scope }),
  );
  const authorization = authorizationHeader(job.accessKey, {
    scope,
    signedHeaders,
    signature: sig,
  });
  let head = `${job.method} ${job.path} HTTP/1.1\r\nhost: ${host}\r\n` +
    `x-amz-content-sha256: ${payloadHash}\r\nx-amz-date: ${datetime}\r\n` +
    `authorization: ${authorization}\r\n`;
  if (contentLength !== undefined) head += `content-length: ${contentLength}\r\n`;
  return head + "\r\n";
}

function selfCheck(): void {
  const job: Job = {
    cmd: "run",
    method: "PUT",
    host: "127.0.0.1",
    port: 1234,
    path: "/b/k-1024",
    size: 1024,
    accessKey: "a",
    secretKey: "s",
    concurrency: 1,
    hashEvery: 0,
  };
  const time = Date.UTC(2025, 0, 2, 3, 4, 5);
  const mine = /authorization: (.*)\r\n/.exec(signedHead(job, UNSIGNED_PAYLOAD, time))![1];
  const ref = signHeaders("PUT", "http://127.0.0.1:1234/b/k-1024", {
    accessKey: "a",
    secretKey: "s",
    time,
    payloadHash: UNSIGNED_PAYLOAD,
  }).authorization;
  if (mine !== ref) throw new Error(`signer mismatch:\n${mine}\n${ref}`);
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await conn.write(at === 0 ? data : data.subarray(at));
}

/** A keep-alive HTTP/1.1 connection with a read buffer. */
class Connection {
  conn!: Deno.TcpConn;
  buf = new Uint8Array(1 << 20);
  start = 0;
  end = 0;
  constructor(readonly host: string, readonly port: number) {}

  async open(): Promise<void> {
    this.conn = await Deno.connect({ hostname: this.host, port: this.port });
    this.conn.setNoDelay(true);
    this.start = this.end = 0;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* already closed */ }
  }

  /** Reads more bytes into the buffer; false at EOF. */
  async fill(): Promise<boolean> {
    if (this.start === this.end) this.start = this.end = 0;
    else if (this.end === this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    const n = await this.conn.read(this.buf.subarray(this.end));
    if (n === null) return false;
    this.end += n;
    return true;
  }

  async readHead(): Promise<{ status: number; headers: Map<string, string> }> {
    for (;;) {
      for (let i = this.start; i + 3 < this.end; i++) {
        if (
          this.buf[i] === 13 && this.buf[i + 1] === 10 && this.buf[i + 2] === 13 &&
          this.buf[i + 3] === 10
        ) {
          const text = latin1.decode(this.buf.subarray(this.start, i));
          this.start = i + 4;
          const lines = text.split("\r\n");
          const status = Number(lines[0].split(" ")[1]);
          const headers = new Map<string, string>();
          for (const line of lines.slice(1)) {
            const c = line.indexOf(":");
            headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
          }
          return { status, headers };
        }
      }
      if (!(await this.fill())) throw new Error("connection closed before a response head");
    }
  }

  async readLine(): Promise<string> {
    for (;;) {
      for (let i = this.start; i + 1 < this.end; i++) {
        if (this.buf[i] === 13 && this.buf[i + 1] === 10) {
          const line = latin1.decode(this.buf.subarray(this.start, i));
          this.start = i + 2;
          return line;
        }
      }
      if (!(await this.fill())) throw new Error("connection closed in a chunked body");
    }
  }

  /** Passes exactly n body bytes to `sink`, reading straight into the buffer. */
  async readExactly(n: number, sink: (chunk: Uint8Array) => void): Promise<void> {
    while (n > 0) {
      if (this.start === this.end && !(await this.fill())) {
        throw new Error(`connection closed with ${n} body bytes missing`);
      }
      const take = Math.min(n, this.end - this.start);
      sink(this.buf.subarray(this.start, this.start + take));
      this.start += take;
      n -= take;
    }
  }

  /** Reads a response body (Content-Length or chunked). */
  async readBody(headers: Map<string, string>, sink: (chunk: Uint8Array) => void): Promise<void> {
    const length = headers.get("content-length");
    if (length !== undefined) return await this.readExactly(Number(length), sink);
    if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
      for (;;) {
        const size = parseInt(await this.readLine(), 16);
        if (size === 0) {
          while ((await this.readLine()) !== "");
          return;
        }
        await this.readExactly(size, sink);
        await this.readLine();
      }
    }
    // Neither: the body runs to the end of the connection.
    for (;;) {
      if (this.start < this.end) {
        sink(this.buf.subarray(this.start, this.end));
        this.start = this.end;
      }
      if (!(await this.fill())) return;
    }
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

async function run(job: Job): Promise<Result> {
  const putBody = job.method === "PUT" && job.size <= SLICE
    ? new Uint8Array(pattern.subarray(0, job.size))
    : null;
  const putHash = job.method !== "PUT"
    ? EMPTY_SHA256
    : job.putPayload === "sha256"
    ? (job.size <= SLICE ? sha256Hex(putBody!) : expectedSha256(job.size))
    : UNSIGNED_PAYLOAD;
  if (job.method === "GET" && job.hashEvery > 0) expectedSha256(job.size); // before timing
  const expectEtag = job.expectEtag === undefined ? `"${job.size}"` : job.expectEtag;
  const latencies: number[] = [];
  let requests = 0;
  let errors = 0;
  let bytes = 0;
  let hashed = 0;
  let firstError: string | undefined;
  let issued = 0;

  async function one(c: Connection, index: number): Promise<void> {
    const hash: Hash | undefined =
      job.method === "GET" && job.hashEvery > 0 && index % job.hashEvery === 0
        ? createHash("sha256")
        : undefined;
    const head = signedHead(job, putHash, Date.now(), job.method === "PUT" ? job.size : undefined);
    const t0 = performance.now();
    if (job.method === "PUT" && putBody) {
      const h = encoder.encode(head);
      const msg = new Uint8Array(h.length + putBody.length);
      msg.set(h);
      msg.set(putBody, h.length);
      await writeAll(c.conn, msg);
    } else {
      await writeAll(c.conn, encoder.encode(head));
      if (job.method === "PUT") {
        const block = pattern.subarray(0, SLICE); // SLICE is a multiple of the period
        for (let left = job.size; left > 0; left -= SLICE) {
          await writeAll(c.conn, left >= SLICE ? block : block.subarray(0, left));
        }
      }
    }
    const { status, headers } = await c.readHead();
    let got = 0;
    let patternOk = true;
    const errorBody: Uint8Array[] = [];
    await c.readBody(headers, (chunk) => {
      if (status !== 200) {
        if (got < 4096) errorBody.push(chunk.slice());
      } else if (job.method === "GET") {
        if (patternOk && !matchesPattern(chunk, got)) patternOk = false;
        hash?.update(chunk);
      }
      got += chunk.length;
    });
    const ms = performance.now() - t0;
    if ((headers.get("connection") ?? "").toLowerCase() === "close") {
      c.close();
      await c.open();
    }
    let problem: string | undefined;
    if (status !== 200) {
      problem = `status ${status}: ${
        latin1.decode(errorBody.length ? errorBody[0] : new Uint8Array()).slice(0, 300)
      }`;
    } else if (job.method === "GET") {
      if (got !== job.size) problem = `GET body ${got} bytes, expected ${job.size}`;
      else if (!patternOk) problem = "GET body bytes differ from the pattern";
      else if (hash) {
        hashed++;
        const digest = hash.digest("hex");
        if (digest !== expectedSha256(job.size)) problem = `GET body SHA-256 ${digest} mismatch`;
      }
      bytes += got;
    } else {
      const etag = headers.get("etag") ?? null;
      if (expectEtag !== null && etag !== expectEtag) {
        problem = `PUT etag ${etag}, expected ${expectEtag}`;
      }
      bytes += job.size;
    }
    requests++;
    if (problem) {
      errors++;
      firstError ??= problem;
    } else latencies.push(ms);
  }

  const conns = Array.from({ length: job.concurrency }, () => new Connection(job.host, job.port));
  await Promise.all(conns.map((c) => c.open()));
  const started = performance.now();
  const deadline = job.durationMs !== undefined ? started + job.durationMs : Infinity;
  const limit = job.count ?? Infinity;
  await Promise.all(conns.map(async (c) => {
    while (performance.now() < deadline && issued < limit) {
      await one(c, issued++);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  for (const c of conns) c.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests,
    errors,
    firstError,
    seconds,
    bytes,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    hashed,
  };
}

if (import.meta.main) {
  selfCheck();
  const out = (o: unknown) => Deno.stdout.write(encoder.encode(JSON.stringify(o) + "\n"));
  await out({ ready: true, pid: Deno.pid });
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let pending = "";
  for await (const text of lines) {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (!line) continue;
      const cmd = JSON.parse(line);
      if (cmd.cmd === "exit") Deno.exit(0);
      try {
        await out(await run(cmd as Job));
      } catch (err) {
        await out({ fatal: String((err as Error)?.stack ?? err) });
      }
    }
  }
}
