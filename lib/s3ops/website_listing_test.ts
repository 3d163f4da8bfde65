import assert from "node:assert/strict";
import { listingHtml, parentPrefix, parseListingPage } from "./website_listing.ts";
import { websitePath } from "./website.ts";

const XML = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>be</Name><Prefix>d/</Prefix>
<MaxKeys>3</MaxKeys><Delimiter>/</Delimiter><IsTruncated>true</IsTruncated>
<Contents><Key>d/</Key><LastModified>2025-01-01T00:00:00.000Z</LastModified><Size>0</Size></Contents>
<Contents><Key>d/a&amp;b &lt;x&gt;.txt</Key><LastModified>2025-01-02T00:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag><Size>12</Size><Owner><ID>o</ID></Owner></Contents>
<CommonPrefixes><Prefix>d/&quot;sub&apos;/</Prefix></CommonPrefixes>
<KeyCount>3</KeyCount><NextContinuationToken>tok&amp;en/+=</NextContinuationToken></ListBucketResult>`;

Deno.test("website listing: a ListObjectsV2 page is read with every value unescaped", () => {
  assert.deepEqual(parseListingPage(XML), {
    prefixes: [`d/"sub'/`],
    objects: [
      { key: "d/", size: 0, lastModified: "2025-01-01T00:00:00.000Z" },
      { key: "d/a&b <x>.txt", size: 12, lastModified: "2025-01-02T00:00:00.000Z" },
    ],
    nextToken: "tok&en/+=",
  });
  const last = XML.replace("<IsTruncated>true", "<IsTruncated>false");
  assert.equal(parseListingPage(last).nextToken, undefined);
});

Deno.test("website listing: names escaped, links encoded per segment, directories first, next page", () => {
  const html = listingHtml(parseListingPage(XML), {
    prefix: "d/",
    title: `b/d/`,
    href: (key) => websitePath({ bucket: "b", style: "path" }, key),
  });
  const rows = [...html.matchAll(/<tr><td><a href="([^"]*)">([^<]*)<\/a><\/td><td>([^<]*)</g)]
    .map((m) => m.slice(1));
  assert.deepEqual(rows, [
    ["/b/", "../", ""],
    ["/b/d/%22sub%27/", "&quot;sub&apos;/", "-"],
    ["/b/d/a%26b%20%3Cx%3E.txt", "a&amp;b &lt;x&gt;.txt", "12"],
  ]);
  assert.ok(!html.includes("<x>"));
  assert.match(html, /<title>Index of b\/d\/<\/title>/);
  assert.match(
    html,
    /<a rel="next" href="\/b\/d\/\?continuation-token=tok%26en%2F%2B%3D">Next page<\/a>/,
  );
});

Deno.test("website listing: hostile names stay text, and the title too", () => {
  const html = listingHtml(
    {
      prefixes: [],
      objects: [{ key: `<script>alert("x")</script>`, size: 1, lastModified: "<b>" }],
    },
    { prefix: "", title: "<i>bucket</i>/", href: (key) => `/${encodeURIComponent(key)}` },
  );
  assert.ok(!/<script|<b>|<i>/.test(html), html);
  assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
  assert.doesNotMatch(html, /\.\.\//, "no parent link at the root");
  assert.doesNotMatch(html, /Next page/);
});

Deno.test("website listing: the parent of a prefix", () => {
  assert.equal(parentPrefix("a/b/"), "a/");
  assert.equal(parentPrefix("a/"), "");
  assert.equal(parentPrefix("a//"), "a/");
  assert.equal(parentPrefix("/"), "");
});

Deno.test("website paths: absolute, per-segment encoded, never a link to another host", () => {
  const path = { bucket: "site", style: "path" as const };
  const virtual = { bucket: "site", style: "virtual" as const };
  assert.equal(websitePath(path, ""), "/site/");
  assert.equal(websitePath(virtual, ""), "/");
  assert.equal(websitePath(path, "a b/c?d#e"), "/site/a%20b/c%3Fd%23e");
  assert.equal(websitePath(virtual, "javascript:x"), "/javascript%3Ax");
  assert.equal(websitePath(virtual, "//evil.example/x"), "/%2F/evil.example/x");
  assert.equal(websitePath(path, "/x/"), "/site/%2Fx/");
});
