// Browser form uploads (presigned POST) through osp to Ceph RGW: policies made by
// Debian's /usr/bin/python3 boto3 (generate_presigned_post), sent by python
// requests, curl and fetch's FormData.
import assert from "node:assert/strict";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { absentOnRgw, bytes, CLIENT, RGW_TEST, type RgwEnv, rgwEnv, sha256 } from "./_rgw_env.ts";

const PYTHON = "/usr/bin/python3";

// Reads [{name, key, fields, conditions, expires}] on stdin; prints {name: {url, fields}}.
// With OSP_UPLOAD set, also posts the first one's form with requests and reports the status.
const PRESIGN = `
import json, os, sys, boto3, requests
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["OSP_ENDPOINT"], region_name="us-east-1",
    aws_access_key_id=os.environ["KEY"], aws_secret_access_key=os.environ["SECRET"],
    config=Config(signature_version=os.environ["SIGV"], s3={"addressing_style": "path"}))
out = {}
for spec in json.load(sys.stdin):
    out[spec["name"]] = s3.generate_presigned_post(os.environ["BUCKET"], spec["key"],
        Fields=spec.get("fields"), Conditions=spec.get("conditions"),
        ExpiresIn=spec.get("expires", 600))
first = next(iter(out.values()))
r = requests.post(first["url"], data=first["fields"],
    files={"file": ("hello.txt", b"hello from requests", "text/plain")})
out["_requests"] = {"status": r.status_code, "body": r.text}
print(json.dumps(out))
`;

interface Presigned {
  url: string;
  fields: Record<string, string>;
}

async function hasBoto(): Promise<boolean> {
  const ok = await new Deno.Command(PYTHON, {
    args: ["-c", "import boto3, requests"],
    stdout: "null",
    stderr: "null",
  }).output().then((o) => o.code === 0, () => false);
  if (!ok && Deno.env.get("CI") === "true") {
    assert.fail("python3-boto3 / python3-requests are missing");
  }
  return ok;
}

