// deno task soak [--minutes N] [--concurrency C]: mixed operations through osp
// (its own process) to a throwaway Ceph RGW for N minutes (default 10) at C
// concurrent workers (default 100): put (including stream uploads in the
// trailer mode), get, range, list, multipart, copy and delete. Samples the
// proxy's RSS every 10 s, reports operations, errors, the RSS slope, and
// checks every object written at the end.
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { startOwnedRgw } from "../tests/_rgw.ts";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const MINUTES = flag("minutes", 10);
const CONCURRENCY = flag("concurrency", 100);
const CLIENT = { accessKey: "soak-client", secretKey: "soak-client-secret" };
const sha = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");

const rgw = await startOwnedRgw();
const user = await rgw.createUser("soak");
const direct = new S3Client({
  endpoint: rgw.endpoint,
  region: "us-east-1",
  forcePathStyle: true,
  credentials: { accessKeyId: user.accessKey, secretAccessKey: user.secretKey },
});
await direct.send(new CreateBucketCommand({ Bucket: "soak-be" }));
direct.destroy();

const proxyProcess = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net",
    "--allow-env",
    "--allow-read",
    new URL("./proxy_process.ts", import.meta.url).pathname,
    String(rgw.port),
    "--bucket",
    "soak",
    "--backend-bucket",
    "soak-be",
    "--backend-key",
    user.accessKey,
    "--backend-secret",
    user.secretKey,
    "--client-key",
    CLIENT.accessKey,
    "--client-secret",
    CLIENT.secretKey,
  ],
  stdout: "piped",
}).spawn();
const reader = proxyProcess.stdout.pipeThrough(new TextDecoderStream()).getReader();
let first = "";
while (!first.includes("\n")) first += (await reader.read()).value ?? "";
reader.releaseLock();
const { port, pid } = JSON.parse(first.split("\n")[0]);
const s3 = new S3Client({
  endpoint: `http://127.0.0.1:${port}`,
  region: "us-east-1",
  forcePathStyle: true,
  maxAttempts: 1,
  credentials: { accessKeyId: CLIENT.accessKey, secretAccessKey: CLIENT.secretKey },
});

const rss = () =>
  Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]) * 1024;
const samples: [number, number][] = [];
const started = performance.now();
samples.push([0, rss()]);
const sampler = setInterval(
  () => samples.push([(performance.now() - started) / 1000, rss()]),
  10_000,
);

const written = new Map<string, string>(); // key → sha256 of what it should hold
const ops: Record<string, number> = {};
const errors: Record<string, number> = {};
const deadline = started + MINUTES * 60_000;

function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 131 + seed * 17) & 0xff;
  return out;
}

async function worker(w: number): Promise<void> {
  let n = 0;
  while (performance.now() < deadline) {
    const key = `w${w}/k${n % 5}`;
    const roll = Math.random();
    const op = roll < 0.2
      ? "put"
      : roll < 0.3
      ? "put-stream"
      : roll < 0.55
      ? "get"
      : roll < 0.65
      ? "range"
      : roll < 0.75
      ? "list"
      : roll < 0.8
      ? "multipart"
      : roll < 0.9
      ? "copy"
      : "delete";
    try {
      if (op === "put" || op === "put-stream") {
        const data = bytes(1024 + Math.floor(Math.random() * 200_000), n + w);
        await s3.send(
          new PutObjectCommand({
            Bucket: "soak",
            Key: key,
            Body: op === "put"
              ? data
              : Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
            ContentLength: data.length,
          }),
        );
        written.set(key, sha(data));
      } else if (op === "get" || op === "range") {
        const want = written.get(key);
        if (want !== undefined) {
          const out = await s3.send(
            new GetObjectCommand({
              Bucket: "soak",
              Key: key,
              ...(op === "range" ? { Range: "bytes=0-99" } : {}),
            }),
          );
          const got = await out.Body!.transformToByteArray();
          if (op === "get" && sha(got) !== want) throw new Error(`corrupt ${key}`);
          if (op === "range" && got.length !== 100) throw new Error(`range ${got.length}`);
        }
      } else if (op === "list") {
        await s3.send(new ListObjectsV2Command({ Bucket: "soak", Prefix: `w${w}/` }));
      } else if (op === "multipart") {
        const part = bytes(5 * 1024 * 1024, w);
        const last = bytes(1000, n);
        const mkey = `w${w}/mp`;
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: "soak", Key: mkey }),
        );
        const p1 = await s3.send(
          new UploadPartCommand({ Bucket: "soak", Key: mkey, UploadId, PartNumber: 1, Body: part }),
        );
        const p2 = await s3.send(
          new UploadPartCommand({ Bucket: "soak", Key: mkey, UploadId, PartNumber: 2, Body: last }),
        );
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: "soak",
            Key: mkey,
            UploadId,
            MultipartUpload: {
              Parts: [{ ETag: p1.ETag, PartNumber: 1 }, { ETag: p2.ETag, PartNumber: 2 }],
            },
          }),
        );
        written.set(mkey, createHash("sha256").update(part).update(last).digest("hex"));
      } else if (op === "copy") {
        const want = written.get(key);
        if (want !== undefined) {
          await s3.send(
            new CopyObjectCommand({
              Bucket: "soak",
              Key: `${key}-copy`,
              CopySource: `soak/${key}`,
            }),
          );
          written.set(`${key}-copy`, want);
        }
      } else {
        await s3.send(new DeleteObjectCommand({ Bucket: "soak", Key: key }));
        written.delete(key);
      }
      ops[op] = (ops[op] ?? 0) + 1;
    } catch (err) {
      errors[op] = (errors[op] ?? 0) + 1;
      if ((errors[op] ?? 0) <= 3) console.error(`${op} ${key}: ${(err as Error).message}`);
    }
    n++;
  }
}

await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
clearInterval(sampler);
samples.push([(performance.now() - started) / 1000, rss()]);

let corrupt = 0;
for (const [key, want] of written) {
  const out = await s3.send(new GetObjectCommand({ Bucket: "soak", Key: key }));
  if (sha(await out.Body!.transformToByteArray()) !== want) corrupt++;
}

// Least-squares RSS slope over the second half (after warm-up), MB per minute.
const tail = samples.slice(Math.floor(samples.length / 2));
const mx = tail.reduce((a, [x]) => a + x, 0) / tail.length;
const my = tail.reduce((a, [, y]) => a + y, 0) / tail.length;
const slope = tail.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) /
  Math.max(1e-9, tail.reduce((a, [x]) => a + (x - mx) ** 2, 0));
const total = Object.values(ops).reduce((a, b) => a + b, 0);
const failed = Object.values(errors).reduce((a, b) => a + b, 0);
console.log(
  `soak: ${MINUTES} min, ${CONCURRENCY} workers, osp → Ceph RGW, ${new Date().toISOString()}`,
);
console.log(`operations: ${total} (${JSON.stringify(ops)})`);
console.log(`errors: ${failed} ${failed ? JSON.stringify(errors) : ""}`);
console.log(`proxy RSS MB: ${samples.map(([, y]) => (y / 1e6).toFixed(0)).join(" ")}`);
console.log(`RSS slope (second half): ${(slope * 60 / 1e6).toFixed(2)} MB/min`);
console.log(`integrity: ${written.size - corrupt} of ${written.size} objects intact`);
s3.destroy();
proxyProcess.kill("SIGTERM");
await proxyProcess.status;
await rgw.stop();
Deno.exit(failed === 0 && corrupt === 0 ? 0 : 1);
