import assert from "node:assert/strict";
import { isPresignParam, parseAuthorization, parsePayloadMode } from "./parse_authorization.ts";
import { S3Error } from "../request/errors.ts";
import { EMPTY_SHA256, parseRawQuery, type RawQueryParam } from "./sigv4.ts";

const AK = "AKIAIOSFODNN7EXAMPLE";
const DATE = "20130524";
const DATETIME = "20130524T000000Z";
const CREDENTIAL = `${AK}/${DATE}/us-east-1/s3/aws4_request`;
const SIGNATURE = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
const SIGNED = "host;range;x-amz-content-sha256;x-amz-date";
const HEADER =
  `AWS4-HMAC-SHA256 Credential=${CREDENTIAL},SignedHeaders=${SIGNED},Signature=${SIGNATURE}`;

function headers(extra: Record<string, string> = {}, authorization = HEADER): Headers {
  return new Headers({
    host: "examplebucket.s3.amazonaws.com",
    authorization,
    "x-amz-date": DATETIME,
    "x-amz-content-sha256": EMPTY_SHA256,
    ...extra,
  });
}

function withAuthorization(authorization: string): Headers {
  return headers({}, authorization);
}

function presignQuery(overrides: Record<string, string | null> = {}): RawQueryParam[] {
  const values: Record<string, string | null> = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": encodeURIComponent(CREDENTIAL),
    "X-Amz-Date": DATETIME,
    "X-Amz-Expires": "86400",
    "X-Amz-SignedHeaders": "host",
    "X-Amz-Signature": SIGNATURE,
    ...overrides,
  };
  const raw = Object.entries(values)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  return parseRawQuery(raw);
}

