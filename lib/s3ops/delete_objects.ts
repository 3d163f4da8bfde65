/**
 * DeleteObjects, key by key: the body is parsed (at most 1000 keys, 2 MiB),
 * every key is authorized as `DeleteObject`, denied keys never reach the
 * backend and come back as AccessDenied `<Error>` entries in the result.
 *
 * @module
 */
import { type BodyPlan, readBufferedBody, withBufferedBody } from "../body/payload.ts";
import { checksumHeaderName, declaredChecksums } from "../body/checksums.ts";
import { hoistedHeaders } from "../sigv4/parse_authorization.ts";
import type { Admitted } from "../request/admit.ts";
import { type Pipeline, question } from "../request/context.ts";
import {
  malformedXml as malformed,
  S3Error,
  xmlDocumentBody,
  xmlEscape,
  xmlUnescape,
} from "../request/errors.ts";

/** Largest DeleteObjects body accepted. */
export const MAX_DELETE_BODY = 2 * 1024 * 1024;
/** Most keys in one DeleteObjects request (the S3 limit). */
export const MAX_DELETE_KEYS = 1000;

/** One object named in a DeleteObjects request. */
export interface DeleteEntry {
  /** The decoded key. */
  key: string;
  /** The version, if named. */
  versionId?: string;
}

/** A parsed `<Delete>` document. */
export interface DeleteRequest {
  /** The objects, in order. */
  objects: DeleteEntry[];
  /** `<Quiet>true</Quiet>`: only errors are reported. */
  quiet: boolean;
}

// Element text: no markup at all (no nested tags, CDATA or comments).
const TEXT = "[^<]*";
const OBJECT_FIELD = new RegExp(`^<(Key|VersionId|ETag|LastModifiedTime|Size)>(${TEXT})</\\1>`);

/**
 * Parses a DeleteObjects body with a strict grammar: `<Delete>` holding only
 * `<Object>` and `<Quiet>`; each `<Object>` exactly one text-only `<Key>` and
 * at most one `<VersionId>` (plus S3's conditional ETag, LastModifiedTime,
 * Size). Anything else — CDATA, comments, nested or namespaced tags, a second
 * Key, a DOCTYPE — is MalformedXML: what osp authorizes must be exactly what
 * the backend deletes, and osp only ever forwards the document it rebuilds.
 */
export function parseDeleteRequest(xml: string): DeleteRequest {
  const body = xmlDocumentBody(xml);
  const root = /^<Delete(\s+xmlns="[^"<]*")?\s*>([\s\S]*)<\/Delete>\s*$/.exec(body);
  if (root === null) throw malformed("the root element must be <Delete>");
  const objects: DeleteEntry[] = [];
  let quiet = false;
  let rest = root[2].trim();
  while (rest !== "") {
    const q = /^<Quiet>\s*(true|false)\s*<\/Quiet>/.exec(rest);
    if (q) {
      quiet = q[1] === "true";
      rest = rest.slice(q[0].length).trim();
      continue;
    }
    const o = /^<Object>([\s\S]*?)<\/Object>/.exec(rest);
    if (o === null) throw malformed("<Delete> may hold only <Object> and <Quiet>");
    rest = rest.slice(o[0].length).trim();
    const fields = new Map<string, string>();
    let inner = o[1].trim();
    while (inner !== "") {
      const f = OBJECT_FIELD.exec(inner);
      if (f === null) {
        throw malformed(
          "an <Object> may hold only text-only Key, VersionId, ETag, LastModifiedTime and Size",
        );
      }
      if (fields.has(f[1])) throw malformed(`an <Object> has two <${f[1]}> elements`);
      fields.set(f[1], xmlUnescape(f[2]));
      inner = inner.slice(f[0].length).trim();
    }
    const key = fields.get("Key");
    if (key === undefined || key === "") throw malformed("an <Object> has no <Key>");
    const versionId = fields.get("VersionId");
    objects.push({ key, ...(versionId === undefined ? {} : { versionId }) });
    if (objects.length > MAX_DELETE_KEYS) {
      throw malformed(`at most ${MAX_DELETE_KEYS} keys may be deleted at once`);
    }
  }
  if (objects.length === 0) throw malformed("no <Object> to delete");
  return { objects, quiet };
}

