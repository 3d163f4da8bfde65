/**
 * Object tags set on upload: a form's `tagging` field (a `<Tagging>`
 * document) parsed strictly and checked against S3's limits, then sent as
 * the `x-amz-tagging` header (`k=v&k2=v2`, URL-encoded) of the PUT the form
 * becomes; and whether a request sets tags, which the validator must then
 * also allow as `PutObjectTagging` (as AWS requires `s3:PutObjectTagging`
 * for an upload with tags).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTagging, taggingHeaderValue } from "./tagging.ts";
 * const tags = parseTagging(
 *   "<Tagging><TagSet><Tag><Key>team</Key><Value>a&amp;b</Value></Tag></TagSet></Tagging>",
 * );
 * assert.deepEqual(tags, [["team", "a&b"]]);
 * assert.equal(taggingHeaderValue(tags), "team=a%26b");
 * ```
 *
 * @module
 */
import { headerSnapshot } from "../sigv4/header_snapshot.ts";
import { malformedXml, S3Error, xmlDocumentBody, xmlUnescape } from "../request/errors.ts";
import { type RawQueryParam, uriEncode } from "../sigv4/sigv4.ts";

/** The header that sets an object's tags on PutObject, CopyObject and CreateMultipartUpload. */
export const TAGGING_HEADER = "x-amz-tagging";

/** Most tags on one object (S3's limit). */
export const MAX_TAGS = 10;
/** Longest tag key, in Unicode characters (S3's limit). */
export const MAX_TAG_KEY = 128;
/** Longest tag value, in Unicode characters (S3's limit). */
export const MAX_TAG_VALUE = 256;

/** One tag: key, value. */
export type Tag = readonly [key: string, value: string];

function invalidTag(message: string): S3Error {
  return new S3Error("InvalidTag", message);
}

// Element text: no markup at all (no nested tags, CDATA or comments).
const TAG_FIELD = /^<(Key|Value)>([^<]*)<\/\1>|^<(Key|Value)\s*\/>/;

/** One `<Tag>`'s inner text: exactly one text-only `<Key>` and one `<Value>`, in any order. */
function parseTag(inner: string): Tag {
  const fields = new Map<string, string>();
  let rest = inner.trim();
  while (rest !== "") {
    const f = TAG_FIELD.exec(rest);
    if (f === null) throw malformedXml("a <Tag> may hold only a text-only <Key> and <Value>");
    const name = f[1] ?? f[3];
    if (fields.has(name)) throw malformedXml(`a <Tag> has two <${name}> elements`);
    fields.set(name, xmlUnescape(f[2] ?? ""));
    rest = rest.slice(f[0].length).trim();
  }
  const key = fields.get("Key");
  const value = fields.get("Value");
  if (key === undefined || value === undefined) {
    throw malformedXml("a <Tag> needs a <Key> and a <Value>");
  }
  return [key, value];
}

/** S3's limits on a tag set: 10 tags, unique non-empty keys of ≤ 128 characters, values ≤ 256. */
function checkTags(tags: readonly Tag[]): void {
  if (tags.length > MAX_TAGS) {
    throw invalidTag(`Object tags cannot be greater than ${MAX_TAGS}`);
  }
  const keys = new Set<string>();
  for (const [key, value] of tags) {
    if (key === "") throw invalidTag("The TagKey you have provided is invalid");
    if ([...key].length > MAX_TAG_KEY) {
      throw invalidTag(`The TagKey you have provided is too long, max ${MAX_TAG_KEY}`);
    }
    if ([...value].length > MAX_TAG_VALUE) {
      throw invalidTag(`The TagValue you have provided is too long, max ${MAX_TAG_VALUE}`);
    }
    if (keys.has(key)) throw invalidTag("Cannot provide multiple Tags with the same key");
    keys.add(key);
  }
}

/**
 * Parses a `<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>…</TagSet></Tagging>`
 * document with a strict grammar: anything else (another element, CDATA,
 * comments, a second `<TagSet>`, a tag without its key or value) is 400
 * MalformedXML; more than 10 tags, a repeated or empty key, a key over 128
 * or a value over 256 characters is 400 InvalidTag. What osp checks is
 * exactly what it sends on, re-encoded as the `x-amz-tagging` header.
 */
export function parseTagging(xml: string): Tag[] {
  const body = xmlDocumentBody(xml);
  const root = /^<Tagging(\s+xmlns="[^"<]*")?\s*>\s*<TagSet>([\s\S]*)<\/TagSet>\s*<\/Tagging>$/
    .exec(body);
  if (root === null) {
    throw malformedXml("the document must be <Tagging> holding one <TagSet>");
  }
  const tags: Tag[] = [];
  let rest = root[2].trim();
  while (rest !== "") {
    const t = /^<Tag>([\s\S]*?)<\/Tag>/.exec(rest);
    if (t === null) throw malformedXml("a <TagSet> may hold only <Tag> elements");
    tags.push(parseTag(t[1]));
    rest = rest.slice(t[0].length).trim();
  }
  checkTags(tags);
  return tags;
}

/** The `x-amz-tagging` value of a tag set: `k=v&k2=v2`, each part URL-encoded (RFC 3986). */
export function taggingHeaderValue(tags: readonly Tag[]): string {
  return tags.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join("&");
}

/**
 * True when a request sets object tags on upload: it has an `x-amz-tagging`
 * header, or one hoisted into a presigned URL's query (which S3 reads as
 * the header).
 */
export function setsObjectTags(
  request: { headers: Headers; target: { params: readonly RawQueryParam[] } },
): boolean {
  if (headerSnapshot(request.headers).get(TAGGING_HEADER) !== null) return true;
  const params = request.target.params;
  for (let i = 0; i < params.length; i++) {
    if (params[i].name.toLowerCase() === TAGGING_HEADER) return true;
  }
  return false;
}
