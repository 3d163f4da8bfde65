// `deno task demo` end to end: the demo script as a subprocess (s3rver + osp),
// driven with @aws-sdk/client-s3, then stopped with SIGTERM.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import {
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";

const DEMO = fileURLToPath(new URL("../demo/demo.ts", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 10_000;

interface Key {
  accessKey: string;
  secretKey: string;
}

interface Ready {
  endpoint: string;
  admin: Key;
  reader: Key;
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function client(endpoint: string, key: Key): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: key.accessKey, secretAccessKey: key.secretKey },
  });
}

/** Resolves with `promise`, or rejects after `ms` with `message`. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitForReady(path: string, exited: Promise<unknown>): Promise<Ready> {
  let done = false;
  exited.finally(() => done = true);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (done) throw new Error("the demo exited before it was ready");
    try {
      return JSON.parse(await Deno.readTextFile(path)) as Ready;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound) && !(err instanceof SyntaxError)) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the demo did not write ${path} within ${READY_TIMEOUT_MS / 1000} s`);
}

Deno.test("demo: s3rver + osp, read-write and read-only keys, clean SIGTERM", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "osp-demo-test-" });
  const readyFile = `${dir}/ready.json`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", DEMO],
    env: { OSP_DEMO_PORT: "0", OSP_DEMO_READY_FILE: readyFile, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Drains both pipes and resolves when the process exits.
  const output = child.output();
  const decoder = new TextDecoder();
  const logs = async () => {
    const out = await output;
    return `--- stdout\n${decoder.decode(out.stdout)}\n--- stderr\n${decoder.decode(out.stderr)}`;
  };
  let admin: S3Client | undefined;
  let reader: S3Client | undefined;
  let exited = false;
  let passed = false;
  try {
    const ready = await waitForReady(readyFile, output);
    assert.match(ready.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    admin = client(ready.endpoint, ready.admin);
    reader = client(ready.endpoint, ready.reader);
    const data = new TextEncoder().encode(
      `hello from the osp demo test ✓ ${crypto.randomUUID()}\n`,
    );
    const steps: boolean[] = [];

    steps.push(
      await t.step("admin lists both buckets", async () => {
        const out = await admin!.send(new ListBucketsCommand({}));
        assert.deepEqual(out.Buckets?.map((b) => b.Name).sort(), ["demo-data", "demo-public"]);
      }),
    );

    steps.push(
      await t.step("admin puts an object and gets the same bytes back", async () => {
        const put = await admin!.send(
          new PutObjectCommand({ Bucket: "demo-data", Key: "dir/hello.txt", Body: data }),
        );
        assert.ok(put.ETag);
        const got = await admin!.send(
          new GetObjectCommand({ Bucket: "demo-data", Key: "dir/hello.txt" }),
        );
        const bytes = await got.Body!.transformToByteArray();
        assert.deepEqual(bytes, data);
        assert.equal(sha256(bytes), sha256(data));
      }),
    );

    steps.push(
      await t.step("reader gets the object; its PutObject is denied", async () => {
        const got = await reader!.send(
          new GetObjectCommand({ Bucket: "demo-data", Key: "dir/hello.txt" }),
        );
        assert.equal(sha256(await got.Body!.transformToByteArray()), sha256(data));
        const err = await reader!.send(
          new PutObjectCommand({ Bucket: "demo-data", Key: "nope.txt", Body: "nope" }),
        ).then(() => undefined, (e) => e);
        assert.ok(err instanceof S3ServiceException, `expected an S3 error, got ${err}`);
        assert.equal(err.$metadata.httpStatusCode, 403);
        assert.equal(err.name, "AccessDenied");
      }),
    );

    steps.push(
      await t.step("SIGTERM shuts the demo down with exit code 0", async () => {
        admin!.destroy();
        reader!.destroy();
        child.kill("SIGTERM");
        const status = await within(
          output,
          EXIT_TIMEOUT_MS,
          `the demo did not exit within ${EXIT_TIMEOUT_MS / 1000} s of SIGTERM`,
        );
        exited = true;
        assert.equal(status.code, 0, "exit code");
      }),
    );
    passed = steps.every(Boolean);
  } finally {
    admin?.destroy();
    reader?.destroy();
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    if (!passed) console.error(await logs());
    else await output;
    await Deno.remove(dir, { recursive: true });
  }
});
