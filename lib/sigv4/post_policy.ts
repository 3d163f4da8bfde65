/**
 * The POST policy of a browser form upload: parsed from its base64 JSON and
 * checked against the form as S3 checks it — the expiration, every
 * condition (`eq`, `starts-with`, `content-length-range`, exact matches),
 * and that every form field is covered by a condition (but `x-amz-signature`,
 * SigV2's `AWSAccessKeyId` and `signature`, `file`, `policy` and `x-ignore-*`). Pure: the clock is passed in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPostPolicy, parsePostPolicy } from "./post_policy.ts";
 * const policy = parsePostPolicy(btoa(JSON.stringify({
 *   expiration: "2030-01-01T00:00:00Z",
 *   conditions: [{ bucket: "photos" }, ["starts-with", "$key", "u/"]],
 * })));
 * checkPostPolicy(policy, {
 *   fields: new Map([["key", "u/${filename}"]]),
 *   bucket: "photos",
 *   key: "u/a.jpg",
 *   fileLength: 3,
 *   now: Date.UTC(2029, 0, 1),
 * });
 * assert.equal(policy.conditions.length, 2);
 * ```
 *
 * @module
 */
import { S3Error } from "../request/errors.ts";
import { parseTagging, TAGGING_HEADER, taggingHeaderValue } from "../s3ops/tagging.ts";
import { utf8ByteString } from "./sigv4.ts";
import { decimalLength } from "../_decimal.ts";

/** One condition of a POST policy. */
export type PolicyCondition =
  | { kind: "eq"; field: string; value: string; text: string }
  | { kind: "starts-with"; field: string; prefix: string; text: string }
  | { kind: "content-length-range"; min: number; max: number; text: string };

/** A parsed POST policy. */
export interface PostPolicy {
  /** When it expires, epoch ms. */
  expirationMs: number;
  /** Its conditions, in order; field names lower case, without `$`. */
  conditions: PolicyCondition[];
}

/** What a policy is checked against. */
export interface PolicyInput {
  /** The form fields before the file, by lower-case name. */
  fields: ReadonlyMap<string, string>;
  /** The bucket the form was posted to (the client's name). */
  bucket: string;
  /** The object key, `${filename}` substituted. */
  key: string;
  /** The file's length in bytes. */
  fileLength: number;
  /** Now, epoch ms. */
  now: number;
}

/** Fields a policy need not cover. */
export function isExemptField(name: string): boolean {
  return name === "x-amz-signature" || name === "file" || name === "policy" ||
    name === "awsaccesskeyid" || name === "signature" || name.startsWith("x-ignore-");
}

const invalid = (why: string) => new S3Error("InvalidPolicyDocument", `Invalid Policy: ${why}`);
const denied = (why: string) => new S3Error("AccessDenied", `Invalid according to Policy: ${why}`);

const EXPIRATION = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

function fieldName(raw: unknown): string {
  if (typeof raw !== "string" || !raw.startsWith("$") || raw.length < 2) {
    throw invalid(`a condition names ${JSON.stringify(raw)}, not a $field`);
  }
  return raw.slice(1).toLowerCase();
}

function lengthBound(raw: unknown): number {
  const n = typeof raw === "string" ? decimalLength(raw) : raw;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw invalid("content-length-range needs two whole numbers");
  }
  return n;
}

/** Parses a base64 POST policy; 400 InvalidPolicyDocument when it is not one. */
export function parsePostPolicy(base64: string): PostPolicy {
  let doc: unknown;
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) throw new Error("not base64");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw invalid("the policy is not base64-encoded JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw invalid("the policy is not a JSON object");
  }
  const { expiration, conditions } = doc as Record<string, unknown>;
  if (typeof expiration !== "string" || !EXPIRATION.test(expiration)) {
    throw invalid("expiration must be an ISO 8601 UTC time, e.g. 2030-01-01T00:00:00Z");
  }
  const expirationMs = Date.parse(expiration);
  if (Number.isNaN(expirationMs)) throw invalid("expiration is not a valid time");
  if (!Array.isArray(conditions)) throw invalid("conditions must be a list");
  const parsed: PolicyCondition[] = [];
  for (const c of conditions) {
    const text = JSON.stringify(c);
    if (Array.isArray(c)) {
      const op = typeof c[0] === "string" ? c[0].toLowerCase() : "";
      if (op === "content-length-range" && c.length === 3) {
        const min = lengthBound(c[1]);
        const max = lengthBound(c[2]);
        parsed.push({ kind: "content-length-range", min, max, text });
      } else if ((op === "eq" || op === "starts-with") && c.length === 3) {
        const field = fieldName(c[1]);
        if (typeof c[2] !== "string") throw invalid(`${text}: the value must be a string`);
        parsed.push(
          op === "eq"
            ? { kind: "eq", field, value: c[2], text }
            : { kind: "starts-with", field, prefix: c[2], text },
        );
      } else {
        throw invalid(`unknown condition ${text}`);
      }
    } else if (typeof c === "object" && c !== null) {
      const entries = Object.entries(c);
      if (entries.length === 0) throw invalid("an empty condition");
      for (const [name, value] of entries) {
        if (typeof value !== "string") throw invalid(`${text}: the value must be a string`);
        const field = name.startsWith("$") ? name.slice(1) : name;
        parsed.push({ kind: "eq", field: field.toLowerCase(), value, text });
      }
    } else {
      throw invalid(`unknown condition ${text}`);
    }
  }
  return { expirationMs, conditions: parsed };
}

