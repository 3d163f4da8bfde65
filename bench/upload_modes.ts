// Upload throughput per payload mode: a large upload through osp for each
// x-amz-content-sha256 mode, next to a direct plain PUT to the same no-op
// backend, with the proxy's peak RSS (VmHWM, reset before each upload).
// Backend, proxy and this generator are three processes.
//   deno run -A bench/upload_modes.ts [--mib 1024] [--parallel N] [--modes plain,STREAMING-…]
//     [--proxy-v8-flags --some-flag]
// With --parallel N, N uploads of that size run at once per mode (MB/s is
// their sum): peak RSS then shows what a transfer costs beyond the first.
import http from "node:http";
import { createHash } from "node:crypto";
import { chunkedEncodedLength } from "../lib/body/aws_chunked_encoder.ts";
import { createChecksum } from "../lib/body/checksums.ts";
import {
  amzDate,
  authorizationHeader,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  chunkStringToSign,
  deriveSigningKey,
  EMPTY_SHA256,
  signature,
  stringToSign,
  trailerStringToSign,
} from "../lib/sigv4/sigv4.ts";

const mibFlag = Deno.args.indexOf("--mib");
const SIZE = (mibFlag >= 0 ? Number(Deno.args[mibFlag + 1]) : 1024) * 1024 * 1024;
const parallelFlag = Deno.args.indexOf("--parallel");
/** Uploads at once per mode (each of SIZE bytes): shows whether memory grows per transfer. */
const PARALLEL = parallelFlag >= 0 ? Number(Deno.args[parallelFlag + 1]) : 1;
const ALL_MODES: Mode[] = [
  "plain",
  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
  "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
  "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
];
const modesFlag = Deno.args.indexOf("--modes");
/** The modes to run, in order, through one proxy process (its RSS carries over). */
const MODES = modesFlag >= 0 ? Deno.args[modesFlag + 1].split(",") as Mode[] : ALL_MODES;
for (const m of MODES) {
  if (!ALL_MODES.includes(m)) throw new Error(`--modes: unknown mode ${m}`);
}
const v8Flag = Deno.args.indexOf("--proxy-v8-flags");
/** V8 flags for the proxy process (`--v8-flags=` of `deno run`), to measure their effect. */
const V8_FLAGS = v8Flag >= 0 ? Deno.args[v8Flag + 1] : "";
const CHUNK = 64 * 1024;
const KEY = { accessKey: "bench-client", secretKey: "bench-client-secret" };
const here = (f: string) => new URL(f, import.meta.url).pathname;

async function spawnJson(
  args: string[],
): Promise<{ child: Deno.ChildProcess; info: Record<string, number> }> {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" })
    .spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) text += (await reader.read()).value ?? "";
  reader.releaseLock();
  return { child, info: JSON.parse(text.split("\n")[0]) };
}

const backend = await spawnJson(["run", "--allow-net", here("noop_backend.ts")]);
const proxy = await spawnJson([
  "run",
  "--allow-net",
  "--allow-env",
  "--allow-read",
  ...(V8_FLAGS ? [`--v8-flags=${V8_FLAGS}`] : []),
  here("proxy_process.ts"),
  String(backend.info.port),
]);

const data = new Uint8Array(CHUNK).map((_, i) => (i * 31 + 7) & 0xff);
const dataSha = createHash("sha256").update(data).digest("hex");

type Mode =
  | "plain"
  | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
  | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
  | "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

function rss(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) * 1024;
}

