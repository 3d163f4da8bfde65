// CORS in a real browser: Debian's Chromium, headless, driven by
// puppeteer-core, against Ceph RGW through osp. A page served from a second
// origin uploads with a presigned PUT (with a `Content-Type` header, so the
// browser preflights first), reads the ETag from JS, reads the object back
// with a presigned GET and hashes it in the page. A page from a third origin,
// which no rule allows, gets "Failed to fetch" and writes nothing. The page
// then uploads 20 MiB through a presigned POST form (FormData), reads it back
// and hashes it, and downloads from a public bucket without any signature;
// every object's bytes are checked on RGW too.
//
// Skipped visibly without /usr/bin/chromium (apt-get install -y
// --no-install-recommends chromium); a failure with CI=true.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { Browser, Page } from "puppeteer-core";
import { launchChromium, requireChromium, skipWithoutChromium } from "./_chromium.ts";
import { OpsLog, type OpsLogEntry } from "./_ops_log.ts";
import { CLIENT, RGW_TEST, rgwEnv, sha256, SKIP_RGW } from "./_rgw_env.ts";

/** True when the browser test must be skipped (Chromium missing, not in CI). */
const SKIP_BROWSER = skipWithoutChromium("browser CORS test");

/** A server for one origin (http://127.0.0.1:<port>): a blank page, and the body to upload. */
function pageServer(body: Uint8Array): Deno.HttpServer<Deno.NetAddr> & { origin: string } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/body.bin") {
      return new Response(body.slice(), {
        headers: { "content-type": "application/octet-stream" },
      });
    }
    if (path === "/") {
      return new Response("<!doctype html><title>osp CORS</title><p>uploads</p>", {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    }
    return new Response("not found", { status: 404 });
  });
  return Object.assign(server, { origin: `http://127.0.0.1:${server.addr.port}` });
}

/** A preflight as Chromium's network stack sent it (page JS never sees these; CDP does). */
interface Preflight {
  url: string;
  /** The headers on the wire, names as Chromium wrote them. */
  headers: Record<string, string>;
  status?: number;
}

/**
 * Records the page's preflights. Chromium 156 reports one as an `OPTIONS`
 * request of type "Other" in Network.requestWillBeSent, its wire headers in
 * Network.requestWillBeSentExtraInfo, and its answer with type "Preflight".
 */
async function watchPreflights(page: Page): Promise<Preflight[]> {
  const byId = new Map<string, Preflight>();
  const list: Preflight[] = [];
  const extra = new Map<string, Record<string, string>>();
  const cdp = await page.createCDPSession();
  await cdp.send("Network.enable");
  cdp.on("Network.requestWillBeSentExtraInfo", (e) => {
    const seen = byId.get(e.requestId);
    if (seen) seen.headers = e.headers as Record<string, string>;
    else extra.set(e.requestId, e.headers as Record<string, string>);
  });
  cdp.on("Network.requestWillBeSent", (e) => {
    if (e.request.method !== "OPTIONS") return;
    const seen = { url: e.request.url, headers: extra.get(e.requestId) ?? e.request.headers };
    byId.set(e.requestId, seen);
    list.push(seen);
  });
  cdp.on("Network.responseReceived", (e) => {
    const seen = byId.get(e.requestId);
    if (seen) seen.status = e.response.status;
  });
  return list;
}

/** The first `count` preflights, once their headers and status are in (CDP events may trail). */
async function preflightsSeen(list: Preflight[], count: number): Promise<Preflight[]> {
  const done = () =>
    list.length >= count &&
    list.every((p) => p.status !== undefined && "Origin" in p.headers);
  for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  return list.slice();
}

/** A fetch in the page: status, the headers JS can read, a hash of the body, or the error. */
interface PageFetch {
  status?: number;
  etag?: string | null;
  requestId?: string | null;
  date?: string | null;
  sha256?: string;
  length?: number;
  text?: string;
  error?: { name: string; message: string };
}

