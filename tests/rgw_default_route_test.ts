// A default route (cosMap["*"]) with per-client backend identities
// (backendCredentials): three client keys act as three Ceph RGW users and run
// their whole workflow through osp, buckets created through the proxy.
import assert from "node:assert/strict";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketAclCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketAclCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { serve } from "../mod.ts";
import { getRgw, type RgwUser } from "./_rgw.ts";
import { RGW_TEST } from "./_rgw_env.ts";

const CLIENTS = [1, 2, 3].map((i) => ({
  accessKey: `dr-client-${i}`,
  secretKey: `dr-secret-${i}`,
}));

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (err) {
    if (err instanceof S3ServiceException) return err.name;
    throw err;
  }
}

Deno.test(
  { name: "rgw: default route with a backend identity per client", ...RGW_TEST },
  async (t) => {
    const rgw = await getRgw();
    const users: RgwUser[] = [];
    for (let i = 1; i <= 3; i++) users.push(await rgw.createUser(`dr-user-${i}`));
    const backend = {
      host: "127.0.0.1",
      port: rgw.port,
      tls: false,
      addressingStyle: "path" as const,
    };
    // An explicit entry that overrides the default route for one name.
    const pinned = new S3Client({
      endpoint: rgw.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: users[2].accessKey, secretAccessKey: users[2].secretKey },
    });
    await pinned.send(new CreateBucketCommand({ Bucket: "dr-pinned-backend" }));
    const proxy = serve({
      httpPort: 0,
      hostname: "127.0.0.1",
      logLevel: "error",
      hmacKeystore: CLIENTS,
      cosMap: {
        "*": {
          ...backend,
          backendCredentials: Object.fromEntries(
            CLIENTS.map((
              c,
              i,
            ) => [c.accessKey, { accessKey: users[i].accessKey, secretKey: users[i].secretKey }]),
          ),
        },
        "dr-pinned": {
          ...backend,
          backendBucket: "dr-pinned-backend",
          accessKey: users[2].accessKey,
          secretKey: users[2].secretKey,
        },
      },
      validator: (_token, _bucket, req) => {
        operations.add(req.operation);
        return true;
      },
    });
    const operations = new Set<string>();
    const clients = CLIENTS.map((c) =>
      new S3Client({
        endpoint: `http://127.0.0.1:${proxy.http!.port}`,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: c.accessKey, secretAccessKey: c.secretKey },
      })
    );
    const buckets = ["dr-one", "dr-two", "dr-three"];
    try {
      await t.step("each client creates its own bucket, puts, lists and copies", async () => {
        for (const [i, s3] of clients.entries()) {
          await s3.send(new CreateBucketCommand({ Bucket: buckets[i] }));
          await s3.send(
            new PutObjectCommand({ Bucket: buckets[i], Key: "a.txt", Body: `from ${i + 1}` }),
          );
          await s3.send(
            new CopyObjectCommand({
              Bucket: buckets[i],
              Key: "b.txt",
              CopySource: `${buckets[i]}/a.txt`,
            }),
          );
          const list = await s3.send(new ListObjectsV2Command({ Bucket: buckets[i] }));
          assert.deepEqual(list.Contents?.map((c) => c.Key), ["a.txt", "b.txt"]);
        }
        assert.ok(operations.has("CreateBucket"), "the validator saw CreateBucket");
      });

      await t.step(
        "ListBuckets shows each user's own buckets (plus the explicit entries)",
        async () => {
          for (const [i, s3] of clients.entries()) {
            const names = (await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)
              .sort();
            const own = i === 2
              ? ["dr-pinned", "dr-pinned-backend", buckets[i]]
              : ["dr-pinned", buckets[i]];
            assert.deepEqual(names, own.sort());
          }
        },
      );

      await t.step(
        "a bucket ACL grants user 2 read: 2 lists through osp, 3 is refused by RGW",
        async () => {
          await clients[0].send(
            new PutBucketAclCommand({
              Bucket: buckets[0],
              GrantFullControl: `id=${users[0].uid}`,
              GrantRead: `id=${users[1].uid}`,
            }),
          );
          const acl = await clients[0].send(new GetBucketAclCommand({ Bucket: buckets[0] }));
          assert.ok(
            acl.Grants?.some((g) => g.Grantee?.ID === users[1].uid && g.Permission === "READ"),
            "grants pass through",
          );
          assert.equal(acl.Owner?.ID, users[0].uid, "the owner is the backend user, unchanged");
          const seen = await clients[1].send(new ListObjectsV2Command({ Bucket: buckets[0] }));
          assert.equal(seen.Contents?.length, 2);
          assert.equal(
            await code(clients[2].send(new ListObjectsV2Command({ Bucket: buckets[0] }))),
            "AccessDenied",
          );
        },
      );

      await t.step(
        "DeleteBucket on a non-empty bucket is BucketNotEmpty, passed through",
        async () => {
          assert.equal(
            await code(clients[0].send(new DeleteBucketCommand({ Bucket: buckets[0] }))),
            "BucketNotEmpty",
          );
        },
      );

      await t.step("versioning, then ListObjectVersions shows two versions", async () => {
        await clients[1].send(
          new PutBucketVersioningCommand({
            Bucket: buckets[1],
            VersioningConfiguration: { Status: "Enabled" },
          }),
        );
        await clients[1].send(
          new PutObjectCommand({ Bucket: buckets[1], Key: "v.txt", Body: "one" }),
        );
        await clients[1].send(
          new PutObjectCommand({ Bucket: buckets[1], Key: "v.txt", Body: "two" }),
        );
        const versions = await clients[1].send(
          new ListObjectVersionsCommand({ Bucket: buckets[1], Prefix: "v.txt" }),
        );
        assert.equal(versions.Versions?.length, 2);
      });

      await t.step("an explicit cosMap entry overrides the default route", async () => {
        // dr-pinned is user 3's dr-pinned-backend for every client.
        await clients[0].send(
          new PutObjectCommand({ Bucket: "dr-pinned", Key: "p.txt", Body: "pinned" }),
        );
        const got = await pinned.send(
          new GetObjectCommand({ Bucket: "dr-pinned-backend", Key: "p.txt" }),
        );
        assert.equal(await got.Body!.transformToString(), "pinned");
      });
    } finally {
      for (const s3 of clients) s3.destroy();
      pinned.destroy();
      await proxy.shutdown();
    }
  },
);
