/**
 * Browser form uploads (`POST /{bucket}`, S3's PostObject) after osp has
 * verified the form: the file goes to the backend as a PUT of exactly its
 * length, streamed (or read whole when small), and the client gets S3's
 * answer to a form: 204 by default, 200 or 201 (with a `PostResponse`
 * document) per `success_action_status`, or a 303 to
 * `success_action_redirect` with `bucket`, `key` and `etag` added.
 *
 * @module
 */
import { type BodyPlan, withBufferedBody } from "../body/payload.ts";
import { S3Error, xmlEscape } from "../request/errors.ts";
import type { RequestTarget } from "../request/request_target.ts";
import { UNSIGNED_PAYLOAD, uriEncode } from "../sigv4/sigv4.ts";
import type { PostForm } from "./post_form.ts";

/** Files up to this size are read whole (and checked) before the PUT starts. */
export const POST_BUFFERED_MAX = 64 * 1024;

/** How a form upload is answered on success. */
export type PostAnswer =
  | { kind: "status"; status: 200 | 201 | 204 }
  | { kind: "redirect"; url: string };

/** A verified form upload: the file to send and how to answer. */
export interface PostUpload {
  /** The file's bytes: exactly `fileLength`, erroring when the body ends wrong. */
  readonly file: ReadableStream<Uint8Array>;
  /** The file's length. */
  readonly fileLength: number;
  /** The answer on success. */
  readonly answer: PostAnswer;
}

/**
 * How to answer a form: a 303 to an http(s) `success_action_redirect` (or
 * the older `redirect`), else the `success_action_status` (200, 201; any
 * other value, as on S3, 204).
 */
export function postAnswerOf(fields: ReadonlyMap<string, string>): PostAnswer {
  const redirect = fields.get("success_action_redirect") ?? fields.get("redirect");
  if (redirect !== undefined && /^https?:\/\//i.test(redirect) && URL.canParse(redirect)) {
    return { kind: "redirect", url: redirect };
  }
  const status = fields.get("success_action_status");
  return { kind: "status", status: status === "200" ? 200 : status === "201" ? 201 : 204 };
}

/** The verified upload of `form`. */
export function postUpload(form: PostForm): PostUpload {
  return { file: form.file, fileLength: form.fileLength, answer: postAnswerOf(form.fields) };
}

/**
 * The body plan of a form's PUT: UNSIGNED-PAYLOAD with the file's exact
 * length, through osp's own HTTP/1.1 client (a transformed body), so an
 * error in the file stream cuts the connection before the last byte. A
 * small file is read whole first: nothing is sent unless the form ended
 * intact, and it goes out with its SHA-256 and Content-MD5.
 */
export async function postPlan(upload: PostUpload): Promise<BodyPlan> {
  const plan: BodyPlan = {
    payloadHash: UNSIGNED_PAYLOAD,
    headerEdits: {},
    contentLength: upload.fileLength,
    transformed: true,
    body: () => upload.file,
  };
  if (upload.fileLength > POST_BUFFERED_MAX) return plan;
  const bytes = new Uint8Array(upload.fileLength);
  let at = 0;
  for await (const chunk of upload.file) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  if (at !== upload.fileLength) throw new S3Error("IncompleteBody", "The form's file is short");
  return withBufferedBody(plan, bytes);
}

/**
 * The client's answer to a form upload the backend stored (`response.ok`);
 * a backend error is passed on as it is.
 */
export async function postResponse(
  upload: PostUpload,
  response: Response,
  options: { bucket: string; key: string; target: RequestTarget; url: string },
): Promise<Response> {
  if (!response.ok) return response;
  await response.body?.cancel();
  const etag = response.headers.get("etag") ?? "";
  const { bucket, key, target } = options;
  const scheme = options.url.slice(0, options.url.indexOf(":"));
  const encodedKey = uriEncode(key, { keepSlash: true });
  const location = target.style === "virtual"
    ? `${scheme}://${target.host}/${encodedKey}`
    : `${scheme}://${target.host}/${uriEncode(bucket)}/${encodedKey}`;
  const headers = new Headers();
  for (const name of ["x-amz-version-id", "x-amz-server-side-encryption"]) {
    const value = response.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  if (etag !== "") headers.set("etag", etag);
  const { answer } = upload;
  if (answer.kind === "redirect") {
    const url = new URL(answer.url);
    url.searchParams.append("bucket", bucket);
    url.searchParams.append("key", key);
    url.searchParams.append("etag", etag);
    headers.set("location", url.href);
    return new Response(null, { status: 303, headers });
  }
  headers.set("location", location);
  if (answer.status !== 201) return new Response(null, { status: answer.status, headers });
  headers.set("content-type", "application/xml");
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${
    xmlEscape(location)
  }</Location><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${
    xmlEscape(etag)
  }</ETag></PostResponse>`;
  return new Response(xml, { status: 201, headers });
}