function pageFetch(
  page: Page,
  url: string,
  init: { method: "PUT" | "GET"; uploadFrom?: string; contentType?: string },
): Promise<PageFetch> {
  return page.evaluate(
    async (url, init): Promise<PageFetch> => {
      const hex = (b: ArrayBuffer) =>
        [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
      try {
        const body = init.uploadFrom === undefined
          ? undefined
          : await (await fetch(init.uploadFrom)).arrayBuffer();
        const res = await fetch(url, {
          method: init.method,
          headers: init.contentType === undefined ? {} : { "Content-Type": init.contentType },
          body,
        });
        const got = await res.arrayBuffer();
        return {
          status: res.status,
          etag: res.headers.get("ETag"),
          requestId: res.headers.get("x-amz-request-id"),
          date: res.headers.get("date"),
          sha256: hex(await crypto.subtle.digest("SHA-256", got)),
          length: got.byteLength,
          text: got.byteLength < 4096 ? new TextDecoder().decode(got) : "",
        };
      } catch (err) {
        const e = err as Error;
        return { error: { name: e.name, message: e.message } };
      }
    },
    url,
    init,
  );
}

/** A form upload in the page: `copies` times /body.bin as the file of a presigned POST. */
function pageFormPost(
  page: Page,
  post: { url: string; fields: Record<string, string> },
  copies: number,
): Promise<PageFetch> {
  return page.evaluate(
    async (post, copies): Promise<PageFetch> => {
      try {
        const piece = await (await fetch("/body.bin")).arrayBuffer();
        const form = new FormData();
        for (const [k, v] of Object.entries(post.fields)) form.append(k, v);
        form.append("file", new Blob(Array(copies).fill(piece)), "big.bin");
        const res = await fetch(post.url, { method: "POST", body: form });
        return { status: res.status, etag: res.headers.get("ETag"), text: await res.text() };
      } catch (err) {
        const e = err as Error;
        return { error: { name: e.name, message: e.message } };
      }
    },
    post,
    copies,
  );
}

function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

const OCTETS = "application/octet-stream";

Deno.test(
  {
    name: "browser: Chromium uploads and reads back through osp with CORS and presigned URLs",
    ...RGW_TEST,
    ignore: SKIP_RGW || SKIP_BROWSER,
  },
  async (t) => {
    requireChromium();
    const started = performance.now();
    const data = randomBytes(1 << 20);
    const digest = sha256(data);
    const app = pageServer(data); // the origin the rule allows
    const stranger = pageServer(data); // an origin no rule allows
    const env = await rgwEnv("browser", {
      // A public bucket too: unsigned GETs are re-signed with its identity.
      bucket: { anonymous: ["GetObject"] },
      config: {
        cors: [{
          allowedOrigins: [app.origin],
          allowedMethods: ["GET", "PUT", "POST"],
          allowedHeaders: ["content-type"],
          maxAgeSeconds: 60,
        }],
      },
    });
    const opsLog = new OpsLog(env.rgw.opsLogPath);
    const bucket = env.buckets.path;
    const backendBucket = env.backendBuckets.path;
    const ours = (entries: OpsLogEntry[]) => entries.filter((e) => e.bucket === backendBucket);
    // Presigned as docs/browsers.md advises: no SDK checksum (a presigned PUT
    // would carry the empty body's CRC32), and Content-Type signed.
    const presigner = new S3Client({
      endpoint: env.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: CLIENT.accessKey, secretAccessKey: CLIENT.secretKey },
      requestChecksumCalculation: "WHEN_REQUIRED",
    });
    const presign = (command: PutObjectCommand | GetObjectCommand) =>
      getSignedUrl(presigner, command, {
        expiresIn: 300,
        signableHeaders: new Set(["content-type"]),
      });
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const page = await browser.newPage();
      const preflights = await watchPreflights(page);
      await page.goto(`${app.origin}/`);

      await t.step("allowed origin: preflight, then a presigned PUT; ETag readable", async () => {
        const url = await presign(
          new PutObjectCommand({ Bucket: bucket, Key: "from-browser.bin", ContentType: OCTETS }),
        );
        const query = new URL(url).searchParams;
        assert.equal(query.get("X-Amz-SignedHeaders"), "content-type;host");
        assert.equal(query.get("x-amz-checksum-crc32"), null);
        const mark = await opsLog.mark();
        const put = await pageFetch(page, url, {
          method: "PUT",
          uploadFrom: "/body.bin",
          contentType: OCTETS,
        });
        assert.equal(put.error, undefined);
        assert.equal(put.status, 200, put.text);
        const md5 = createHash("md5").update(data).digest("hex");
        assert.equal(put.etag, `"${md5}"`, "ETag readable from JS");
        assert.match(put.requestId ?? "", /\S/, "x-amz-request-id readable from JS");
        assert.equal(
          put.date,
          null,
          "Date (sent, but neither safelisted nor exposed) stays hidden",
        );

        const seen = await preflightsSeen(preflights, 1);
        assert.equal(seen.length, 1, "Chromium preflighted the PUT");
        const [pre] = seen;
        assert.equal(pre.url, url);
        assert.equal(pre.status, 200);
        assert.equal(pre.headers["Origin"], app.origin);
        assert.equal(pre.headers["Access-Control-Request-Method"], "PUT");
        assert.equal(pre.headers["Access-Control-Request-Headers"], "content-type");

        // RGW ran the PUT and nothing for the preflight.
        const ran = ours(await opsLog.barrier(mark, env.rgw.endpoint));
        assert.deepEqual(ran.map((e) => [e.operation, e.http_status]), [["put_obj", "200"]]);
      });

      await t.step(
        "allowed origin: a presigned GET (no preflight), hashed in the page",
        async () => {
          const url = await presign(
            new GetObjectCommand({ Bucket: bucket, Key: "from-browser.bin" }),
          );
          const get = await pageFetch(page, url, { method: "GET" });
          assert.equal(get.error, undefined);
          assert.equal(get.status, 200);
          assert.equal(get.length, data.length);
          assert.equal(get.sha256, digest, "SHA-256 computed by crypto.subtle in the page");
          assert.equal(preflights.length, 1, "a GET without custom headers is not preflighted");
        },
      );

      await t.step("another origin: the browser blocks the PUT, nothing is written", async () => {
        const other = await browser!.newPage();
        const refused = await watchPreflights(other);
        await other.goto(`${stranger.origin}/`);
        const url = await presign(
          new PutObjectCommand({ Bucket: bucket, Key: "from-stranger.bin", ContentType: OCTETS }),
        );
        const mark = await opsLog.mark();
        const put = await pageFetch(other, url, {
          method: "PUT",
          uploadFrom: "/body.bin",
          contentType: OCTETS,
        });
        assert.deepEqual(put.error, { name: "TypeError", message: "Failed to fetch" });
        const [pre, ...more] = await preflightsSeen(refused, 1);
        assert.equal(more.length, 0);
        assert.equal(pre.headers["Origin"], stranger.origin);
        assert.equal(pre.status, 403, "osp refused the preflight");
        assert.deepEqual(ours(await opsLog.barrier(mark, env.rgw.endpoint)), [], "RGW saw nothing");
        await assert.rejects(
          env.direct.send(
            new HeadObjectCommand({ Bucket: backendBucket, Key: "from-stranger.bin" }),
          ),
          (err) => err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404,
        );
        await other.close();
      });

      await t.step("on RGW: the browser's bytes, and only them", async () => {
        const got = await env.direct.send(
          new GetObjectCommand({ Bucket: backendBucket, Key: "from-browser.bin" }),
        );
        const stored = await got.Body!.transformToByteArray();
        assert.equal(got.ContentType, OCTETS);
        assert.equal(stored.length, data.length);
        assert.equal(sha256(stored), digest);
        assert.deepEqual(stored, data);
        const listed = await env.direct.send(new ListObjectsV2Command({ Bucket: backendBucket }));
        assert.deepEqual(listed.Contents?.map((o) => o.Key), ["from-browser.bin"]);
      });

      await t.step("a 20 MiB presigned POST form from the page, read back and hashed", async () => {
        const copies = 20;
        const big = new Uint8Array(copies * data.length);
        for (let i = 0; i < copies; i++) big.set(data, i * data.length);
        const post = await createPresignedPost(presigner, {
          Bucket: bucket,
          Key: "form/${filename}",
          Conditions: [["starts-with", "$key", "form/"], ["content-length-range", 1, 32 << 20]],
          Expires: 300,
        });
        const posted = await pageFormPost(page, post, copies);
        assert.equal(posted.error, undefined);
        assert.equal(posted.status, 204, posted.text);
        const md5 = createHash("md5").update(big).digest("hex");
        assert.equal(posted.etag, `"${md5}"`, "ETag readable from JS");
        const url = await presign(new GetObjectCommand({ Bucket: bucket, Key: "form/big.bin" }));
        const get = await pageFetch(page, url, { method: "GET" });
        assert.equal(get.status, 200);
        assert.equal(get.length, big.length);
        assert.equal(get.sha256, sha256(big), "SHA-256 computed by crypto.subtle in the page");
        const got = await env.direct.send(
          new GetObjectCommand({ Bucket: backendBucket, Key: "form/big.bin" }),
        );
        assert.equal(sha256(await got.Body!.transformToByteArray()), sha256(big), "on RGW");
      });

      await t.step("a public bucket: the page downloads without any signature", async () => {
        const url = `${env.endpoint}/${bucket}/from-browser.bin`;
        const get = await pageFetch(page, url, { method: "GET" });
        assert.equal(get.error, undefined);
        assert.equal(get.status, 200, get.text);
        assert.equal(get.sha256, digest);
        // Only GetObject is public: an unsigned listing is refused, readable by the page.
        const list = await pageFetch(page, `${env.endpoint}/${bucket}?list-type=2`, {
          method: "GET",
        });
        assert.equal(list.status, 403);
        assert.match(list.text ?? "", /<Code>AccessDenied<\/Code>/);
      });
    } finally {
      await browser?.close();
      presigner.destroy();
      await env.close();
      await app.shutdown();
      await stranger.shutdown();
    }
    console.log(`browser CORS test: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  },
);