/** The object key of a form: its `key` field, `${filename}` replaced by the file's name. */
export function formKey(fields: ReadonlyMap<string, string>, filename: string): string {
  const key = fields.get("key");
  if (key === undefined) {
    throw new S3Error("InvalidArgument", "Bucket POST must contain a field named 'key'.");
  }
  const final = key.replaceAll("${filename}", filename);
  if (final === "") {
    throw new S3Error("InvalidArgument", "User key must have a length greater than 0.");
  }
  return final;
}

/** The value a condition on `field` is checked against; undefined when the form lacks it. */
function valueOf(field: string, input: PolicyInput): string | undefined {
  if (field === "bucket") return input.bucket;
  if (field === "key") return input.key;
  return input.fields.get(field);
}

/**
 * Checks a form against its policy: 403 AccessDenied "Invalid according to
 * Policy: …" for an expired policy, a failed condition or a field no
 * condition covers; 400 EntityTooLarge / EntityTooSmall outside a
 * `content-length-range`. Conditions on `key` are checked against the key
 * the object gets (`${filename}` substituted), the one the validator sees;
 * an exact match also passes on the `key` field as sent (the template).
 */
export function checkPostPolicy(policy: PostPolicy, input: PolicyInput): void {
  if (input.now >= policy.expirationMs) throw denied("Policy expired.");
  const covered = new Set<string>();
  for (const c of policy.conditions) {
    if (c.kind === "content-length-range") {
      if (input.fileLength > c.max) {
        throw new S3Error(
          "EntityTooLarge",
          "Your proposed upload exceeds the maximum allowed size",
        );
      }
      if (input.fileLength < c.min) {
        throw new S3Error(
          "EntityTooSmall",
          "Your proposed upload is smaller than the minimum allowed size",
        );
      }
      continue;
    }
    covered.add(c.field);
    const value = valueOf(c.field, input);
    if (value === undefined) throw denied(`Policy Condition failed: ${c.text}`);
    let ok: boolean;
    if (c.kind === "eq") {
      // An exact key may also name the `${filename}` template the form sent.
      ok = value === c.value || (c.field === "key" && input.fields.get("key") === c.value);
    } else if (c.field === "content-type") {
      // A Content-Type may list several types: each must match.
      ok = value.split(",").every((v) => v.trim().startsWith(c.prefix));
    } else {
      ok = value.startsWith(c.prefix);
    }
    if (!ok) throw denied(`Policy Condition failed: ${c.text}`);
  }
  const extra: string[] = [];
  for (const name of input.fields.keys()) {
    if (!isExemptField(name) && !covered.has(name)) extra.push(name);
  }
  if (extra.length > 0) throw denied(`Extra input fields: ${extra.join(", ")}`);
}

/** Form fields that become the object's header of the same name. */
const HEADER_FIELDS = new Set([
  "content-type",
  "cache-control",
  "content-disposition",
  "content-encoding",
  "content-language",
  "expires",
  "x-amz-storage-class",
  "x-amz-website-redirect-location",
  "x-amz-checksum-crc32",
  "x-amz-checksum-crc32c",
  "x-amz-checksum-crc64nvme",
  "x-amz-checksum-sha1",
  "x-amz-checksum-sha256",
  "x-amz-server-side-encryption",
  "x-amz-server-side-encryption-aws-kms-key-id",
  "x-amz-server-side-encryption-context",
  "x-amz-server-side-encryption-bucket-key-enabled",
  "x-amz-server-side-encryption-customer-algorithm",
  "x-amz-server-side-encryption-customer-key",
  "x-amz-server-side-encryption-customer-key-md5",
]);

/** Form fields that say how the form is authenticated or answered: never headers. */
const FORM_FIELDS = new Set([
  "key",
  "bucket",
  "policy",
  "x-amz-algorithm",
  "x-amz-credential",
  "x-amz-date",
  "x-amz-signature",
  "x-amz-security-token",
  "awsaccesskeyid",
  "signature",
  "success_action_status",
  "success_action_redirect",
  "redirect",
]);

const TOKEN = /^[0-9a-z!#$%&'*+.^_`|~-]+$/;

/**
 * The headers of the PUT a form becomes: `Content-Type` and the other
 * object headers, `x-amz-meta-*`, `acl` as `x-amz-acl`, `tagging` (a
 * `<Tagging>` document, parsed strictly: 400 MalformedXML / InvalidTag) as
 * `x-amz-tagging`, and the file's Content-Length. Other `x-amz-*` fields are
 * refused (501): osp does not map them. Values go out as their UTF-8 bytes.
 */
export function formHeaders(fields: ReadonlyMap<string, string>, fileLength: number): Headers {
  const headers = new Headers();
  for (const [name, value] of fields) {
    if (FORM_FIELDS.has(name) || name.startsWith("x-ignore-")) continue;
    let header: string | undefined;
    if (HEADER_FIELDS.has(name)) header = name;
    else if (name === "acl") header = "x-amz-acl";
    else if (name === "tagging") {
      const tags = parseTagging(value);
      if (tags.length > 0) headers.set(TAGGING_HEADER, taggingHeaderValue(tags));
      continue;
    } else if (name.startsWith("x-amz-meta-") && name.length > 11 && TOKEN.test(name)) {
      header = name;
    } else if (name.startsWith("x-amz-")) {
      throw new S3Error("NotImplemented", `osp does not accept the form field ${name}`);
    }
    if (header === undefined) continue; // a field S3 ignores (covered by the policy)
    if (/[\0\r\n]/.test(value)) {
      throw new S3Error("InvalidArgument", `The form field ${name} holds a control character`);
    }
    headers.set(header, utf8ByteString(value));
  }
  headers.set("content-length", String(fileLength));
  return headers;
}
