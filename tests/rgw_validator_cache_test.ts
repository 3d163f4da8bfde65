// Request integrity against Ceph RGW, the parts that are osp's own choices:
// a cached validator decision is keyed on every input the validator sees
// (finding 5), `strictKeyPaths` refuses keys a path-normalising middlebox
// would rewrite (finding 11), and a request osp cannot name is refused
// without a validator (finding 8).
import assert from "node:assert/strict";
import {
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import type { ValidatorRequest } from "../lib/config/config.ts";
import { CLIENT, RGW_TEST, rgwEnv, sha256 } from "./_rgw_env.ts";
import { signHeaders } from "./_sign.ts";
import { rawRequest } from "./hostile/_setup.ts";

async function errorCode(res: Response): Promise<string> {
  const text = await res.text();
  return /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? `(no code, HTTP ${res.status})`;
}

function signedFetch(url: string, options: { method?: string; headers?: Record<string, string> }) {
  const method = options.method ?? "GET";
  return fetch(url, { method, headers: signHeaders(method, url, { ...CLIENT, ...options }) });
}

Deno.test(
  {
    name: "rgw: a cached yes for one versionId, header or address is not a yes for another",
    ...RGW_TEST,
  },
  async () => {
    const calls: ValidatorRequest[] = [];
    const env = await rgwEnv("vcache", {
      config: {
        validator: (_token, _bucket, req) => {
          calls.push(req);
          // Only version v1 may be read, and only without a response override.
          if (req.operation !== "GetObject") return true;
          return req.query.versionId === allowedVersion && !("response-content-type" in req.query);
        },
      },
      bucket: { ttl: 300 },
    });
    let allowedVersion = "";
    try {
      const bucket = env.buckets.path;
      await env.direct.send(
        new PutBucketVersioningCommand({
          Bucket: env.backendBuckets.path,
          VersioningConfiguration: { Status: "Enabled" },
        }),
      );
      const v1 = await env.direct.send(
        new PutObjectCommand({ Bucket: env.backendBuckets.path, Key: "doc", Body: "version one" }),
      );
      const v2 = await env.direct.send(
        new PutObjectCommand({ Bucket: env.backendBuckets.path, Key: "doc", Body: "version two" }),
      );
      allowedVersion = v1.VersionId!;
      const url = (q: string) => `${env.endpoint}/${bucket}/doc?${q}`;

      const first = await signedFetch(url(`versionId=${v1.VersionId}`), {});
      assert.equal(first.status, 200);
      assert.equal(await first.text(), "version one");
      const again = await signedFetch(url(`versionId=${v1.VersionId}`), {});
      assert.equal(await again.text(), "version one");
      assert.equal(calls.length, 1, "the same request is answered from the cache");

      // Before: the cache key ignored the query, so v2 was served from v1's yes.
      const other = await signedFetch(url(`versionId=${v2.VersionId}`), {});
      assert.equal(other.status, 403);
      assert.equal(await errorCode(other), "AccessDenied");
      const override = await signedFetch(
        url(`versionId=${v1.VersionId}&response-content-type=text%2Fhtml`),
        {},
      );
      assert.equal(override.status, 403);
      await override.body?.cancel();
      assert.equal(calls.length, 3);

      // A header the validator sees is part of the key too.
      allowedVersion = v2.VersionId!;
      const ranged = await signedFetch(url(`versionId=${v2.VersionId}`), {
        headers: { range: "bytes=0-6" },
      });
      assert.equal(ranged.status, 206);
      assert.equal(await ranged.text(), "version");
      assert.equal(calls.length, 4);
    } finally {
      await env.close();
    }
  },
);

Deno.test(
  {
    name: "rgw: strictKeyPaths refuses dot and empty segments; the backend never sees them",
    ...RGW_TEST,
  },
  async () => {
    const env = await rgwEnv("strictkeys", { bucket: { strictKeyPaths: true } });
    try {
      const base = `${env.endpoint}/${env.buckets.path}`;
      const port = Number(new URL(env.endpoint).port);
      // Raw requests: fetch would resolve the dot segments before sending.
      for (const key of ["a/../b", "a/./b", "a//b", "%2E%2E/b", "a/%2e/b", "..", "/lead"]) {
        const target = `/${env.buckets.path}/${key}`;
        const headers = signHeaders("PUT", `${env.endpoint}${target}`, { ...CLIENT, body: "x" });
        const res = await rawRequest(port, "PUT", target, headers, "x");
        assert.equal(res?.status, 400, key);
        assert.match(res!.body, /<Code>InvalidArgument<\/Code>/, key);
      }
      // A copy whose source key has such a segment is refused the same way.
      const copy = await signedFetch(`${base}/copy`, {
        method: "PUT",
        headers: { "x-amz-copy-source": `/${env.buckets.path}/a/../b` },
      });
      assert.equal(copy.status, 400);
      assert.equal(await errorCode(copy), "InvalidArgument");
      // Plain keys and a trailing slash (a folder marker) still work.
      for (const key of ["dir/", "dir/file.txt", "a.b/..c/d."]) {
        await env.client.send(
          new PutObjectCommand({ Bucket: env.buckets.path, Key: key, Body: key }),
        );
        const got = await env.direct.send(
          new GetObjectCommand({ Bucket: env.backendBuckets.path, Key: key }),
        );
        assert.equal(sha256(await got.Body!.transformToByteArray()), sha256(key));
      }
      // Nothing else reached RGW.
      for (const key of ["b", "a/b", "lead", "/lead", "a//b"]) {
        const missing = await env.direct.send(
          new GetObjectCommand({ Bucket: env.backendBuckets.path, Key: key }),
        ).then(() => "found", (err) => err instanceof S3ServiceException ? err.name : err);
        assert.equal(missing, "NoSuchKey", key);
      }
    } finally {
      await env.close();
    }
  },
);

Deno.test(
  {
    name: "rgw: without a validator, a request osp cannot name is 501 and never sent",
    ...RGW_TEST,
  },
  async () => {
    const env = await rgwEnv("unknownop", { config: { validator: undefined } });
    try {
      await env.client.send(
        new PutObjectCommand({ Bucket: env.buckets.path, Key: "k", Body: "kept" }),
      );
      // RGW's append (an extension S3 does not have) would add to the object.
      const append = await signedFetch(
        `${env.endpoint}/${env.buckets.path}/k?append&position=4`,
        { method: "PUT" },
      );
      assert.equal(append.status, 501);
      assert.equal(await errorCode(append), "NotImplemented");
      const got = await env.direct.send(
        new GetObjectCommand({ Bucket: env.backendBuckets.path, Key: "k" }),
      );
      assert.equal(await got.Body!.transformToString(), "kept");
    } finally {
      await env.close();
    }
  },
);
