import assert from "node:assert/strict";
import { S3Error } from "./errors.ts";
import { postForm } from "../../tests/_sign.ts";
import {
  BASE,
  CLIENT,
  freshState,
  NOW,
  presignedV2,
  routed,
  signed,
  signedV2,
  testPipeline,
} from "./_test_util.ts";

async function routeOf(request: Request, config = {}) {
  const { pipeline } = testPipeline({ config });
  const state = freshState();
  return { routed: await routed(pipeline, request, state), state };
}

async function refused(request: Request, code: string, config = {}): Promise<void> {
  await assert.rejects(
    () => routeOf(request, config),
    (e: unknown) => e instanceof S3Error && e.code === code,
    `${request.method} ${request.url}`,
  );
}

Deno.test("route: authenticates, names the operation and finds the cosMap bucket", async () => {
  const { routed, state } = await routeOf(signed("GET", "/data/a/b.txt?versionId=3"));
  assert.equal(routed.kind, "bucket");
  if (routed.kind !== "bucket") return;
  assert.equal(routed.operation, "GetObject");
  assert.equal(routed.clientBucket, "data");
  assert.equal(routed.key, "a/b.txt");
  assert.equal(routed.bucket?.backendBucket, "be-data");
  assert.equal(routed.verified.token, "stage-client");
  assert.deepEqual([state.operation, state.bucket, state.accessKey], [
    "GetObject",
    "data",
    "stage-client",
  ]);
});

Deno.test("route: GET / is a service request", async () => {
  const { routed, state } = await routeOf(signed("GET", "/?x-id=ListBuckets"));
  assert.deepEqual([routed.kind, routed.operation, state.bucket], [
    "service",
    "ListBuckets",
    "_none",
  ]);
});

Deno.test("route: a bucket osp does not know has no config; the default route takes valid names", async () => {
  const { routed } = await routeOf(signed("GET", "/elsewhere/k"));
  assert.equal(routed.kind === "bucket" && routed.bucket, undefined);
  const star = {
    cosMap: { "*": { host: "rgw.test", port: 7480, accessKey: "a", secretKey: "s" } },
  };
  const { routed: viaDefault, state } = await routeOf(signed("GET", "/elsewhere/k"), star);
  assert.equal(viaDefault.kind === "bucket" && viaDefault.bucket?.backendBucket, "elsewhere");
  assert.equal(state.bucket, "_default");
});

Deno.test("route: names that are not valid S3 bucket names are InvalidBucketName", async () => {
  for (
    const path of ["/127.0.0.1%3A7752%2F/x", "/secret%2Fx/k", "/Upper/k", "/a_b/k", "/ab/k", "//k"]
  ) {
    await refused(signed("GET", path), "InvalidBucketName");
  }
});

Deno.test("route: signed _ headers, repeated parameters, empty uploadId are InvalidArgument", async () => {
  await refused(
    signed("PUT", "/data/k", { headers: { x_amz_acl: "public-read" } }),
    "InvalidArgument",
  );
  await refused(signed("GET", "/data/k?versionId=a&versionId=b"), "InvalidArgument");
  await refused(signed("DELETE", "/data/k?uploadId="), "InvalidArgument");
  await refused(signed("GET", "/data/k?x-amz-copy-source=%2Fdata%2Fk"), "InvalidArgument");
});

Deno.test("route: strictKeyPaths refuses dot segments before anything is asked", async () => {
  const strict = {
    cosMap: {
      data: {
        host: "b.test",
        port: 1,
        tls: false,
        addressingStyle: "path" as const,
        accessKey: "a",
        secretKey: "s",
        strictKeyPaths: true,
      },
    },
  };
  // (new Request() would resolve dot segments; Deno.serve keeps them: see tests/.)
  await refused(signed("GET", "/data/a//b"), "InvalidArgument", strict);
  const { routed } = await routeOf(signed("GET", "/data/a/..b"), strict);
  assert.equal(routed.kind === "bucket" && routed.key, "a/..b");
});

Deno.test("route: a bad signature never gets as far as naming", async () => {
  const request = signed("GET", "/data/k");
  const headers = new Headers(request.headers);
  headers.set(
    "authorization",
    headers.get("authorization")!.replace(/.$/, (c) => c === "0" ? "1" : "0"),
  );
  await refused(new Request(request.url, { headers }), "SignatureDoesNotMatch");
});

