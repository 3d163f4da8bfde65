// The machine's pyenv aws-cli 1.45 and boto3 1.43 upload over HTTPS with
// STREAMING-UNSIGNED-PAYLOAD-TRAILER, Transfer-Encoding: chunked and no
// Content-Length (CRC32 trailers, their 2025 default); RGW 16 rejects that
// itself. Through osp they must store exact bytes.
import assert from "node:assert/strict";
import { bytes, CLIENT, RGW_TEST, rgwEnv, sha256 } from "./_rgw_env.ts";
import { selfSignedCert } from "./_tls.ts";

const PYENV_BIN = `${Deno.env.get("HOME") ?? "/root"}/.pyenv/shims`;

async function has(cmd: string, args: string[]): Promise<string | null> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return o.code === 0
      ? new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr)
      : null;
  } catch {
    return null;
  }
}

const BOTO = `
import boto3, hashlib, json, os, sys
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["OSP_ENDPOINT"], region_name="us-east-1",
                  verify=os.environ["OSP_CA"], config=Config(s3={"addressing_style": "path"}))
b = sys.argv[1]
data = bytes((i * 13 + 5) % 251 for i in range(3 * 1024 * 1024 + 3))
s3.put_object(Bucket=b, Key="pyenv/boto3.bin", Body=data)
with open(os.environ["OSP_FILE"], "rb") as f:
    s3.upload_fileobj(f, b, "pyenv/boto3-multipart.bin")
got = s3.get_object(Bucket=b, Key="pyenv/boto3.bin")["Body"].read()
print(json.dumps({"version": boto3.__version__, "ok": got == data, "sha": hashlib.sha256(got).hexdigest()}))
`;

Deno.test({
  name: "rgw: pyenv aws-cli 1.45 / boto3 1.43 over HTTPS (trailer uploads)",
  ...RGW_TEST,
}, async (t) => {
  const aws = `${PYENV_BIN}/aws`;
  const python = `${PYENV_BIN}/python3`;
  const awsVersion = await has(aws, ["--version"]);
  if (awsVersion === null) {
    console.log("SKIP: the machine image's pyenv aws-cli is not installed here");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "osp-pyenv-" });
  const tls = await selfSignedCert(dir);
  // The validator records each upload's payload mode: proof of what the clients sent.
  const modes = new Set<string>();
  const env = await rgwEnv("pyenv", {
    vhost: false,
    config: {
      httpsPort: 0,
      tls,
      validator: (_token, _bucket, req) => {
        if (req.method === "PUT") modes.add(req.headers["x-amz-content-sha256"]);
        return true;
      },
    },
  });
  const endpoint = `https://localhost:${env.proxy.https!.port}`;
  const cliEnv = {
    HOME: dir,
    PATH: `${PYENV_BIN}:/usr/bin:/bin`,
    AWS_ACCESS_KEY_ID: CLIENT.accessKey,
    AWS_SECRET_ACCESS_KEY: CLIENT.secretKey,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_CONFIG_FILE: `${dir}/config`,
    AWS_SHARED_CREDENTIALS_FILE: `${dir}/credentials`,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CA_BUNDLE: tls.cert,
    OSP_ENDPOINT: endpoint,
    OSP_CA: tls.cert,
    OSP_FILE: `${dir}/up.bin`,
  };
  await Deno.writeTextFile(`${dir}/config`, "[default]\ns3 =\n  addressing_style = path\n");
  const run = async (cmd: string, args: string[], stdin?: string) => {
    const child = new Deno.Command(cmd, {
      args,
      env: cliEnv,
      clearEnv: true,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const o = await child.output();
    const out = new TextDecoder().decode(o.stdout);
    assert.equal(
      o.code,
      0,
      `${cmd} ${args.join(" ")}\n${out}\n${new TextDecoder().decode(o.stderr)}`,
    );
    return out;
  };
  try {
    const data = bytes(20 * 1024 * 1024 + 5, 44);
    await Deno.writeFile(`${dir}/up.bin`, data);
    await t.step(
      `aws-cli (${awsVersion.trim().split(" ")[0]}) s3 cp up and down, 20 MiB multipart`,
      async () => {
        await run(aws, [
          "--endpoint-url",
          endpoint,
          "s3",
          "cp",
          `${dir}/up.bin`,
          `s3://${env.buckets.path}/pyenv/cli.bin`,
        ]);
        await run(aws, [
          "--endpoint-url",
          endpoint,
          "s3",
          "cp",
          `s3://${env.buckets.path}/pyenv/cli.bin`,
          `${dir}/down.bin`,
        ]);
        assert.equal(sha256(await Deno.readFile(`${dir}/down.bin`)), sha256(data));
        assert.ok(modes.has("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), [...modes].join());
      },
    );
    if (await has(python, ["-c", "import boto3"]) === null) {
      console.log("SKIP: boto3 is not installed in the pyenv Python");
      return;
    }
    await t.step("boto3 put_object and upload_fileobj", async () => {
      modes.clear();
      const out = JSON.parse(await run(python, ["-", env.buckets.path], BOTO));
      assert.equal(out.ok, true, JSON.stringify(out));
      assert.ok(modes.has("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), [...modes].join());
    });
  } finally {
    await env.close();
    await Deno.remove(dir, { recursive: true });
  }
});
