/**
 * Names the S3 operation of a request from its method, query and headers, the
 * way S3 and its re-implementations route it, and refuses what they could
 * read differently: a query parameter osp does not know, or a sub-resource
 * that does not fit the request, makes the operation `Unknown`; an empty
 * `uploadId`, a malformed `partNumber` or a repeated parameter is a 400
 * (RGW, for one, names `DELETE ?uploadId=` a DeleteObject).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { operationName } from "./operation.ts";
 * const name = (method: string, query: string[]) =>
 *   operationName({
 *     method,
 *     hasBucket: true,
 *     hasKey: true,
 *     query: new Set(query),
 *     header: () => null,
 *   });
 * assert.equal(name("DELETE", ["uploadId"]), "AbortMultipartUpload");
 * assert.equal(name("POST", ["append", "position"]), "Unknown");
 * ```
 *
 * @module
 */
import { S3Error } from "../request/errors.ts";
import type { RawQueryParam } from "../sigv4/sigv4.ts";

/** What the operation name depends on. */
export interface OperationInput {
  /** HTTP method, upper case. */
  method: string;
  /** True when the request names a bucket. */
  hasBucket: boolean;
  /** True when the request names an object key. */
  hasKey: boolean;
  /** Decoded query parameter names present (presign parameters excluded). */
  query: ReadonlySet<string>;
  /** Reads a request header. */
  header: (name: string) => string | null;
}

// Bucket sub-resources: query name → [GET, PUT, DELETE] operation suffix.
const BUCKET_SUBRESOURCES = [
  ["acl", "BucketAcl"],
  ["policy", "BucketPolicy"],
  ["policyStatus", "BucketPolicyStatus"],
  ["versioning", "BucketVersioning"],
  ["tagging", "BucketTagging"],
  ["cors", "BucketCors"],
  ["lifecycle", "BucketLifecycleConfiguration"],
  ["website", "BucketWebsite"],
  ["logging", "BucketLogging"],
  ["notification", "BucketNotificationConfiguration"],
  ["encryption", "BucketEncryption"],
  ["replication", "BucketReplication"],
  ["object-lock", "ObjectLockConfiguration"],
  ["ownershipControls", "BucketOwnershipControls"],
  ["publicAccessBlock", "PublicAccessBlock"],
  ["accelerate", "BucketAccelerateConfiguration"],
  ["requestPayment", "BucketRequestPayment"],
  ["analytics", "BucketAnalyticsConfiguration"],
  ["metrics", "BucketMetricsConfiguration"],
  ["inventory", "BucketInventoryConfiguration"],
  ["intelligent-tiering", "BucketIntelligentTieringConfiguration"],
] as const;

// Bucket sub-resources S3 can delete, with the S3 API's operation name.
const BUCKET_DELETABLE = {
  policy: "DeleteBucketPolicy",
  tagging: "DeleteBucketTagging",
  cors: "DeleteBucketCors",
  lifecycle: "DeleteBucketLifecycle",
  website: "DeleteBucketWebsite",
  encryption: "DeleteBucketEncryption",
  replication: "DeleteBucketReplication",
  ownershipControls: "DeleteBucketOwnershipControls",
  publicAccessBlock: "DeletePublicAccessBlock",
  analytics: "DeleteBucketAnalyticsConfiguration",
  metrics: "DeleteBucketMetricsConfiguration",
  inventory: "DeleteBucketInventoryConfiguration",
  "intelligent-tiering": "DeleteBucketIntelligentTieringConfiguration",
} as const;

const OBJECT_SUBRESOURCES = [
  ["acl", "ObjectAcl"],
  ["tagging", "ObjectTagging"],
  ["retention", "ObjectRetention"],
  ["legal-hold", "ObjectLegalHold"],
] as const;

type BucketSuffix = typeof BUCKET_SUBRESOURCES[number][1];
type ObjectSuffix = typeof OBJECT_SUBRESOURCES[number][1];

/**
 * Every S3 operation osp names, as the S3 API reference names it, and
 * `Unknown` for a request it cannot name unambiguously.
 *
 * @example
 * ```ts
 * import type { S3Operation } from "./operation.ts";
 * const op: S3Operation = "GetBucketCors";
 * console.assert(op.startsWith("Get"));
 * ```
 */