Deno.test("route: a POST with a form body is refused, whatever its query, but to a bucket", async () => {
  for (const path of ["/data/k?restore", "/data/k?select", "/data?delete", "/data/k?uploads"]) {
    for (const type of ["multipart/form-data; boundary=x", " Multipart/Form-Data;boundary=x"]) {
      await refused(
        signed("POST", path, { headers: { "content-type": type }, body: "--x--" }),
        "NotImplemented",
      );
    }
  }
  // POST /{bucket}: a browser form upload, verified by osp (this one has no file).
  await refused(
    signed("POST", "/data", {
      headers: { "content-type": "multipart/form-data; boundary=x" },
      body: "--x--",
    }),
    "InvalidArgument",
  );
});

Deno.test("route: a SigV2 request authenticates and the state names its signature version", async () => {
  const v2 = await routeOf(signedV2("GET", "/data/a/b.txt"));
  assert.equal(v2.routed.operation, "GetObject");
  assert.equal(v2.routed.verified.auth.version, 2);
  assert.deepEqual([v2.state.accessKey, v2.state.sigVersion], ["stage-client", "2"]);
  const pre = await routeOf(presignedV2("GET", "/data/a/b.txt"));
  assert.deepEqual([pre.routed.operation, pre.state.sigVersion], ["GetObject", "2"]);
  const v4 = await routeOf(signed("GET", "/data/a/b.txt"));
  assert.equal(v4.state.sigVersion, "4");
});

Deno.test("route: a SigV2 presigned URL's own parameters name no operation", async () => {
  const put = await routeOf(
    presignedV2("PUT", "/data/k", {
      headers: { "content-type": "text/plain" },
      extra: "&content-type=text%2Fplain",
    }),
  );
  assert.equal(put.routed.operation, "PutObject", "content-type is botocore's hoisted header");
  const parts = await routeOf(presignedV2("GET", "/data/k?uploadId=u"));
  assert.equal(parts.routed.operation, "ListParts");
});

Deno.test("route: a SigV2 request may not name its operation by a sub-resource SigV2 does not sign", async () => {
  for (
    const path of [
      "/data/k?retention",
      "/data/k?legal-hold",
      "/data/k?attributes",
      "/data?encryption",
    ]
  ) {
    await refused(signedV2("GET", path), "AccessDenied");
    await refused(
      presignedV2("GET", "/data/k", { extra: `&${path.split("?")[1]}` }),
      "AccessDenied",
    );
    const v4 = await routeOf(signed("GET", path));
    assert.notEqual(v4.routed.operation, "Unknown", `${path} with SigV4`);
  }
  // Signed sub-resources and unsigned qualifiers are fine.
  assert.equal(
    (await routeOf(signedV2("GET", "/data/k?tagging"))).routed.operation,
    "GetObjectTagging",
  );
  assert.equal(
    (await routeOf(signedV2("GET", "/data?list-type=2&prefix=a"))).routed.operation,
    "ListObjectsV2",
  );
});

Deno.test("route: sigV2 false refuses SigV2 with AccessDenied", async () => {
  await refused(signedV2("GET", "/data/k"), "AccessDenied", { sigV2: false });
  await refused(presignedV2("GET", "/data/k"), "AccessDenied", { sigV2: false });
  await routeOf(signed("GET", "/data/k"), { sigV2: false });
});

Deno.test("route: a SigV2 form names its signature version 2, a SigV4 one 4", async () => {
  for (const sigVersion of [2, 4] as const) {
    const { body, contentType } = postForm({
      ...CLIENT,
      time: NOW,
      bucket: "data",
      fields: { key: "k" },
      file: "x",
      sigVersion,
    });
    const { routed, state } = await routeOf(
      new Request(BASE + "/data", {
        method: "POST",
        headers: { "content-type": contentType, "content-length": String(body.length) },
        body,
      }),
    );
    assert.equal(routed.kind === "bucket" && routed.form !== undefined, true);
    assert.equal(routed.verified.auth.kind, "post-policy");
    assert.equal(routed.verified.auth.version, sigVersion);
    assert.deepEqual([state.accessKey, state.sigVersion], ["stage-client", String(sigVersion)]);
  }
});
