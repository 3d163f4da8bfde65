import assert from "node:assert/strict";
import { rewriteBucketNames } from "./alias.ts";

const NAMES = {
  clientBucket: "eu-logs",
  backendBucket: "logs",
  clientBucketUrl: "https://osp.example/eu-logs",
};

Deno.test("alias: listing, multipart and error answers name the client bucket", () => {
  assert.equal(
    rewriteBucketNames(
      "<ListBucketResult><Name>logs</Name><Prefix>logs</Prefix></ListBucketResult>",
      NAMES,
    ),
    "<ListBucketResult><Name>eu-logs</Name><Prefix>logs</Prefix></ListBucketResult>",
  );
  assert.equal(
    rewriteBucketNames(
      "<CompleteMultipartUploadResult><Location>http://rgw:7480/logs/a%20b/c</Location><Bucket>logs</Bucket><Key>a b/c</Key></CompleteMultipartUploadResult>",
      NAMES,
    ),
    "<CompleteMultipartUploadResult><Location>https://osp.example/eu-logs/a%20b/c</Location><Bucket>eu-logs</Bucket><Key>a b/c</Key></CompleteMultipartUploadResult>",
  );
  assert.equal(
    rewriteBucketNames("<Location>localhost/logs/k</Location>", NAMES),
    "<Location>https://osp.example/eu-logs/k</Location>",
    "RGW sends no scheme",
  );
  assert.equal(
    rewriteBucketNames("<Location>https://logs.s3.example.com/k</Location>", NAMES),
    "<Location>https://osp.example/eu-logs/k</Location>",
  );
  assert.equal(
    rewriteBucketNames(
      "<Error><Code>NoSuchKey</Code><BucketName>logs</BucketName><Resource>/logs/k</Resource></Error>",
      NAMES,
    ),
    "<Error><Code>NoSuchKey</Code><BucketName>eu-logs</BucketName><Resource>/eu-logs/k</Resource></Error>",
  );
  assert.equal(
    rewriteBucketNames("<Resource>/other/k</Resource><Name>logs2</Name>", NAMES),
    "<Resource>/other/k</Resource><Name>logs2</Name>",
    "only the exact backend bucket is rewritten",
  );
});
