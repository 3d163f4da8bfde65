// `deno task demo` end to end: the demo script as a subprocess (s3rver + osp +
// the upload page), driven with @aws-sdk/client-s3, with form uploads made
// with fetch + FormData and (when /usr/bin/chromium is there, or CI=true) from
// the page itself in headless Chromium, then stopped with SIGTERM.
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
import type { Browser } from "puppeteer-core";
import { launchChromium, requireChromium, skipWithoutChromium } from "./_chromium.ts";

const DEMO = fileURLToPath(new URL("../demo/demo.ts", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 10_000;

/** The page is driven in Chromium when it is installed; with CI=true its absence fails. */
const SKIP_BROWSER = skipWithoutChromium("demo upload page in Chromium");

interface Key {
  accessKey: string;
  secretKey: string;
}

interface Ready {
  endpoint: string;
  page: string;
  admin: Key;
  reader: Key;
}

function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function md5(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** What the page's `/presign` answers. */
interface Presigned {
  url: string;
  fields: Record<string, string>;
  key: string;
  download: string;
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
    assert.match(ready.page, /^http:\/\/127\.0\.0\.1:\d+\/$/);
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
      await t.step("the upload page is served as HTML", async () => {
        const res = await fetch(ready.page);
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type") ?? "", /^text\/html\b/);
        assert.match(await res.text(), /<input type="file"/);
      }),
    );

    const formData = randomBytes(40_000);
    let presigned: Presigned | undefined;
    steps.push(
      await t.step("the page's server presigns a form and a download for a file name", async () => {
        const query = new URLSearchParams({ name: "from fetch ✓.bin", type: "image/png" });
        const res = await fetch(`${ready.page}presign?${query}`);
        assert.equal(res.status, 200);
        presigned = await res.json() as Presigned;
        assert.equal(presigned.url, `${ready.endpoint}/demo-data`);
        assert.equal(presigned.key, "uploads/from fetch ✓.bin");
        const { fields } = presigned;
        assert.deepEqual(Object.keys(fields).sort(), [
          "Content-Type",
          "key",
          "policy",
          "x-amz-algorithm",
          "x-amz-credential",
          "x-amz-date",
          "x-amz-signature",
        ]);
        assert.equal(fields.key, presigned.key);
        assert.equal(fields["Content-Type"], "image/png");
        assert.match(
          fields["x-amz-credential"],
          /^demo-admin\/\d{8}\/us-east-1\/s3\/aws4_request$/,
        );
        const policy = JSON.parse(atob(fields.policy));
        assert.ok(Date.parse(policy.expiration) > Date.now(), "expiration in the future");
        assert.deepEqual(policy.conditions.slice(0, 3), [
          { bucket: "demo-data" },
          ["starts-with", "$key", "uploads/"],
          ["content-length-range", 0, 100 * 1024 * 1024],
        ]);
        assert.ok(presigned.download.startsWith(`${ready.endpoint}/demo-data/uploads/`));
        assert.equal((await fetch(`${ready.page}presign`)).status, 400, "no name");
      }),
    );

    steps.push(
      await t.step("a form upload with those fields: 204, and the bytes read back", async () => {
        const { url, fields, key, download } = presigned!;
        const form = new FormData();
        for (const [name, value] of Object.entries(fields)) form.append(name, value);
        form.append("file", new Blob([formData]), "ignored.bin");
        const res = await fetch(url, { method: "POST", body: form });
        assert.equal(res.status, 204, await res.text());
        assert.equal(res.headers.get("etag"), `"${md5(formData)}"`);

        const got = await admin!.send(new GetObjectCommand({ Bucket: "demo-data", Key: key }));
        assert.equal(got.ContentType, "image/png");
        assert.equal(sha256(await got.Body!.transformToByteArray()), sha256(formData));
        const viaLink = await fetch(download);
        assert.equal(viaLink.status, 200);
        assert.equal(sha256(await viaLink.bytes()), sha256(formData));
      }),
    );

    steps.push(
      await t.step({
        name: "in Chromium: pick a file, upload; the page shows the ETag and a working link",
        ignore: SKIP_BROWSER,
        fn: async () => {
          requireChromium();
          // Over 64 KiB: osp streams the file to the backend instead of reading it whole.
          const picked = randomBytes(300_000);
          const path = `${dir}/from chromium.bin`;
          await Deno.writeFile(path, picked);
          let browser: Browser | undefined;
          try {
            browser = await launchChromium();
            const page = await browser.newPage();
            await page.goto(ready.page);
            const input = await page.$("#file");
            await input!.uploadFile(path);
            await page.click("button[type=submit]");
            // Page code as strings: this file is type-checked without the DOM lib.
            const $ = (id: string) => `document.getElementById(${JSON.stringify(id)})`;
            await page.waitForFunction(
              `!${$("result")}.hidden || ${$("status")}.className === "error"`,
              { timeout: 30_000 },
            );
            const shown = await page.evaluate(`({
              status: ${$("status")}.textContent,
              key: ${$("key")}.textContent,
              etag: ${$("etag")}.textContent,
              href: ${$("download")}.href,
            })`) as { status: string; key: string; etag: string; href: string };
            assert.equal(shown.status, "Uploaded.");
            assert.equal(shown.key, "uploads/from chromium.bin");
            assert.equal(shown.etag, `"${md5(picked)}"`);
            assert.ok(
              shown.href.startsWith(`${ready.endpoint}/demo-data/uploads/from%20chromium.bin?`),
            );

            // The link, fetched from the page (cross-origin: osp's CORS rule allows GET).
            const fetched = await page.evaluate(async (href) => {
              const res = await fetch(href);
              const digest = await crypto.subtle.digest("SHA-256", await res.arrayBuffer());
              const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0"));
              return { status: res.status, sha256: hex.join("") };
            }, shown.href);
            assert.deepEqual(fetched, { status: 200, sha256: sha256(picked) });
          } finally {
            await browser?.close();
          }
        },
      }) || SKIP_BROWSER,
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
