// Every upload payload mode through osp to Ceph RGW 16, which itself rejects
// the trailer modes and chunked uploads without Content-Length: osp verifies
// and decodes (or re-signs) them. Each failing upload must leave the stored
// object unchanged.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { ChunkedMode } from "../lib/body/aws_chunked.ts";
import { CHECKSUM_ALGORITHMS } from "../lib/body/checksums.ts";
import { chunkedRequest, chunkSignatureOffset, flipHex, streamOf } from "./_chunked.ts";
import { bytes, CLIENT, RGW_TEST, type RgwEnv, rgwEnv, sha256 } from "./_rgw_env.ts";

function* chunksOf(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function stored(env: RgwEnv, key: string): Promise<Uint8Array | null> {
  try {
    const out = await env.direct.send(
      new GetObjectCommand({ Bucket: env.backendBuckets.path, Key: key }),
    );
    return await out.Body!.transformToByteArray();
  } catch (err) {
    if ((err as { name?: string }).name === "NoSuchKey") return null;
    throw err;
  }
}

async function send(
  env: RgwEnv,
  key: string,
  options: Parameters<typeof chunkedRequest>[2] & { stream?: boolean },
): Promise<{ status: number; code: string; message: string }> {
  const url = `${env.endpoint}/${env.buckets.path}/${key}`;
  const { headers, body } = chunkedRequest("PUT", url, options);
  const res = await fetch(url, {
    method: "PUT",
    headers,
    body: options.stream ? streamOf(body) : (body as Uint8Array<ArrayBuffer>),
  });
  const text = await res.text();
  return {
    status: res.status,
    code: /<Code>([^<]*)</.exec(text)?.[1] ?? "",
    message: /<Message>([^<]*)</.exec(text)?.[1] ?? text.slice(0, 200),
  };
}

const MODES: ChunkedMode[] = [
  "streaming-signed",
  "streaming-signed-trailer",
  "streaming-unsigned-trailer",
];

Deno.test({ name: "rgw: aws-chunked uploads through osp (decode)", ...RGW_TEST }, async (t) => {
  const env = await rgwEnv("chunk", { vhost: false });
  const B = env.buckets.path;
  try {
    await t.step(
      "@aws-sdk/client-s3 PutObject with a stream body (default checksums)",
      async () => {
        const data = bytes(3 * 1024 * 1024 + 17, 31);
        // The SDK sends STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer,
        // Transfer-Encoding: chunked and no Content-Length; RGW 16 alone rejects it.
        const key = "sdk/stream.bin";
        await env.client.send(
          new PutObjectCommand({
            Bucket: B,
            Key: key,
            Body: Readable.from(chunksOf(data, 100_000)),
            ContentLength: data.length,
          }),
        );
        const got = await stored(env, key);
        assert.equal(got?.length, data.length);
        assert.equal(sha256(got!), sha256(data), "the backend holds the bytes, not the framing");
      },
    );

    for (const mode of MODES) {
      for (const chunks of [1, 3, 100]) {
        for (const stream of [false, true]) {
          await t.step(
            `${mode}, ${chunks} chunk(s), ${
              stream ? "Transfer-Encoding: chunked" : "Content-Length"
            }`,
            async () => {
              const chunkSize = 8192;
              const data = bytes(chunkSize * chunks - 100, chunks);
              const key = `modes/${mode}-${chunks}-${stream}`;
              const r = await send(env, key, {
                key: CLIENT,
                mode,
                data,
                chunkSize,
                checksum: mode === "streaming-signed" ? undefined : "crc32",
                stream,
              });
              assert.equal(r.status, 200, `${r.code} ${r.message}`);
              assert.equal(sha256((await stored(env, key))!), sha256(data));
            },
          );
        }
      }
    }

    await t.step(
      "signed chunks under 8 KiB but the last → 400 InvalidChunkSizeError, as S3; the stored object stays; unsigned ones pass",
      async () => {
        const key = "min-chunk/object.bin";
        const before = bytes(20_000, 61);
        const put = (mode: ChunkedMode, data: Uint8Array, chunkSize: number) =>
          send(env, key, {
            key: CLIENT,
            mode,
            data,
            chunkSize,
            checksum: mode === "streaming-signed" ? undefined : "crc32",
            stream: true,
          });
        const first = await put("streaming-signed", before, 8192);
        assert.equal(first.status, 200, `${first.code} ${first.message}`);
        for (const mode of ["streaming-signed", "streaming-signed-trailer"] as const) {
          const r = await put(mode, bytes(30_000, 62), 4096);
          assert.equal(r.status, 400, `${mode}: ${r.code} ${r.message}`);
          assert.equal(r.code, "InvalidChunkSizeError");
          assert.match(
            r.message,
            /^Only the last chunk is allowed to have a size less than 8192 bytes/,
          );
          assert.equal(sha256((await stored(env, key))!), sha256(before), `${mode}: unchanged`);
        }
        const small = bytes(30_000, 63);
        const unsigned = await put("streaming-unsigned-trailer", small, 100);
        assert.equal(unsigned.status, 200, `${unsigned.code} ${unsigned.message}`);
        assert.equal(sha256((await stored(env, key))!), sha256(small));
      },
    );

    await t.step(
      "nine uploads at once in every mode, one failing among them: each stores its own bytes",
      async () => {
        // Decoded bodies share one pool of reused blocks: a block handed out
        // again too early would put one upload's bytes into another's object.
        const uploads = MODES.flatMap((mode, m) =>
          [0, 1, 2].map((n) => ({
            mode,
            key: `parallel/${mode}-${n}`,
            data: bytes(2 * 1024 * 1024 + 1000 * n + m, 500 + 10 * m + n),
            chunkSize: [65536, 100_000, 8192][n],
            stream: n !== 1,
          }))
        );
        const badKey = "parallel/bad-signature";
        const badData = bytes(3 * 1024 * 1024, 999);
        const [bad, ...results] = await Promise.all([
          send(env, badKey, {
            key: CLIENT,
            mode: "streaming-signed",
            data: badData,
            chunkSize: 65536,
            stream: true,
            // The 40th chunk's signature is wrong: the upload fails mid-body.
            corrupt: (framed) => {
              const at = chunkSignatureOffset(framed, 40);
              return flipHex(framed, at);
            },
          }),
          ...uploads.map((u) =>
            send(env, u.key, {
              key: CLIENT,
              mode: u.mode,
              data: u.data,
              chunkSize: u.chunkSize,
              checksum: u.mode === "streaming-signed" ? undefined : "crc32c",
              stream: u.stream,
            })
          ),
        ]);
        assert.equal(bad.status, 403, `${bad.code} ${bad.message}`);
        assert.equal(bad.code, "SignatureDoesNotMatch");
        assert.equal(await stored(env, badKey), null);
        for (const [i, u] of uploads.entries()) {
          assert.equal(
            results[i].status,
            200,
            `${u.key}: ${results[i].code} ${results[i].message}`,
          );
          const got = await stored(env, u.key);
          assert.equal(got?.length, u.data.length, u.key);
          assert.equal(sha256(got!), sha256(u.data), u.key);
        }
      },
    );

    for (const alg of CHECKSUM_ALGORITHMS) {
      await t.step(
        `unsigned trailer with ${alg}: valid stored, wrong rejected (BadDigest)`,
        async () => {
          const data = bytes(50_000, 77);
          const key = `checksums/${alg}`;
          const ok = await send(env, key, {
            key: CLIENT,
            mode: "streaming-unsigned-trailer",
            data,
            chunkSize: 16384,
            checksum: alg,
          });
          assert.equal(ok.status, 200, `${ok.code} ${ok.message}`);
          assert.equal(sha256((await stored(env, key))!), sha256(data));
          const other = bytes(50_000, 78);
          const bad = await send(env, key, {
            key: CLIENT,
            mode: "streaming-unsigned-trailer",
            data: other,
            chunkSize: 16384,
            checksum: alg,
            checksumValue: (await import("../lib/body/checksums.ts")).checksumBase64(alg, data),
          });
          assert.equal(bad.status, 400);
          assert.equal(bad.code, "BadDigest");
          assert.match(bad.message, new RegExp(alg, "i"));
          assert.equal(
            sha256((await stored(env, key))!),
            sha256(data),
            "previous version unchanged",
          );
        },
      );
    }

    const victim = "victim.bin";
    const original = bytes(40_000, 5);
    await env.client.send(new PutObjectCommand({ Bucket: B, Key: victim, Body: original }));
    const failures: [string, Parameters<typeof send>[2], number, string][] = [
      [
        "a bad signature in chunk 3",
        {
          key: CLIENT,
          mode: "streaming-signed",
          data: bytes(5 * 8192, 1),
          chunkSize: 8192,
          corrupt: (f) => flipHex(f, chunkSignatureOffset(f, 3) + 10),
        },
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "a truncated body",
        {
          key: CLIENT,
          mode: "streaming-signed",
          data: bytes(5 * 8192, 2),
          chunkSize: 8192,
          corrupt: (f) => f.slice(0, f.length - 3000),
        },
        400,
        "IncompleteBody",
      ],
      [
        "a wrong decoded length",
        {
          key: CLIENT,
          mode: "streaming-signed",
          data: bytes(5 * 8192, 3),
          chunkSize: 8192,
          decodedLength: 5 * 8192 + 1,
        },
        400,
        "IncompleteBody",
      ],
      [
        "a wrong trailer signature",
        {
          key: CLIENT,
          mode: "streaming-signed-trailer",
          data: bytes(3 * 8192, 4),
          chunkSize: 8192,
          checksum: "crc32",
          corrupt: (f) => {
            const text = new TextDecoder("latin1").decode(f);
            return flipHex(f, text.indexOf("x-amz-trailer-signature:") + 30);
          },
        },
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "garbage after the final chunk",
        {
          key: CLIENT,
          mode: "streaming-unsigned-trailer",
          data: bytes(3 * 8192, 6),
          chunkSize: 8192,
          checksum: "crc32",
          corrupt: (f) => new Uint8Array([...f, ...new TextEncoder().encode("junk")]),
        },
        400,
        "InvalidRequest",
      ],
      [
        "a non-hex chunk size",
        {
          key: CLIENT,
          mode: "streaming-unsigned-trailer",
          data: bytes(3 * 8192, 7),
          chunkSize: 8192,
          checksum: "crc32",
          corrupt: (f) => {
            const out = f.slice();
            out[0] = 0x7a; // "z"
            return out;
          },
        },
        400,
        "InvalidRequest",
      ],
    ];
    for (const [name, options, status, code] of failures) {
      for (const stream of [false, true]) {
        await t.step(
          `${name} (${stream ? "chunked" : "Content-Length"}) → ${code}, object unchanged`,
          async () => {
            const r = await send(env, victim, { ...options, stream });
            assert.equal(r.status, status, `${r.code} ${r.message}`);
            assert.equal(r.code, code, r.message);
            assert.equal(sha256((await stored(env, victim))!), sha256(original));
          },
        );
      }
    }

    await t.step("a client abort at 50% of a 100 MiB upload leaves no object", async () => {
      const size = 100 * 1024 * 1024;
      const key = "abort/100mib.bin";
      const url = `${env.endpoint}/${B}/${key}`;
      const chunk = bytes(1024 * 1024, 3);
      const { headers } = chunkedRequest("PUT", url, {
        key: CLIENT,
        mode: "streaming-unsigned-trailer",
        data: new Uint8Array(0),
        chunkSize: 1,
        checksum: "crc32",
        decodedLength: size,
      });
      const abort = new AbortController();
      const frame = new TextEncoder().encode(`${chunk.length.toString(16)}\r\n`);
      const crlf = new TextEncoder().encode("\r\n");
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (sent >= size / 2) {
            await new Promise((r) => setTimeout(r, 200));
            abort.abort();
            return;
          }
          c.enqueue(frame);
          c.enqueue(chunk);
          c.enqueue(crlf);
          sent += chunk.length;
        },
      });
      await fetch(url, { method: "PUT", headers, body, signal: abort.signal }).then(
        async (r) => assert.fail(`expected the abort, got ${r.status} ${await r.text()}`),
        (err) => assert.equal((err as Error).name, "AbortError"),
      );
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await stored(env, key), null);
    });
  } finally {
    await env.close();
  }
});

