// Static websites on Ceph RGW: anonymous GETs and HEADs of a bucket with
// `website` get S3 website semantics (index documents, `dir` → `dir/`
// redirects, the error document with the error's status, HTML listings),
// each backend operation admitted on its own; signed requests and other
// queries keep plain S3 REST semantics, and a bucket without `website` is
// unchanged.
import assert from "node:assert/strict";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  type BucketConfig,
  type ProxyServer,
  serve,
  type ValidatorRequest,
  type WebsiteConfig,
} from "../mod.ts";
import { CLIENT, RGW_TEST, type RgwEnv, rgwEnv, sha256 } from "./_rgw_env.ts";
import { entryObject, OpsLog, parseEntryUri } from "./_ops_log.ts";

const SITE = "site";
const ANONYMOUS = ["GetObject", "HeadObject", "ListObjectsV2"];

/** Names under `files/` (no index there): hostile to HTML and URLs alike. */
const FILES = [
  "files/<script>alert(1).txt",
  "files/<img src=x onerror=alert(1)>.txt",
  "files/a&b.txt",
  `files/quote"'.txt`,
  "files/with space.txt",
  "files/ünïcødé✓.txt",
  "files/javascript:alert(1)",
  "files/sub/x.txt",
  "files/sub2/y.txt",
];

const FIXTURES: Record<string, { body: string; type?: string }> = {
  "index.html": { body: "<h1>root</h1>", type: "text/html" },
  "docs/": { body: "the docs/ marker object" },
  "docs/index.html": { body: "<h1>docs</h1>", type: "text/html" },
  "docs/guide.html": { body: "<p>guide</p>", type: "text/html" },
  "refused/index.html": { body: "never served" },
  "error.html": { body: "<h1>custom error page</h1>", type: "text/html; charset=utf-8" },
  ...Object.fromEntries(FILES.map((k) => [k, { body: `body of ${k}` }])),
};

interface Site {
  proxy: ProxyServer;
  endpoint: string;
  /** What the validator was asked, in order. */
  asked: { token: string | null; req: ValidatorRequest }[];
  close(): Promise<void>;
}

/** A proxy whose `site` bucket is the env's path bucket, with these options. */
function siteProxy(
  env: RgwEnv,
  options: { bucket?: Partial<BucketConfig>; refuse?: (req: ValidatorRequest) => boolean } = {},
): Site {
  const asked: Site["asked"] = [];
  const proxy = serve({
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: "warn",
    hmacKeystore: [CLIENT],
    enableRequestCounting: true,
    cosMap: {
      [SITE]: {
        host: "127.0.0.1",
        port: env.rgw.port,
        tls: false,
        addressingStyle: "path",
        accessKey: env.user.accessKey,
        secretKey: env.user.secretKey,
        backendBucket: env.backendBuckets.path,
        anonymous: ANONYMOUS,
        ttl: 0, // every operation is put to the validator
        ...options.bucket,
      },
    },
    validator: (token, _bucket, req) => {
      asked.push({ token, req });
      return !(options.refuse?.(req) ?? false);
    },
  });
  return {
    proxy,
    endpoint: `http://127.0.0.1:${proxy.http!.port}`,
    asked,
    close: () => proxy.shutdown(),
  };
}

async function putFixtures(env: RgwEnv): Promise<void> {
  for (const [key, { body, type }] of Object.entries(FIXTURES)) {
    await env.direct.send(
      new PutObjectCommand({
        Bucket: env.backendBuckets.path,
        Key: key,
        Body: body,
        ContentType: type,
      }),
    );
  }
}