export type S3Operation =
  | "Unknown"
  | "CorsPreflight"
  | "ListBuckets"
  | `Get${BucketSuffix}`
  | `Put${BucketSuffix}`
  | typeof BUCKET_DELETABLE[keyof typeof BUCKET_DELETABLE]
  | "GetBucketLocation"
  | "ListMultipartUploads"
  | "ListObjectVersions"
  | "ListObjectsV2"
  | "ListObjects"
  | "HeadBucket"
  | "CreateBucket"
  | "DeleteBucket"
  | "DeleteObjects"
  | `Get${ObjectSuffix}`
  | `Put${ObjectSuffix}`
  | "ListParts"
  | "GetObjectAttributes"
  | "GetObjectTorrent"
  | "GetObject"
  | "HeadObject"
  | "UploadPart"
  | "UploadPartCopy"
  | "CopyObject"
  | "PutObject"
  | "CreateMultipartUpload"
  | "CompleteMultipartUpload"
  | "RestoreObject"
  | "SelectObjectContent"
  | "AbortMultipartUpload"
  | "DeleteObjectTagging"
  | "DeleteObject";

/**
 * Operations a backend may run as another, more powerful one, and that other
 * one. Measured on Ceph RGW 16.2, which does not know these sub-resources:
 * GET answers the bucket listing, PUT creates the bucket (a missing one, too),
 * DELETE deletes the bucket when it is empty, GetObjectAttributes and
 * GetObjectTorrent serve the object, SelectObjectContent reads it. osp asks
 * the validator about both and forwards only on two yeses, so the backend
 * never does more than was approved, whichever way it reads the request.
 */
const ALSO_AUTHORIZED_AS: Partial<Record<S3Operation, S3Operation>> = {
  GetBucketEncryption: "ListObjects",
  GetBucketOwnershipControls: "ListObjects",
  GetBucketAccelerateConfiguration: "ListObjects",
  GetBucketAnalyticsConfiguration: "ListObjects",
  GetBucketMetricsConfiguration: "ListObjects",
  GetBucketInventoryConfiguration: "ListObjects",
  GetBucketIntelligentTieringConfiguration: "ListObjects",
  PutBucketEncryption: "CreateBucket",
  PutBucketOwnershipControls: "CreateBucket",
  PutBucketAccelerateConfiguration: "CreateBucket",
  PutBucketAnalyticsConfiguration: "CreateBucket",
  PutBucketMetricsConfiguration: "CreateBucket",
  PutBucketInventoryConfiguration: "CreateBucket",
  PutBucketIntelligentTieringConfiguration: "CreateBucket",
  DeleteBucketEncryption: "DeleteBucket",
  DeleteBucketOwnershipControls: "DeleteBucket",
  DeleteBucketAnalyticsConfiguration: "DeleteBucket",
  DeleteBucketMetricsConfiguration: "DeleteBucket",
  DeleteBucketInventoryConfiguration: "DeleteBucket",
  DeleteBucketIntelligentTieringConfiguration: "DeleteBucket",
  GetObjectAttributes: "GetObject",
  GetObjectTorrent: "GetObject",
  SelectObjectContent: "GetObject",
};

/** The uploads that can set the new object's tags (`x-amz-tagging`) and ACL (`x-amz-acl`, grants). */
const OBJECT_UPLOADS: ReadonlySet<S3Operation> = new Set([
  "PutObject",
  "CopyObject",
  "CreateMultipartUpload",
]);

/** Options for {@linkcode requiredApprovals}. */
export interface RequiredApprovalsOptions {
  /** The request sets the object's tags (`x-amz-tagging`, or a form's `tagging` field). */
  setsTags?: boolean;
  /** The request sets an ACL (`x-amz-acl`, `x-amz-grant-*`, or a form's `acl` field). */
  setsAcl?: boolean;
}

/**
 * Every operation the validator must allow for `operation` to be forwarded:
 * the operation itself, the one a backend may run instead, and
 * `PutObjectTagging` for an upload that sets the object's tags, and
 * `PutObjectAcl` (`PutBucketAcl` for CreateBucket) for one that sets its ACL
 * (AWS requires `s3:PutObjectTagging` and `s3:PutObjectAcl` for them too).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requiredApprovals } from "./operation.ts";
 * assert.deepEqual(requiredApprovals("GetObject"), ["GetObject"]);
 * assert.deepEqual(requiredApprovals("DeleteBucketEncryption"), ["DeleteBucketEncryption", "DeleteBucket"]);
 * assert.deepEqual(requiredApprovals("PutObject", { setsTags: true }), ["PutObject", "PutObjectTagging"]);
 * assert.deepEqual(requiredApprovals("CreateBucket", { setsAcl: true }), ["CreateBucket", "PutBucketAcl"]);
 * ```
 */
