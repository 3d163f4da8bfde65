import assert from "node:assert/strict";
import type { ProxyConfig, ValidatorRequest } from "../config/config.ts";
import { S3Error } from "./errors.ts";
import { presignUrl } from "../../tests/_sign.ts";
import {
  admitted as admitRequest,
  BASE,
  CLIENT,
  freshState,
  NOW,
  presignedV2,
  signed,
  testPipeline,
} from "./_test_util.ts";

async function admitted(request: Request, config: Partial<ProxyConfig> = {}) {
  const { pipeline } = testPipeline({ config });
  const state = freshState();
  return { admission: await admitRequest(pipeline, request, state), state };
}

function rejectsWith(code: string) {
  return (e: unknown) => e instanceof S3Error && e.code === code;
}

Deno.test("admit: the validator's yes makes an Admitted with exactly what it was asked about", async () => {
  const asked: ValidatorRequest[] = [];
  const validator = (_t: string | null, _b: string, r: ValidatorRequest) => {
    asked.push(r);
    return true;
  };
  const { admission } = await admitted(signed("DELETE", "/data/dir/k"), { validator });
  assert.ok(!("kind" in admission));
  assert.deepEqual(
    [admission.operation, admission.clientBucket, admission.key, admission.bucket.name],
    ["DeleteObject", "data", "dir/k", "data"],
  );
  assert.deepEqual(asked.map((r) => [r.operation, r.bucket, r.key]), [[
    "DeleteObject",
    "data",
    "dir/k",
  ]]);
});

Deno.test("admit: a no is AccessDenied; a throw is InternalError, never a yes", async () => {
  await assert.rejects(
    () => admitted(signed("GET", "/data/k"), { validator: () => false }),
    rejectsWith("AccessDenied"),
  );
  await assert.rejects(
    () =>
      admitted(signed("GET", "/data/k"), {
        validator: () => {
          throw new Error("boom");
        },
      }),
    rejectsWith("InternalError"),
  );
});

Deno.test("admit: the validator is asked before osp says a bucket does not exist", async () => {
  await assert.rejects(() => admitted(signed("GET", "/nothere/k")), rejectsWith("NoSuchBucket"));
  await assert.rejects(
    () => admitted(signed("GET", "/nothere/k"), { validator: () => false }),
    rejectsWith("AccessDenied"),
  );
});

Deno.test("admit: Unknown is refused without a validator and asked about with one", async () => {
  await assert.rejects(
    () => admitted(signed("POST", "/data/k?append&position=0")),
    rejectsWith("NotImplemented"),
  );
  const { admission } = await admitted(signed("POST", "/data/k?append&position=0"), {
    validator: (_t, _b, r) => r.operation === "Unknown",
  });
  assert.equal(admission.operation, "Unknown");
});

Deno.test("admit: a service request passes through to be authorized bucket by bucket", async () => {
  const { admission } = await admitted(signed("GET", "/"), { validator: () => false });
  assert.ok("kind" in admission && admission.kind === "service");
});

Deno.test("admit: an operation a backend may run as a stronger one needs both yeses", async () => {
  const cases: [string, string, string[]][] = [
    ["DELETE", "/data?encryption", ["DeleteBucketEncryption", "DeleteBucket"]],
    ["PUT", "/data?ownershipControls", ["PutBucketOwnershipControls", "CreateBucket"]],
    ["GET", "/data?inventory&id=a", ["GetBucketInventoryConfiguration", "ListObjects"]],
    ["GET", "/data/k?attributes", ["GetObjectAttributes", "GetObject"]],
  ];
  for (const [method, path, operations] of cases) {
    const asked: string[] = [];
    const only = (allowed: string) => (_t: string | null, _b: string, r: ValidatorRequest) => {
      asked.push(r.operation);
      return r.operation === allowed;
    };
    await assert.rejects(
      () => admitted(signed(method, path), { validator: only(operations[0]) }),
      rejectsWith("AccessDenied"),
      `${method} ${path}`,
    );
    assert.deepEqual(asked, operations);
    const { admission } = await admitted(signed(method, path), { validator: () => true });
    assert.equal(admission.operation, operations[0]);
  }
});