/** The `<Delete>` document osp sends: rebuilt from the parsed, escaped values. */
export function deleteRequestXml(request: DeleteRequest): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${
    request.quiet ? "<Quiet>true</Quiet>" : ""
  }${
    request.objects.map((o) =>
      `<Object><Key>${xmlEscape(o.key)}</Key>${
        o.versionId === undefined ? "" : `<VersionId>${xmlEscape(o.versionId)}</VersionId>`
      }</Object>`
    ).join("")
  }</Delete>`;
}

/** `<Error>` entries for denied objects. */
export function deniedEntriesXml(denied: readonly DeleteEntry[]): string {
  return denied.map((o) =>
    `<Error><Key>${xmlEscape(o.key)}</Key>${
      o.versionId === undefined ? "" : `<VersionId>${xmlEscape(o.versionId)}</VersionId>`
    }<Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
  ).join("");
}

/** A whole DeleteResult holding only the denied entries (nothing was sent). */
export function deniedResultXml(denied: readonly DeleteEntry[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${
    deniedEntriesXml(denied)
  }</DeleteResult>`;
}

/** Adds denied entries to the backend's DeleteResult. */
export function mergeDeleteResult(backendXml: string, denied: readonly DeleteEntry[]): string {
  if (denied.length === 0) return backendXml;
  const entries = deniedEntriesXml(denied);
  const close = backendXml.lastIndexOf("</DeleteResult>");
  if (close >= 0) return backendXml.slice(0, close) + entries + backendXml.slice(close);
  const empty = /<DeleteResult([^>]*)\/>/.exec(backendXml);
  if (empty) {
    return backendXml.replace(empty[0], `<DeleteResult${empty[1]}>${entries}</DeleteResult>`);
  }
  return backendXml;
}

/** What DeleteObjects sends once every key has been asked about. */
export interface DeletePlan {
  /** The body plan: the rebuilt document of allowed keys. */
  plan: BodyPlan;
  /** Keys the validator refused: never sent, merged into the answer as AccessDenied. */
  denied: DeleteEntry[];
  /** Set when every key was refused: osp answers alone, nothing is sent. */
  answer?: string;
}

/**
 * Authorizes an admitted DeleteObjects key by key (as `DeleteObject`): reads
 * the client's document (its declared digests checked), and plans the
 * rebuilt document of the allowed keys, which is all the backend receives.
 */
export async function planDeletes(
  pipeline: Pipeline,
  admitted: Admitted,
  options: { plan: BodyPlan; body: ReadableStream<Uint8Array> | null; sourceIp: () => string },
): Promise<DeletePlan> {
  const { verified, bucket, clientBucket } = admitted;
  if (options.plan.transformed) {
    throw new S3Error("NotImplemented", "DeleteObjects with an aws-chunked body is not supported");
  }
  const bytes = await readBufferedBody(verified, options.body, { limit: MAX_DELETE_BODY });
  const parsed = parseDeleteRequest(new TextDecoder().decode(bytes));
  const allowed = await Promise.all(parsed.objects.map((o) =>
    pipeline.authorizer.allowed(
      verified.token,
      question(pipeline, verified, {
        fields: { operation: "DeleteObject", bucket: clientBucket, key: o.key },
        sourceIp: options.sourceIp,
      }),
      { ttlMs: bucket.ttlMs },
    )
  ));
  const denied = parsed.objects.filter((_, i) => !allowed[i]);
  const kept = parsed.objects.filter((_, i) => allowed[i]);
  if (kept.length === 0) return { plan: options.plan, denied, answer: deniedResultXml(denied) };
  // Always the rebuilt document: the backend deletes exactly what was authorized.
  const forward = new TextEncoder().encode(deleteRequestXml({ ...parsed, objects: kept }));
  const dropChecksums: Record<string, null> = { "x-amz-sdk-checksum-algorithm": null };
  const hoisted = hoistedHeaders(verified.target.params, verified.auth);
  for (const [alg] of declaredChecksums(verified.headers, hoisted)) {
    dropChecksums[checksumHeaderName(alg)] = null;
  }
  return {
    plan: withBufferedBody(options.plan, forward, { headerEdits: dropChecksums }),
    denied,
  };
}