/** The text of an HTML fragment, its character references decoded. */
function htmlText(html: string): string {
  return html.replace(
    /&(#\d+|lt|gt|amp|quot|apos);/g,
    (_, ref: string) =>
      ref[0] === "#"
        ? String.fromCodePoint(Number(ref.slice(1)))
        : ({ lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" } as Record<string, string>)[ref],
  );
}

/** The links of a listing page, in order: [href, text]. */
function links(html: string): [string, string][] {
  return [...html.matchAll(/<a (?:rel="next" )?href="([^"]*)">([^<]*)<\/a>/g)].map((m) => [
    htmlText(m[1]),
    htmlText(m[2]),
  ]);
}

/** S3 order: by UTF-8 bytes. */
function byteOrder(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

Deno.test({ name: "rgw: static websites", ...RGW_TEST }, async (t) => {
  const env = await rgwEnv("website");
  const website: WebsiteConfig = { errorDocument: "error.html", listing: true, listingPageSize: 3 };
  const site = siteProxy(env, {
    bucket: { website },
    refuse: (req) => req.key === "refused/index.html",
  });
  const plain = siteProxy(env, { bucket: { website: {} } });
  const off = siteProxy(env);
  const opsLog = new OpsLog(env.rgw.opsLogPath);
  const at = (path: string, init?: RequestInit) => fetch(`${site.endpoint}/${SITE}/${path}`, init);
  try {
    await putFixtures(env);

    await t.step("the bucket root and a sub-directory serve their index document", async () => {
      for (const [path, key] of [["", "index.html"], ["docs/", "docs/index.html"]]) {
        const res = await at(path);
        assert.equal(res.status, 200, path);
        assert.equal(res.headers.get("content-type"), "text/html");
        assert.equal(await res.text(), FIXTURES[key].body);
      }
      const bare = await fetch(`${site.endpoint}/${SITE}`);
      assert.equal(await bare.text(), FIXTURES["index.html"].body);
      const asked = site.asked.filter((a) => a.req.key === "docs/index.html");
      assert.equal(asked.length, 1, "the validator was asked about the index document");
      assert.equal(asked[0].token, null);
      assert.equal(asked[0].req.operation, "GetObject");
      const counts = site.proxy.requestCounts()[SITE];
      assert.equal(counts.GetObject, 3, JSON.stringify(counts));
    });

    await t.step("HEAD of a directory is the index document's HeadObject", async () => {
      const direct = await env.direct.send(
        new GetObjectCommand({ Bucket: env.backendBuckets.path, Key: "docs/index.html" }),
      );
      await direct.Body!.transformToByteArray();
      const res = await at("docs/", { method: "HEAD" });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("etag"), direct.ETag);
      assert.equal(
        res.headers.get("content-length"),
        String(FIXTURES["docs/index.html"].body.length),
      );
      assert.equal(await res.text(), "");
      assert.equal(site.asked.at(-1)!.req.operation, "HeadObject");
    });

    await t.step(
      "an object is served as it is; a directory without its / is redirected",
      async () => {
        const guide = await at("docs/guide.html");
        assert.equal(guide.status, 200);
        assert.equal(await guide.text(), FIXTURES["docs/guide.html"].body);
        for (const method of ["GET", "HEAD"]) {
          const res = await at("docs", { method, redirect: "manual" });
          assert.equal(res.status, 302, method);
          assert.equal(res.headers.get("location"), `/${SITE}/docs/`);
          await res.body?.cancel();
        }
        const followed = await at("docs");
        assert.equal(followed.status, 200);
        assert.equal(await followed.text(), FIXTURES["docs/index.html"].body);
      },
    );

    await t.step("a missing key serves the error document with status 404", async () => {
      const res = await at("missing.html");
      assert.equal(res.status, 404);
      assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
      const body = new Uint8Array(await res.arrayBuffer());
      assert.equal(sha256(body), sha256(FIXTURES["error.html"].body));
      const head = await at("missing.html", { method: "HEAD" });
      assert.equal(head.status, 404);
      assert.equal(await head.text(), "");
      // A directory with neither index nor any key under it is missing too.
      const empty = await at("nothing-here/");
      assert.equal(empty.status, 404);
      assert.equal(await empty.text(), FIXTURES["error.html"].body);
    });

    await t.step(
      "without an error document: S3's HTML error page, nothing of the backend",
      async () => {
        const res = await fetch(`${plain.endpoint}/${SITE}/missing.html`);
        assert.equal(res.status, 404);
        assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
        const html = await res.text();
        assert.match(html, /<title>404 Not Found<\/title>/);
        assert.match(html, /<li>Code: NoSuchKey<\/li>/);
        assert.match(html, /<li>Message: The specified key does not exist.<\/li>/);
        assert.ok(html.includes(`<li>RequestId: ${res.headers.get("x-amz-request-id")}</li>`));
        assert.doesNotMatch(html, /<\?xml|website-be-path|tx0/);
        // Listing is off: a directory without an index is a 404 page too.
        const dir = await fetch(`${plain.endpoint}/${SITE}/files/`);
        assert.equal(dir.status, 404);
        assert.match(await dir.text(), /<li>Code: NoSuchKey<\/li>/);
        // A listing page parameter is then no website request: plain S3 answers (no key files/).
        const page = await fetch(`${plain.endpoint}/${SITE}/files/?continuation-token=x`);
        assert.equal(page.status, 404);
        assert.match(await page.text(), /^<\?xml[\s\S]*<Code>NoSuchKey<\/Code>/);
      },
    );

    await t.step("a listing: escaped names, directories first, sorted, paginated", async () => {
      const expected = FILES.map((k) => k.replace(/^(files\/[^/]*\/).*/, "$1"))
        .filter((k, i, all) => all.indexOf(k) === i).sort(byteOrder);
      const pages: [string, string][][] = [];
      let all = "";
      let next: string | undefined = `/${SITE}/files/`;
      while (next !== undefined) {
        const res: Response = await fetch(`${site.endpoint}${next}`);
        assert.equal(res.status, 200, next);
        assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
        const html = await res.text();
        assert.ok(!html.includes("<script>"), "names are escaped");
        all += html;
        const found = links(html);
        assert.deepEqual(found[0], [`/${SITE}/`, "../"], "a link to the parent");
        const last = found.at(-1)!;
        next = last[1] === "Next page" ? last[0] : undefined;
        pages.push(found.slice(1, next === undefined ? undefined : -1));
      }
      assert.equal(pages.length, 3);
      assert.ok(all.includes(">&lt;script&gt;alert(1).txt</a>"));
      assert.ok(all.includes(">&lt;img src=x onerror=alert(1)&gt;.txt</a>"));
      assert.ok(all.includes(">quote&quot;&apos;.txt</a>"));
      assert.ok(all.includes('href="/site/files/%3Cscript%3Ealert%281%29.txt"'));
      assert.ok(all.includes('href="/site/files/with%20space.txt"'));
      assert.ok(all.includes('href="/site/files/%C3%BCn%C3%AFc%C3%B8d%C3%A9%E2%9C%93.txt"'));
      assert.ok(all.includes(">ünïcødé✓.txt</a>"));
      const chunks = [expected.slice(0, 3), expected.slice(3, 6), expected.slice(6)];
      const dirsFirst = (keys: string[]) => [
        ...keys.filter((k) => k.endsWith("/")),
        ...keys.filter((k) => !k.endsWith("/")),
      ];
      assert.deepEqual(
        pages.map((p) => p.map(([, name]) => `files/${name}`)),
        chunks.map(dirsFirst),
      );
      // Every link leads to its object (or listing), whatever its name holds.
      for (const [href, name] of pages.flat()) {
        const res = await fetch(`${site.endpoint}${href}`);
        assert.equal(res.status, 200, href);
        const text = await res.text();
        if (name.endsWith("/")) assert.match(text, /Index of/);
        else assert.equal(text, FIXTURES[`files/${name}`].body, href);
      }
      const sub = links(await (await at("files/sub/")).text());
      assert.deepEqual(sub, [[`/${SITE}/files/`, "../"], [`/${SITE}/files/sub/x.txt`, "x.txt"]]);
      const listed = site.asked.filter((a) => a.req.operation === "ListObjectsV2");
      const first = listed.find((a) => a.req.query.prefix === "files/")!;
      assert.equal(first.token, null);
      assert.equal(first.req.key, undefined);
      assert.deepEqual(first.req.query, {
        "list-type": "2",
        prefix: "files/",
        delimiter: "/",
        "max-keys": "3",
      });
      assert.equal(site.proxy.requestCounts()[SITE].ListObjectsV2, listed.length);
    });

    await t.step(
      "RGW does exactly the operations the validator approved, nothing else",
      async () => {
        const ua = `website-visit/${crypto.randomUUID()}`;
        const mark = await opsLog.mark();
        const from = site.asked.length;
        for (const path of ["", "docs", "docs/", "files/", "files/sub/", "missing", "refused/"]) {
          for (const method of ["GET", "HEAD"]) {
            const res = await at(path, {
              method,
              headers: { "user-agent": ua },
              redirect: "manual",
            });
            await res.body?.cancel();
          }
        }
        const approved = site.asked.slice(from)
          .filter((a) => a.req.headers["user-agent"] === ua && a.req.key !== "refused/index.html")
          .map((a) => `${a.req.method} ${a.req.key ?? ""}`).sort();
        const entries = (await opsLog.barrier(mark, env.rgw.endpoint)).filter((e) =>
          e.user_agent === ua
        );
        const done = entries.map((e) => `${parseEntryUri(e.uri).method} ${entryObject(e, "path")}`)
          .sort();
        assert.ok(approved.length >= 20, approved.join("\n"));
        assert.deepEqual(done, approved);
      },
    );

    await t.step("a validator refusal of the index: 403, and RGW never sees its GET", async () => {
      const ua = `website-refused/${crypto.randomUUID()}`;
      const mark = await opsLog.mark();
      const res = await at("refused/", { headers: { "user-agent": ua } });
      assert.equal(res.status, 403);
      assert.equal(await res.text(), FIXTURES["error.html"].body, "the error document, with 403");
      const asked = site.asked.filter((a) =>
        a.req.key === "refused/index.html" && a.req.headers["user-agent"] === ua
      );
      assert.equal(asked.length, 1);
      assert.equal(asked[0].req.operation, "GetObject");
      const entries = await opsLog.barrier(mark, env.rgw.endpoint);
      const ours = entries.filter((e) => e.user_agent === ua);
      assert.deepEqual(
        ours.map((e) => parseEntryUri(e.uri).rawPath),
        [`/${env.backendBuckets.path}/error.html`],
        "only the error document was fetched",
      );
      const raw = await fetch(`${plain.endpoint}/${SITE}/refused/index.html`);
      assert.equal(await raw.text(), FIXTURES["refused/index.html"].body, "the key exists");
    });

    await t.step("signed requests and other queries keep plain S3 semantics", async () => {
      const client = new S3Client({
        endpoint: site.endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: CLIENT.accessKey, secretAccessKey: CLIENT.secretKey },
      });
      try {
        const marker = await client.send(new GetObjectCommand({ Bucket: SITE, Key: "docs/" }));
        assert.equal(await marker.Body!.transformToString(), FIXTURES["docs/"].body);
        const missing = await client.send(new GetObjectCommand({ Bucket: SITE, Key: "missing" }))
          .catch((e) => e);
        assert.equal(missing.name, "NoSuchKey");
      } finally {
        client.destroy();
      }
      const list = await at("?list-type=2&prefix=docs%2F");
      assert.equal(list.status, 200);
      assert.match(await list.text(), /^<\?xml[\s\S]*<Key>docs\/guide.html<\/Key>/);
    });

    await t.step("a bucket without website: today's anonymous answers", async () => {
      const marker = await fetch(`${off.endpoint}/${SITE}/docs/`);
      assert.equal(await marker.text(), FIXTURES["docs/"].body);
      const root = await fetch(`${off.endpoint}/${SITE}/`);
      assert.equal(root.status, 403, "ListObjects is not open to anonymous callers");
      assert.match(await root.text(), /<Code>AccessDenied<\/Code>/);
      const missing = await fetch(`${off.endpoint}/${SITE}/missing.html`);
      assert.equal(missing.status, 404);
      assert.match(await missing.text(), /<Code>NoSuchKey<\/Code>/);
      const dir = await fetch(`${off.endpoint}/${SITE}/docs`);
      assert.equal(dir.status, 404, "no redirect");
      await dir.body?.cancel();
    });
  } finally {
    await site.close();
    await plain.close();
    await off.close();
    await env.close();
  }
});