function assertS3Error(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof S3Error, `expected an S3Error, got ${err}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

Deno.test("authorization: a well-formed header parses", () => {
  const parsed = parseAuthorization(headers(), []);
  assert.deepEqual(parsed, {
    kind: "header",
    version: 4,
    accessKey: AK,
    scope: { date: DATE, region: "us-east-1", service: "s3" },
    datetime: DATETIME,
    timeMs: Date.UTC(2013, 4, 24),
    signedHeaders: ["host", "range", "x-amz-content-sha256", "x-amz-date"],
    signature: SIGNATURE,
    payloadHash: EMPTY_SHA256,
    payload: { kind: "sha256", hash: EMPTY_SHA256 },
  });
});

Deno.test("authorization: spaces after the commas are accepted", () => {
  const spaced =
    `AWS4-HMAC-SHA256 Credential=${CREDENTIAL}, SignedHeaders=${SIGNED}, Signature=${SIGNATURE}`;
  const parsed = parseAuthorization(withAuthorization(spaced), []);
  assert.equal(parsed.accessKey, AK);
  assert.equal(parsed.signature, SIGNATURE);
  assert.deepEqual(parsed.signedHeaders, SIGNED.split(";"));
});

Deno.test("authorization: the payload mode comes from x-amz-content-sha256", () => {
  const parsed = parseAuthorization(headers({ "x-amz-content-sha256": "UNSIGNED-PAYLOAD" }), []);
  assert.equal(parsed.payloadHash, "UNSIGNED-PAYLOAD");
  assert.deepEqual(parsed.payload, { kind: "unsigned" });
});

Deno.test("payload mode: each x-amz-content-sha256 value classifies", () => {
  assert.deepEqual(parsePayloadMode(EMPTY_SHA256), { kind: "sha256", hash: EMPTY_SHA256 });
  assert.deepEqual(parsePayloadMode("UNSIGNED-PAYLOAD"), { kind: "unsigned" });
  assert.deepEqual(parsePayloadMode("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), {
    kind: "streaming-signed",
  });
  assert.deepEqual(parsePayloadMode("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), {
    kind: "streaming-signed-trailer",
  });
  assert.deepEqual(parsePayloadMode("STREAMING-UNSIGNED-PAYLOAD-TRAILER"), {
    kind: "streaming-unsigned-trailer",
  });
});

Deno.test("payload mode: ECDSA streaming is NotImplemented", () => {
  for (
    const value of [
      "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
      "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    ]
  ) {
    assertS3Error(() => parsePayloadMode(value), "NotImplemented");
  }
});

Deno.test("payload mode: junk is InvalidArgument", () => {
  for (
    const value of [
      "",
      "junk",
      EMPTY_SHA256.toUpperCase(),
      EMPTY_SHA256.slice(1),
      EMPTY_SHA256 + "0",
      "unsigned-payload",
      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD ",
    ]
  ) {
    assertS3Error(() => parsePayloadMode(value), "InvalidArgument");
  }
});

const V2_DATE = "Tue, 27 Mar 2007 19:36:42 +0000";
const V2_HEADER = "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=";

Deno.test("authorization: a SigV2 header parses", () => {
  const parsed = parseAuthorization(
    new Headers({ authorization: V2_HEADER, date: V2_DATE, "content-type": "text/plain" }),
    [],
  );
  assert.deepEqual(parsed, {
    version: 2,
    kind: "header",
    accessKey: "AKIDEXAMPLE",
    signature: "frJIUN8DYpKDtOLCwo//yllqDzg=",
    signedHeaders: ["content-type", "date"],
    timeMs: Date.UTC(2007, 2, 27, 19, 36, 42),
    payloadHash: "UNSIGNED-PAYLOAD",
    payload: { kind: "unsigned" },
  });
});

Deno.test("authorization: a SigV2 header's time is x-amz-date, else Date", () => {
  const parsed = parseAuthorization(
    new Headers({
      authorization: V2_HEADER,
      date: V2_DATE,
      "x-amz-date": "Tue, 27 Mar 2007 21:20:26 GMT",
      "x-amz-meta-a": "b",
    }),
    [],
  );
  assert.equal(
    parsed.version === 2 && parsed.kind === "header" && parsed.timeMs,
    Date.UTC(2007, 2, 27, 21, 20, 26),
  );
  assert.deepEqual(parsed.signedHeaders, ["x-amz-date", "x-amz-meta-a"], "Date is not signed then");
  const dateHeaders: Record<string, string>[] = [
    {},
    { date: "yesterday" },
    { date: V2_DATE, "x-amz-date": "junk" },
  ];
  for (const dates of dateHeaders) {
    assertS3Error(
      () => parseAuthorization(new Headers({ authorization: V2_HEADER, ...dates }), []),
      "AccessDenied",
      /valid Date or x-amz-date/,
    );
  }
});

Deno.test("authorization: a malformed SigV2 header is InvalidArgument", () => {
  for (
    const value of [
      "AWS ",
      "AWS AK",
      "AWS AK:",
      "AWS :sig",
      "AWS AK:sig extra",
      "AWS  AK:sig",
      "AWS AK:sig, AWS AK:sig",
    ]
  ) {
    assertS3Error(
      () => parseAuthorization(new Headers({ authorization: value, date: V2_DATE }), []),
      "InvalidArgument",
      /Expected AwsAccessKeyId:signature/,
    );
  }
});

Deno.test("authorization: a SigV2 header with x-amz-* query parameters (unsigned) is AccessDenied", () => {
  assertS3Error(
    () =>
      parseAuthorization(
        new Headers({ authorization: V2_HEADER, date: V2_DATE }),
        parseRawQuery("x-amz-meta-a=b"),
      ),
    "AccessDenied",
    /not signed/,
  );
});

Deno.test("authorization: SigV2 payloads are unsigned unless a literal x-amz-content-sha256 was signed", () => {
  const parse = (sha: string) =>
    parseAuthorization(
      new Headers({ authorization: V2_HEADER, date: V2_DATE, "x-amz-content-sha256": sha }),
      [],
    );
  assert.deepEqual(parse(EMPTY_SHA256).payload, { kind: "sha256", hash: EMPTY_SHA256 });
  assert.deepEqual(parse("UNSIGNED-PAYLOAD").payload, { kind: "unsigned" });
  assert.deepEqual(parse("STREAMING-UNSIGNED-PAYLOAD-TRAILER").payload, {
    kind: "streaming-unsigned-trailer",
  });
  for (
    const mode of [
      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
      "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    ]
  ) {
    assertS3Error(() => parse(mode), "InvalidRequest", /Signature Version 4/);
  }
});

Deno.test("authorization: a SigV2 presigned URL parses", () => {
  const params = parseRawQuery(
    "AWSAccessKeyId=AK&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D",
  );
  assert.deepEqual(parseAuthorization(new Headers({ "content-md5": "x" }), params), {
    version: 2,
    kind: "presigned",
    accessKey: "AK",
    signature: "NpgCjnDzrM+WFzoENXmpNDUsSn8=",
    signedHeaders: ["content-md5"],
    expires: "1175139620",
    expiresMs: 1175139620000,
    payloadHash: "UNSIGNED-PAYLOAD",
    payload: { kind: "unsigned" },
  });
  const far = parseAuthorization(
    new Headers(),
    parseRawQuery("AWSAccessKeyId=AK&Expires=99999999999999999999&Signature=s"),
  );
  assert.equal(
    far.version === 2 && far.kind === "presigned" && far.expiresMs,
    Date.UTC(9999, 11, 31, 23, 59, 59),
    "an absurd expiry is kept, capped",
  );
});

Deno.test("authorization: a SigV2 presigned URL missing a parameter is AccessDenied", () => {
  for (
    const query of [
      "AWSAccessKeyId=AK&Signature=s",
      "AWSAccessKeyId=AK&Expires=1",
      "Expires=1&Signature=s",
      "Signature=s",
      "AWSAccessKeyId=AK",
      "AWSAccessKeyId=&Expires=1&Signature=s",
      "AWSAccessKeyId=AK&Expires=&Signature=s",
      "AWSAccessKeyId=AK&Expires=1&Signature=",
    ]
  ) {
    assertS3Error(
      () => parseAuthorization(new Headers(), parseRawQuery(query)),
      "AccessDenied",
      /requires the Signature, Expires and AWSAccessKeyId/,
    );
  }
});

Deno.test("authorization: a SigV2 Expires that is no epoch second is AccessDenied", () => {
  for (const expires of ["-1", "1e9", "1.5", "%201", "abc", "0x10", "1".repeat(21)]) {
    assertS3Error(
      () =>
        parseAuthorization(
          new Headers(),
          parseRawQuery(`AWSAccessKeyId=AK&Expires=${expires}&Signature=s`),
        ),
      "AccessDenied",
      /Invalid date/,
    );
  }
});

Deno.test("authorization: a repeated SigV2 query credential, or one also sent as a header, is InvalidArgument", () => {
  for (
    const query of [
      "AWSAccessKeyId=AK&Expires=1&Signature=s&Signature=t",
      "AWSAccessKeyId=AK&AWSAccessKeyId=AK&Expires=1&Signature=s",
      "AWSAccessKeyId=AK&Expires=1&Expires=2&Signature=s",
    ]
  ) {
    assertS3Error(
      () => parseAuthorization(new Headers(), parseRawQuery(query)),
      "InvalidArgument",
      /more than once/,
    );
  }
  assertS3Error(
    () =>
      parseAuthorization(
        new Headers({ "x-amz-meta-a": "b" }),
        parseRawQuery("AWSAccessKeyId=AK&Expires=1&Signature=s&x-amz-meta-a=b"),
      ),
    "InvalidArgument",
    /as a header and in the query/,
  );
});

Deno.test("authorization: sigV2 false refuses SigV2 header and presigned credentials", () => {
  const off = { sigV2: false };
  assertS3Error(
    () => parseAuthorization(new Headers({ authorization: V2_HEADER, date: V2_DATE }), [], off),
    "AccessDenied",
    /Signature Version 2 is disabled/,
  );
  const params = parseRawQuery("AWSAccessKeyId=AK&Expires=1&Signature=abc");
  assertS3Error(
    () => parseAuthorization(new Headers(), params, off),
    "AccessDenied",
    /Signature Version 2 is disabled/,
  );
  assert.equal(parseAuthorization(headers(), [], off).version, 4, "SigV4 is unaffected");
});

Deno.test("authorization: an anonymous request is AccessDenied", () => {
  assertS3Error(() => parseAuthorization(new Headers(), []), "AccessDenied", /Anonymous/);
  assertS3Error(
    () => parseAuthorization(new Headers(), parseRawQuery("list-type=2")),
    "AccessDenied",
    /Anonymous/,
  );
});

Deno.test("authorization: header and presigned query together is InvalidArgument", () => {
  assertS3Error(() => parseAuthorization(headers(), presignQuery()), "InvalidArgument");
  for (const name of ["X-Amz-Signature", "X-Amz-Algorithm", "X-Amz-Credential"]) {
    assertS3Error(
      () => parseAuthorization(headers(), parseRawQuery(`${name}=x`)),
      "InvalidArgument",
      undefined,
    );
  }
  assertS3Error(
    () => parseAuthorization(headers(), parseRawQuery("AWSAccessKeyId=AK&Signature=abc")),
    "InvalidArgument",
  );
  for (const sigV2 of ["Signature=abc", "AWSAccessKeyId=AK"]) {
    assertS3Error(
      () => parseAuthorization(headers(), parseRawQuery(sigV2)),
      "InvalidArgument",
      /Only one auth mechanism/,
    );
  }
  // SigV4 presigned and SigV2 presigned together, and a SigV2 header with either.
  assertS3Error(
    () =>
      parseAuthorization(
        new Headers(),
        [...presignQuery(), ...parseRawQuery("AWSAccessKeyId=AK&Expires=1&Signature=abc")],
      ),
    "InvalidArgument",
    /Only one auth mechanism/,
  );
  assertS3Error(
    () => parseAuthorization(withAuthorization(V2_HEADER), presignQuery()),
    "InvalidArgument",
    /Only one auth mechanism/,
  );
  assertS3Error(
    () =>
      parseAuthorization(
        withAuthorization(V2_HEADER),
        parseRawQuery("AWSAccessKeyId=AK&Expires=1&Signature=abc"),
      ),
    "InvalidArgument",
    /Only one auth mechanism/,
  );
});

Deno.test("authorization: a malformed header is AuthorizationHeaderMalformed", () => {
  const cases: Record<string, string> = {
    "wrong algorithm": HEADER.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
    "algorithm only": "AWS4-HMAC-SHA256",
    "wrong service": HEADER.replace("/s3/", "/ec2/"),
    "wrong terminator": HEADER.replace("aws4_request", "aws4_reqest"),
    "non-date credential date": HEADER.replace(`/${DATE}/`, "/2013-05-24/"),
    "short credential": HEADER.replace(CREDENTIAL, `${AK}/${DATE}/us-east-1/s3`),
    "empty credential part": HEADER.replace("/us-east-1/", "//"),
    "duplicated field": `${HEADER},Signature=${SIGNATURE}`,
    "missing signature": HEADER.replace(`,Signature=${SIGNATURE}`, ""),
    "unknown field": `${HEADER},Extra=1`,
    "field without =": `${HEADER},junk`,
    "empty signed headers": HEADER.replace(SIGNED, ""),
    "upper-case signed header": HEADER.replace("range", "Range"),
  };
  for (const [name, value] of Object.entries(cases)) {
    assert.throws(() => parseAuthorization(withAuthorization(value), []), (err: unknown) => {
      assert.ok(err instanceof S3Error, name);
      assert.equal(err.code, "AuthorizationHeaderMalformed", `${name}: ${err.message}`);
      return true;
    });
  }
});

Deno.test("authorization: the SigV4a algorithm is NotImplemented", () => {
  assertS3Error(
    () =>
      parseAuthorization(
        withAuthorization(HEADER.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")),
        [],
      ),
    "NotImplemented",
  );
});

Deno.test("authorization: a missing x-amz-date is AccessDenied", () => {
  const h = headers();
  h.delete("x-amz-date");
  assertS3Error(() => parseAuthorization(h, []), "AccessDenied", /x-amz-date/);
});

Deno.test("authorization: a malformed x-amz-date is AuthorizationHeaderMalformed", () => {
  for (const value of ["20130524", "2013-05-24T00:00:00Z", "20130532T000000Z", "garbage"]) {
    assertS3Error(
      () => parseAuthorization(headers({ "x-amz-date": value }), []),
      "AuthorizationHeaderMalformed",
    );
  }
});

Deno.test("authorization: a credential date other than the x-amz-date date is malformed", () => {
  assertS3Error(
    () => parseAuthorization(headers({ "x-amz-date": "20130525T000000Z" }), []),
    "AuthorizationHeaderMalformed",
    /20130524/,
  );
});

Deno.test("authorization: a missing x-amz-content-sha256 is InvalidRequest", () => {
  const h = headers();
  h.delete("x-amz-content-sha256");
  assertS3Error(() => parseAuthorization(h, []), "InvalidRequest", /x-amz-content-sha256/);
});

Deno.test("authorization: a junk x-amz-content-sha256 is InvalidArgument", () => {
  assertS3Error(
    () => parseAuthorization(headers({ "x-amz-content-sha256": "nope" }), []),
    "InvalidArgument",
  );
});

Deno.test("authorization: a valid presigned query parses", () => {
  const parsed = parseAuthorization(new Headers({ host: "h" }), presignQuery());
  assert.deepEqual(parsed, {
    kind: "presigned",
    version: 4,
    accessKey: AK,
    scope: { date: DATE, region: "us-east-1", service: "s3" },
    datetime: DATETIME,
    timeMs: Date.UTC(2013, 4, 24),
    signedHeaders: ["host"],
    signature: SIGNATURE,
    payloadHash: "UNSIGNED-PAYLOAD",
    payload: { kind: "unsigned" },
    expiresSeconds: 86400,
  });
  for (const expires of ["1", "604800"]) {
    const p = parseAuthorization(new Headers(), presignQuery({ "X-Amz-Expires": expires }));
    assert.equal(p.version === 4 && p.kind === "presigned" && p.expiresSeconds, Number(expires));
  }
});

Deno.test("authorization: a presigned X-Amz-Content-Sha256 sets the payload mode", () => {
  const parsed = parseAuthorization(
    new Headers(),
    presignQuery({ "X-Amz-Content-Sha256": EMPTY_SHA256 }),
  );
  assert.deepEqual(parsed.payload, { kind: "sha256", hash: EMPTY_SHA256 });
});

Deno.test("authorization: a presigned query missing any parameter is rejected", () => {
  for (
    const name of [
      "X-Amz-Algorithm",
      "X-Amz-Credential",
      "X-Amz-Date",
      "X-Amz-Expires",
      "X-Amz-SignedHeaders",
      "X-Amz-Signature",
    ]
  ) {
    assertS3Error(
      () => parseAuthorization(new Headers(), presignQuery({ [name]: null })),
      "AuthorizationQueryParametersError",
      new RegExp(`${name} is missing`),
    );
  }
});

Deno.test("authorization: presigned X-Amz-Expires must be 1..604800 whole seconds", () => {
  for (const expires of ["0", "604801", "-1", "abc", "1.5", "", "99999999", "1e3"]) {
    assertS3Error(
      () => parseAuthorization(new Headers(), presignQuery({ "X-Amz-Expires": expires })),
      "AuthorizationQueryParametersError",
      /X-Amz-Expires/,
    );
  }
});

Deno.test("authorization: other malformed presigned queries are rejected", () => {
  const cases: Record<string, Record<string, string>> = {
    "wrong algorithm": { "X-Amz-Algorithm": "AWS4-HMAC-SHA1" },
    "wrong service": {
      "X-Amz-Credential": encodeURIComponent(CREDENTIAL.replace("/s3/", "/sts/")),
    },
    "date mismatch": { "X-Amz-Date": "20130525T000000Z" },
    "malformed date": { "X-Amz-Date": "yesterday" },
  };
  for (const [name, override] of Object.entries(cases)) {
    assert.throws(
      () => parseAuthorization(new Headers(), presignQuery(override)),
      (err: unknown) => {
        assert.ok(err instanceof S3Error, name);
        assert.equal(err.code, "AuthorizationQueryParametersError", `${name}: ${err.message}`);
        return true;
      },
    );
  }
  // A repeated parameter is ambiguous.
  const repeated = [...presignQuery(), ...parseRawQuery(`X-Amz-Signature=${SIGNATURE}`)];
  assertS3Error(
    () => parseAuthorization(new Headers(), repeated),
    "AuthorizationQueryParametersError",
    /more than once/,
  );
});

Deno.test("authorization: isPresignParam names only the presign parameters", () => {
  const v4 = parseAuthorization(headers(), []);
  const v2Header = parseAuthorization(
    new Headers({ authorization: V2_HEADER, date: V2_DATE }),
    [],
  );
  const v2Presigned = parseAuthorization(
    new Headers(),
    parseRawQuery("AWSAccessKeyId=AK&Expires=1&Signature=abc"),
  );
  for (
    const name of [
      "X-Amz-Algorithm",
      "X-Amz-Credential",
      "X-Amz-Date",
      "X-Amz-Expires",
      "X-Amz-SignedHeaders",
      "X-Amz-Signature",
      "X-Amz-Security-Token",
    ]
  ) {
    for (const auth of [v4, v2Header, v2Presigned]) assert.equal(isPresignParam(name, auth), true);
  }
  for (const name of ["versionId", "x-amz-signature", "uploadId", "x-amz-meta-a"]) {
    for (const auth of [v4, v2Header, v2Presigned]) assert.equal(isPresignParam(name, auth), false);
  }
  const v2Params = [
    "AWSAccessKeyId",
    "Expires",
    "Signature",
    "content-type",
    "content-md5",
    "x-amz-security-token",
  ];
  for (const name of v2Params) {
    assert.equal(isPresignParam(name, v2Presigned), true, name);
    assert.equal(isPresignParam(name, v4), false, `${name} is an ordinary parameter with SigV4`);
    assert.equal(isPresignParam(name, v2Header), false, name);
  }
});
