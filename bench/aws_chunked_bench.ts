/**
 * aws-chunked decoding throughput: 64 MiB framed in 64 KiB chunks, fed to the
 * decoder in 64 KiB pieces (as network reads arrive, not aligned to chunks).
 *
 *   deno bench -A bench/aws_chunked_bench.ts
 *
 * Every bench handles BYTES (64 MiB) per iteration, so MB/s = 67.1 / (avg s).
 * The "throughput" group prints MB/s directly.
 */
import {
  type ChunkedDecoderOptions,
  type ChunkedMode,
  createChunkedDecoder,
} from "../lib/body/aws_chunked.ts";
import { encodeChunked } from "../lib/body/aws_chunked_encoder.ts";
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumBase64,
  createChecksum,
} from "../lib/body/checksums.ts";
import { deriveSigningKey, type Scope } from "../lib/sigv4/sigv4.ts";

const MiB = 1024 * 1024;
const BYTES = 64 * MiB;
const CHUNK = 64 * 1024;
const PIECE = 64 * 1024;
const SCOPE: Scope = { date: "20130524", region: "us-east-1", service: "s3" };
const SIGNING = {
  signingKey: deriveSigningKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", SCOPE),
  datetime: "20130524T000000Z",
  scope: SCOPE,
  seedSignature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
};

const data = new Uint8Array(BYTES);
for (let i = 0, x = 1; i < data.length; i++) {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  data[i] = x & 255;
}

interface Case {
  name: string;
  pieces: Uint8Array[];
  options: ChunkedDecoderOptions;
}

function split(body: Uint8Array, size: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let o = 0; o < body.length; o += size) pieces.push(body.subarray(o, o + size));
  return pieces;
}

function makeCase(mode: ChunkedMode, alg?: ChecksumAlgorithm, chunk = CHUNK): Case {
  const trailers: Record<string, string> = {};
  if (alg) trailers[`x-amz-checksum-${alg}`] = checksumBase64(alg, data);
  const body = encodeChunked(data, { chunkSize: chunk, mode, signing: SIGNING, trailers });
  return {
    name: `${mode}${alg ? ` ${alg}` : ""}${chunk !== CHUNK ? ` ${chunk / 1024} KiB chunks` : ""}`,
    pieces: split(body, PIECE),
    options: {
      mode,
      signing: mode === "streaming-unsigned-trailer" ? undefined : SIGNING,
      decodedLength: data.length,
      expectedTrailers: Object.keys(trailers),
    },
  };
}

async function decode(c: Case): Promise<void> {
  const { stream, done } = createChunkedDecoder(c.options);
  let n = 0;
  for await (const out of ReadableStream.from(c.pieces).pipeThrough(stream)) n += out.length;
  await done;
  if (n !== BYTES) throw new Error(`decoded ${n} bytes`);
}

const cases: Case[] = [
  makeCase("streaming-signed"),
  makeCase("streaming-signed", undefined, 8 * 1024),
  makeCase("streaming-signed-trailer", "crc32"),
  ...CHECKSUM_ALGORITHMS.map((alg) => makeCase("streaming-unsigned-trailer", alg)),
];

// Deno.bench awaits only `async` functions: a plain arrow returning a promise
// is timed as synchronous (and iterations pile up), so every fn here is async.
const OPTS = { n: 10, warmup: 2 };

for (const c of cases) {
  Deno.bench({
    name: c.name,
    group: "decode 64 MiB",
    ...OPTS,
    fn: async () => {
      await decode(c);
    },
  });
}

Deno.bench({
  name: "identity TransformStream (stream overhead only)",
  group: "decode 64 MiB",
  ...OPTS,
  fn: async () => {
    for await (const _ of ReadableStream.from(cases[0].pieces).pipeThrough(new TransformStream())) {
      // drain
    }
  },
});

for (const alg of CHECKSUM_ALGORITHMS) {
  Deno.bench({
    name: alg,
    group: "checksum 64 MiB in 64 KiB updates",
    ...OPTS,
    fn: () => {
      const c = createChecksum(alg);
      for (let o = 0; o < BYTES; o += CHUNK) c.update(data.subarray(o, o + CHUNK));
      c.digestBase64();
    },
  });
}

function mbps(ms: number): string {
  return (BYTES / 1e6 / (ms / 1000)).toFixed(0).padStart(6) + " MB/s";
}

let printed = false;
Deno.bench({
  // deno bench may call this more than n times: it measures and prints once.
  name: "print MB/s (best of 5 per case)",
  group: "throughput",
  n: 1,
  warmup: 0,
  fn: async () => {
    if (printed) return;
    printed = true;
    const lines: string[] = [];
    for (const c of cases) {
      let best = Infinity;
      for (let k = 0; k < 5; k++) {
        const t0 = performance.now();
        await decode(c);
        best = Math.min(best, performance.now() - t0);
      }
      lines.push(`decode ${c.name.padEnd(44)} ${mbps(best)}`);
    }
    for (const alg of CHECKSUM_ALGORITHMS) {
      let best = Infinity;
      for (let k = 0; k < 5; k++) {
        const t0 = performance.now();
        const c = createChecksum(alg);
        for (let o = 0; o < BYTES; o += CHUNK) c.update(data.subarray(o, o + CHUNK));
        c.digestBase64();
        best = Math.min(best, performance.now() - t0);
      }
      lines.push(`checksum ${alg.padEnd(42)} ${mbps(best)}`);
    }
    console.log("\n" + lines.join("\n"));
  },
});