export function requiredApprovals(
  operation: S3Operation,
  options: RequiredApprovalsOptions = {},
): S3Operation[] {
  const approvals: S3Operation[] = [operation];
  const also = ALSO_AUTHORIZED_AS[operation];
  if (also !== undefined) approvals.push(also);
  if (options.setsTags && OBJECT_UPLOADS.has(operation)) approvals.push("PutObjectTagging");
  if (options.setsAcl && OBJECT_UPLOADS.has(operation)) approvals.push("PutObjectAcl");
  if (options.setsAcl && operation === "CreateBucket") approvals.push("PutBucketAcl");
  return approvals;
}

/** True for the operations after which a bucket's CORS configuration on the backend changed. */
export function changesCors(operation: S3Operation): boolean {
  return operation === "PutBucketCors" || operation === "DeleteBucketCors";
}

/** The operation of a request not (yet) named. */
export const UNKNOWN: S3Operation = "Unknown";

/** True for `Unknown`: a request osp cannot name, which only an explicit validator yes lets through. */
export function isUnknown(operation: S3Operation): boolean {
  return operation === UNKNOWN;
}

/** True for the operations that read a second object (`x-amz-copy-source`). */
export function isCopy(operation: S3Operation): boolean {
  return operation === "CopyObject" || operation === "UploadPartCopy";
}

/**
 * True for the uploads of a small document that S3 requires a Content-MD5
 * for (DeleteObjects and the Put*Configuration family; not PutObject, parts
 * or copies).
 */
export function takesContentMd5(operation: S3Operation): boolean {
  return operation === "DeleteObjects" ||
    (operation.startsWith("Put") && operation !== "PutObject");
}

/**
 * Query parameters that qualify an operation without selecting it (listing
 * bounds, versions, parts, response overrides, the SDKs' `x-id`). Each is
 * shown to the validator.
 */
const QUALIFIERS = new Set([
  "prefix",
  "delimiter",
  "marker",
  "max-keys",
  "encoding-type",
  "continuation-token",
  "start-after",
  "fetch-owner",
  "key-marker",
  "version-id-marker",
  "upload-id-marker",
  "max-uploads",
  "max-parts",
  "part-number-marker",
  "versionId",
  "partNumber",
  "id",
  "select-type",
  "x-id",
  "max-buckets",
  "bucket-region",
  "response-content-type",
  "response-content-language",
  "response-expires",
  "response-cache-control",
  "response-content-disposition",
  "response-content-encoding",
]);

/**
 * The query parameters that select an operation (its sub-resource), as
 * {@linkcode operationName} reads them; `list-type` only picks between two
 * listings and is not one.
 */
const SELECTORS: ReadonlySet<string> = new Set([
  ...BUCKET_SUBRESOURCES.map(([name]) => name),
  ...OBJECT_SUBRESOURCES.map(([name]) => name),
  "location",
  "uploads",
  "versions",
  "uploadId",
  "attributes",
  "torrent",
  "restore",
  "select",
  "delete",
]);

/**
 * True for a query parameter that selects the operation (`acl`, `uploadId`,
 * `retention`…): present or absent, the request is another operation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectsOperation } from "./operation.ts";
 * assert.equal(selectsOperation("retention"), true);
 * assert.equal(selectsOperation("prefix"), false);
 * ```
 */
export function selectsOperation(name: string): boolean {
  return SELECTORS.has(name);
}

/** True for a query parameter that names a header (presigned URLs hoist `x-amz-*` headers). */
function isHoistedHeader(name: string): boolean {
  return name.length > 6 && name.slice(0, 6).toLowerCase() === "x-amz-";
}

/** An operation and the selector it was named by. */
type Named = [operation: S3Operation, selector?: string];

function subresource<T extends readonly (readonly [string, string])[]>(
  query: ReadonlySet<string>,
  table: T,
): T[number] | undefined {
  for (const row of table) if (query.has(row[0])) return row;
  return undefined;
}

function bucketOperation(method: string, query: ReadonlySet<string>): Named {
  const [sub, suffix] = subresource(query, BUCKET_SUBRESOURCES) ?? [];
  switch (method) {
    case "GET":
      if (sub) return [`Get${suffix!}`, sub];
      if (query.has("location")) return ["GetBucketLocation", "location"];
      if (query.has("uploads")) return ["ListMultipartUploads", "uploads"];
      if (query.has("versions")) return ["ListObjectVersions", "versions"];
      return query.has("list-type") ? ["ListObjectsV2", "list-type"] : ["ListObjects"];
    case "HEAD":
      return ["HeadBucket"];
    case "PUT":
      // There is no PutBucketPolicyStatus; RGW runs CreateBucket.
      if (sub === "policyStatus") return ["Unknown"];
      return sub ? [`Put${suffix!}`, sub] : ["CreateBucket"];
    case "DELETE":
      if (!sub) return ["DeleteBucket"];
      return sub in BUCKET_DELETABLE
        ? [BUCKET_DELETABLE[sub as keyof typeof BUCKET_DELETABLE], sub]
        : ["Unknown"];
    case "POST":
      return query.has("delete") ? ["DeleteObjects", "delete"] : ["Unknown"];
    default:
      return ["Unknown"];
  }
}

