import assert from "node:assert/strict";
import { S3Error } from "../request/errors.ts";
import { checkPostPolicy, formHeaders, formKey, parsePostPolicy } from "./post_policy.ts";

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const b64 = (doc: unknown) => btoa(JSON.stringify(doc));

function policy(conditions: unknown[], expiration = "2025-01-15T13:00:00.000Z") {
  return parsePostPolicy(b64({ expiration, conditions }));
}

const AUTH: [string, string][] = [
  ["x-amz-algorithm", "AWS4-HMAC-SHA256"],
  ["x-amz-credential", "ak/20250115/us-east-1/s3/aws4_request"],
  ["x-amz-date", "20250115T120000Z"],
  ["x-amz-signature", "00"],
  ["policy", "…"],
];
const AUTH_CONDITIONS = AUTH.slice(0, 3).map(([k, v]) => ({ [k]: v }));

function check(
  conditions: unknown[],
  fields: [string, string][],
  options: { key?: string; fileLength?: number; now?: number; expiration?: string } = {},
): void {
  checkPostPolicy(policy([...conditions, ...AUTH_CONDITIONS], options.expiration), {
    fields: new Map([...fields, ...AUTH]),
    bucket: "photos",
    key: options.key ?? fields.find(([k]) => k === "key")?.[1] ?? "",
    fileLength: options.fileLength ?? 10,
    now: options.now ?? NOW,
  });
}

function fails(code: string, message: RegExp, fn: () => void): void {
  assert.throws(
    fn,
    (e: unknown) => e instanceof S3Error && e.code === code && message.test(e.message),
  );
}

Deno.test("post policy: a boto3-style policy passes", () => {
  check([{ bucket: "photos" }, ["starts-with", "$key", "u/"], ["content-length-range", 1, 100]], [[
    "key",
    "u/a.jpg",
  ]]);
  check([{ bucket: "photos" }, { key: "k" }, ["eq", "$Content-Type", "image/png"]], [
    ["key", "k"],
    ["content-type", "image/png"],
  ]);
  // starts-with "" allows any value; field names are case-insensitive.
  check([["starts-with", "$KEY", ""], ["starts-with", "$x-amz-meta-tag", ""]], [
    ["key", "anything"],
    ["x-amz-meta-tag", "v"],
  ]);
  // x-ignore-* need no condition.
  check([{ key: "k" }], [["key", "k"], ["x-ignore-me", "1"]]);
});

Deno.test("post policy: expiration", () => {
  fails(
    "AccessDenied",
    /Invalid according to Policy: Policy expired/,
    () => check([{ key: "k" }], [["key", "k"]], { now: Date.UTC(2025, 0, 15, 13, 0, 0) }),
  );
  check([{ key: "k" }], [["key", "k"]], { expiration: "2025-01-15T13:00:00Z" });
});

Deno.test("post policy: failed conditions are 403 with the condition", () => {
  fails(
    "AccessDenied",
    /Policy Condition failed: \["starts-with","\$key","u\/"\]/,
    () => check([["starts-with", "$key", "u/"]], [["key", "x/a"]]),
  );
  fails(
    "AccessDenied",
    /Policy Condition failed/,
    () => check([{ bucket: "other" }, { key: "k" }], [["key", "k"]]),
  );
  // Values are case-sensitive.
  fails("AccessDenied", /Policy Condition failed/, () => check([{ key: "K" }], [["key", "k"]]));
  // A condition on a missing field fails.
  fails(
    "AccessDenied",
    /Policy Condition failed/,
    () => check([{ key: "k" }, ["eq", "$acl", "private"]], [["key", "k"]]),
  );
  // Content-Type lists: every type must match.
  check([{ key: "k" }, ["starts-with", "$content-type", "image/"]], [["key", "k"], [
    "content-type",
    "image/png, image/jpeg",
  ]]);
  fails(
    "AccessDenied",
    /Policy Condition failed/,
    () =>
      check([{ key: "k" }, ["starts-with", "$content-type", "image/"]], [["key", "k"], [
        "content-type",
        "image/png,text/html",
      ]]),
  );
});

Deno.test("post policy: key conditions are checked against the key with ${filename} substituted", () => {
  check([["starts-with", "$key", "u/"]], [["key", "u/${filename}"]], { key: "u/a.jpg" });
  fails(
    "AccessDenied",
    /Policy Condition failed/,
    () => check([["starts-with", "$key", "u/"]], [["key", "${filename}"]], { key: "a.jpg" }),
  );
  check([{ key: "u/${filename}" }], [["key", "u/${filename}"]], { key: "u/a.jpg" });
  assert.equal(formKey(new Map([["key", "u/${filename}"]]), "a b.jpg"), "u/a b.jpg");
  assert.throws(() => formKey(new Map(), "a"), S3Error);
  assert.throws(() => formKey(new Map([["key", "${filename}"]]), ""), S3Error);
});

