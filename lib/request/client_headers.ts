/**
 * Which client headers exist at all, as far as osp is concerned. A header
 * name holding `_` is the twin of the same name with `-` for CGI-style
 * servers (RGW's beast frontend reads both as `HTTP_X_AMZ_…`), so osp never
 * lets one through: an unsigned one is dropped before the validator or the
 * backend sees it (as nginx does by default); a signed one fails the request,
 * since its sender expects it to arrive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isDroppedHeader } from "./client_headers.ts";
 * assert.equal(isDroppedHeader("x_amz_copy_source"), true);
 * assert.equal(isDroppedHeader("x-amz-copy-source"), false);
 * ```
 *
 * @module
 */
import { S3Error } from "./errors.ts";

/** True for a header name osp never forwards nor shows the validator. */
export function isDroppedHeader(name: string): boolean {
  return name.includes("_");
}

/** The dropped header names of a request (for the debug log); usually none. */
export function droppedHeaderNames(headers: Headers): string[] {
  const dropped: string[] = [];
  headers.forEach((_value, name) => {
    if (isDroppedHeader(name)) dropped.push(name);
  });
  return dropped;
}

/** Throws 400 InvalidArgument when a signed header name holds `_`. */
export function checkSignedHeaderNames(signedHeaders: readonly string[]): void {
  const twin = signedHeaders.find(isDroppedHeader);
  if (twin !== undefined) {
    throw new S3Error(
      "InvalidArgument",
      `Header names with "_" are not accepted (${twin}): backends read "_" as "-"`,
    );
  }
}
