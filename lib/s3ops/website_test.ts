import assert from "node:assert/strict";
import type { BucketConfig, ValidatorRequest, WebsiteConfig } from "../config/config.ts";
import { createLogger } from "../observe/log.ts";
import { createHandler } from "../request/handler.ts";
import { type BackendSeen, signed, testPipeline } from "../request/_test_util.ts";

const BUCKET = {
  host: "backend.test",
  port: 9000,
  tls: false,
  addressingStyle: "path" as const,
  backendBucket: "be-data",
  accessKey: "backend-ak",
  secretKey: "backend-secret",
  ttl: 0,
  anonymous: ["GetObject", "HeadObject", "ListObjectsV2"],
};

const NO_SUCH_KEY = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>` +
  `<Message>secret backend text</Message><BucketName>be-data</BucketName></Error>`;

/** The decoded key a backend request was for, and its query. */
function keyOf(seen: BackendSeen): { key: string; query: string } {
  const url = new URL(seen.url);
  return { key: decodeURIComponent(url.pathname.replace(/^\/be-data\/?/, "")), query: url.search };
}

/** A backend holding `objects`; everything else is RGW's 404 NoSuchKey. */
function site(
  objects: Record<string, string>,
  options: {
    website?: WebsiteConfig;
    refuse?: (req: ValidatorRequest) => boolean;
    bucket?: Partial<BucketConfig>;
  } = {},
) {
  const { pipeline, seen } = testPipeline({
    config: {
      virtualHostSuffixes: ["proxy.test"],
      cosMap: { data: { ...BUCKET, website: options.website ?? {}, ...options.bucket } },
      validator: (_token, _bucket, req) => !(options.refuse?.(req) ?? false),
    },
    backend: (s) => {
      const { key } = keyOf(s);
      const body = objects[key];
      if (body === undefined) {
        return new Response(NO_SUCH_KEY, {
          status: 404,
          headers: { "content-type": "application/xml" },
        });
      }
      return new Response(s.method === "HEAD" ? null : body, {
        headers: { "content-type": "text/html", etag: `"${key}"` },
      });
    },
  });
  const counts = new Map<string, Map<string, number>>();
  const handler = createHandler({ ...pipeline, requestCounts: counts });
  const conn = { remoteIp: "10.0.0.1", completed: Promise.resolve() };
  return { handle: (r: Request) => handler(r, conn), seen, counts };
}

Deno.test("website: virtual-host redirects name no bucket, and never another host", async () => {
  const { handle, seen, counts } = site({
    "docs/index.html": "d",
    "/evil.example/index.html": "e",
  });
  const docs = await handle(new Request("http://data.proxy.test:8080/docs"));
  assert.equal(docs.status, 302);
  assert.equal(docs.headers.get("location"), "/docs/");
  const evil = await handle(new Request("http://data.proxy.test:8080//evil.example"));
  assert.equal(evil.status, 302);
  assert.equal(evil.headers.get("location"), "/%2Fevil.example/");
  assert.deepEqual(
    seen.map((s) => [s.method, keyOf(s).key]),
    [
      ["GET", "docs"],
      ["HEAD", "docs/index.html"],
      ["GET", "/evil.example"],
      ["HEAD", "/evil.example/index.html"],
    ],
  );
  const root = await handle(new Request("http://data.proxy.test:8080/"));
  assert.equal(root.status, 404, "no index.html at the root, no listing");
  await root.body?.cancel();
  await new Promise((r) => setTimeout(r, 0));
  // Counted as the operation that answered (the redirect's check is not).
  assert.deepEqual(Object.fromEntries(counts.get("data")!), { GetObject: 3 });
});

Deno.test("website: a refused index is never fetched; the refusal is an HTML 403", async () => {
  const { handle, seen } = site({ "index.html": "i" }, {
    refuse: (req) => req.key === "index.html",
  });
  const res = await handle(new Request("http://proxy.test:8080/data/"));
  assert.equal(res.status, 403);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await res.text();
  assert.match(html, /<h1>403 Forbidden<\/h1>/);
  assert.match(html, /<li>Code: AccessDenied<\/li>/);
  assert.equal(seen.length, 0);
});

Deno.test("website: backend errors show none of the backend's text", async () => {
  const { handle } = site({});
  const res = await handle(new Request("http://proxy.test:8080/data/nope.html"));
  assert.equal(res.status, 404);
  const html = await res.text();
  assert.match(html, /<li>Code: NoSuchKey<\/li>/);
  assert.doesNotMatch(html, /secret|be-data|<\?xml/);

  const { pipeline } = testPipeline({
    config: { cosMap: { data: { ...BUCKET, website: {} } } },
    backend: () =>
      new Response("<Error><Code>Weird</Code><Message>be-data</Message></Error>", { status: 502 }),
  });
  const broken = await createHandler(pipeline)(new Request("http://proxy.test:8080/data/x"), {
    remoteIp: "10.0.0.1",
  });
  assert.equal(broken.status, 502);
  const text = await broken.text();
  assert.match(text, /<li>Code: InternalError<\/li>/);
  assert.doesNotMatch(text, /be-data|Weird/);
});

Deno.test("website: an unreadable error document falls back to the HTML page, with the first error", async () => {
  const { handle, seen } = site({}, { website: { errorDocument: "404.html" } });
  const res = await handle(new Request("http://proxy.test:8080/data/nope"));
  assert.equal(res.status, 404);
  assert.match(await res.text(), /<li>Code: NoSuchKey<\/li>/);
  assert.deepEqual(seen.map((s) => [s.method, keyOf(s).key]), [
    ["GET", "nope"],
    ["HEAD", "nope/index.html"],
    ["GET", "404.html"],
  ]);
});

Deno.test("website: the error document's own request carries none of the client's headers", async () => {
  const { handle, seen } = site({ "404.html": "custom" }, {
    website: { errorDocument: "404.html" },
  });
  const res = await handle(
    new Request("http://proxy.test:8080/data/nope", {
      headers: { range: "bytes=0-1", "if-none-match": '"x"', "user-agent": "ua/1" },
    }),
  );
  assert.equal(res.status, 404);
  assert.equal(await res.text(), "custom");
  const doc = seen.find((s) => keyOf(s).key === "404.html")!;
  assert.equal(doc.headers.get("range"), null);
  assert.equal(doc.headers.get("if-none-match"), null);
  assert.equal(doc.headers.get("user-agent"), "ua/1");
  assert.equal(seen[0].headers.get("range"), "bytes=0-1", "the client's own GET keeps them");
});

Deno.test("website: a listing is a ListObjectsV2 of the prefix; HEAD has no body", async () => {
  const listing = `<ListBucketResult><IsTruncated>false</IsTruncated>` +
    `<Contents><Key>d/a.txt</Key><Size>1</Size><LastModified>t</LastModified></Contents></ListBucketResult>`;
  const { pipeline, seen } = testPipeline({
    config: { cosMap: { data: { ...BUCKET, website: { listing: true, listingPageSize: 7 } } } },
    backend: (s) =>
      new URL(s.url).searchParams.has("list-type")
        ? new Response(listing, { headers: { "content-type": "application/xml" } })
        : new Response(NO_SUCH_KEY, { status: 404 }),
  });
  const handle = (r: Request) => createHandler(pipeline)(r, { remoteIp: "10.0.0.1" });
  const get = await handle(new Request("http://proxy.test:8080/data/d/?continuation-token=t%2B1"));
  assert.equal(get.status, 200);
  assert.match(await get.text(), /<a href="\/data\/d\/a.txt">a.txt<\/a>/);
  assert.equal(seen.length, 1, "with a page token, straight to the listing");
  const query = new URL(seen[0].url).searchParams;
  assert.deepEqual([...query].sort(), [
    ["continuation-token", "t+1"],
    ["delimiter", "/"],
    ["list-type", "2"],
    ["max-keys", "7"],
    ["prefix", "d/"],
  ]);
  const head = await handle(new Request("http://proxy.test:8080/data/d/", { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(await head.text(), "");
  assert.deepEqual(seen.slice(1).map((s) => [s.method, keyOf(s).key]), [
    ["HEAD", "d/index.html"],
    ["GET", ""],
  ]);
});

Deno.test("website: signed requests and other queries are plain S3", async () => {
  const { handle, seen } = site({ "docs/": "marker", "docs/index.html": "index" });
  const signedGet = await handle(signed("GET", "/data/docs/"));
  assert.equal(await signedGet.text(), "marker");
  const versioned = await handle(new Request("http://proxy.test:8080/data/docs/?versionId=1"));
  assert.equal(await versioned.text(), "marker");
  assert.deepEqual(seen.map((s) => [keyOf(s).key, keyOf(s).query]), [
    ["docs/", ""],
    ["docs/", "?versionId=1"],
  ]);
  const missing = await handle(signed("GET", "/data/nope"));
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /<Code>NoSuchKey<\/Code>/, "the backend's XML, as ever");
});

Deno.test("website: a backend error without a known code is named by its status", async () => {
  for (
    const [status, code] of [[404, "NoSuchKey"], [403, "AccessDenied"], [
      416,
      "InvalidRange",
    ]] as const
  ) {
    const { pipeline } = testPipeline({
      config: { cosMap: { data: { ...BUCKET, website: {} } } },
      backend: () => new Response(null, { status }),
    });
    const res = await createHandler(pipeline)(new Request("http://proxy.test:8080/data/k"), {
      remoteIp: "10.0.0.1",
    });
    assert.equal(res.status, status);
    assert.match(await res.text(), new RegExp(`<li>Code: ${code}</li>`));
  }
});

Deno.test("website: on the default route, every bucket it serves is a website", async () => {
  const { backendBucket: _, ...route } = BUCKET;
  const { pipeline, seen } = testPipeline({
    config: { cosMap: { "*": { ...route, website: { indexDocument: "home.htm" } } } },
    backend: () => new Response("home", { headers: { "content-type": "text/html" } }),
  });
  const res = await createHandler(pipeline)(new Request("http://proxy.test:8080/any-bucket/a/"), {
    remoteIp: "10.0.0.1",
  });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "home");
  assert.equal(new URL(seen[0].url).pathname, "/any-bucket/a/home.htm");
});

Deno.test("website: the access log says anonymous, and names the operation that answered", async () => {
  const listing = `<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>`;
  const { pipeline } = testPipeline({
    config: { cosMap: { data: { ...BUCKET, website: { listing: true } } } },
    backend: (s) =>
      new URL(s.url).searchParams.has("list-type")
        ? new Response(listing)
        : new Response(NO_SUCH_KEY, { status: 404 }),
  });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "info", write: (line) => lines.push(JSON.parse(line)) });
  const handler = createHandler({ ...pipeline, logger });
  const res = await handler(new Request("http://proxy.test:8080/data/"), {
    remoteIp: "10.0.0.1",
    completed: Promise.resolve(),
  });
  assert.equal(res.status, 200);
  await res.text();
  await new Promise((r) => setTimeout(r, 0));
  const request = lines.find((l) => l.msg === "request")!;
  assert.equal(request.anonymous, true);
  assert.equal(request.operation, "ListObjectsV2");
  assert.equal(request.bucket, "data");
  assert.equal(request.accessKey, undefined);
});

Deno.test('website: with anonymousAs "anonymous" every backend request of a visit is unsigned', async () => {
  const { handle, seen } = site(
    { "docs/index.html": "docs index", "404.html": "not here" },
    {
      website: { errorDocument: "404.html", listing: true },
      bucket: { anonymousAs: "anonymous" },
    },
  );
  for (const path of ["/data/docs/", "/data/docs", "/data/missing", "/data/"]) {
    const res = await handle(new Request(`http://proxy.test:8080${path}`, { redirect: "manual" }));
    await res.body?.cancel();
  }
  assert.ok(seen.length >= 6, String(seen.length));
  for (const s of seen) {
    for (const name of ["authorization", "x-amz-date", "x-amz-security-token"]) {
      assert.equal(s.headers.has(name), false, `${s.method} ${s.url}: ${name}`);
    }
  }
  // A signed request on the same bucket is still signed with its identity.
  const get = await handle(signed("GET", "/data/docs/index.html"));
  assert.equal(await get.text(), "docs index");
  assert.match(seen.at(-1)!.headers.get("authorization")!, /Credential=backend-ak\//);
});