Deno.test("admit: an upload that sets tags (x-amz-tagging) also needs PutObjectTagging", async () => {
  const tagged = { headers: { "x-amz-tagging": "team=a" } };
  const hoisted = (method: string, path: string) =>
    new Request(
      presignUrl(method, `${BASE}${path}?x-amz-tagging=team%3Da`, {
        ...CLIENT,
        time: NOW,
        expires: 600,
      }),
      { method },
    );
  const cases: [string, Request, string[]][] = [
    ["PUT", signed("PUT", "/data/k", tagged), ["PutObject", "PutObjectTagging"]],
    ["presigned PUT", hoisted("PUT", "/data/k"), ["PutObject", "PutObjectTagging"]],
    [
      "CreateMultipartUpload",
      signed("POST", "/data/k?uploads", tagged),
      ["CreateMultipartUpload", "PutObjectTagging"],
    ],
    [
      "CopyObject",
      signed("PUT", "/data/k", {
        headers: { ...tagged.headers, "x-amz-copy-source": "/data/src" },
      }),
      ["CopyObject", "PutObjectTagging"],
    ],
    ["PUT without tags", signed("PUT", "/data/k"), ["PutObject"]],
    ["GET", signed("GET", "/data/k", tagged), ["GetObject"]],
  ];
  for (const [name, request, operations] of cases) {
    const asked: string[] = [];
    const validator = (_t: string | null, _b: string, r: ValidatorRequest) => {
      asked.push(r.operation);
      return r.operation !== "PutObjectTagging";
    };
    const outcome = await admitted(request.clone(), { validator }).then(() => "admitted", (e) => e);
    assert.deepEqual(asked, operations, name);
    if (operations.length === 2) assert.ok(rejectsWith("AccessDenied")(outcome), name);
    else assert.equal(outcome, "admitted", name);
    const { admission } = await admitted(request, { validator: () => true });
    assert.equal(admission.operation, operations[0], name);
  }
});

Deno.test("admit: an upload or CreateBucket that sets an ACL also needs PutObjectAcl / PutBucketAcl", async () => {
  const acl = (name: string) => ({
    headers: { [name]: name === "x-amz-acl" ? "public-read" : "uri=x" },
  });
  const presigned = new Request(
    presignUrl("PUT", `${BASE}/data/k?x-amz-acl=public-read`, {
      ...CLIENT,
      time: NOW,
      expires: 600,
    }),
    { method: "PUT" },
  );
  const cases: [string, Request, string[]][] = [
    ["PUT x-amz-acl", signed("PUT", "/data/k", acl("x-amz-acl")), ["PutObject", "PutObjectAcl"]],
    [
      "PUT x-amz-grant-read",
      signed("PUT", "/data/k", acl("x-amz-grant-read")),
      ["PutObject", "PutObjectAcl"],
    ],
    ["presigned PUT", presigned, ["PutObject", "PutObjectAcl"]],
    [
      "CreateMultipartUpload",
      signed("POST", "/data/k?uploads", acl("x-amz-grant-full-control")),
      ["CreateMultipartUpload", "PutObjectAcl"],
    ],
    [
      "CopyObject",
      signed("PUT", "/data/k", {
        headers: { "x-amz-acl": "private", "x-amz-copy-source": "/data/src" },
      }),
      ["CopyObject", "PutObjectAcl"],
    ],
    ["CreateBucket", signed("PUT", "/data", acl("x-amz-acl")), ["CreateBucket", "PutBucketAcl"]],
    ["PutObjectAcl itself", signed("PUT", "/data/k?acl", acl("x-amz-acl")), ["PutObjectAcl"]],
    ["PUT without an ACL", signed("PUT", "/data/k"), ["PutObject"]],
  ];
  for (const [name, request, operations] of cases) {
    const asked: string[] = [];
    const validator = (_t: string | null, _b: string, r: ValidatorRequest) => {
      asked.push(r.operation);
      return r.operation !== operations[1];
    };
    const outcome = await admitted(request.clone(), { validator }).then(() => "admitted", (e) => e);
    assert.deepEqual(asked, operations, name);
    if (operations.length === 2) assert.ok(rejectsWith("AccessDenied")(outcome), name);
    else assert.equal(outcome, "admitted", name);
  }
});

Deno.test("admit: SigV2 presigned URLs count against the use cap, keyed on their signature", async () => {
  const { pipeline } = testPipeline({ config: { maxPresignUrlUsageAttempts: 2 } });
  const url = presignedV2("GET", "/data/k").url;
  const other = presignedV2("GET", "/data/other").url;
  for (let i = 0; i < 2; i++) {
    const state = freshState();
    await admitRequest(pipeline, new Request(url), state);
    assert.equal(state.presigned, "hit");
  }
  const state = freshState();
  await assert.rejects(
    () => admitRequest(pipeline, new Request(url), state),
    rejectsWith("AccessDenied"),
  );
  assert.equal(state.presigned, "rejected");
  await admitRequest(pipeline, new Request(other), freshState());
});
