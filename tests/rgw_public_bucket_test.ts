// A public bucket on Ceph RGW: unsigned GETs and listings of a bucket whose
// config lists them in `anonymous` are re-signed with its identity; anything
// else unsigned is refused and never reaches RGW.
import assert from "node:assert/strict";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { RGW_TEST, rgwEnv, sha256 } from "./_rgw_env.ts";

Deno.test(
  { name: "rgw: a public bucket serves unsigned reads, nothing else", ...RGW_TEST },
  async () => {
    const env = await rgwEnv("public", {
      bucket: { anonymous: ["GetObject", "HeadObject", "ListObjectsV2"] },
      config: {
        validator: (token, _bucket, req) => token !== null || req.key !== "private/k",
      },
    });
    try {
      const bucket = env.buckets.path;
      const body = crypto.getRandomValues(new Uint8Array(60_000));
      await env.direct.send(
        new PutObjectCommand({ Bucket: env.backendBuckets.path, Key: "pub/k", Body: body }),
      );
      await env.direct.send(
        new PutObjectCommand({ Bucket: env.backendBuckets.path, Key: "private/k", Body: "no" }),
      );
      const get = await fetch(`${env.endpoint}/${bucket}/pub/k`);
      assert.equal(get.status, 200);
      assert.equal(sha256(new Uint8Array(await get.arrayBuffer())), sha256(body));
      const list = await fetch(`${env.endpoint}/${bucket}?list-type=2&prefix=pub%2F`);
      assert.equal(list.status, 200);
      assert.match(await list.text(), /<Key>pub\/k<\/Key>/);

      const refused: [string, RequestInit][] = [
        [`/${bucket}/private/k`, {}],
        [`/${bucket}/pub/k`, { method: "PUT", body: "overwritten" }],
        [`/${bucket}/pub/k`, { method: "DELETE" }],
        [`/${bucket}/pub/k`, {
          method: "PUT",
          body: "",
          headers: { "x-amz-copy-source": `/${bucket}/private/k` },
        }],
        ["/not-configured-bucket/x", {}],
      ];
      for (const [path, init] of refused) {
        const res = await fetch(`${env.endpoint}${path}`, init);
        assert.equal(res.status, 403, `${init.method ?? "GET"} ${path}`);
        await res.body?.cancel();
      }
      const still = await env.direct.send(
        new GetObjectCommand({ Bucket: env.backendBuckets.path, Key: "pub/k" }),
      );
      assert.equal(sha256(await still.Body!.transformToByteArray()), sha256(body));
    } finally {
      await env.close();
    }
  },
);
