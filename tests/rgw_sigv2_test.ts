// SigV2 from legacy clients through osp to Ceph RGW: presigned URLs from
// boto3 (Debian's /usr/bin/python3 and the python3 first on PATH, with their
// default signer for us-east-1), aws-cli v1 `aws s3 presign` and `s3cmd
// signurl`, fetched with curl; header-signed put/get/list/delete from boto3
// with signature_version "s3" and from s3cmd (signature_v2 = True). A TCP
// recorder between osp and RGW shows every request RGW received carried a
// SigV4 signature made with the backend's key (RGW verified it: 2xx), and
// RGW's ops log shows it ran exactly the operations, buckets and keys the
// validator was asked about.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import assert from "node:assert/strict";
import { entryObject, OpsLog, type OpsLogEntry } from "./_ops_log.ts";
import { getRgw } from "./_rgw.ts";
import { bytes, CLIENT, RGW_TEST, rgwEnv, sha256 } from "./_rgw_env.ts";

const inCi = Deno.env.get("CI") === "true";
const KEY_CHARS = "a b+c é~!*'().bin";

/** RGW's ops-log operation for each S3 operation these clients send. */
const RGW_OP: Record<string, string> = {
  PutObject: "put_obj",
  GetObject: "get_obj",
  HeadObject: "get_obj",
  ListObjects: "list_bucket",
  ListObjectsV2: "list_bucket",
  DeleteObject: "delete_obj",
};

/**
 * A TCP pass-through to RGW that keeps what osp sent it, to read the request
 * heads RGW received.
 */
class Recorder {
  readonly port: number;
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #sent = "";

  constructor(target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accept(target);
  }

  async #accept(target: number): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        Deno.connect({ hostname: "127.0.0.1", port: target }).then((up) => {
          this.#conns.add(up);
          const decoder = new TextDecoder("latin1");
          const keep = new TransformStream<Uint8Array, Uint8Array>({
            transform: (chunk, controller) => {
              this.#sent += decoder.decode(chunk, { stream: true });
              controller.enqueue(chunk);
            },
          });
          conn.readable.pipeThrough(keep).pipeTo(up.writable).catch(() => {});
          up.readable.pipeTo(conn.writable).catch(() => {});
        }, () => conn.close());
      }
    } catch { /* closed */ }
  }

  /** Where the recording is now. */
  mark(): number {
    return this.#sent.length;
  }

  /** The request heads sent since `mark`: request line and Authorization. */
  heads(mark: number): { line: string; authorization: string }[] {
    const text = this.#sent.slice(mark);
    const out: { line: string; authorization: string }[] = [];
    for (const m of text.matchAll(/^([A-Z]+ \S+ HTTP\/1\.1)\r\n((?:[^\r\n]+\r\n)*)\r\n/gm)) {
      const auth = /^authorization: *(.*)$/im.exec(m[2]);
      out.push({ line: m[1], authorization: auth?.[1] ?? "" });
    }
    return out;
  }

  close(): void {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
  }
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

