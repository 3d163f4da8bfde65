import assert from "node:assert/strict";
import { hasUnsafeBucketChar, isValidBucketName, requireValidBucketName } from "./bucket_name.ts";
import { S3Error } from "./errors.ts";

Deno.test("bucket_name: S3's rules for new buckets", () => {
  for (const ok of ["abc", "a-b.c", "photos-2024", "1bucket", "a".repeat(63), "my.bucket.name"]) {
    assert.equal(isValidBucketName(ok), true, ok);
  }
  const bad = [
    "",
    "ab",
    "a".repeat(64),
    "Upper",
    "under_score",
    "-lead",
    "trail-",
    ".lead",
    "trail.",
    "a..b",
    "a.-b",
    "a-.b",
    "192.168.5.4",
    "127.0.0.1",
    // Everything that would change a URL it is put into.
    "127.0.0.1:7752",
    "a/b",
    "secret/x",
    "a%2Fb",
    "a?b",
    "a#b",
    "user@host",
    "a\\b",
    "a b",
    "a\tb",
    "a\nb",
    "a\u0000b",
    "bücket",
  ];
  for (const name of bad) assert.equal(isValidBucketName(name), false, JSON.stringify(name));
});

Deno.test("bucket_name: requireValidBucketName throws 400 InvalidBucketName", () => {
  requireValidBucketName("fine-name");
  assert.throws(
    () => requireValidBucketName("127.0.0.1:80/"),
    (err: unknown) =>
      err instanceof S3Error && err.code === "InvalidBucketName" && err.status === 400,
  );
});

Deno.test("bucket_name: characters never accepted in a configured name either", () => {
  for (const c of ["/", ":", "?", "#", "@", "%", "\\", " ", "\t", "\r", "\n", "\x00", "\x7f"]) {
    assert.equal(hasUnsafeBucketChar(`a${c}b`), true, JSON.stringify(c));
  }
  assert.equal(hasUnsafeBucketChar("Legacy_Name.2"), false);
});
