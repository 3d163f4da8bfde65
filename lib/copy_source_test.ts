import assert from "node:assert/strict";
import { formatCopySource, parseCopySource } from "./copy_source.ts";
import { S3Error } from "./errors.ts";

function assertS3Error(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof S3Error, `expected S3Error, got ${err}`);
    assert.equal(err.code, code);
    return true;
  });
}

Deno.test("copy source: /bucket/key with and without the leading slash", () => {
  const expected = { bucket: "src", key: "dir/file.txt", rawKey: "dir/file.txt", rawSuffix: "" };
  assert.deepEqual(parseCopySource("/src/dir/file.txt"), expected);
  assert.deepEqual(parseCopySource("src/dir/file.txt"), expected);
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
  assert.deepEqual(parsed, {
    bucket: "src",
    key: "k ey",
    rawKey: "k%20ey",
    rawSuffix: "?versionId=3%2FL4kqtJlcpXroDTDmJ%2Brmsj",
  });
  assert.equal(parseCopySource("/src/k?versionId=").rawSuffix, "?versionId=");
});

Deno.test("copy source: any other query is rejected with InvalidArgument", () => {
  for (
    const value of [
      "/src/k?partNumber=1",
      "/src/k?versionId=1&x=2",
      "/src/k?versionid=1",
      "/src/k?",
      "/src/k?versionId",
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

Deno.test("copy source: format uses the backend bucket and encodes the key once", () => {
  assert.equal(
    formatCopySource(parseCopySource("/src/dir/file.txt"), { backendBucket: "real-src" }),
    "/real-src/dir/file.txt",
  );
  assert.equal(
    formatCopySource(parseCopySource("/src/my%20dir/a+b%2Bc"), { backendBucket: "real" }),
    "/real/my%20dir/a%2Bb%2Bc",
  );
  assert.equal(
    formatCopySource(parseCopySource("/src/%E2%82%AC"), { backendBucket: "real" }),
    "/real/%E2%82%AC",
  );
  // A key that contains a literal "%20" arrives as %2520 and must stay %2520, not become a space.
  assert.equal(
    formatCopySource(parseCopySource("/src/a%2520b"), { backendBucket: "real" }),
    "/real/a%2520b",
  );
  // Unencoded characters are encoded once.
  assert.equal(
    formatCopySource(parseCopySource("src/a b"), { backendBucket: "real" }),
    "/real/a%20b",
  );
});

Deno.test("copy source: format keeps the versionId suffix", () => {
  assert.equal(
    formatCopySource(parseCopySource("/src/k?versionId=abc%2B1"), { backendBucket: "real" }),
    "/real/k?versionId=abc%2B1",
  );
});

Deno.test("copy source: rawKey is the key as the client sent it", () => {
  // CopySource.rawKey is documented as "Raw (still encoded) source key, as the client sent it".
  assert.equal(parseCopySource("/src/dir%2Ffile").rawKey, "dir%2Ffile");
});