async function ok(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await run(cmd, args, env);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Whether `cmd` runs at all (found on PATH, exit 0 for these args). */
async function runs(cmd: string, args: string[]): Promise<Run | undefined> {
  try {
    const r = await run(cmd, args);
    return r.code === 0 ? r : undefined;
  } catch {
    return undefined;
  }
}

/** curl: PUT a file to a URL or GET a URL into a file; returns the status. */
async function curl(url: string, options: { put?: string; out?: string; type?: string }) {
  const args = ["-s", "-o", options.out ?? "/dev/null", "-w", "%{http_code}"];
  if (options.put !== undefined) args.push("-X", "PUT", "--data-binary", `@${options.put}`);
  if (options.type !== undefined) args.push("-H", `Content-Type: ${options.type}`);
  return Number(await ok("curl", [...args, url]));
}

// Presigned URLs with the client's default signer, or header-signed calls with "s3".
const BOTO3 = `
import sys, json, hashlib, inspect, boto3, botocore.handlers
from botocore.config import Config
from botocore.exceptions import ClientError
a = json.loads(sys.argv[1])
kw = {"signature_version": a["sig"]} if a.get("sig") else {}
s3 = boto3.client("s3", endpoint_url=a["endpoint"], aws_access_key_id=a["ak"],
    aws_secret_access_key=a["sk"], region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **kw))
B, K = a["bucket"], a["key"]
out = {"boto3": boto3.__version__}
# botocore before boto/boto3#4433 was fixed signs path-style /bucket?list-type=2 (list-type is
# no sub-resource): a SigV2 ListObjectsV2 fails against AWS and RGW as well.
out["authPathKeepsQuery"] = "split('?')" not in inspect.getsource(
    botocore.handlers.remove_bucket_from_url_paths_from_model)
if a["mode"] == "presign":
    out["put"] = s3.generate_presigned_url("put_object",
        Params={"Bucket": B, "Key": K, "ContentType": "application/octet-stream"}, ExpiresIn=600)
    out["get"] = s3.generate_presigned_url("get_object", Params={"Bucket": B, "Key": K},
        ExpiresIn=a.get("expires", 600))
else:
    data = open(a["file"], "rb").read()
    s3.put_object(Bucket=B, Key=K, Body=data, Metadata={"sigv2": "yes"},
        ContentType="application/octet-stream")
    got = s3.get_object(Bucket=B, Key=K)
    out["getSha256"] = hashlib.sha256(got["Body"].read()).hexdigest()
    out["meta"] = got["Metadata"]
    out["head"] = s3.head_object(Bucket=B, Key=K)["ContentLength"]
    out["list"] = [o["Key"] for o in s3.list_objects(Bucket=B, Prefix=a["prefix"]).get("Contents", [])]
    try:
        out["listV2"] = [o["Key"] for o in
            s3.list_objects_v2(Bucket=B, Prefix=a["prefix"]).get("Contents", [])]
    except ClientError as e:
        out["listV2"] = e.response["Error"]["Code"]
    s3.delete_object(Bucket=B, Key=K)
    out["afterDelete"] = len(s3.list_objects(Bucket=B, Prefix=a["prefix"]).get("Contents", []))
    try:
        s3.get_object(Bucket=a["hidden"], Key=K)
        out["hidden"] = "allowed"
    except ClientError as e:
        out["hidden"] = e.response["Error"]["Code"]
print(json.dumps(out))
`;

function isSigV2Url(url: string): boolean {
  const q = new URL(url).searchParams;
  return q.has("AWSAccessKeyId") && q.has("Signature") && q.has("Expires") &&
    !q.has("X-Amz-Signature");
}

Deno.test(
  { name: "rgw: SigV2 from boto3, aws-cli v1 and s3cmd through osp", ...RGW_TEST },
  async (t) => {
    const rgw = await getRgw();
    const recorder = new Recorder(rgw.port);
    const calls: { token: string | null; bucket: string; operation: string; key?: string }[] = [];
    const prefix = "sigv2";
    const hidden = `${prefix}-hidden`;
    const env = await rgwEnv(prefix, {
      vhost: false,
      bucket: { port: recorder.port, ttl: 0 },
      config: {
        validator: (token, bucket, request) => {
          calls.push({ token, bucket, operation: request.operation, key: request.key });
          return bucket !== hidden;
        },
      },
    });
    const B = env.buckets.path;
    const backendOf: Record<string, string> = {
      [env.buckets.path]: env.backendBuckets.path,
      [hidden]: env.backendBuckets.hidden,
    };
    const opsLog = new OpsLog(env.rgw.opsLogPath);
    const dir = await Deno.makeTempDir({ prefix: "osp-sigv2-" });
    const data = bytes(300 * 1024 + 7, 42);
    const file = `${dir}/data.bin`;
    await Deno.writeFile(file, data);
    const digest = sha256(data);
    // The object aws-cli, s3cmd and the use-cap step presign a GET for (uploaded with SigV4).
    const sharedKey = `${prefix}-shared/${KEY_CHARS}`;
    await env.client.send(
      new PutObjectCommand({ Bucket: env.buckets.path, Key: sharedKey, Body: data }),
    );

    /**
     * Runs `body`, then checks that every request RGW received meanwhile was
     * SigV4-signed with the backend's key and succeeded, and that RGW ran
     * exactly what the validator approved (operation, bucket, key).
     */
    const checked = async (body: () => Promise<void>) => {
      const callsBefore = calls.length;
      const recorded = recorder.mark();
      const logged = await opsLog.mark();
      await body();
      const entries: OpsLogEntry[] = (await opsLog.barrier(logged, env.rgw.endpoint))
        .filter((e) => Object.values(backendOf).includes(e.bucket));
      const heads = recorder.heads(recorded);
      assert.ok(heads.length > 0, "RGW received the requests");
      for (const h of heads) {
        assert.match(
          h.authorization,
          new RegExp(
            `^AWS4-HMAC-SHA256 Credential=${env.user.accessKey}/\\d{8}/us-east-1/s3/aws4_request, ` +
              "SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$",
          ),
          h.line,
        );
        assert.doesNotMatch(h.line, /[?&](AWSAccessKeyId|Signature|Expires|content-type)=/, h.line);
      }
      for (const e of entries) assert.match(e.http_status, /^2\d\d$/, JSON.stringify(e));
      const approved = calls.slice(callsBefore).filter((c) => c.bucket !== hidden);
      assert.ok(approved.every((c) => c.token === CLIENT.accessKey));
      assert.deepEqual(
        entries.map((e) => `${e.operation} ${e.bucket} ${entryObject(e, "path")}`).sort(),
        approved.map((c) => `${RGW_OP[c.operation]} ${backendOf[c.bucket]} ${c.key ?? ""}`).sort(),
        "RGW ran what the validator approved",
      );
    };

    /** Downloads `url` with curl and checks the bytes. */
    const fetchedIntact = async (url: string) => {
      const out = `${dir}/got-${crypto.randomUUID()}.bin`;
      assert.equal(await curl(url, { out }), 200, url);
      assert.equal(sha256(await Deno.readFile(out)), digest);
    };

    const pythons: [string, string][] = [];
    for (const python of ["/usr/bin/python3", "python3"]) {
      const r = await runs(python, [
        "-c",
        "import sys, boto3; print(sys.executable, boto3.__version__)",
      ]);
      if (r === undefined) continue;
      const [exe, version] = r.stdout.trim().split(" ");
      if (!pythons.some(([, e]) => e === exe)) pythons.push([`${exe} (boto3 ${version})`, exe]);
    }
    if (!pythons.some(([, e]) => e === "/usr/bin/python3")) {
      if (inCi) {
        assert.fail(
          "/usr/bin/python3 with boto3 is missing (apt-get install python3-boto3)",
        );
      }
      console.log("SKIP: /usr/bin/python3 has no boto3");
    }

    try {
      for (const [label, python] of pythons) {
        const slug = python.replace(/\W+/g, "-");
        const key = `${prefix}${slug}/${KEY_CHARS}`;
        const boto3 = async (mode: string, extra: Record<string, string> = {}) =>
          JSON.parse(
            await ok(python, [
              "-c",
              BOTO3,
              JSON.stringify({
                mode,
                endpoint: env.endpoint,
                ak: CLIENT.accessKey,
                sk: CLIENT.secretKey,
                bucket: B,
                key,
                ...extra,
              }),
            ]),
          );

        await t.step(
          `${label}: default presigned PUT and GET URLs are SigV2 and work with curl`,
          () =>
            checked(async () => {
              const urls = await boto3("presign");
              assert.ok(isSigV2Url(urls.put), urls.put);
              assert.ok(isSigV2Url(urls.get), urls.get);
              const status = await curl(urls.put, { put: file, type: "application/octet-stream" });
              assert.equal(status, 200, urls.put);
              await fetchedIntact(urls.get);
            }),
        );

        await t.step(
          `${label}: signature_version "s3" presigned URLs work with curl`,
          () =>
            checked(async () => {
              const urls = await boto3("presign", { sig: "s3" });
              assert.ok(isSigV2Url(urls.get), urls.get);
              await fetchedIntact(urls.get);
            }),
        );

        await t.step(
          `${label}: signature_version "s3" header-signed put, get, list, delete`,
          () =>
            checked(async () => {
              const keyPrefix = `${prefix}${slug}/hdr/`;
              const out = await boto3("calls", {
                sig: "s3",
                key: `${keyPrefix}${KEY_CHARS}`,
                prefix: keyPrefix,
                file,
                hidden,
              });
              assert.equal(out.getSha256, digest);
              assert.deepEqual(out.meta, { sigv2: "yes" });
              assert.equal(out.head, data.length);
              assert.deepEqual(out.list, [`${keyPrefix}${KEY_CHARS}`]);
              assert.deepEqual(
                out.listV2,
                out.authPathKeepsQuery ? "SignatureDoesNotMatch" : [`${keyPrefix}${KEY_CHARS}`],
              );
              assert.equal(out.afterDelete, 0);
              assert.equal(out.hidden, "AccessDenied", "the validator still decides");
            }),
        );
      }

      await t.step({
        name: "a SigV2 presigned URL counts against the use cap (3)",
        ignore: pythons.length === 0,
        fn: async () => {
          const urls = JSON.parse(
            await ok(pythons[0][1], [
              "-c",
              BOTO3,
              JSON.stringify({
                mode: "presign",
                endpoint: env.endpoint,
                ak: CLIENT.accessKey,
                sk: CLIENT.secretKey,
                bucket: B,
                key: sharedKey,
                expires: 900,
              }),
            ]),
          );
          assert.ok(isSigV2Url(urls.get), urls.get);
          const statuses = [];
          for (let i = 0; i < 4; i++) {
            statuses.push(await curl(urls.get, {}));
          }
          assert.deepEqual(statuses, [200, 200, 200, 403]);
        },
      });

      const awsV1 = await runs("aws", ["--version"]);
      const awsVersion = `${awsV1?.stdout ?? ""}${awsV1?.stderr ?? ""}`.trim();
      await t.step({
        name: `aws-cli v1 (${awsVersion || "not installed"}): s3 presign gives a SigV2 URL`,
        ignore: !awsVersion.startsWith("aws-cli/1."),
        fn: () =>
          checked(async () => {
            const home = await Deno.makeTempDir({ prefix: "osp-sigv2-aws-" });
            await Deno.writeTextFile(
              `${home}/config`,
              "[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n",
            );
            const url = (await ok("aws", [
              "--endpoint-url",
              env.endpoint,
              "s3",
              "presign",
              `s3://${B}/${sharedKey}`,
              "--expires-in",
              "600",
            ], {
              AWS_CONFIG_FILE: `${home}/config`,
              AWS_SHARED_CREDENTIALS_FILE: `${home}/credentials`,
              AWS_ACCESS_KEY_ID: CLIENT.accessKey,
              AWS_SECRET_ACCESS_KEY: CLIENT.secretKey,
              AWS_DEFAULT_REGION: "us-east-1",
              AWS_EC2_METADATA_DISABLED: "true",
            })).trim();
            assert.ok(isSigV2Url(url), url);
            await fetchedIntact(url);
          }),
      });

      const s3cmd = await runs("s3cmd", ["--version"]);
      if (s3cmd === undefined && inCi) {
        assert.fail("s3cmd is missing (apt-get install s3cmd)");
      }
      const s3cfg = `${dir}/s3cfg`;
      const host = new URL(env.endpoint).host;
      await Deno.writeTextFile(
        s3cfg,
        [
          "[default]",
          `access_key = ${CLIENT.accessKey}`,
          `secret_key = ${CLIENT.secretKey}`,
          `host_base = ${host}`,
          `host_bucket = ${host}`,
          "use_https = False",
          "signature_v2 = True",
          "bucket_location = us-east-1",
          "",
        ].join("\n"),
      );
      const s3cmdRun = (...args: string[]) => ok("s3cmd", ["-c", s3cfg, ...args]);

      await t.step({
        name: `${s3cmd?.stdout.trim() || "s3cmd (not installed)"}: signurl gives a SigV2 URL`,
        ignore: s3cmd === undefined,
        fn: () =>
          checked(async () => {
            const url = (await s3cmdRun("signurl", `s3://${B}/${sharedKey}`, "+600")).trim();
            assert.ok(isSigV2Url(url), url);
            await fetchedIntact(url);
          }),
      });

      await t.step({
        name: "s3cmd (signature_v2 = True, x-amz-date): put, ls, get, del",
        ignore: s3cmd === undefined,
        fn: () =>
          checked(async () => {
            const key = `${prefix}-s3cmd/${KEY_CHARS}`;
            await s3cmdRun("put", file, `s3://${B}/${key}`);
            const listing = await s3cmdRun("ls", `s3://${B}/${prefix}-s3cmd/`);
            assert.match(listing, new RegExp(`s3://${B}/${prefix}-s3cmd/a b\\+c é`));
            await s3cmdRun("get", "--force", `s3://${B}/${key}`, `${dir}/s3cmd.bin`);
            assert.equal(sha256(await Deno.readFile(`${dir}/s3cmd.bin`)), digest);
            await s3cmdRun("del", `s3://${B}/${key}`);
          }),
      });
    } finally {
      await env.close();
      recorder.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
