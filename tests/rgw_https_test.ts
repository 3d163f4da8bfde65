// HTTPS beside HTTP, HTTP/2 negotiated by ALPN: curl --http2 --aws-sigv4
// uploads and downloads through osp to Ceph RGW.
import assert from "node:assert/strict";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { bytes, CLIENT, RGW_TEST, rgwEnv, sha256 } from "./_rgw_env.ts";
import { selfSignedCert } from "./_tls.ts";

async function curl(args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--http2",
      "--cacert",
      args[0],
      "--aws-sigv4",
      "aws:amz:us-east-1:s3",
      "--user",
      `${CLIENT.accessKey}:${CLIENT.secretKey}`,
      ...args.slice(1),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test({ name: "rgw: HTTPS with HTTP/2 (curl --http2 --aws-sigv4)", ...RGW_TEST }, async () => {
  const dir = await Deno.makeTempDir({ prefix: "osp-tls-" });
  const tls = await selfSignedCert(dir);
  const env = await rgwEnv("https", { vhost: false, config: { httpsPort: 0, tls } });
  try {
    const base = `https://localhost:${env.proxy.https!.port}/${env.buckets.path}`;
    const data = bytes(3 * 1024 * 1024, 9);
    await Deno.writeFile(`${dir}/up.bin`, data);
    const put = await curl([
      tls.cert,
      "-T",
      `${dir}/up.bin`,
      "-H",
      `x-amz-content-sha256: ${sha256(data)}`,
      "-o",
      "/dev/null",
      "-w",
      "%{http_version} %{http_code}",
      `${base}/tls/obj.bin`,
    ]);
    assert.equal(put, "2 200");
    const get = await curl([
      tls.cert,
      "-H",
      `x-amz-content-sha256: ${sha256("")}`,
      "-o",
      `${dir}/down.bin`,
      "-w",
      "%{http_version} %{http_code}",
      `${base}/tls/obj.bin`,
    ]);
    assert.equal(get, "2 200");
    assert.equal(sha256(await Deno.readFile(`${dir}/down.bin`)), sha256(data));
    // The plain HTTP listener runs beside it, serving the same object.
    const plain = await env.client.send(
      new GetObjectCommand({ Bucket: env.buckets.path, Key: "tls/obj.bin" }),
    );
    assert.equal(sha256(await plain.Body!.transformToByteArray()), sha256(data));
  } finally {
    await env.close();
    await Deno.remove(dir, { recursive: true });
  }
});
