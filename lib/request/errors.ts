/**
 * The one error type the request path throws, the one place it becomes an
 * S3 XML error document, and the one XML escape and unescape of every
 * document osp writes or reads (errors, listings, DeleteObjects).
 *
 * @module
 */

/** S3 error codes osp answers with, mapped to their HTTP status. */
export const S3_ERROR_STATUS = {
  AccessDenied: 403,
  AccessForbidden: 403,
  BadRequest: 400,
  SignatureDoesNotMatch: 403,
  InvalidAccessKeyId: 403,
  RequestTimeTooSkewed: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  InvalidArgument: 400,
  InvalidRequest: 400,
  InvalidURI: 400,
  InvalidBucketName: 400,
  MalformedXML: 400,
  InvalidTag: 400,
  XAmzContentSHA256Mismatch: 400,
  BadDigest: 400,
  IncompleteBody: 400,
  InvalidChunkSizeError: 400,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  InvalidPolicyDocument: 400,
  MalformedPOSTRequest: 400,
  MaxPostPreDataLengthExceededError: 400,
  RequestTimeout: 400,
  MissingContentLength: 411,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  PreconditionFailed: 412,
  InvalidRange: 416,
  MethodNotAllowed: 405,
  NotImplemented: 501,
  InternalError: 500,
  ServiceUnavailable: 503,
  SlowDown: 503,
} as const;

/**
 * An S3 error code that osp can produce.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { S3Error, type S3ErrorCode } from "@osp/osp";
 * const code: S3ErrorCode = "AccessDenied";
 * assert.equal(new S3Error(code, "Access Denied").status, 403);
 * ```
 */
export type S3ErrorCode = keyof typeof S3_ERROR_STATUS;

/**
 * Options for {@linkcode S3Error}.
 *
 * @example
 * ```ts
 * import { S3Error } from "@osp/osp";
 * new S3Error("ServiceUnavailable", "backend down", { status: 503, cause: new Error("ECONNREFUSED") });
 * ```
 */
export interface S3ErrorOptions {
  /** HTTP status; defaults to the code's usual status. */
  status?: number;
  /** The underlying cause, logged but never sent to the client. */
  cause?: unknown;
}

/**
 * An error that becomes an S3 XML error document.
 *
 * @example Throwing a 403
 * ```ts
 * import assert from "node:assert/strict";
 * import { S3Error } from "@osp/osp";
 * assert.throws(
 *   () => {
 *     throw new S3Error("AccessDenied", "Access Denied");
 *   },
 *   (e: unknown) => e instanceof S3Error && e.status === 403 && e.code === "AccessDenied",
 * );
 * ```
 */
export class S3Error extends Error {
  /** The S3 error code, e.g. `AccessDenied`. */
  readonly code: S3ErrorCode;
  /** The HTTP status sent with it. */
  readonly status: number;

  /** Creates an error with an S3 code and a human-readable message. */
  constructor(code: S3ErrorCode, message: string, options: S3ErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "S3Error";
    this.code = code;
    this.status = options.status ?? S3_ERROR_STATUS[code];
  }
}

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

/**
 * Escapes text for an XML element or attribute. Tab, LF and CR become
 * character references: an XML parser turns a raw CR (or CRLF) into LF and
 * folds white space in attributes, so a raw one would reach the reader as
 * another character.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { xmlEscape } from "./errors.ts";
 * assert.equal(xmlEscape("a\r<b>"), "a&#13;&lt;b&gt;");
 * ```
 */
export function xmlEscape(text: string): string {
  return text.replace(/[&<>"'\t\n\r]/g, (c) => XML_ESCAPES[c]);
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** True for a code point XML 1.0 allows in a document (its `Char` production). */
function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * Decodes XML character and entity references in text that has already had
 * its line ends normalised; a reference to a character XML does not allow is
 * MalformedXML.
 */
export function xmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, ref: string) => {
    if (ref[0] !== "#") return ENTITIES[ref];
    const cp = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    if (!isXmlChar(cp)) throw new S3Error("MalformedXML", "Invalid character reference");
    return String.fromCodePoint(cp);
  });
}

