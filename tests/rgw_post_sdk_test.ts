// The AWS SDK for JavaScript against osp and Ceph RGW, for what browsers use:
// presigned POST forms made by @aws-sdk/s3-presigned-post (`createPresignedPost`),
// with and without a `tagging` field, the tags an upload sets (which the
// validator must also allow as PutObjectTagging), and presigned PUT URLs whose
// checksum the SDK hoists into the query (`verifyChecksums`).
import assert from "node:assert/strict";
import { GetObjectCommand, GetObjectTaggingCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createPresignedPost, type PresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { checksumBase64 } from "../lib/body/checksums.ts";
import { absentOnRgw, bytes, RGW_TEST, type RgwEnv, rgwEnv, sha256 } from "./_rgw_env.ts";

/** Keys under this prefix may be uploaded, but not tagged. */
const NO_TAGS = "notag/";

async function envWithTagRule(): Promise<RgwEnv> {
  return await rgwEnv("postsdk", {
    vhost: false,
    bucket: { verifyChecksums: true },
    config: {
      validator: (_token, _bucket, r) =>
        !(r.operation === "PutObjectTagging" && r.key?.startsWith(NO_TAGS)),
    },
  });
}

async function postForm(
  presigned: PresignedPost,
  file: Uint8Array,
  extra: Record<string, string> = {},
): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...presigned.fields, ...extra })) form.append(k, v);
  form.append("file", new Blob([file as BlobPart], { type: "application/octet-stream" }), "f.bin");
  return await fetch(presigned.url, { method: "POST", body: form });
}

async function onRgw(env: RgwEnv, key: string): Promise<Uint8Array | undefined> {
  try {
    const got = await env.direct.send(
      new GetObjectCommand({ Bucket: env.backendBuckets.path, Key: key }),
    );
    return await got.Body!.transformToByteArray();
  } catch {
    return undefined;
  }
}

async function tagsOnRgw(env: RgwEnv, key: string): Promise<Record<string, string>> {
  const got = await env.direct.send(
    new GetObjectTaggingCommand({ Bucket: env.backendBuckets.path, Key: key }),
  );
  return Object.fromEntries((got.TagSet ?? []).map((t) => [t.Key!, t.Value!]));
}

async function expectError(response: Response, status: number, code: string): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, status, text);
  assert.match(text, new RegExp(`<Code>${code}</Code>`));
}

const TAGGING = "<Tagging><TagSet><Tag><Key>team</Key><Value>blue &amp; green</Value></Tag>" +
  "<Tag><Key>stage</Key><Value>prod/eu</Value></Tag></TagSet></Tagging>";

