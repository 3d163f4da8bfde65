// CORS against Ceph RGW: a bucket whose rules live on the backend
// (cors: "backend") gets them set through osp with PutBucketCors, then
// preflights are answered by osp from them, and actual requests carry them.
import assert from "node:assert/strict";
import {
  DeleteBucketCorsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { RGW_TEST, rgwEnv } from "./_rgw_env.ts";
import { signHeaders } from "./_sign.ts";
import { CLIENT } from "./_rgw_env.ts";

const APP = "http://app.test:3000";

Deno.test(
  { name: "rgw: CORS rules read from the backend answer preflights", ...RGW_TEST },
  async () => {
    const env = await rgwEnv("cors", { bucket: { cors: "backend", ttl: 300 } });
    try {
      const bucket = env.buckets.path;
      const preflight = (method: string) =>
        fetch(`${env.endpoint}/${bucket}/obj`, {
          method: "OPTIONS",
          headers: { origin: APP, "access-control-request-method": method },
        });
      // No configuration on the bucket yet: refused, as S3 does.
      const none = await preflight("GET");
      assert.equal(none.status, 403);
      assert.match(await none.text(), /CORSResponse/);

      await env.client.send(
        new PutBucketCorsCommand({
          Bucket: bucket,
          CORSConfiguration: {
            CORSRules: [{
              AllowedOrigins: [APP],
              AllowedMethods: ["GET", "PUT"],
              AllowedHeaders: ["*"],
            }],
          },
        }),
      );
      const allowed = await preflight("PUT");
      assert.equal(allowed.status, 200);
      assert.equal(allowed.headers.get("access-control-allow-origin"), APP);
      assert.equal((await preflight("DELETE")).status, 403);

      await env.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: "obj", Body: "cors body" }),
      );
      const url = `${env.endpoint}/${bucket}/obj`;
      const get = await fetch(url, {
        headers: { ...signHeaders("GET", url, CLIENT), origin: APP },
      });
      assert.equal(get.status, 200);
      assert.equal(get.headers.get("access-control-allow-origin"), APP);
      assert.match(get.headers.get("access-control-expose-headers")!, /ETag/);
      assert.equal(await get.text(), "cors body");

      await env.client.send(new DeleteBucketCorsCommand({ Bucket: bucket }));
      const after = await preflight("GET");
      assert.equal(after.status, 403, "DeleteBucketCors through osp drops the cached rules");
      await after.body?.cancel();
    } finally {
      await env.close();
    }
  },
);
