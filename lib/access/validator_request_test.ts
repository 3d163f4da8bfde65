import assert from "node:assert/strict";
import { authenticate, type VerifiedRequest } from "../sigv4/authenticate.ts";
import type { ValidatorCacheKey } from "../config/config.ts";
import { S3Error } from "../request/errors.ts";
import { parseRequestTarget } from "../request/request_target.ts";
import { SigningKeyCache } from "../sigv4/sigv4.ts";
import { checkHoistedHeaders, validatorRequest } from "./validator_request.ts";

const ALL: ValidatorCacheKey = { query: true, headers: "all", sourceIp: true };

async function verified(path: string, headers: Record<string, string> = {}) {
  const target = parseRequestTarget(`http://proxy${path}`, {
    hostHeader: "proxy",
    virtualHostSuffixes: [],
  });
  return await authenticate(
    { method: "GET", target, headers: new Headers({ host: "proxy", ...headers }) },
    {
      now: 0,
      clockSkewMs: 0,
      secretFor: () => Promise.resolve("s"),
      signingKeys: new SigningKeyCache(),
      skipSignatureValidation: true,
    },
  );
}

const AUTH = {
  authorization:
    "AWS4-HMAC-SHA256 Credential=ak/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
  "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
  "x-amz-date": "20240101T000000Z",
};

function context(v: VerifiedRequest, cacheKey = ALL, ip = "10.0.0.1"): string {
  return validatorRequest(v, { operation: "GetObject", bucket: "b", key: "k" }, {
    sourceIp: () => ip,
    cacheKey,
  }).context();
}

Deno.test("validator_request: the cache key changes with every input the validator sees", async () => {
  const base = context(await verified("/b/k", AUTH));
  // Volatile headers do not split the cache.
  assert.equal(
    context(
      await verified("/b/k", { ...AUTH, "user-agent": "x", "x-amz-date": "20240101T000001Z" }),
    ),
    base,
  );
  const others = [
    context(await verified("/b/k?versionId=2", AUTH)),
    context(await verified("/b/k", { ...AUTH, range: "bytes=0-1" })),
    context(await verified("/b/k", { ...AUTH, "x-amz-acl": "public-read" })),
    context(await verified("/b/k", AUTH), ALL, "10.0.0.2"),
  ];
  assert.equal(new Set([base, ...others]).size, 1 + others.length);
});

Deno.test("validator_request: a narrower validatorCacheKey keys on less", async () => {
  const narrow: ValidatorCacheKey = {
    query: false,
    headers: new Set(["x-amz-acl"]),
    sourceIp: false,
  };
  const base = context(await verified("/b/k", AUTH), narrow);
  assert.equal(context(await verified("/b/k?versionId=2", AUTH), narrow, "10.9.9.9"), base);
  assert.notEqual(
    context(await verified("/b/k", { ...AUTH, "x-amz-acl": "public-read" }), narrow),
    base,
  );
});

Deno.test("validator_request: dropped twins are hidden, hoisted x-amz-* query headers shown", async () => {
  const v = await verified("/b/k?x-amz-acl=public-read&versionId=1", {
    ...AUTH,
    x_amz_copy_source: "/secret/k",
  });
  const request = validatorRequest(v, { operation: "GetObject", bucket: "b", key: "k" }, {
    sourceIp: () => "10.0.0.1",
    cacheKey: ALL,
  }).build();
  assert.equal("x_amz_copy_source" in request.headers, false);
  assert.equal("authorization" in request.headers, false);
  assert.equal(request.headers["x-amz-acl"], "public-read");
  assert.deepEqual(request.query, { "x-amz-acl": "public-read", versionId: "1" });
});

Deno.test("validator_request: a hoisted copy source or a header given twice is refused", async () => {
  const v0 = await verified("/b/k?x-amz-checksum-crc32=AA%0D%0Ax-evil%3A1", AUTH);
  for (
    const [path, headers] of [
      ["/b/k?x-amz-copy-source=%2Fsecret%2Fk", AUTH],
      ["/b/k?X-Amz-Copy-Source-Range=bytes%3D0-1", AUTH],
      ["/b/k?x-amz-acl=public-read", { ...AUTH, "x-amz-acl": "private" }],
      ["/b/k?x-amz-checksum-crc32=AAAAAA%3D%3D&X-Amz-Checksum-CRC32=DUoRhQ%3D%3D", AUTH],
    ] as const
  ) {
    const v = await verified(path, headers);
    assert.throws(
      () => checkHoistedHeaders(v),
      (e: unknown) => e instanceof S3Error && e.code === "InvalidArgument",
      path,
    );
  }
  checkHoistedHeaders(
    await verified("/b/k?x-amz-acl=private", { ...AUTH, "x-amz-acl": "private" }),
  );
  checkHoistedHeaders(await verified("/b/k?x-amz-acl=private&X-Amz-Acl=private", AUTH));
  assert.throws(
    () => checkHoistedHeaders(v0),
    (e: unknown) => e instanceof S3Error && e.code === "InvalidRequest",
  );
});
