import assert from "node:assert/strict";
import { checkKeyPath, hasAmbiguousSegments } from "./key_path.ts";
import { S3Error } from "./errors.ts";

Deno.test("key_path: dot segments and inner empty segments are ambiguous", () => {
  for (
    const key of [".", "..", "a/.", "a/..", "./a", "../a", "a/./b", "a/../b", "a//b", "/a", "//"]
  ) {
    assert.equal(hasAmbiguousSegments(key), true, key);
    assert.throws(
      () => checkKeyPath(key),
      (e: unknown) => e instanceof S3Error && e.status === 400,
    );
  }
  for (const key of ["a", "a/", "a/b/", "a.b", "...", "a/.b", "a/b..", ".hidden/x"]) {
    assert.equal(hasAmbiguousSegments(key), false, key);
    checkKeyPath(key);
  }
});
