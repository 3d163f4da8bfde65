/**
 * The demo's upload page: a small HTTP server of its own (another origin than
 * osp) that serves `upload.html` and presigns, for each file the page is
 * given, a browser form upload (presigned POST) and a presigned GET, both
 * signed with the demo's ADMIN key using osp's own SigV4 functions.
 *
 * The browser then sends the file straight to osp, not through this server:
 * osp checks the form's policy and signature and PUTs the file to the backend.
 *
 * There is no authentication in front of this page: anyone who can reach it
 * can upload with the admin key. It listens on 127.0.0.1 only; it is a local
 * demo, not something to expose.
 *
 * @module
 */
import {
  amzDate,
  canonicalQuery,
  canonicalRequest,
  deriveSigningKey,
  parseRawQuery,
  type Scope,
  scopeString,
  signature,
  stringToSign,
  UNSIGNED_PAYLOAD,
  uriEncode,
  utf8ByteString,
} from "../lib/sigv4/sigv4.ts";
import { ADMIN } from "./osp.config.ts";

/** The client bucket the page uploads to. */
export const UPLOAD_BUCKET = "demo-data";
/** Every key the page may write starts with this. */
export const UPLOAD_PREFIX = "uploads/";
/** The largest file a form may carry (the policy's content-length-range). */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
/** How long a form and a download link stay valid. */
const EXPIRES_SECONDS = 3600;
const REGION = "us-east-1";

/** A browser form upload: POST `fields`, then the file (last, named `file`), to `url`. */
export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

function signingScope(now: number): { datetime: string; scope: Scope; credential: string } {
  const datetime = amzDate(now);
  const scope = { date: datetime.slice(0, 8), region: REGION, service: "s3" };
  return { datetime, scope, credential: `${ADMIN.accessKey}/${scopeString(scope)}` };
}

/**
 * The fields of a form that uploads one file to `key` in the demo bucket. The
 * policy lets the form write any key under `uploads/`, of up to 100 MiB, with
 * exactly this Content-Type; its signature is the SigV4 signature of the
 * base64 policy itself (no canonical request).
 */
export function presignPost(
  endpoint: string,
  key: string,
  contentType: string,
  now = Date.now(),
): PresignedPost {
  const { datetime, scope, credential } = signingScope(now);
  const fields: Record<string, string> = {
    key,
    "Content-Type": contentType,
    "x-amz-algorithm": "AWS4-HMAC-SHA256",
    "x-amz-credential": credential,
    "x-amz-date": datetime,
  };
  const policy = btoa(utf8ByteString(JSON.stringify({
    expiration: new Date(now + EXPIRES_SECONDS * 1000).toISOString(),
    conditions: [
      { bucket: UPLOAD_BUCKET },
      ["starts-with", "$key", UPLOAD_PREFIX],
      ["content-length-range", 0, MAX_UPLOAD_BYTES],
      // Every other field the form sends must be covered by a condition.
      { "Content-Type": contentType },
      { "x-amz-algorithm": fields["x-amz-algorithm"] },
      { "x-amz-credential": credential },
      { "x-amz-date": datetime },
    ],
  })));
  fields.policy = policy;
  fields["x-amz-signature"] = signature(deriveSigningKey(ADMIN.secretKey, scope), policy);
  return { url: `${endpoint}/${UPLOAD_BUCKET}`, fields };
}

/** A presigned URL (path style, only `host` signed) to GET `key` from the demo bucket. */
export function presignGet(endpoint: string, key: string, now = Date.now()): string {
  const { datetime, scope, credential } = signingScope(now);
  const path = `/${UPLOAD_BUCKET}/${uriEncode(key, { keepSlash: true })}`;
  const query = [
    "X-Amz-Algorithm=AWS4-HMAC-SHA256",
    `X-Amz-Credential=${uriEncode(credential)}`,
    `X-Amz-Date=${datetime}`,
    `X-Amz-Expires=${EXPIRES_SECONDS}`,
    "X-Amz-SignedHeaders=host",
  ].join("&");
  const canonical = canonicalRequest({
    method: "GET",
    uri: path,
    query: canonicalQuery(parseRawQuery(query)),
    header: (name) => name === "host" ? new URL(endpoint).host : null,
    signedHeaders: ["host"],
    payloadHash: UNSIGNED_PAYLOAD,
  });
  const sig = signature(
    deriveSigningKey(ADMIN.secretKey, scope),
    stringToSign(canonical, { datetime, scope }),
  );
  return `${endpoint}${path}?${query}&X-Amz-Signature=${sig}`;
}

/** What `GET /presign?name=…&type=…` answers: the form, and where to read the file back. */
export interface PresignAnswer extends PresignedPost {
  key: string;
  download: string;
}

const PAGE = await Deno.readTextFile(new URL("./upload.html", import.meta.url));

/** The page's server. */
export interface UploadPageServer extends Deno.HttpServer<Deno.NetAddr> {
  /** The page's URL, `http://127.0.0.1:<port>/`. */
  readonly url: string;
  /**
   * osp's URL, to be set once osp is serving (osp's CORS rule needs this
   * server's origin first); until then `/presign` answers 503.
   */
  ospEndpoint?: string;
}

/** Serves the page on 127.0.0.1:`port` (0 = any free port). */
export function serveUploadPage(port: number): UploadPageServer {
  const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: () => {},
  }, (request) => {
    const url = new URL(request.url);
    if (request.method !== "GET") return new Response("method not allowed\n", { status: 405 });
    if (url.pathname === "/") {
      return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (url.pathname === "/presign") {
      const endpoint = page.ospEndpoint;
      if (endpoint === undefined) return new Response("osp is not up yet\n", { status: 503 });
      const name = url.searchParams.get("name") ?? "";
      if (name === "" || name.length > 512) {
        return new Response("?name= must be a file name of 1 to 512 characters\n", {
          status: 400,
        });
      }
      const key = UPLOAD_PREFIX + name;
      const type = url.searchParams.get("type") || "application/octet-stream";
      const answer: PresignAnswer = {
        ...presignPost(endpoint, key, type),
        key,
        download: presignGet(endpoint, key),
      };
      return Response.json(answer, { headers: { "cache-control": "no-store" } });
    }
    return new Response("not found\n", { status: 404 });
  });
  const page: UploadPageServer = Object.assign(server, {
    url: `http://127.0.0.1:${server.addr.port}/`,
  });
  return page;
}
