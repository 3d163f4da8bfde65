// Debian's /usr/bin/aws (awscli 2.9) and /usr/bin/python3 boto3 (1.26)
// through osp to Ceph RGW.
import assert from "node:assert/strict";
import { bytes, CLIENT, RGW_TEST, rgwEnv, sha256 } from "./_rgw_env.ts";

const AWS = "/usr/bin/aws";
const PYTHON = "/usr/bin/python3";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** An isolated environment for AWS CLIs: own HOME and config, path-style, no metadata lookups. */
async function cliEnv(endpoint: string): Promise<Record<string, string>> {
  const home = await Deno.makeTempDir({ prefix: "osp-cli-home-" });
  await Deno.mkdir(`${home}/.aws`);
  await Deno.writeTextFile(
    `${home}/.aws/config`,
    `[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n`,
  );
  return {
    HOME: home,
    PATH: "/usr/bin:/bin",
    AWS_CONFIG_FILE: `${home}/.aws/config`,
    AWS_SHARED_CREDENTIALS_FILE: `${home}/.aws/credentials`,
    AWS_ACCESS_KEY_ID: CLIENT.accessKey,
    AWS_SECRET_ACCESS_KEY: CLIENT.secretKey,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    OSP_ENDPOINT: endpoint,
  };
}

async function run(
  cmd: string,
  args: string[],
  options: { env: Record<string, string>; stdin?: string },
): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    clearEnv: true,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")} failed:\n${stdout}\n${stderr}`);
  return stdout;
}

Deno.test({ name: "rgw: /usr/bin/aws (awscli 2.9) through osp", ...RGW_TEST }, async (t) => {
  if (!(await exists(AWS))) {
    if (Deno.env.get("CI") === "true") assert.fail(`${AWS} is missing (apt-get install awscli)`);
    console.log(`SKIP: ${AWS} is not installed`);
    return;
  }
  const env = await rgwEnv("awscli", { vhost: false });
  const B = env.buckets.path;
  const e = await cliEnv(env.endpoint);
  const aws = (...args: string[]) =>
    run(AWS, ["--endpoint-url", env.endpoint, ...args], { env: e });
  const dir = await Deno.makeTempDir({ prefix: "osp-awscli-" });
  try {
    await t.step("s3 ls lists the allowed buckets", async () => {
      const out = await aws("s3", "ls");
      assert.match(out, new RegExp(B));
      assert.doesNotMatch(out, new RegExp(env.buckets.hidden));
    });
    await t.step("s3 cp up and down a 20 MiB file (multipart), SHA-256 equal", async () => {
      const data = bytes(20 * 1024 * 1024, 21);
      await Deno.writeFile(`${dir}/up.bin`, data);
      await aws("s3", "cp", `${dir}/up.bin`, `s3://${B}/cli/20mib.bin`);
      await aws("s3", "cp", `s3://${B}/cli/20mib.bin`, `${dir}/down.bin`);
      assert.equal(sha256(await Deno.readFile(`${dir}/down.bin`)), sha256(data));
    });
    await t.step("s3api head-object, list, rm", async () => {
      const head = JSON.parse(
        await aws("s3api", "head-object", "--bucket", B, "--key", "cli/20mib.bin"),
      );
      assert.equal(head.ContentLength, 20 * 1024 * 1024);
      assert.match(await aws("s3", "ls", `s3://${B}/cli/`), /20mib\.bin/);
      await aws("s3", "rm", `s3://${B}/cli/20mib.bin`);
      assert.doesNotMatch(await aws("s3", "ls", `s3://${B}/`, "--recursive"), /20mib\.bin/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(e.HOME, { recursive: true });
    await env.close();
  }
});

const BOTO_SCRIPT = `
import boto3, hashlib, io, json, os, sys
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=os.environ["OSP_ENDPOINT"], region_name="us-east-1")
b = sys.argv[1]
out = {}
s3.put_object(Bucket=b, Key="py/small.txt", Body=b"hello from boto3", ContentType="text/plain")
got = s3.get_object(Bucket=b, Key="py/small.txt")
out["small"] = got["Body"].read().decode()
out["contentType"] = got["ContentType"]
data = bytes((i * 7 + 3) % 251 for i in range(12 * 1024 * 1024))
s3.upload_fileobj(io.BytesIO(data), b, "py/12mib.bin",
                  Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
buf = io.BytesIO()
s3.download_fileobj(b, "py/12mib.bin", buf)
out["bigSha"] = hashlib.sha256(buf.getvalue()).hexdigest()
out["wantSha"] = hashlib.sha256(data).hexdigest()
out["keys"] = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="py/")["Contents"])
s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "py/small.txt"}, {"Key": "py/12mib.bin"}]})
out["after"] = s3.list_objects_v2(Bucket=b, Prefix="py/").get("KeyCount")
try:
    s3.get_object(Bucket=b + "-nope", Key="x")
except s3.exceptions.NoSuchBucket as e:
    out["noSuchBucket"] = e.response["Error"]["Code"]
print(json.dumps(out))
`;

Deno.test({ name: "rgw: /usr/bin/python3 boto3 through osp", ...RGW_TEST }, async () => {
  const hasBoto = await exists(PYTHON) &&
    (await new Deno.Command(PYTHON, {
        args: ["-c", "import boto3"],
        stdout: "null",
        stderr: "null",
      })
        .output()).code === 0;
  if (!hasBoto) {
    if (Deno.env.get("CI") === "true") {
      assert.fail("python3-boto3 is missing (apt-get install python3-boto3)");
    }
    console.log("SKIP: Debian python3-boto3 is not installed");
    return;
  }
  const env = await rgwEnv("boto", { vhost: false });
  const e = await cliEnv(env.endpoint);
  try {
    const out = JSON.parse(
      await run(PYTHON, ["-", env.buckets.path], { env: e, stdin: BOTO_SCRIPT }),
    );
    assert.equal(out.small, "hello from boto3");
    assert.equal(out.contentType, "text/plain");
    assert.equal(out.bigSha, out.wantSha);
    assert.deepEqual(out.keys, ["py/12mib.bin", "py/small.txt"]);
    assert.equal(out.after, 0);
    assert.equal(out.noSuchBucket, "NoSuchBucket");
  } finally {
    await Deno.remove(e.HOME, { recursive: true });
    await env.close();
  }
});
