/**
 * Bucket names from clients are parsed, not trusted. A name that is not an
 * explicit `cosMap` key reaches the default route, the validator and a
 * backend URL only once it is a valid S3 bucket name: 3–63 characters of
 * `a-z 0-9 . -`, starting and ending with a letter or digit, no `..`, not
 * formatted as an IP address. That also makes it a DNS name, so it can be a
 * host label for virtual-host addressing without ever changing the URL's
 * authority.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidBucketName } from "./bucket_name.ts";
 * assert.equal(isValidBucketName("photos-2024"), true);
 * assert.equal(isValidBucketName("127.0.0.1:80/"), false);
 * assert.equal(isValidBucketName("192.168.5.4"), false);
 * ```
 *
 * @module
 */
import { S3Error } from "./errors.ts";

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4_FORMAT = /^\d+\.\d+\.\d+\.\d+$/;

/** True for a name S3 accepts for a new bucket (the DNS-compatible rules). */
export function isValidBucketName(name: string): boolean {
  return BUCKET_NAME.test(name) && !name.includes("..") && !name.includes(".-") &&
    !name.includes("-.") && !IPV4_FORMAT.test(name);
}

const DNS_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

/**
 * True for a lower-case DNS name (labels of `a-z 0-9 -` joined by `.`): what a
 * bucket may be to stand as a host label, for virtual-host addressing.
 */
export function isDnsName(name: string): boolean {
  return DNS_NAME.test(name) && !name.includes("..") && name.length <= 253;
}

/**
 * Characters never accepted in any bucket name, configured or not: URL
 * delimiters (`/ : ? # @ %`), `\`, white space and control characters.
 */
// deno-lint-ignore no-control-regex
const NEVER_IN_A_NAME = /[/:?#@%\\\s\x00-\x1f\x7f]/;

/** True when `name` holds a character that could change a URL it is put into. */
export function hasUnsafeBucketChar(name: string): boolean {
  return NEVER_IN_A_NAME.test(name);
}

/** Throws 400 InvalidBucketName unless `name` is a valid S3 bucket name. */
export function requireValidBucketName(name: string): void {
  if (!isValidBucketName(name)) {
    throw new S3Error("InvalidBucketName", "The specified bucket is not valid.");
  }
}
