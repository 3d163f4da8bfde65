// Bucket options for backends that check less than S3 does: verifyPayloadHash,
// verifyChecksums and addContentMd5. A counting backend shows what arrived; the
// checks fail closed (the backend never gets a complete body).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { BucketConfig, ProxyConfig } from "../mod.ts";
import { checksumBase64 } from "../lib/body/checksums.ts";
import { countingBackend, localProxy } from "./_backend.ts";
import { presignUrl, signHeaders } from "./_sign.ts";

const KEY = { accessKey: "opt-ak", secretKey: "opt-secret" };

function setup(options: Partial<BucketConfig>, config: Partial<ProxyConfig> = {}) {
  const backend = countingBackend();
  const proxy = localProxy(backend.port, { key: KEY, bucket: options, config });
  return {
    backend,
    url: (key: string) => `http://127.0.0.1:${proxy.http!.port}/b/${key}`,
    async close() {
      await proxy.shutdown();
      await backend.close();
    },
  };
}

async function put(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  options: { payloadHash?: string; headers?: Record<string, string> } = {},
) {
  const headers = signHeaders("PUT", url, { ...KEY, body, ...options });
  const res = await fetch(url, { method: "PUT", headers, body });
  const text = await res.text();
  return { status: res.status, code: /<Code>([^<]*)</.exec(text)?.[1] ?? "" };
}

const DATA = new Uint8Array(200_000).map((_, i) => i * 7);
const OTHER = new Uint8Array(200_000).map((_, i) => i * 11);
const sha = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");

Deno.test("verifyPayloadHash: a wrong literal SHA-256 is caught before the backend gets it all", async () => {
  const env = setup({ verifyPayloadHash: true });
  try {
    const ok = await put(env.url("good"), DATA);
    assert.equal(ok.status, 200);
    assert.equal(env.backend.requests.at(-1)!.complete, true);
    assert.equal(env.backend.requests.at(-1)!.headers.get("x-amz-content-sha256"), sha(DATA));
    const bad = await put(env.url("bad"), DATA, { payloadHash: sha(OTHER) });
    assert.equal(bad.status, 400);
    assert.equal(bad.code, "XAmzContentSHA256Mismatch");
    await new Promise((r) => setTimeout(r, 100));
    const seen = env.backend.requests.at(-1)!;
    assert.ok(seen.url.endsWith("/b/bad"));
    assert.equal(seen.complete, false, `the backend got ${seen.bytes} of ${DATA.length} bytes`);
  } finally {
    await env.close();
  }
});

Deno.test("without verifyPayloadHash the body passes untouched (the backend must verify)", async () => {
  const env = setup({});
  try {
    const r = await put(env.url("bad"), DATA, { payloadHash: sha(OTHER) });
    assert.equal(r.status, 200, "a non-verifying backend accepts it: the option matters");
    assert.equal(env.backend.requests[0].complete, true);
  } finally {
    await env.close();
  }
});

Deno.test("verifyChecksums: a wrong x-amz-checksum-* header is BadDigest, never completed", async () => {
  const env = setup({ verifyChecksums: true });
  try {
    for (const alg of ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] as const) {
      const good = await put(env.url(`good-${alg}`), DATA, {
        headers: { [`x-amz-checksum-${alg}`]: checksumBase64(alg, DATA) },
      });
      assert.equal(good.status, 200, alg);
      const bad = await put(env.url(`bad-${alg}`), DATA, {
        headers: { [`x-amz-checksum-${alg}`]: checksumBase64(alg, OTHER) },
      });
      assert.equal(bad.status, 400, alg);
      assert.equal(bad.code, "BadDigest");
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(env.backend.requests.at(-1)!.complete, false, alg);
    }
  } finally {
    await env.close();
  }
});

/** A presigned PUT of `body` whose URL carries `x-amz-checksum-<alg>` (signed, as the SDKs hoist it). */
async function presignedPut(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  checksum: [string, string],
) {
  const [name, value] = checksum;
  const signed = presignUrl("PUT", `${url}?${name}=${encodeURIComponent(value)}`, {
    ...KEY,
    expires: 600,
  });
  const res = await fetch(signed, { method: "PUT", body });
  const text = await res.text();
  return { status: res.status, code: /<Code>([^<]*)</.exec(text)?.[1] ?? "" };
}

Deno.test("verifyChecksums: a checksum hoisted into a presigned URL's query is verified, and sent as a header", async () => {
  const env = setup({ verifyChecksums: true });
  try {
    for (const alg of ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] as const) {
      const name = `x-amz-checksum-${alg}`;
      const good = await presignedPut(env.url(`good-${alg}`), DATA, [
        name,
        checksumBase64(alg, DATA),
      ]);
      assert.equal(good.status, 200, alg);
      const sent = env.backend.requests.at(-1)!;
      assert.equal(sent.headers.get(name), checksumBase64(alg, DATA), alg);
      assert.match(sent.headers.get("authorization")!, new RegExp(`SignedHeaders=[^,]*${name}`));
      assert.equal(new URL(sent.url).search, "", "the checksum left the query");
      const bad = await presignedPut(env.url(`bad-${alg}`), DATA, [
        name,
        checksumBase64(alg, OTHER),
      ]);
      assert.equal(bad.status, 400, alg);
      assert.equal(bad.code, "BadDigest");
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(env.backend.requests.at(-1)!.complete, false, alg);
    }
    // The SDKs' CRC32 of an empty body, on a non-empty upload.
    const empty = await presignedPut(env.url("sdk"), DATA, ["x-amz-checksum-crc32", "AAAAAA=="]);
    assert.equal(empty.code, "BadDigest");
  } finally {
    await env.close();
  }
});

Deno.test("a hoisted checksum of a DeleteObjects body osp rebuilds is not sent", async () => {
  const env = setup({}, { validator: () => true });
  try {
    const xml = new TextEncoder().encode(`<Delete><Object><Key>a</Key></Object></Delete>`);
    const base = env.url("").replace(/\/$/, "");
    const url = presignUrl(
      "POST",
      `${base}?delete&x-amz-checksum-crc32=${encodeURIComponent(checksumBase64("crc32", xml))}`,
      { ...KEY, expires: 600 },
    );
    const res = await fetch(url, { method: "POST", body: xml });
    assert.equal(res.status, 200, await res.text());
    const seen = env.backend.requests.at(-1)!;
    assert.equal(seen.headers.get("x-amz-checksum-crc32"), null);
    assert.equal(new URL(seen.url).search, "?delete=");
  } finally {
    await env.close();
  }
});

Deno.test("addContentMd5: DeleteObjects and configuration uploads get a correct Content-MD5", async () => {
  const env = setup({ addContentMd5: true });
  try {
    const xml = new TextEncoder().encode(
      `<Delete><Object><Key>a</Key></Object><Object><Key>b</Key></Object></Delete>`,
    );
    const url = env.url("").replace(/\/$/, "") + "?delete";
    const headers = signHeaders("POST", url, { ...KEY, body: xml });
    const res = await fetch(url, { method: "POST", headers, body: xml });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const seen = env.backend.requests.at(-1)!;
    assert.equal(seen.headers.get("content-md5"), createHash("md5").update(xml).digest("base64"));
    assert.deepEqual(seen.body, xml, "the body arrives unchanged");
    assert.match(seen.headers.get("authorization")!, /SignedHeaders=[^,]*content-md5/);
    // A plain PutObject is left alone.
    await put(env.url("obj"), DATA);
    assert.equal(env.backend.requests.at(-1)!.headers.get("content-md5"), null);
  } finally {
    await env.close();
  }
});