/**
 * S3's 400 MalformedXML for a request document osp parses: `why` says what
 * is wrong with it.
 */
export function malformedXml(why: string): S3Error {
  return new S3Error(
    "MalformedXML",
    `The XML you provided was not well-formed or did not validate against our published schema: ${why}`,
  );
}

/**
 * A request document as osp's strict parsers read it: no comments, CDATA
 * or DOCTYPE, no character XML does not allow (else MalformedXML), CRLF and
 * lone CR turned into LF as an XML parser does (XML 1.0 §2.11), and the
 * byte-order mark, the XML declaration and white space around removed. The
 * root element is then the start of the text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { xmlDocumentBody } from "./errors.ts";
 * assert.equal(xmlDocumentBody('<?xml version="1.0"?>\r\n<A>x\r\ny</A>'), "<A>x\ny</A>");
 * ```
 */
export function xmlDocumentBody(xml: string): string {
  if (xml.includes("<!")) throw malformedXml("comments, CDATA and DOCTYPE are not accepted");
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/.test(xml)) {
    throw malformedXml("the document holds a character XML does not allow");
  }
  return xml.replace(/\r\n?/g, "\n").replace(/^\uFEFF?\s*(<\?xml[^>]*\?>)?\s*/, "").trimEnd();
}

/** What the XML error document names besides the code. */
export interface ErrorContext {
  /** The request id, also sent as `x-amz-request-id`. */
  requestId: string;
  /** The resource, usually the request path. */
  resource: string;
  /** HEAD responses carry no body. */
  method: string;
  /** Headers to add, e.g. `server`. */
  headers?: Record<string, string>;
  /** `"html"` for a static website's visitors (S3 website endpoints answer HTML); default `"xml"`. */
  format?: "xml" | "html";
}

/** Turns any thrown value into an S3 error; unknown values become InternalError. */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  return new S3Error("InternalError", "We encountered an internal error. Please try again.", {
    cause: err,
  });
}

/** Reason phrases of the statuses osp's errors carry, for HTML error pages. */
const REASONS: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  411: "Length Required",
  412: "Precondition Failed",
  416: "Requested Range Not Satisfiable",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

/**
 * An S3 error as the HTML page S3 website endpoints send.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { htmlErrorPage, S3Error } from "./errors.ts";
 * const page = htmlErrorPage(new S3Error("NoSuchKey", "<no>"), { requestId: "r1" });
 * assert.match(page, /<title>404 Not Found<\/title>/);
 * assert.match(page, /<li>Message: &lt;no&gt;<\/li>/);
 * ```
 */
export function htmlErrorPage(error: S3Error, options: { requestId: string }): string {
  const title = xmlEscape(`${error.status} ${REASONS[error.status] ?? "Error"}`);
  return `<html>\n<head><title>${title}</title></head>\n<body>\n<h1>${title}</h1>\n<ul>\n<li>Code: ${
    xmlEscape(error.code)
  }</li>\n<li>Message: ${xmlEscape(error.message)}</li>\n<li>RequestId: ${
    xmlEscape(options.requestId)
  }</li>\n</ul>\n<hr/>\n</body>\n</html>\n`;
}

/** Renders an S3 error as the response S3 would send (an HTML page for website visitors). */
export function errorResponse(error: S3Error, context: ErrorContext): Response {
  const headers = new Headers(context.headers);
  headers.set("x-amz-request-id", context.requestId);
  if (context.method === "HEAD") return new Response(null, { status: error.status, headers });
  if (context.format === "html") {
    headers.set("content-type", "text/html; charset=utf-8");
    const page = htmlErrorPage(error, { requestId: context.requestId });
    return new Response(page, { status: error.status, headers });
  }
  headers.set("content-type", "application/xml");
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${
    xmlEscape(error.code)
  }</Code><Message>${xmlEscape(error.message)}</Message><Resource>${
    xmlEscape(context.resource)
  }</Resource><RequestId>${xmlEscape(context.requestId)}</RequestId></Error>`;
  return new Response(body, { status: error.status, headers });
}
