// `anonymousAs: "anonymous"` on Ceph RGW: unsigned requests a bucket lists
// in `anonymous` reach RGW unsigned, as its own anonymous user, so RGW's
// ACLs decide (a public-read bucket is readable, a private one answers RGW's
// own 403, a public-read-write one takes an anonymous PUT); what osp or the
// validator refuses never reaches RGW. RGW's ops log says who did what.
import assert from "node:assert/strict";
import {
  type BucketCannedACL,
  GetObjectCommand,
  PutBucketAclCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { OpsLog, type OpsLogEntry, parseEntryUri } from "./_ops_log.ts";
import { bytes, RGW_TEST, type RgwEnv, rgwEnv, sha256 } from "./_rgw_env.ts";

/** RGW's ops-log entries for the requests sent with user agent `ua` since `mark`. */
async function ranOnRgw(env: RgwEnv, options: { mark: number; ua: string }): Promise<string[]> {
  const entries = await new OpsLog(env.rgw.opsLogPath).barrier(options.mark, env.rgw.endpoint);
  return entries.filter((e) => e.user_agent === options.ua).map(describe);
}

/** `METHOD /path status user` of one entry. */
function describe(entry: OpsLogEntry): string {
  const { method, rawPath } = parseEntryUri(entry.uri);
  return `${method} ${rawPath} ${entry.http_status} ${entry.user ?? "-"}`;
}

Deno.test(
  { name: 'rgw: anonymousAs "anonymous" sends unsigned requests, RGW\'s ACLs decide', ...RGW_TEST },
  async (t) => {
    const env = await rgwEnv("anonbe", {
      bucket: {
        anonymous: ["GetObject", "HeadObject", "ListObjectsV2", "PutObject", "DeleteObject"],
        anonymousAs: "anonymous",
      },
      config: { validator: (token, _bucket, req) => token !== null || req.key !== "refused/k" },
    });
    const { buckets, backendBuckets, direct } = env;
    // Set on RGW directly: osp does not know or change them.
    const acl = async (bucket: string, ACL: BucketCannedACL) =>
      await direct.send(new PutBucketAclCommand({ Bucket: bucket, ACL }));
    const readable = { client: buckets.path, backend: backendBuckets.path };
    const writable = { client: buckets.hidden, backend: backendBuckets.hidden };
    const closed = { client: buckets.other, backend: backendBuckets.other };
    const body = bytes(70_000, 7);
    const at = (path: string, init: RequestInit & { ua: string }) =>
      fetch(`${env.endpoint}${path}`, { ...init, headers: { "user-agent": init.ua } });
    try {
      await acl(readable.backend, "public-read");
      await acl(writable.backend, "public-read-write");
      for (const b of [readable, closed]) {
        // Readable objects in the public-read bucket, private ones in the other.
        const ACL = b === readable ? "public-read" : "private";
        for (const Key of ["pub/k", "refused/k"]) {
          await direct.send(new PutObjectCommand({ Bucket: b.backend, Key, Body: body, ACL }));
        }
      }
      const anonymous = "anonymous"; // how RGW's ops log names its anonymous user

      await t.step("a public-read bucket is read as RGW's anonymous user", async () => {
        const ua = `anonbe-read/${crypto.randomUUID()}`;
        const mark = await new OpsLog(env.rgw.opsLogPath).mark();
        const get = await at(`/${readable.client}/pub/k`, { ua });
        assert.equal(get.status, 200);
        assert.equal(sha256(new Uint8Array(await get.arrayBuffer())), sha256(body));
        const list = await at(`/${readable.client}?list-type=2&prefix=pub%2F`, { ua });
        assert.equal(list.status, 200);
        assert.match(await list.text(), /<Key>pub\/k<\/Key>/);
        assert.deepEqual(await ranOnRgw(env, { mark, ua }), [
          `GET /${readable.backend}/pub/k 200 ${anonymous}`,
          `GET /${readable.backend} 200 ${anonymous}`,
        ]);
      });

      await t.step("a private bucket answers RGW's own 403 AccessDenied", async () => {
        const ua = `anonbe-closed/${crypto.randomUUID()}`;
        const mark = await new OpsLog(env.rgw.opsLogPath).mark();
        const get = await at(`/${closed.client}/pub/k`, { ua });
        assert.equal(get.status, 403);
        assert.match(await get.text(), /<Code>AccessDenied<\/Code>/);
        const put = await at(`/${readable.client}/up/k`, { ua, method: "PUT", body: "no" });
        assert.equal(put.status, 403, "public-read is not public-write");
        assert.match(await put.text(), /<Code>AccessDenied<\/Code>/);
        const del = await at(`/${readable.client}/pub/k`, { ua, method: "DELETE" });
        assert.equal(del.status, 403);
        await del.body?.cancel();
        assert.deepEqual(await ranOnRgw(env, { mark, ua }), [
          `GET /${closed.backend}/pub/k 403 ${anonymous}`,
          `PUT /${readable.backend}/up/k 403 ${anonymous}`,
          `DELETE /${readable.backend}/pub/k 403 ${anonymous}`,
        ]);
        const still = await direct.send(
          new GetObjectCommand({ Bucket: readable.backend, Key: "pub/k" }),
        );
        assert.equal(sha256(await still.Body!.transformToByteArray()), sha256(body));
      });

      await t.step("a public-read-write bucket takes an anonymous PUT", async () => {
        const ua = `anonbe-write/${crypto.randomUUID()}`;
        const mark = await new OpsLog(env.rgw.opsLogPath).mark();
        const put = await at(`/${writable.client}/up/k`, { ua, method: "PUT", body: body.slice() });
        assert.equal(put.status, 200, await put.clone().text());
        await put.body?.cancel();
        const stored = await direct.send(
          new GetObjectCommand({ Bucket: writable.backend, Key: "up/k" }),
        );
        assert.equal(sha256(await stored.Body!.transformToByteArray()), sha256(body));
        assert.deepEqual(await ranOnRgw(env, { mark, ua }), [
          `PUT /${writable.backend}/up/k 200 ${anonymous}`,
        ]);
      });

      await t.step("refused by osp or the validator: 403, and nothing reaches RGW", async () => {
        const ua = `anonbe-refused/${crypto.randomUUID()}`;
        const mark = await new OpsLog(env.rgw.opsLogPath).mark();
        const refused: [string, RequestInit][] = [
          [`/${readable.client}/refused/k`, {}],
          [`/${writable.client}/refused/k`, { method: "PUT", body: "x" }],
          [`/${readable.client}?acl`, {}],
          [`/${writable.client}/x`, {
            method: "PUT",
            body: "x",
            headers: { "x-amz-acl": "private" },
          }],
        ];
        for (const [path, init] of refused) {
          const res = await fetch(`${env.endpoint}${path}`, {
            ...init,
            headers: { ...init.headers, "user-agent": ua },
          });
          assert.equal(res.status, 403, `${init.method ?? "GET"} ${path}`);
          assert.match(await res.text(), /<Code>AccessDenied<\/Code>/);
        }
        assert.deepEqual(await ranOnRgw(env, { mark, ua }), []);
      });

      await t.step("signed requests keep the bucket's identity", async () => {
        const mark = await new OpsLog(env.rgw.opsLogPath).mark();
        const got = await env.client.send(
          new GetObjectCommand({ Bucket: closed.client, Key: "pub/k" }),
        );
        assert.equal(sha256(await got.Body!.transformToByteArray()), sha256(body));
        const entries = await new OpsLog(env.rgw.opsLogPath).barrier(mark, env.rgw.endpoint);
        const ours = entries.filter((e) =>
          parseEntryUri(e.uri).rawPath === `/${closed.backend}/pub/k`
        );
        assert.deepEqual(ours.map((e) => e.user), [env.user.uid]);
      });
    } finally {
      await env.close();
    }
  },
);
