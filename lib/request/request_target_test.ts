import assert from "node:assert/strict";
import { parseRequestTarget, splitUrl } from "./request_target.ts";

const SUFFIXES = ["s3.example.com"];

function target(url: string, hostHeader: string | null = null) {
  return parseRequestTarget(url, { hostHeader, virtualHostSuffixes: SUFFIXES });
}

Deno.test("splitUrl: splits authority, raw path and raw query without normalising", () => {
  assert.deepEqual(splitUrl("http://h:8080/b/k?x=1&y"), {
    authority: "h:8080",
    rawPath: "/b/k",
    rawQuery: "x=1&y",
  });
  assert.deepEqual(splitUrl("http://h/b/x/../y"), {
    authority: "h",
    rawPath: "/b/x/../y",
    rawQuery: "",
  });
  assert.deepEqual(splitUrl("http://h//"), { authority: "h", rawPath: "//", rawQuery: "" });
  assert.deepEqual(splitUrl("http://h"), { authority: "h", rawPath: "/", rawQuery: "" });
  assert.deepEqual(splitUrl("http://h?list-type=2"), {
    authority: "h",
    rawPath: "/",
    rawQuery: "list-type=2",
  });
  assert.deepEqual(splitUrl("http://h/b/k?q=1#frag"), {
    authority: "h",
    rawPath: "/b/k",
    rawQuery: "q=1",
  });
  assert.deepEqual(splitUrl("http://h/b/k#frag?not-a-query"), {
    authority: "h",
    rawPath: "/b/k",
    rawQuery: "",
  });
  assert.deepEqual(splitUrl("/b/k?q"), { authority: "", rawPath: "/b/k", rawQuery: "q" });
});

Deno.test("request target: path style /bucket/key", () => {
  assert.deepEqual(target("http://proxy:8080/bucket/dir/key.txt", "proxy:8080"), {
    rawPath: "/bucket/dir/key.txt",
    rawQuery: "",
    params: [],
    host: "proxy:8080",
    bucket: "bucket",
    rawKey: "dir/key.txt",
    key: "dir/key.txt",
    style: "path",
  });
});

Deno.test("request target: path style /bucket and /bucket/ have no key", () => {
  for (const path of ["/bucket", "/bucket/"]) {
    const t = target(`http://proxy${path}`, "proxy");
    assert.equal(t.bucket, "bucket", path);
    assert.equal(t.key, undefined, path);
    assert.equal(t.rawKey, undefined, path);
    assert.equal(t.rawPath, path);
    assert.equal(t.style, "path");
    assert.ok(!("key" in t), path);
  }
});

Deno.test("request target: / is a service request", () => {
  const t = target("http://proxy/", "proxy");
  assert.deepEqual(t, {
    rawPath: "/",
    rawQuery: "",
    params: [],
    host: "proxy",
    style: "path",
  });
  assert.equal(t.bucket, undefined);
});

Deno.test("request target: the raw path is preserved, never normalised", () => {
  const dots = target("http://proxy/b/x/../y", "proxy");
  assert.equal(dots.rawPath, "/b/x/../y");
  assert.equal(dots.bucket, "b");
  assert.equal(dots.rawKey, "x/../y");
  assert.equal(dots.key, "x/../y");

  const encodedDots = target("http://proxy/b/%2e%2e/z", "proxy");
  assert.equal(encodedDots.rawPath, "/b/%2e%2e/z");
  assert.equal(encodedDots.rawKey, "%2e%2e/z");
  assert.equal(encodedDots.key, "../z");

  const doubleSlashKey = target("http://proxy/b//k", "proxy");
  assert.equal(doubleSlashKey.rawPath, "/b//k");
  assert.equal(doubleSlashKey.bucket, "b");
  assert.equal(doubleSlashKey.key, "/k");

  const doubleSlash = target("http://proxy//", "proxy");
  assert.equal(doubleSlash.rawPath, "//");
  assert.equal(doubleSlash.key, undefined);
});

