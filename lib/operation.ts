/**
 * Names the S3 operation of a request from its method, query and headers, the
 * way the S3 API reference names them.
 *
 * @module
 */

/** What the operation name depends on. */
export interface OperationInput {
  /** HTTP method, upper case. */
  method: string;
  /** True when the request names a bucket. */
  hasBucket: boolean;
  /** True when the request names an object key. */
  hasKey: boolean;
  /** Decoded query parameter names present. */
  query: ReadonlySet<string>;
  /** Reads a request header. */
  header: (name: string) => string | null;
}

// Bucket sub-resources: query name → [GET, PUT, DELETE] operation suffix.
const BUCKET_SUBRESOURCES: [string, string][] = [
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
];

// Bucket sub-resources S3 can delete, with the S3 API's operation name.
const BUCKET_DELETABLE: Record<string, string> = {
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
};

const OBJECT_SUBRESOURCES: [string, string][] = [
  ["acl", "ObjectAcl"],
  ["tagging", "ObjectTagging"],
  ["retention", "ObjectRetention"],
  ["legal-hold", "ObjectLegalHold"],
];

function subresource(
  query: ReadonlySet<string>,
  table: [string, string][],
): string | undefined {
  for (const [name, op] of table) if (query.has(name)) return op;
  return undefined;
}

/** The S3 operation name, or `Unknown` for a request S3 would not accept. */
export function operationName(input: OperationInput): string {
  const { method, query } = input;
  if (!input.hasBucket) return method === "GET" ? "ListBuckets" : "Unknown";
  if (!input.hasKey) {
    const sub = subresource(query, BUCKET_SUBRESOURCES);
    switch (method) {
      case "GET":
        if (sub) return `Get${sub}`;
        if (query.has("location")) return "GetBucketLocation";
        if (query.has("uploads")) return "ListMultipartUploads";
        if (query.has("versions")) return "ListObjectVersions";
        return query.has("list-type") ? "ListObjectsV2" : "ListObjects";
      case "HEAD":
        return "HeadBucket";
      case "PUT":
        return sub ? `Put${sub}` : "CreateBucket";
      case "DELETE": {
        if (!sub) return "DeleteBucket";
        const name = Object.keys(BUCKET_DELETABLE).find((q) => query.has(q));
        return name ? BUCKET_DELETABLE[name] : "Unknown";
      }
      case "POST":
        return query.has("delete") ? "DeleteObjects" : "Unknown";
      default:
        return "Unknown";
    }
  }
  const sub = subresource(query, OBJECT_SUBRESOURCES);
  const copy = input.header("x-amz-copy-source") !== null;
  switch (method) {
    case "GET":
      if (sub) return `Get${sub}`;
      if (query.has("uploadId")) return "ListParts";
      if (query.has("attributes")) return "GetObjectAttributes";
      if (query.has("torrent")) return "GetObjectTorrent";
      return "GetObject";
    case "HEAD":
      return "HeadObject";
    case "PUT":
      if (sub) return `Put${sub}`;
      if (query.has("partNumber") && query.has("uploadId")) {
        return copy ? "UploadPartCopy" : "UploadPart";
      }
      return copy ? "CopyObject" : "PutObject";
    case "POST":
      if (query.has("uploads")) return "CreateMultipartUpload";
      if (query.has("uploadId")) return "CompleteMultipartUpload";
      if (query.has("restore")) return "RestoreObject";
      if (query.has("select")) return "SelectObjectContent";
      return "Unknown";
    case "DELETE":
      if (query.has("uploadId")) return "AbortMultipartUpload";
      if (query.has("tagging")) return "DeleteObjectTagging";
      return sub ? "Unknown" : "DeleteObject";
    default:
      return "Unknown";
  }
}
