// Bucket aliases on Ceph RGW: client buckets eu-logs and us-logs live on two
// backend users under other names; answers that name the bucket show the
// client's name, never the backend's.
import assert from "node:assert/strict";
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { serve } from "../mod.ts";
import { getRgw } from "./_rgw.ts";
import { CLIENT, RGW_TEST } from "./_rgw_env.ts";
import { signHeaders } from "./_sign.ts";

Deno.test({ name: "rgw: bucket aliases to two backend users", ...RGW_TEST }, async () => {
  const rgw = await getRgw();
  const users = [await rgw.createUser("alias-eu"), await rgw.createUser("alias-us")];
  const backendNames = ["alias-eu-be-logs", "alias-us-be-logs"];
  for (const [i, user] of users.entries()) {
    const direct = new S3Client({
      endpoint: rgw.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: user.accessKey, secretAccessKey: user.secretKey },
    });
    await direct.send(new CreateBucketCommand({ Bucket: backendNames[i] }));
    direct.destroy();
  }
  const proxy = serve({
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: "error",
    hmacKeystore: [CLIENT],
    cosMap: Object.fromEntries(["eu-logs", "us-logs"].map((name, i) => [name, {
      host: "127.0.0.1",
      port: rgw.port,
      tls: false,
      addressingStyle: "path" as const,
      backendBucket: backendNames[i],
      accessKey: users[i].accessKey,
      secretKey: users[i].secretKey,
    }])),
  });
  const endpoint = `http://127.0.0.1:${proxy.http!.port}`;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: CLIENT.accessKey, secretAccessKey: CLIENT.secretKey },
  });
  try {
    for (const [i, bucket] of ["eu-logs", "us-logs"].entries()) {
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: "day/1.log", Body: `log ${i}` }),
      );
      const list = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.equal(list.Name, bucket);
      assert.deepEqual(list.Contents?.map((c) => c.Key), ["day/1.log"]);
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "day/1.log" }));
      assert.equal(
        await got.Body!.transformToString(),
        `log ${i}`,
        "each alias reaches its own user",
      );

      const created = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: "mp.bin" }),
      );
      assert.equal(created.Bucket, bucket);
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      assert.equal(uploads.Bucket, bucket);
      const part = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: "mp.bin",
          UploadId: created.UploadId,
          PartNumber: 1,
          Body: "part",
        }),
      );
      const done = await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: "mp.bin",
          UploadId: created.UploadId,
          MultipartUpload: { Parts: [{ ETag: part.ETag, PartNumber: 1 }] },
        }),
      );
      assert.equal(done.Bucket, bucket);
      assert.equal(done.Location, `${endpoint}/${bucket}/mp.bin`);

      const url = `${endpoint}/${bucket}/missing`;
      const missing = await fetch(url, { headers: signHeaders("GET", url, CLIENT) });
      const text = await missing.text();
      assert.equal(missing.status, 404);
      assert.ok(!text.includes(backendNames[i]), `the backend name leaked: ${text}`);
    }
  } finally {
    client.destroy();
    await proxy.shutdown();
  }
});