Deno.test(
  { name: "rgw post sdk: createPresignedPost forms through osp", ...RGW_TEST },
  async (t) => {
    const env = await envWithTagRule();
    const bucket = env.buckets.path;
    const presign = (key: string, options: { fields?: Record<string, string>; max?: number }) =>
      createPresignedPost(env.client, {
        Bucket: bucket,
        Key: key,
        Conditions: [
          ["content-length-range", 1, options.max ?? 100_000],
          ["starts-with", "$key", key.replace("${filename}", "")],
          ["eq", "$Content-Type", "application/x-test"],
        ],
        Fields: { "Content-Type": "application/x-test", ...options.fields },
        Expires: 600,
      });
    try {
      await t.step("201 PostResponse; the bytes read back through osp and on RGW", async () => {
        const data = bytes(50_000, 21);
        const form = await presign("sdk/${filename}", { fields: { success_action_status: "201" } });
        assert.equal(form.url, `${env.endpoint}/${bucket}`);
        const response = await postForm(form, data);
        const xml = await response.text();
        assert.equal(response.status, 201, xml);
        assert.match(xml, /<Key>sdk\/f\.bin<\/Key>/);
        const viaOsp = await env.client.send(
          new GetObjectCommand({ Bucket: bucket, Key: "sdk/f.bin" }),
        );
        assert.equal(viaOsp.ContentType, "application/x-test");
        assert.equal(sha256(await viaOsp.Body!.transformToByteArray()), sha256(data));
        assert.equal(sha256((await onRgw(env, "sdk/f.bin"))!), sha256(data));
      });

      await t.step(
        "a file over content-length-range: 400 EntityTooLarge, nothing stored",
        async () => {
          const form = await presign("big/obj", { max: 1000 });
          await expectError(await postForm(form, bytes(1001, 5)), 400, "EntityTooLarge");
          assert.ok(await absentOnRgw(env, "big/obj"));
        },
      );

      await t.step("a tagging field: 204 and the tags on RGW", async () => {
        const form = await presign("tagged/obj", { fields: { tagging: TAGGING } });
        const data = bytes(3000, 8);
        const response = await postForm(form, data);
        assert.equal(response.status, 204, await response.text());
        assert.equal(sha256((await onRgw(env, "tagged/obj"))!), sha256(data));
        assert.deepEqual(await tagsOnRgw(env, "tagged/obj"), {
          team: "blue & green",
          stage: "prod/eu",
        });
      });

      await t.step("tagging refused: outside the policy, malformed, not allowed", async () => {
        const plain = await presign("t1/obj", {});
        await expectError(
          await postForm(plain, bytes(10), { tagging: TAGGING }),
          403,
          "AccessDenied",
        );
        assert.ok(await absentOnRgw(env, "t1/obj"));
        const bad = "<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>";
        const malformed = await presign("t2/obj", { fields: { tagging: bad } });
        await expectError(await postForm(malformed, bytes(10)), 400, "MalformedXML");
        assert.ok(await absentOnRgw(env, "t2/obj"));
        const denied = await presign(`${NO_TAGS}obj`, { fields: { tagging: TAGGING } });
        await expectError(await postForm(denied, bytes(10)), 403, "AccessDenied");
        assert.ok(await absentOnRgw(env, `${NO_TAGS}obj`));
        // The same form without tags is allowed: only PutObjectTagging was refused.
        const untagged = await presign(`${NO_TAGS}obj`, {});
        assert.equal((await postForm(untagged, bytes(10))).status, 204);
        assert.ok(!await absentOnRgw(env, `${NO_TAGS}obj`));
      });
    } finally {
      await env.close();
    }
  },
);

Deno.test(
  { name: "rgw post sdk: PUT with x-amz-tagging needs PutObjectTagging", ...RGW_TEST },
  async () => {
    const env = await envWithTagRule();
    const bucket = env.buckets.path;
    try {
      const put = (key: string) =>
        env.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: "tagged",
            Tagging: "a=1&b=x%20y",
          }),
        );
      await put("tags/obj");
      assert.deepEqual(await tagsOnRgw(env, "tags/obj"), { a: "1", b: "x y" });
      await assert.rejects(() => put(`${NO_TAGS}put`), (e: Error) => e.name === "AccessDenied");
      assert.ok(await absentOnRgw(env, `${NO_TAGS}put`));
    } finally {
      await env.close();
    }
  },
);

Deno.test(
  { name: "rgw post sdk: presigned PUT with a hoisted checksum", ...RGW_TEST },
  async () => {
    const env = await envWithTagRule();
    const bucket = env.buckets.path;
    const data = bytes(200_000, 13);
    try {
      const url = async (key: string, checksum: string) => {
        const signed = await getSignedUrl(
          env.client,
          new PutObjectCommand({ Bucket: bucket, Key: key, ChecksumCRC32: checksum }),
          { expiresIn: 300 },
        );
        assert.equal(new URL(signed).searchParams.get("x-amz-checksum-crc32"), checksum);
        return signed;
      };
      const good = await fetch(await url("ck/good", checksumBase64("crc32", data)), {
        method: "PUT",
        body: data as BlobPart,
      });
      assert.equal(good.status, 200, await good.text());
      assert.equal(sha256((await onRgw(env, "ck/good"))!), sha256(data));
      const wrong = await fetch(await url("ck/wrong", checksumBase64("crc32", bytes(10))), {
        method: "PUT",
        body: data as BlobPart,
      });
      await expectError(wrong, 400, "BadDigest");
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(
        await absentOnRgw(env, "ck/wrong"),
        "RGW stored an object whose checksum was wrong",
      );
    } finally {
      await env.close();
    }
  },
);