Deno.test({
  name: "rgw: signed aws-chunked uploads re-signed for the backend (resign)",
  ...RGW_TEST,
}, async (t) => {
  const env = await rgwEnv("resign", { vhost: false, bucket: { payloadForwarding: "resign" } });
  try {
    for (const chunks of [1, 3, 100]) {
      await t.step(
        `streaming-signed, ${chunks} chunk(s): RGW verifies osp's chunk signatures`,
        async () => {
          const data = bytes(8192 * chunks - 1, chunks + 40);
          const key = `resign/${chunks}`;
          const r = await send(env, key, {
            key: CLIENT,
            mode: "streaming-signed",
            data,
            chunkSize: 8192,
          });
          assert.equal(r.status, 200, `${r.code} ${r.message}`);
          assert.equal(sha256((await stored(env, key))!), sha256(data));
        },
      );
    }
    await t.step("a bad client chunk signature is caught by osp, not forwarded", async () => {
      const data = bytes(5 * 8192, 9);
      await send(env, "resign/victim", {
        key: CLIENT,
        mode: "streaming-signed",
        data,
        chunkSize: 8192,
      });
      const r = await send(env, "resign/victim", {
        key: CLIENT,
        mode: "streaming-signed",
        data: bytes(5 * 8192, 10),
        chunkSize: 8192,
        corrupt: (f) => flipHex(f, chunkSignatureOffset(f, 3) + 5),
      });
      assert.equal(r.status, 403);
      assert.equal(r.code, "SignatureDoesNotMatch");
      assert.equal(sha256((await stored(env, "resign/victim"))!), sha256(data));
    });
    await t.step("a JS SDK client still works against a resign bucket", async () => {
      const client = new S3Client({
        endpoint: env.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: CLIENT.accessKey, secretAccessKey: CLIENT.secretKey },
      });
      try {
        await client.send(
          new PutObjectCommand({ Bucket: env.buckets.path, Key: "resign/sdk", Body: "plain" }),
        );
        assert.equal(new TextDecoder().decode((await stored(env, "resign/sdk"))!), "plain");
      } finally {
        client.destroy();
      }
    });
  } finally {
    await env.close();
  }
});