function objectOperation(
  method: string,
  query: ReadonlySet<string>,
  options: { copy: boolean },
): Named {
  const copy = options.copy;
  const [sub, suffix] = subresource(query, OBJECT_SUBRESOURCES) ?? [];
  switch (method) {
    case "GET":
      if (sub) return [`Get${suffix!}`, sub];
      if (query.has("uploadId")) return ["ListParts", "uploadId"];
      if (query.has("attributes")) return ["GetObjectAttributes", "attributes"];
      if (query.has("torrent")) return ["GetObjectTorrent", "torrent"];
      return ["GetObject"];
    case "HEAD":
      return ["HeadObject"];
    case "PUT":
      if (sub) return [`Put${suffix!}`, sub];
      if (query.has("uploadId")) return [copy ? "UploadPartCopy" : "UploadPart", "uploadId"];
      return [copy ? "CopyObject" : "PutObject"];
    case "POST":
      if (query.has("uploads")) return ["CreateMultipartUpload", "uploads"];
      if (query.has("uploadId")) return ["CompleteMultipartUpload", "uploadId"];
      if (query.has("restore")) return ["RestoreObject", "restore"];
      // RGW selects on select-type; `?select` alone is its browser-form upload.
      if (query.has("select") && query.has("select-type")) {
        return ["SelectObjectContent", "select"];
      }
      return ["Unknown"];
    case "DELETE":
      if (query.has("uploadId")) return ["AbortMultipartUpload", "uploadId"];
      if (sub === "tagging") return ["DeleteObjectTagging", sub];
      return sub ? ["Unknown"] : ["DeleteObject"];
    default:
      return ["Unknown"];
  }
}

/**
 * The S3 operation name, or `Unknown` for a request that S3 would not accept
 * or that osp cannot name unambiguously: a query parameter osp does not know,
 * or a sub-resource besides the one the operation is named by.
 */
export function operationName(input: OperationInput): S3Operation {
  const { method, query } = input;
  const [operation, selector]: Named = !input.hasBucket
    ? [method === "GET" ? "ListBuckets" : "Unknown"]
    : input.hasKey
    ? objectOperation(method, query, { copy: input.header("x-amz-copy-source") !== null })
    : bucketOperation(method, query);
  for (const name of query) {
    if (name === selector || QUALIFIERS.has(name) || isHoistedHeader(name)) continue;
    return "Unknown";
  }
  return operation;
}

/** Parameters whose value selects what S3 does: present means non-empty. */
const NON_EMPTY = ["uploadId", "versionId", "partNumber", "list-type"];

function invalid(message: string): S3Error {
  return new S3Error("InvalidArgument", message);
}

/**
 * Refuses query parameters a backend could read differently from osp: a name
 * given twice (which value wins is the backend's choice), an empty
 * `uploadId`/`versionId`/`partNumber`/`list-type` (RGW treats an empty
 * `uploadId` as absent), a `partNumber` that is not 1–10000, `list-type`
 * other than 2, and a part upload without its upload id.
 */
export function checkQueryParams(
  params: readonly RawQueryParam[],
  options: { method: string },
): void {
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.name)) {
      throw invalid(`The query parameter ${JSON.stringify(p.name)} may be given only once`);
    }
    seen.add(p.name);
    if (NON_EMPTY.includes(p.name) && p.value === "") {
      throw invalid(`The query parameter ${p.name} cannot be empty`);
    }
  }
  const part = params.find((p) => p.name === "partNumber");
  if (part !== undefined && !/^[1-9]\d{0,4}$/.test(part.value) || Number(part?.value) > 10000) {
    throw invalid("Part number must be an integer between 1 and 10000, inclusive");
  }
  if (params.some((p) => p.name === "list-type" && p.value !== "2")) {
    throw invalid("list-type must be 2");
  }
  if (part !== undefined && options.method === "PUT" && !seen.has("uploadId")) {
    throw invalid("A part upload (partNumber) needs its uploadId");
  }
}
