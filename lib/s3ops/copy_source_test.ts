import assert from "node:assert/strict";
import { formatCopySource, parseCopySource } from "./copy_source.ts";
import { S3Error } from "../request/errors.ts";

function assertS3Error(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof S3Error, `expected S3Error, got ${err}`);
    assert.equal(err.code, code);
    return true;
  });
}

Deno.test("copy source: /bucket/key with and without the leading slash", () => {
  const expected = { bucket: "src", key: "dir/file.txt", rawKey: "dir/file.txt", rawSuffix: "" };
  assert.deepEqual(parseCopySource("/src/dir/file.txt"), {
    ...expected,
    raw: "/src/dir/file.txt",
    rawPrefix: "/",
    rawSeparator: "/",
  });
  assert.deepEqual(parseCopySource("src/dir/file.txt"), {
    ...expected,
    raw: "src/dir/file.txt",
    rawPrefix: "",
    rawSeparator: "/",
  });
});

Deno.test("copy source: the key is URL-decoded (spaces, unicode, +)", () => {
  const spaces = parseCopySource("/src/my%20dir/a%20b.txt");
  assert.equal(spaces.key, "my dir/a b.txt");
  assert.equal(spaces.rawKey, "my%20dir/a%20b.txt");

  const unicode = parseCopySource("/src/%E2%82%AC/f%C3%BC%C3%9F.txt");
  assert.equal(unicode.key, "€/füß.txt");

  const plusEncoded = parseCopySource("/src/a%2Bb");
  assert.equal(plusEncoded.key, "a+b");
  // A literal + in a path is a plus, not a space.
  const plusLiteral = parseCopySource("/src/a+b");
  assert.equal(plusLiteral.key, "a+b");

  const bucket = parseCopySource("/my%2Dbucket/k");
  assert.equal(bucket.bucket, "my-bucket");
});

Deno.test("copy source: an encoded slash after the bucket separates bucket and key", () => {
  const parsed = parseCopySource("src%2Fdir%2Ffile");
  assert.equal(parsed.bucket, "src");
  assert.equal(parsed.key, "dir/file");
});

Deno.test("copy source: ?versionId=… is kept as the raw suffix", () => {
  const parsed = parseCopySource("/src/k%20ey?versionId=3%2FL4kqtJlcpXroDTDmJ%2Brmsj");
  assert.equal(parsed.bucket, "src");
  assert.equal(parsed.key, "k ey");
  assert.equal(parsed.rawKey, "k%20ey");
  assert.equal(parsed.rawSuffix, "?versionId=3%2FL4kqtJlcpXroDTDmJ%2Brmsj");
});

Deno.test("copy source: any other query is rejected with InvalidArgument", () => {
  for (
    const value of [
      "/src/k?partNumber=1",
      "/src/k?versionId=1&x=2",
      "/src/k?versionid=1",
      "/src/k?",
      "/src/k?versionId",
      // An empty version id: RGW would copy the current version.
      "/src/k?versionId=",
    ]
  ) {
    assertS3Error(() => parseCopySource(value), "InvalidArgument");
  }
});

Deno.test("copy source: a missing bucket or key is rejected with InvalidArgument", () => {
  for (const value of ["/src", "src", "/src/", "src/", "/", "", "//k", "/?versionId=1"]) {
    assertS3Error(() => parseCopySource(value), "InvalidArgument");
  }
});

Deno.test("copy source: forwarded in the client's own form when the bucket keeps its name", () => {
  // A backend may match s3:x-amz-copy-source policy conditions on the raw value.
  for (
    const value of [
      "/src/dir/file.txt",
      "src/dir/file.txt",
      "/src/my%20dir/a+b%2Bc",
      "src/a b",
      "/src/a%2520b",
      "src%2Fdir%2Ffile",
      "/src/k?versionId=abc%2B1",
    ]
  ) {
    assert.equal(formatCopySource(parseCopySource(value), { backendBucket: "src" }), value);
  }
});

Deno.test("copy source: an alias replaces only the bucket, the rest stays as sent", () => {
  const cases: [string, string][] = [
    ["/src/dir/file.txt", "/real-src/dir/file.txt"],
    ["src/dir/file.txt", "real-src/dir/file.txt"],
    ["/src/my%20dir/a+b%2Bc", "/real-src/my%20dir/a+b%2Bc"],
    ["/src/a%2520b", "/real-src/a%2520b"],
    ["src%2Fdir%2Ffile", "real-src%2Fdir%2Ffile"],
    ["/src/k?versionId=abc%2B1", "/real-src/k?versionId=abc%2B1"],
  ];
  for (const [value, expected] of cases) {
    assert.equal(formatCopySource(parseCopySource(value), { backendBucket: "real-src" }), expected);
  }
});

Deno.test("copy source: rawKey is the key as the client sent it", () => {
  // CopySource.rawKey is documented as "Raw (still encoded) source key, as the client sent it".
  assert.equal(parseCopySource("/src/dir%2Ffile").rawKey, "dir%2Ffile");
});

Deno.test("copy source: raw UTF-8 bytes in the header decode as UTF-8, as the backend reads them", () => {
  // Deno hands a header value over one character per byte: "café" arrives as caf\xC3\xA9.
  const source = parseCopySource("/src/caf\xC3\xA9.txt");
  assert.equal(source.key, "café.txt");
  assert.equal(parseCopySource("/src/caf%C3%A9.txt").key, "café.txt");
  assert.equal(formatCopySource(source, { backendBucket: "src" }), "/src/caf\xC3\xA9.txt");
  assert.equal(formatCopySource(source, { backendBucket: "be" }), "/be/caf\xC3\xA9.txt");
});
