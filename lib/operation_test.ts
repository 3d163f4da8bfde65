import assert from "node:assert/strict";
import { operationName } from "./operation.ts";

/** [method, path kind, query names, headers, expected operation] */
type Row = [string, "service" | "bucket" | "object", string[], Record<string, string>, string];

const COPY = { "x-amz-copy-source": "/src/key" };

const TABLE: Row[] = [
  // Service
  ["GET", "service", [], {}, "ListBuckets"],
  ["PUT", "service", [], {}, "Unknown"],
  ["POST", "service", [], {}, "Unknown"],
  ["DELETE", "service", [], {}, "Unknown"],
  ["HEAD", "service", [], {}, "Unknown"],

  // Bucket listings
  ["GET", "bucket", [], {}, "ListObjects"],
  ["GET", "bucket", ["prefix", "delimiter", "marker"], {}, "ListObjects"],
  ["GET", "bucket", ["list-type"], {}, "ListObjectsV2"],
  ["GET", "bucket", ["list-type", "continuation-token", "prefix"], {}, "ListObjectsV2"],
  ["GET", "bucket", ["versions"], {}, "ListObjectVersions"],
  ["GET", "bucket", ["uploads"], {}, "ListMultipartUploads"],
  ["GET", "bucket", ["location"], {}, "GetBucketLocation"],

  // Bucket sub-resources
  ["GET", "bucket", ["acl"], {}, "GetBucketAcl"],
  ["PUT", "bucket", ["acl"], {}, "PutBucketAcl"],
  ["GET", "bucket", ["policy"], {}, "GetBucketPolicy"],
  ["PUT", "bucket", ["policy"], {}, "PutBucketPolicy"],
  ["DELETE", "bucket", ["policy"], {}, "DeleteBucketPolicy"],
  ["GET", "bucket", ["policyStatus"], {}, "GetBucketPolicyStatus"],
  ["GET", "bucket", ["versioning"], {}, "GetBucketVersioning"],
  ["PUT", "bucket", ["versioning"], {}, "PutBucketVersioning"],
  ["GET", "bucket", ["tagging"], {}, "GetBucketTagging"],
  ["PUT", "bucket", ["tagging"], {}, "PutBucketTagging"],
  ["DELETE", "bucket", ["tagging"], {}, "DeleteBucketTagging"],
  ["GET", "bucket", ["cors"], {}, "GetBucketCors"],
  ["PUT", "bucket", ["cors"], {}, "PutBucketCors"],
  ["DELETE", "bucket", ["cors"], {}, "DeleteBucketCors"],
  ["GET", "bucket", ["lifecycle"], {}, "GetBucketLifecycleConfiguration"],
  ["PUT", "bucket", ["lifecycle"], {}, "PutBucketLifecycleConfiguration"],
  ["GET", "bucket", ["website"], {}, "GetBucketWebsite"],
  ["DELETE", "bucket", ["website"], {}, "DeleteBucketWebsite"],
  ["GET", "bucket", ["encryption"], {}, "GetBucketEncryption"],
  ["GET", "bucket", ["object-lock"], {}, "GetObjectLockConfiguration"],
  ["PUT", "bucket", ["publicAccessBlock"], {}, "PutPublicAccessBlock"],
  ["GET", "bucket", ["notification"], {}, "GetBucketNotificationConfiguration"],
  // A sub-resource wins over the listing parameters.
  ["GET", "bucket", ["tagging", "list-type"], {}, "GetBucketTagging"],

  // Bucket lifecycle
  ["PUT", "bucket", [], {}, "CreateBucket"],
  ["DELETE", "bucket", [], {}, "DeleteBucket"],
  ["HEAD", "bucket", [], {}, "HeadBucket"],
  ["POST", "bucket", ["delete"], {}, "DeleteObjects"],
  ["POST", "bucket", [], {}, "Unknown"],
  ["PATCH", "bucket", [], {}, "Unknown"],
  ["OPTIONS", "bucket", [], {}, "Unknown"],

  // Objects
  ["GET", "object", [], {}, "GetObject"],
  ["GET", "object", ["versionId", "response-content-type"], {}, "GetObject"],
  ["GET", "object", ["partNumber"], {}, "GetObject"],
  ["HEAD", "object", [], {}, "HeadObject"],
  ["HEAD", "object", ["versionId"], {}, "HeadObject"],
  ["PUT", "object", [], {}, "PutObject"],
  ["PUT", "object", [], COPY, "CopyObject"],
  ["PUT", "object", ["partNumber", "uploadId"], {}, "UploadPart"],
  ["PUT", "object", ["partNumber", "uploadId"], COPY, "UploadPartCopy"],
  ["POST", "object", ["uploads"], {}, "CreateMultipartUpload"],
  ["POST", "object", ["uploadId"], {}, "CompleteMultipartUpload"],
  ["DELETE", "object", ["uploadId"], {}, "AbortMultipartUpload"],
  ["GET", "object", ["uploadId"], {}, "ListParts"],
  ["GET", "object", ["uploadId", "max-parts"], {}, "ListParts"],
  ["DELETE", "object", [], {}, "DeleteObject"],
  ["DELETE", "object", ["versionId"], {}, "DeleteObject"],
  ["GET", "object", ["tagging"], {}, "GetObjectTagging"],
  ["PUT", "object", ["tagging"], {}, "PutObjectTagging"],
  ["DELETE", "object", ["tagging"], {}, "DeleteObjectTagging"],
  ["GET", "object", ["acl"], {}, "GetObjectAcl"],
  ["PUT", "object", ["acl"], {}, "PutObjectAcl"],
  ["GET", "object", ["retention"], {}, "GetObjectRetention"],
  ["PUT", "object", ["legal-hold"], {}, "PutObjectLegalHold"],
  ["GET", "object", ["attributes"], {}, "GetObjectAttributes"],
  ["POST", "object", ["restore"], {}, "RestoreObject"],
  ["POST", "object", ["select", "select-type"], {}, "SelectObjectContent"],
  ["POST", "object", [], {}, "Unknown"],
  ["PATCH", "object", [], {}, "Unknown"],
  ["OPTIONS", "object", [], {}, "Unknown"],
];

Deno.test("operation: names each S3 request the way the S3 API reference does", () => {
  for (const [method, kind, query, headers, expected] of TABLE) {
    const h = new Headers(headers);
    const actual = operationName({
      method,
      hasBucket: kind !== "service",
      hasKey: kind === "object",
      query: new Set(query),
      header: (name) => h.get(name),
    });
    assert.equal(
      actual,
      expected,
      `${method} ${kind}${query.length ? "?" + query.join("&") : ""} ${JSON.stringify(headers)}`,
    );
  }
});

Deno.test("operation: DELETE ?lifecycle is DeleteBucketLifecycle, as in the S3 API reference", () => {
  // The S3 API reference names DELETE /?lifecycle "DeleteBucketLifecycle"; there is no
  // "DeleteBucketLifecycleConfiguration". A validator matching the reference name must see it.
  const actual = operationName({
    method: "DELETE",
    hasBucket: true,
    hasKey: false,
    query: new Set(["lifecycle"]),
    header: () => null,
  });
  assert.equal(actual, "DeleteBucketLifecycle");
});
