// An upload that sets an ACL (`x-amz-acl`, a grant header, a form's `acl`
// field) needs the validator's PutObjectAcl as well as PutObject, as AWS
// requires s3:PutObjectAcl for it: checked against Ceph RGW, where the ACL
// the object gets is read back directly.
import assert from "node:assert/strict";
import { GetObjectAclCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { absentOnRgw, RGW_TEST, type RgwEnv, rgwEnv } from "./_rgw_env.ts";

/** Keys under this prefix may be uploaded, but not with an ACL. */
const NO_ACL = "noacl/";
const ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers";

async function envWithAclRule(): Promise<RgwEnv> {
  return await rgwEnv("aclok", {
    vhost: false,
    config: {
      validator: (_token, _bucket, r) =>
        !(r.operation === "PutObjectAcl" && r.key?.startsWith(NO_ACL)),
    },
  });
}

async function publicOnRgw(env: RgwEnv, key: string): Promise<boolean> {
  const acl = await env.direct.send(
    new GetObjectAclCommand({ Bucket: env.backendBuckets.path, Key: key }),
  );
  return (acl.Grants ?? []).some((g) => g.Grantee?.URI === ALL_USERS && g.Permission === "READ");
}

Deno.test({ name: "rgw acl: a PUT with x-amz-acl needs PutObjectAcl", ...RGW_TEST }, async () => {
  const env = await envWithAclRule();
  const put = (key: string) =>
    env.client.send(
      new PutObjectCommand({ Bucket: env.buckets.path, Key: key, Body: "x", ACL: "public-read" }),
    );
  try {
    await put("acl/open");
    assert.ok(await publicOnRgw(env, "acl/open"));
    await assert.rejects(() => put(`${NO_ACL}open`), (e: Error) => e.name === "AccessDenied");
    assert.ok(await absentOnRgw(env, `${NO_ACL}open`));
    // Without an ACL the same key is allowed: only PutObjectAcl was refused.
    await env.client.send(
      new PutObjectCommand({ Bucket: env.buckets.path, Key: `${NO_ACL}plain`, Body: "x" }),
    );
    assert.equal(await publicOnRgw(env, `${NO_ACL}plain`), false);
  } finally {
    await env.close();
  }
});

Deno.test({ name: "rgw acl: a form's acl field needs PutObjectAcl", ...RGW_TEST }, async () => {
  const env = await envWithAclRule();
  const post = async (key: string) => {
    const presigned = await createPresignedPost(env.client, {
      Bucket: env.buckets.path,
      Key: key,
      Conditions: [{ acl: "public-read" }],
      Fields: { acl: "public-read" },
      Expires: 600,
    });
    const form = new FormData();
    for (const [k, v] of Object.entries(presigned.fields)) form.append(k, v);
    form.append("file", new Blob(["form bytes"]), "f.txt");
    const res = await fetch(presigned.url, { method: "POST", body: form });
    return { status: res.status, text: await res.text() };
  };
  try {
    const ok = await post("acl/form");
    assert.equal(ok.status, 204, ok.text);
    assert.ok(await publicOnRgw(env, "acl/form"));
    const refused = await post(`${NO_ACL}form`);
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.text, /<Code>AccessDenied<\/Code>/);
    assert.ok(await absentOnRgw(env, `${NO_ACL}form`));
  } finally {
    await env.close();
  }
});