Deno.test("post policy: every field must be covered", () => {
  fails(
    "AccessDenied",
    /Extra input fields: acl/,
    () => check([{ key: "k" }], [["key", "k"], ["acl", "public-read"]]),
  );
  fails(
    "AccessDenied",
    /Extra input fields: x-amz-date/,
    () =>
      checkPostPolicy(policy([{ key: "k" }]), {
        fields: new Map([["key", "k"], ["x-amz-date", "20250115T120000Z"], ["policy", "p"]]),
        bucket: "photos",
        key: "k",
        fileLength: 1,
        now: NOW,
      }),
  );
});

Deno.test("post policy: content-length-range", () => {
  const c = [{ key: "k" }, ["content-length-range", 5, 10]];
  check(c, [["key", "k"]], { fileLength: 5 });
  check(c, [["key", "k"]], { fileLength: 10 });
  fails("EntityTooLarge", /exceeds/, () => check(c, [["key", "k"]], { fileLength: 11 }));
  fails("EntityTooSmall", /smaller/, () => check(c, [["key", "k"]], { fileLength: 4 }));
  check([{ key: "k" }, ["content-length-range", "0", "10"]], [["key", "k"]], { fileLength: 0 });
});

Deno.test("post policy: malformed policies are 400 InvalidPolicyDocument", () => {
  for (
    const text of [
      "not base64!",
      btoa("not json"),
      b64([]),
      b64({ conditions: [] }),
      b64({ expiration: "tomorrow", conditions: [] }),
      b64({ expiration: "2025-01-15T13:00:00Z" }),
      b64({ expiration: "2025-01-15T13:00:00Z", conditions: [["eq", "key", "k"]] }),
      b64({ expiration: "2025-01-15T13:00:00Z", conditions: [["in", "$key", "k"]] }),
      b64({ expiration: "2025-01-15T13:00:00Z", conditions: [["content-length-range", -1, 2]] }),
      b64({ expiration: "2025-01-15T13:00:00Z", conditions: [{ key: 1 }] }),
      b64({ expiration: "2025-01-15T13:00:00Z", conditions: ["key"] }),
    ]
  ) {
    assert.throws(
      () => parsePostPolicy(text),
      (e: unknown) => e instanceof S3Error && e.code === "InvalidPolicyDocument",
      text,
    );
  }
});

Deno.test("post policy: form fields become the PUT's headers", () => {
  const h = formHeaders(
    new Map([
      ["key", "k"],
      ["content-type", "image/png"],
      ["x-amz-meta-note", "é"],
      ["acl", "public-read"],
      ["success_action_status", "201"],
      ["x-amz-checksum-sha256", "abc="],
      ["submit", "Upload"],
    ]),
    42,
  );
  assert.deepEqual(Object.fromEntries(h), {
    "content-length": "42",
    "content-type": "image/png",
    "x-amz-acl": "public-read",
    "x-amz-checksum-sha256": "abc=",
    "x-amz-meta-note": "\xc3\xa9",
  });
  const tagging = "<Tagging><TagSet><Tag><Key>a b</Key><Value>1&amp;2</Value></Tag>" +
    "<Tag><Key>c</Key><Value></Value></Tag></TagSet></Tagging>";
  assert.equal(
    formHeaders(new Map([["tagging", tagging]]), 1).get("x-amz-tagging"),
    "a%20b=1%262&c=",
  );
  assert.equal(
    formHeaders(new Map([["tagging", "<Tagging><TagSet></TagSet></Tagging>"]]), 1)
      .has("x-amz-tagging"),
    false,
  );
  assert.throws(
    () => formHeaders(new Map([["tagging", "<Tagging/>"]]), 1),
    (e: unknown) => e instanceof S3Error && e.code === "MalformedXML",
  );
  assert.throws(
    () => formHeaders(new Map([["x-amz-tagging", "a=b"]]), 1),
    (e: unknown) => e instanceof S3Error && e.code === "NotImplemented",
  );
  assert.throws(() => formHeaders(new Map([["x-amz-grant-read", "id=x"]]), 1), S3Error);
  assert.throws(() => formHeaders(new Map([["x-amz-meta-a", "a\r\nb"]]), 1), S3Error);
});
