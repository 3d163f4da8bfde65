import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { getRgw, rgwInstalled, type RgwUser } from "./_rgw.ts";

function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Uint8Array, data: string): Uint8Array {
  return createHmac("sha256", key).update(data).digest();
}

function encodePath(path: string): string {
  return path.split("/").map((seg) =>
    encodeURIComponent(seg).replace(
      /[!'()*]/g,
      (ch) => "%" + ch.charCodeAt(0).toString(16).toUpperCase(),
    )
  ).join("/");
}

/** Minimal AWS SigV4 (header auth) for path-style requests without a query string. */
function signedFetch(
  endpoint: string,
  user: RgwUser,
  method: string,
  path: string,
  body = "",
): Promise<Response> {
  const url = new URL(endpoint);
  const region = "us-east-1";
  const service = "s3";
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const dateStamp = amzDate.slice(0, 8);
  const payloadHash = sha256Hex(body);
  const canonicalUri = encodePath(path);
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": payloadHash,
    "x-amz-date": amzDate,
  };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n].trim()}\n`).join("");
  const signedHeaders = names.join(";");
  const canonicalRequest = [
    method,
    canonicalUri,
    "",
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join("\n");
  const scope = `${dateStamp}/${region}/${service}/aws4_request`;
  const stringToSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    scope,
    sha256Hex(canonicalRequest),
  ].join("\n");
  const kDate = hmac(`AWS4${user.secretKey}`, dateStamp);
  const kRegion = hmac(kDate, region);
  const kService = hmac(kRegion, service);
  const kSigning = hmac(kService, "aws4_request");
  const signature = createHmac("sha256", kSigning).update(stringToSign).digest("hex");
  const authorization =
    `AWS4-HMAC-SHA256 Credential=${user.accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return fetch(`${endpoint}${canonicalUri}`, {
    method,
    headers: {
      "x-amz-content-sha256": payloadHash,
      "x-amz-date": amzDate,
      authorization,
    },
    body: method === "GET" || method === "HEAD" ? undefined : body,
  });
}

Deno.test({
  name: "rgw smoke: create bucket, put and get an object with SigV4",
  ignore: !rgwInstalled(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rgw = await getRgw();
    assert.equal(rgw.endpoint, `http://127.0.0.1:${rgw.port}`);
    const user = await rgw.createUser("smoke");

    const mk = await signedFetch(rgw.endpoint, user, "PUT", "/smoke-bucket");
    assert.equal(mk.status, 200, await mk.text());

    const put = await signedFetch(rgw.endpoint, user, "PUT", "/smoke-bucket/hello.txt", "hi");
    assert.equal(put.status, 200, await put.text());

    const get = await signedFetch(rgw.endpoint, user, "GET", "/smoke-bucket/hello.txt");
    const text = await get.text();
    assert.equal(get.status, 200, text);
    assert.equal(text, "hi");

    // A wrong signature must be rejected (RGW really verifies SigV4).
    const bad = await signedFetch(
      rgw.endpoint,
      { ...user, secretKey: user.secretKey + "x" },
      "GET",
      "/smoke-bucket/hello.txt",
    );
    assert.equal(bad.status, 403);
    await bad.body?.cancel();

    // Same process, same cluster.
    assert.equal(await getRgw(), rgw);
  },
});