Deno.test("request target: the query is split into raw and decoded params", () => {
  const t = target("http://proxy/b/k?list-type=2&prefix=a%2Fb&uploads", "proxy");
  assert.equal(t.rawQuery, "list-type=2&prefix=a%2Fb&uploads");
  assert.deepEqual(t.params, [
    { rawName: "list-type", rawValue: "2", name: "list-type", value: "2" },
    { rawName: "prefix", rawValue: "a%2Fb", name: "prefix", value: "a/b" },
    { rawName: "uploads", rawValue: "", name: "uploads", value: "" },
  ]);
  assert.equal(t.rawPath, "/b/k");
});

Deno.test("request target: bucket and key are percent-decoded, + stays +", () => {
  const t = target("http://proxy/a%20b%2Bc/a%20b%2Bc+d", "proxy");
  assert.equal(t.bucket, "a b+c");
  assert.equal(t.rawKey, "a%20b%2Bc+d");
  assert.equal(t.key, "a b+c+d");

  const unicode = target("http://proxy/b/%E2%82%AC%20f%C3%BC", "proxy");
  assert.equal(unicode.key, "€ fü");
});

Deno.test("request target: virtual host under a suffix names the bucket", () => {
  const t = target("http://127.0.0.1:8080/dir/key?x=1", "bkt.s3.example.com:8080");
  assert.deepEqual(t, {
    rawPath: "/dir/key",
    rawQuery: "x=1",
    params: [{ rawName: "x", rawValue: "1", name: "x", value: "1" }],
    host: "bkt.s3.example.com:8080",
    bucket: "bkt",
    rawKey: "dir/key",
    key: "dir/key",
    style: "virtual",
  });

  // The whole path is the key: its first segment is not a bucket.
  const nested = target("http://proxy/other-bucket/k", "bkt.s3.example.com");
  assert.equal(nested.bucket, "bkt");
  assert.equal(nested.key, "other-bucket/k");

  const bucketOnly = target("http://proxy/", "bkt.s3.example.com");
  assert.equal(bucketOnly.bucket, "bkt");
  assert.equal(bucketOnly.key, undefined);
  assert.equal(bucketOnly.style, "virtual");

  const dotted = target("http://proxy/k", "my.dotted.bkt.s3.example.com");
  assert.equal(dotted.bucket, "my.dotted.bkt");
});

Deno.test("request target: host matching is case-insensitive but host is kept raw", () => {
  const t = target("http://proxy/k", "BKT.S3.Example.COM:8080");
  assert.equal(t.bucket, "bkt");
  assert.equal(t.host, "BKT.S3.Example.COM:8080");
  assert.equal(t.style, "virtual");
});

Deno.test("request target: a host equal to the suffix is path style", () => {
  const t = target("http://proxy/bkt/key", "s3.example.com:8080");
  assert.equal(t.style, "path");
  assert.equal(t.bucket, "bkt");
  assert.equal(t.key, "key");

  // A suffix match must be on a label boundary.
  const notSub = target("http://proxy/bkt/key", "evils3.example.com");
  assert.equal(notSub.style, "path");
  assert.equal(notSub.bucket, "bkt");
});

Deno.test("request target: the Host header is preferred over the URL authority", () => {
  const fromHeader = target("http://bkt.s3.example.com/b/k", "proxy.internal:9000");
  assert.equal(fromHeader.host, "proxy.internal:9000");
  assert.equal(fromHeader.style, "path");
  assert.equal(fromHeader.bucket, "b");

  const fromAuthority = target("http://bkt.s3.example.com/k", null);
  assert.equal(fromAuthority.host, "bkt.s3.example.com");
  assert.equal(fromAuthority.style, "virtual");
  assert.equal(fromAuthority.bucket, "bkt");
  assert.equal(fromAuthority.key, "k");
});

Deno.test("request target: IPv6 hosts are not split at their colons", () => {
  const t = target("http://[::1]:8080/b/k", "[::1]:8080");
  assert.equal(t.style, "path");
  assert.equal(t.host, "[::1]:8080");
  assert.equal(t.bucket, "b");
});

Deno.test("request target: no suffixes means path style for any host", () => {
  const t = parseRequestTarget("http://bkt.s3.example.com/b/k", {
    hostHeader: "bkt.s3.example.com",
    virtualHostSuffixes: [],
  });
  assert.equal(t.style, "path");
  assert.equal(t.bucket, "b");
});
