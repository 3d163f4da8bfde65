/**
 * The `strictKeyPaths` bucket option: keys whose segments a path-normalising
 * middlebox would rewrite (`.`, `..`, an empty segment from `//` or a leading
 * `/`) are refused. S3 and RGW take such keys literally, so osp forwards them
 * verbatim by default; behind nginx with `merge_slashes`, a CDN or a WAF
 * that normalises paths, `a/../b` would reach the backend as `b`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasAmbiguousSegments } from "./key_path.ts";
 * assert.equal(hasAmbiguousSegments("photos/2024/a.jpg"), false);
 * assert.equal(hasAmbiguousSegments("photos/"), false);
 * assert.equal(hasAmbiguousSegments("photos/../secret"), true);
 * assert.equal(hasAmbiguousSegments("photos//a.jpg"), true);
 * ```
 *
 * @module
 */
import { S3Error } from "./errors.ts";

/**
 * True when a decoded key has a `.` or `..` segment, or an empty segment
 * other than the last (a trailing `/` names a folder marker and is kept).
 */
export function hasAmbiguousSegments(key: string): boolean {
  const segments = key.split("/");
  return segments.some((s, i) => s === "." || s === ".." || (s === "" && i < segments.length - 1));
}

/** Throws 400 InvalidArgument for a key {@linkcode hasAmbiguousSegments} refuses. */
export function checkKeyPath(key: string): void {
  if (hasAmbiguousSegments(key)) {
    throw new S3Error(
      "InvalidArgument",
      "This bucket refuses keys with '.', '..' or empty path segments (strictKeyPaths)",
    );
  }
}
