/**
 * How a request body travels to the backend, per payload mode and bucket
 * options: untouched (the common case), verified on the way (literal SHA-256,
 * checksum headers), decoded from aws-chunked, or re-framed with the
 * backend's key. Every verifying path holds back the final bytes until its
 * checks pass, so a failing upload never completes on the backend.
 *
 * @module
 */
import { headerSnapshot } from "../sigv4/header_snapshot.ts";
import { createHash } from "node:crypto";
import type { VerifiedRequest } from "../sigv4/authenticate.ts";
import { type ChunkedMode, createChunkedDecoder, parseTrailerNames } from "./aws_chunked.ts";
import { createChunkedEncoder, TRAILER_VALUE_LENGTH } from "./aws_chunked_encoder.ts";
import { chunkedEncodedLength } from "./aws_chunked_encoder.ts";
import { checksumMismatch, createChecksum, declaredChecksums } from "./checksums.ts";
import { hoistedHeaders } from "../sigv4/parse_authorization.ts";
import type { ResolvedBucket } from "../config/config.ts";
import { S3Error } from "../request/errors.ts";
import { holdBackStream } from "./hold_back.ts";
import { pooledBytes } from "./block_pool.ts";
import type { UpstreamRequest } from "../upstream/upstream_request.ts";
import { isChunkedMode } from "../sigv4/constants.ts";
import { decimalLength } from "../_decimal.ts";

/** Data bytes per chunk when osp re-frames an upload for a backend. */
export const RESIGN_CHUNK_SIZE = 64 * 1024;

/** The body plan for one request. */
export interface BodyPlan {
  /** Payload hash to sign upstream with (undefined: the default rule). */
  payloadHash?: string;
  /** Header changes (value sets, null removes). */
  headerEdits: Record<string, string | null>;
  /** Content-Length to send; undefined lets the transport decide. */
  contentLength?: number;
  /** True when osp transforms the body (it then goes through osp's own HTTP/1.1 client). */
  transformed: boolean;
  /** Makes the upstream body from the client body, once the upstream request is signed. */
  body(
    client: ReadableStream<Uint8Array> | null,
    upstream: UpstreamRequest,
  ): ReadableStream<Uint8Array> | null;
}

function parseLength(value: string | null, name: string): number | undefined {
  if (value === null) return undefined;
  const length = decimalLength(value);
  if (length === undefined) {
    throw new S3Error("InvalidArgument", `${name} must be a whole number`);
  }
  return length;
}

function withoutAwsChunked(contentEncoding: string | null): string | null {
  if (contentEncoding === null) return null;
  const rest = contentEncoding.split(",").map((s) => s.trim()).filter((s) =>
    s !== "" && s.toLowerCase() !== "aws-chunked"
  );
  return rest.length === 0 ? null : rest.join(",");
}

function planChunked(
  request: VerifiedRequest,
  bucket: ResolvedBucket,
  mode: ChunkedMode,
): BodyPlan {
  const decodedLength = parseLength(
    headerSnapshot(request.headers).get("x-amz-decoded-content-length"),
    "x-amz-decoded-content-length",
  );
  if (decodedLength === undefined) {
    throw new S3Error(
      "MissingContentLength",
      "aws-chunked uploads need x-amz-decoded-content-length",
    );
  }
  const trailers = parseTrailerNames(headerSnapshot(request.headers).get("x-amz-trailer"));
  const signed = mode !== "streaming-unsigned-trailer";
  const auth = request.auth;
  if (auth.kind === "anonymous") {
    throw new S3Error("AccessDenied", "Anonymous requests cannot send aws-chunked bodies");
  }
  // A SigV2 request never has a signed mode (refused when parsed).
  if (signed && (request.signingKey === undefined || auth.version !== 4)) {
    throw new S3Error(
      "NotImplemented",
      "Signed aws-chunked uploads cannot be accepted with skipSignatureValidation",
    );
  }
  const decoder = () =>
    createChunkedDecoder({
      mode,
      signing: signed && auth.version === 4
        ? {
          signingKey: request.signingKey!,
          datetime: auth.datetime,
          scope: auth.scope,
          seedSignature: auth.signature,
        }
        : undefined,
      decodedLength,
      expectedTrailers: trailers,
    });
  if (bucket.payloadForwarding === "decode") {
    return {
      payloadHash: undefined,
      headerEdits: {
        "content-encoding": withoutAwsChunked(
          headerSnapshot(request.headers).get("content-encoding"),
        ),
        "x-amz-trailer": null,
        "x-amz-decoded-content-length": null,
        // The checksum stayed in the trailer, which osp verified and removed.
        "x-amz-sdk-checksum-algorithm": null,
      },
      contentLength: decodedLength,
      transformed: true,
      // Read into pooled blocks, which osp's HTTP/1.1 client hands back once
      // written (the re-framing below keeps views of its own, so it does not).
      body: (client) =>
        (client === null ? ReadableStream.from([]) : pooledBytes(client)).pipeThrough(
          decoder().stream,
        ),
    };
  }
  // "resign": verify, then re-frame with the backend's key.
  const placeholder: Record<string, string> = {};
  for (const name of trailers) {
    const length = TRAILER_VALUE_LENGTH[name];
    if (length === undefined) {
      throw new S3Error("NotImplemented", `Cannot re-sign an upload with the trailer ${name}`);
    }
    placeholder[name] = "x".repeat(length);
  }
  return {
    payloadHash: request.auth.payloadHash,
    headerEdits: {},
    contentLength: chunkedEncodedLength(decodedLength, {
      chunkSize: RESIGN_CHUNK_SIZE,
      mode,
      trailers: placeholder,
    }),
    transformed: true,
    body: (client, upstream) => {
      const d = decoder();
      return (client ?? ReadableStream.from([])).pipeThrough(d.stream).pipeThrough(
        createChunkedEncoder({
          chunkSize: RESIGN_CHUNK_SIZE,
          mode,
          signing: upstream.signing!,
          trailers: async () => (await d.done).trailers,
        }),
      );
    },
  };
}

