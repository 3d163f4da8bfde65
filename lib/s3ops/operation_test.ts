import assert from "node:assert/strict";
import { S3Error } from "../request/errors.ts";
import { checkQueryParams, operationName, requiredApprovals } from "./operation.ts";
import { parseRawQuery } from "../sigv4/sigv4.ts";

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
  // Two selectors: a backend could pick either, so osp names neither.
  ["GET", "bucket", ["tagging", "list-type"], {}, "Unknown"],
  ["GET", "bucket", ["acl", "policy"], {}, "Unknown"],
  // Query words osp does not know, or that do not fit the request, are Unknown.
  ["PUT", "bucket", ["somethingunknown"], {}, "Unknown"],
  ["PUT", "bucket", ["mdsearch"], {}, "Unknown"],
  ["PUT", "bucket", ["uploads"], {}, "Unknown"],
  ["GET", "bucket", ["uploadId"], {}, "Unknown"],
  ["GET", "bucket", ["retention"], {}, "Unknown"],
  ["POST", "object", ["append", "position"], {}, "Unknown"],
  ["GET", "object", ["list-type"], {}, "Unknown"],
  ["GET", "object", ["versions"], {}, "Unknown"],
  ["DELETE", "object", ["uploadId", "tagging"], {}, "Unknown"],
  ["PUT", "object", ["acl", "uploadId", "partNumber"], {}, "Unknown"],
  ["GET", "service", ["acl"], {}, "Unknown"],
  // Qualifiers, the SDKs' x-id and hoisted x-amz-* headers do not change the name.
  [
    "GET",
    "bucket",
    ["list-type", "prefix", "x-id", "encoding-type", "start-after"],
    {},
    "ListObjectsV2",
  ],
  ["PUT", "object", ["x-id", "x-amz-meta-a", "X-Amz-Acl"], {}, "PutObject"],
  ["GET", "object", ["response-content-disposition", "partNumber"], {}, "GetObject"],

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
  // RGW runs these as other operations: refused to be named.
  ["POST", "object", ["select"], {}, "Unknown"],
  ["PUT", "bucket", ["policyStatus"], {}, "Unknown"],
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

function assertInvalid(query: string, method = "GET"): void {
  assert.throws(
    () => checkQueryParams(parseRawQuery(query), { method }),
    (err: unknown) => err instanceof S3Error && err.code === "InvalidArgument",
    `${method} ?${query}`,
  );
}

Deno.test("operation: parameters named by their value are refused when empty or malformed", () => {
  // RGW names DELETE ?uploadId= a DeleteObject and PUT ?partNumber=1&uploadId= a PutObject.
  for (const q of ["uploadId=", "uploadId", "versionId=", "partNumber=", "list-type="]) {
    assertInvalid(q, "DELETE");
  }
  assertInvalid("partNumber=1&uploadId=", "PUT");
  for (const n of ["0", "10001", "01", "1.0", "-1", "1e3", " 1", "x"]) {
    assertInvalid(`partNumber=${n}&uploadId=u`, "PUT");
  }
  assertInvalid("list-type=1");
  assertInvalid("partNumber=1", "PUT");
  checkQueryParams(parseRawQuery("partNumber=10000&uploadId=u"), { method: "PUT" });
  checkQueryParams(parseRawQuery("partNumber=2"), { method: "GET" });
  checkQueryParams(parseRawQuery("list-type=2&prefix="), { method: "GET" });
});

Deno.test("operation: a parameter given twice is refused, whatever its name", () => {
  for (
    const q of [
      "versionId=a&versionId=b",
      "versionId=a&versionId=a",
      "acl&acl",
      "prefix=a&prefix=b",
      "uploadId=u&partNumber=1&uploadId=v",
      // Encodings decode to the same name.
      "versionId=a&version%49d=b",
    ]
  ) assertInvalid(q);
});

Deno.test("operation: an upload that sets tags also needs PutObjectTagging; nothing else does", () => {
  for (const op of ["PutObject", "CopyObject", "CreateMultipartUpload"] as const) {
    assert.deepEqual(requiredApprovals(op, { setsTags: true }), [op, "PutObjectTagging"]);
    assert.deepEqual(requiredApprovals(op), [op]);
  }
  assert.deepEqual(requiredApprovals("GetObject", { setsTags: true }), ["GetObject"]);
  assert.deepEqual(requiredApprovals("PutObjectTagging", { setsTags: true }), ["PutObjectTagging"]);
});