/** Presigns with boto3: `s3v4` (SigV4 forms) or `s3` (SigV2 forms: AWSAccessKeyId, signature). */
async function presign(
  env: RgwEnv,
  specs: unknown[],
  signatureVersion: "s3v4" | "s3" = "s3v4",
): Promise<Record<string, Presigned>> {
  const child = new Deno.Command(PYTHON, {
    args: ["-c", PRESIGN],
    env: {
      PATH: "/usr/bin:/bin",
      OSP_ENDPOINT: env.endpoint,
      KEY: CLIENT.accessKey,
      SECRET: CLIENT.secretKey,
      BUCKET: env.buckets.path,
      SIGV: signatureVersion,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(specs)));
  await writer.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function post(
  p: Presigned,
  file: Uint8Array | string,
  edit: (f: Record<string, string>) => void = () => {},
): Promise<Response> {
  const fields = { ...p.fields };
  edit(fields);
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append("file", new Blob([file as BlobPart]), "photo.bin");
  return await fetch(p.url, { method: "POST", body: form, redirect: "manual" });
}

async function stored(env: RgwEnv, key: string) {
  try {
    const got = await env.direct.send(
      new GetObjectCommand({ Bucket: env.backendBuckets.path, Key: key }),
    );
    return {
      bytes: await got.Body!.transformToByteArray(),
      contentType: got.ContentType,
      metadata: got.Metadata,
    };
  } catch {
    return undefined;
  }
}

Deno.test({ name: "rgw post: boto3 presigned POST forms through osp", ...RGW_TEST }, async (t) => {
  if (!await hasBoto()) return console.log("SKIP: /usr/bin/python3 boto3 + requests missing");
  const env = await rgwEnv("post", { vhost: false });
  try {
    const forms = await presign(env, [
      {
        name: "basic",
        key: "up/${filename}",
        fields: { "Content-Type": "text/plain", "x-amz-meta-owner": "alice" },
        conditions: [{ "Content-Type": "text/plain" }, { "x-amz-meta-owner": "alice" }],
      },
      {
        name: "created",
        key: "c/obj",
        fields: { success_action_status: "201" },
        conditions: [{ success_action_status: "201" }],
      },
      {
        name: "redirect",
        key: "r/obj",
        fields: { success_action_redirect: "https://app.example/done" },
        conditions: [{ success_action_redirect: "https://app.example/done" }],
      },
      { name: "prefix", key: "allowed/${filename}" },
      { name: "expired", key: "e/obj", expires: -60 },
      { name: "small", key: "s/obj", conditions: [["content-length-range", 0, 10]] },
      { name: "big", key: "big/obj", conditions: [["content-length-range", 0, 30 << 20]] },
      { name: "cut", key: "cut/obj" },
    ]);

    await t.step("python requests: 204, bytes, Content-Type and metadata on RGW", async () => {
      const r = (forms as unknown as Record<string, { status: number; body: string }>)._requests;
      assert.equal(r.status, 204, r.body);
      const got = await stored(env, "up/hello.txt");
      assert.ok(got, "up/hello.txt was not stored");
      assert.equal(new TextDecoder().decode(got.bytes), "hello from requests");
      assert.equal(got.contentType, "text/plain");
      assert.equal(got.metadata?.owner, "alice");
    });

    await t.step("SigV2 forms (signature_version 's3'): 204 and the bytes on RGW", async () => {
      const v2 = await presign(env, [
        {
          name: "v2",
          key: "v2/${filename}",
          fields: { "Content-Type": "text/plain" },
          conditions: [{ "Content-Type": "text/plain" }],
        },
      ], "s3");
      assert.ok("AWSAccessKeyId" in v2.v2.fields && "signature" in v2.v2.fields);
      assert.ok(!("x-amz-signature" in v2.v2.fields));
      const r = (v2 as unknown as Record<string, { status: number; body: string }>)._requests;
      assert.equal(r.status, 204, r.body);
      const got = await stored(env, "v2/hello.txt");
      assert.equal(new TextDecoder().decode(got!.bytes), "hello from requests");
      assert.equal(got!.contentType, "text/plain");
      const bad = await post(v2.v2, "x", (f) => {
        f.signature = f.signature.replace(/^./, (c) => c === "A" ? "B" : "A");
      });
      assert.equal(bad.status, 403);
      assert.match(await bad.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
      assert.ok(await absentOnRgw(env, "v2/photo.bin"));
    });

    await t.step("fetch FormData (small file): 204; the object's SHA-256 on RGW", async () => {
      const data = bytes(60_000, 7); // Deno FormData omits the final CRLF: read whole
      const response = await post(forms.basic, data);
      assert.equal(response.status, 204, await response.text());
      const got = await stored(env, "up/photo.bin");
      assert.equal(sha256(got!.bytes), sha256(data));
    });

    await t.step("201 with a PostResponse, 303 to the redirect", async () => {
      const created = await post(forms.created, "created");
      assert.equal(created.status, 201);
      const xml = await created.text();
      assert.match(xml, new RegExp(`<Bucket>${env.buckets.path}</Bucket><Key>c/obj</Key>`));
      assert.match(xml, /<ETag>&quot;[0-9a-f]{32}&quot;<\/ETag>/);
      const redirected = await post(forms.redirect, "redirected");
      assert.equal(redirected.status, 303);
      await redirected.body?.cancel();
      const location = new URL(redirected.headers.get("location")!);
      assert.equal(location.searchParams.get("key"), "r/obj");
      assert.equal(location.searchParams.get("bucket"), env.buckets.path);
      assert.match(location.searchParams.get("etag")!, /^"[0-9a-f]{32}"$/);
      assert.equal(new TextDecoder().decode((await stored(env, "r/obj"))!.bytes), "redirected");
    });

    await t.step("policy violations: 403/400 and no object on RGW", async () => {
      const cases: [Promise<Response>, number, string, string][] = [
        [post(forms.expired, "x"), 403, "AccessDenied", "e/obj"],
        [post(forms.prefix, "x", (f) => f.key = "other/x"), 403, "AccessDenied", "other/x"],
        [post(forms.small, "x".repeat(100)), 400, "EntityTooLarge", "s/obj"],
        [
          post(forms.basic, "x", (f) => f["x-amz-meta-extra"] = "1"),
          403,
          "AccessDenied",
          "up/photo2.bin",
        ],
        [
          post(forms.prefix, "x", (f) => {
            f.key = "other/y";
            const doc = JSON.parse(atob(f.policy));
            doc.conditions = doc.conditions.map((c: unknown) =>
              Array.isArray(c) && c[1] === "$key" ? ["starts-with", "$key", "other/"] : c
            );
            f.policy = btoa(JSON.stringify(doc));
          }),
          403,
          "SignatureDoesNotMatch",
          "other/y",
        ],
        [
          post(forms.prefix, "x", (f) => {
            f["x-amz-signature"] = f["x-amz-signature"].replace(/^./, (c) => c === "0" ? "1" : "0");
          }),
          403,
          "SignatureDoesNotMatch",
          "allowed/photo.bin",
        ],
      ];
      for (const [pending, status, code, key] of cases) {
        const response = await pending;
        const text = await response.text();
        assert.equal(response.status, status, text);
        assert.match(text, new RegExp(`<Code>${code}</Code>`));
        assert.ok(await absentOnRgw(env, key), `${key} was stored`);
      }
    });

    await t.step("a body cut short mid-file leaves no object", async () => {
      const data = bytes(4 << 20, 3);
      const form = new FormData();
      for (const [k, v] of Object.entries(forms.cut.fields)) form.append(k, v);
      form.append("file", new Blob([data as BlobPart]), "cut.bin");
      const request = new Request(forms.cut.url, { method: "POST", body: form });
      const body = new Uint8Array(await request.arrayBuffer());
      const url = new URL(forms.cut.url);
      const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
      const head = `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n` +
        `Content-Type: ${request.headers.get("content-type")}\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`;
      await conn.write(new TextEncoder().encode(head));
      let at = 0;
      const half = body.length >> 1;
      while (at < half) at += await conn.write(body.subarray(at, half));
      await new Promise((r) => setTimeout(r, 300));
      conn.close();
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(await absentOnRgw(env, "cut/obj"), "a partial object was stored");
    });

    await t.step("curl: a 20 MiB upload", async () => {
      const data = bytes(20 << 20, 11);
      const dir = await Deno.makeTempDir({ prefix: "osp-post-" });
      try {
        await Deno.writeFile(`${dir}/big.bin`, data);
        const args = ["-s", "-o", "/dev/null", "-w", "%{http_code}"];
        for (const [k, v] of Object.entries(forms.big.fields)) args.push("-F", `${k}=${v}`);
        args.push("-F", `file=@${dir}/big.bin`, forms.big.url);
        const out = await new Deno.Command("curl", { args, stdout: "piped" }).output();
        assert.equal(new TextDecoder().decode(out.stdout), "204");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      const got = await stored(env, "big/obj");
      assert.equal(got?.bytes.length, 20 << 20);
      assert.equal(sha256(got!.bytes), sha256(data));
    });
  } finally {
    await env.close();
  }
});