async function upload(
  port: number,
  mode: Mode | "direct",
  n = 0,
): Promise<{ mbs: number; etag: string }> {
  const path = `/bench/upload-${SIZE}-${n}`;
  const time = Date.now();
  const datetime = amzDate(time);
  const scope = { date: datetime.slice(0, 8), region: "us-east-1", service: "s3" };
  const modeName = mode === "direct" || mode === "plain" ? "UNSIGNED-PAYLOAD" : mode;
  const trailer = mode.endsWith("TRAILER");
  const signed = mode.startsWith("STREAMING-AWS4");
  const headers: Record<string, string> = {
    host: `127.0.0.1:${port}`,
    "x-amz-date": datetime,
    "x-amz-content-sha256": modeName,
  };
  let length = SIZE;
  if (mode !== "direct" && mode !== "plain") {
    headers["content-encoding"] = "aws-chunked";
    headers["x-amz-decoded-content-length"] = String(SIZE);
    if (trailer) headers["x-amz-trailer"] = "x-amz-checksum-crc32";
    length = chunkedEncodedLength(SIZE, {
      chunkSize: CHUNK,
      mode: mode === "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        ? "streaming-signed"
        : trailer && signed
        ? "streaming-signed-trailer"
        : "streaming-unsigned-trailer",
      trailers: trailer ? { "x-amz-checksum-crc32": "AAAAAA==" } : undefined,
    });
  }
  const signedHeaders = Object.keys(headers).sort();
  const key = deriveSigningKey(KEY.secretKey, scope);
  const seed = signature(
    key,
    stringToSign(
      canonicalRequest({
        method: "PUT",
        uri: canonicalUri(path),
        query: canonicalQuery([]),
        header: (n) => headers[n],
        signedHeaders,
        payloadHash: modeName,
      }),
      { datetime, scope },
    ),
  );
  if (mode !== "direct") {
    headers.authorization = authorizationHeader(KEY.accessKey, {
      scope,
      signedHeaders,
      signature: seed,
    });
  }
  headers["content-length"] = String(length);
  const enc = new TextEncoder();
  let previous = seed;
  const chunkHeader = (size: number, hash: string) => {
    let line = size.toString(16);
    if (signed) {
      previous = signature(
        key,
        chunkStringToSign(hash, { datetime, scope, previousSignature: previous }),
      );
      line += `;chunk-signature=${previous}`;
    }
    return enc.encode(line + "\r\n");
  };
  const crc = createChecksum("crc32");
  const started = performance.now();
  const etag = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "PUT", path, headers }, (res) => {
      res.resume();
      res.on(
        "end",
        () =>
          res.statusCode === 200
            ? resolve(String(res.headers.etag))
            : reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
    req.on("error", reject);
    (async () => {
      const framed = mode !== "direct" && mode !== "plain";
      const crlf = enc.encode("\r\n");
      for (let sent = 0; sent < SIZE; sent += CHUNK) {
        const parts = framed ? [chunkHeader(CHUNK, dataSha), data, crlf] : [data];
        if (trailer) crc.update(data);
        for (const p of parts) if (!req.write(p)) await new Promise((r) => req.once("drain", r));
      }
      if (framed) {
        req.write(chunkHeader(0, EMPTY_SHA256));
        if (trailer) {
          const line = `x-amz-checksum-crc32:${crc.digestBase64()}`;
          req.write(enc.encode(line + "\r\n"));
          if (signed) {
            const sig = signature(
              key,
              trailerStringToSign(createHash("sha256").update(line + "\n").digest("hex"), {
                datetime,
                scope,
                previousSignature: previous,
              }),
            );
            req.write(enc.encode(`x-amz-trailer-signature:${sig}\r\n`));
          }
        }
        req.write(crlf);
      }
      req.end();
    })().catch(reject);
  });
  return { mbs: SIZE / ((performance.now() - started) / 1000) / 1e6, etag };
}

const rows: string[] = [];
const direct = await upload(backend.info.port, "direct");
if (direct.etag !== `"${SIZE}"`) throw new Error(`direct: backend got ${direct.etag}`);
rows.push(`| direct plain PUT (no proxy) | ${direct.mbs.toFixed(0)} | 1.00 | – | – |`);
for (
  const mode of MODES
) {
  await Deno.writeTextFile(`/proc/${proxy.info.pid}/clear_refs`, "5").catch(() => {});
  const before = rss(proxy.info.pid, "VmRSS");
  const all = await Promise.all(
    Array.from({ length: PARALLEL }, (_, n) => upload(proxy.info.port, mode, n)),
  );
  for (const one of all) {
    if (one.etag !== `"${SIZE}"`) {
      throw new Error(`${mode}: the backend received ${one.etag} bytes, not ${SIZE}`);
    }
  }
  const r = { mbs: all.reduce((sum, one) => sum + one.mbs, 0) };
  rows.push(
    `| ${mode === "plain" ? "UNSIGNED-PAYLOAD (plain)" : mode} | ${r.mbs.toFixed(0)} | ${
      (r.mbs / direct.mbs).toFixed(2)
    } | ${(before / 1e6).toFixed(0)} MB | ${(rss(proxy.info.pid, "VmHWM") / 1e6).toFixed(0)} MB |`,
  );
}
console.log(
  `${SIZE / 2 ** 20} MiB upload${
    PARALLEL > 1 ? ` ×${PARALLEL} at once` : ""
  } through osp per payload mode (64 KiB chunks; decoded for the backend), ${Deno.build.os}, ${navigator.hardwareConcurrency} cores:\n`,
);
console.log(
  "| mode | MB/s | × direct | proxy RSS before | proxy peak RSS |\n|---|---|---|---|---|\n" +
    rows.join("\n"),
);
proxy.child.kill("SIGTERM");
backend.child.kill("SIGTERM");
await proxy.child.status;
await backend.child.status;
