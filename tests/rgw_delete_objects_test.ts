// DeleteObjects authorizes every key as DeleteObject: denied keys come back as
// AccessDenied errors and are not sent to the backend (Ceph RGW keeps them).
import assert from "node:assert/strict";
import { DeleteObjectsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { RGW_TEST, rgwEnv } from "./_rgw_env.ts";
import { HeadObjectCommand } from "@aws-sdk/client-s3";

Deno.test({ name: "rgw: DeleteObjects is authorized key by key", ...RGW_TEST }, async () => {
  const asked: string[] = [];
  const env = await rgwEnv("delkeys", {
    vhost: false,
    config: {
      validator: (_token, _bucket, req) => {
        if (req.operation === "DeleteObject") {
          asked.push(req.key!);
          return !req.key!.startsWith("keep/");
        }
        return true;
      },
    },
  });
  const B = env.buckets.path;
  const exists = async (key: string) => {
    try {
      await env.direct.send(new HeadObjectCommand({ Bucket: env.backendBuckets.path, Key: key }));
      return true;
    } catch {
      return false;
    }
  };
  try {
    const keys = ["del/a", "keep/b", "del/c & d", "keep/e"];
    for (const key of keys) {
      await env.client.send(new PutObjectCommand({ Bucket: B, Key: key, Body: key }));
    }
    const out = await env.client.send(
      new DeleteObjectsCommand({
        Bucket: B,
        Delete: { Objects: keys.map((Key) => ({ Key })) },
      }),
    );
    assert.deepEqual((out.Deleted ?? []).map((d) => d.Key).sort(), ["del/a", "del/c & d"]);
    assert.deepEqual(
      (out.Errors ?? []).map((e) => [e.Key, e.Code]).sort(),
      [["keep/b", "AccessDenied"], ["keep/e", "AccessDenied"]],
    );
    assert.deepEqual(asked.sort(), [...keys].sort(), "the validator saw each key as DeleteObject");
    assert.equal(await exists("del/a"), false);
    assert.equal(await exists("del/c & d"), false);
    assert.equal(await exists("keep/b"), true);
    assert.equal(await exists("keep/e"), true);

    // Only denied keys: answered by osp, nothing sent.
    const none = await env.client.send(
      new DeleteObjectsCommand({
        Bucket: B,
        Delete: { Objects: [{ Key: "keep/b" }] },
      }),
    );
    assert.equal(none.Deleted, undefined);
    assert.deepEqual(none.Errors?.map((e) => e.Code), ["AccessDenied"]);
    assert.equal(await exists("keep/b"), true);
  } finally {
    await env.close();
  }
});