/**
 * Decides how the body of a verified request travels to `bucket`'s backend.
 * `bearer`: the backend takes a bearer token or nothing, not SigV4, so
 * aws-chunked uploads are always decoded (there is no signature to chain
 * chunks from).
 */
export function planBody(
  request: VerifiedRequest,
  bucket: ResolvedBucket,
  options: { bearer?: boolean } = {},
): BodyPlan {
  const payload = request.auth.payload;
  if (isChunkedMode(payload.kind)) {
    const streaming = payload.kind;
    const forwarding = options.bearer ? "decode" : bucket.payloadForwarding;
    return planChunked(request, { ...bucket, payloadForwarding: forwarding }, streaming);
  }

  const contentLength = parseLength(
    headerSnapshot(request.headers).get("content-length"),
    "Content-Length",
  );
  const checks: { update(c: Uint8Array): void; check(): void }[] = [];
  if (bucket.verifyPayloadHash && payload.kind === "sha256") {
    const hash = createHash("sha256");
    checks.push({
      update: (c) => hash.update(c),
      check: () => {
        if (hash.digest("hex") !== payload.hash) {
          throw new S3Error(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
          );
        }
      },
    });
  }
  if (bucket.verifyChecksums) {
    const hoisted = hoistedHeaders(request.target.params, request.auth);
    for (const [alg, value] of declaredChecksums(request.headers, hoisted)) {
      const sum = createChecksum(alg);
      checks.push({
        update: (c) => sum.update(c),
        check: () => {
          if (sum.digestBase64() !== value) throw checksumMismatch(alg);
        },
      });
    }
  }
  const hasBody = (contentLength ?? 0) > 0 ||
    (contentLength === undefined &&
      headerSnapshot(request.headers).get("transfer-encoding") !== null);
  if (!hasBody) {
    return {
      headerEdits: {},
      contentLength: 0,
      transformed: false,
      body: (client) => {
        // Deno gives bodiless requests an empty stream; sent on, it would go
        // out as `transfer-encoding: chunked`, which S3 backends reject.
        client?.cancel().catch(() => {});
        if (checks.length > 0) { for (const c of checks) c.check(); }
        return null;
      },
    };
  }
  if (checks.length === 0) {
    return { headerEdits: {}, contentLength, transformed: false, body: (client) => client };
  }
  return {
    headerEdits: {},
    contentLength,
    transformed: true,
    body: (client) =>
      client!.pipeThrough(holdBackStream({
        update: (c) => {
          for (const x of checks) x.update(c);
        },
        check: () => {
          for (const x of checks) x.check();
        },
      })),
  };
}

/**
 * Reads a small request body whole (at most `limit` bytes, else 400
 * InvalidRequest) and checks it against the client's literal
 * `x-amz-content-sha256` and `Content-MD5`, which osp is about to replace.
 */
export async function readBufferedBody(
  request: VerifiedRequest,
  body: ReadableStream<Uint8Array> | null,
  options: { limit: number },
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const part of body ?? []) {
    length += part.length;
    if (length > options.limit) {
      throw new S3Error(
        "InvalidRequest",
        `This request's body must be at most ${options.limit} bytes`,
      );
    }
    parts.push(part);
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.length;
  }
  checkDeclaredDigests(request, bytes);
  return bytes;
}

function checkDeclaredDigests(request: VerifiedRequest, bytes: Uint8Array): void {
  const payload = request.auth.payload;
  if (
    payload.kind === "sha256" && createHash("sha256").update(bytes).digest("hex") !== payload.hash
  ) {
    throw new S3Error(
      "XAmzContentSHA256Mismatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
  }
  const md5 = headerSnapshot(request.headers).get("content-md5");
  if (md5 !== null && createHash("md5").update(bytes).digest("base64") !== md5.trim()) {
    throw new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.");
  }
}

/**
 * The only way to swap a request's body: `plan` with `bytes` as the body,
 * signed with their SHA-256 and sent with their Content-MD5 and length;
 * `headerEdits` are applied on top (e.g. removing the client's checksums of
 * the body it replaced).
 */
export function withBufferedBody(
  plan: BodyPlan,
  bytes: Uint8Array,
  options: { headerEdits?: Record<string, string | null> } = {},
): BodyPlan {
  return {
    payloadHash: createHash("sha256").update(bytes).digest("hex"),
    headerEdits: {
      ...plan.headerEdits,
      "content-md5": createHash("md5").update(bytes).digest("base64"),
      ...options.headerEdits,
    },
    contentLength: bytes.length,
    transformed: true,
    body: () => ReadableStream.from([bytes]),
  };
}
