// Hostile authentication: duplicated and mixed credentials (SigV4 and SigV2
// together stay refused), forged, stale and stretched SigV2, signatures made
// for something else, unsigned x-amz-* headers, Expect: 100-continue on
// multipart operations, replays, presigned fields out of range, malformed
// credentials and huge headers. Every rejection is an exact S3 error, never
// reaches the backend, and leaves the proxy healthy.
import assert from "node:assert/strict";
import { amzDate } from "../../lib/sigv4/sigv4.ts";
import { presignV2Url, signV2Headers } from "../_sign.ts";
import {
  CLIENT,
  expectError,
  NOBODY,
  parseErrorXml,
  presign,
  RawConn,
  rawRequest,
  type RawResponse,
  requestHead,
  setup,
  signHeaders,
  signRaw,
} from "./_setup.ts";

type Send = () => Promise<Response | RawResponse | undefined>;

interface Case {
  name: string;
  send: Send;
  status: number;
  code: string;
}

const MIN = 60_000;
/** A one-byte body for which fetch adds no Content-Type. */
const X = new Uint8Array([0x78]);

function editAuth(h: Record<string, string>, edit: (a: string) => string): Record<string, string> {
  return { ...h, authorization: edit(h.authorization) };
}

function replaceSig(h: Record<string, string>, sig: (s: string) => string) {
  return editAuth(h, (a) => a.replace(/Signature=([0-9a-f]+)$/, (_, s) => `Signature=${sig(s)}`));
}

function replaceCredential(h: Record<string, string>, credential: (c: string) => string) {
  return editAuth(
    h,
    (a) => a.replace(/Credential=([^,]+)/, (_, c) => `Credential=${credential(c)}`),
  );
}

async function checkError(
  res: Response | RawResponse | undefined,
  status: number,
  code: string,
): Promise<void> {
  assert.ok(res !== undefined, "a response came back");
  if (res instanceof Response) {
    await expectError(res, status, code);
    return;
  }
  assert.equal(res.headers.get("content-type"), "application/xml", res.body);
  assert.ok(res.headers.get("x-amz-request-id"));
  const err = parseErrorXml(res.status, res.body);
  assert.equal(err.status, status, `${err.code}: ${err.message}`);
  assert.equal(err.code, code, err.message);
}

Deno.test("hostile auth: every bypass attempt gets its exact S3 error and never reaches the backend", async (t) => {
  const env = setup();
  const port = env.port;
  const path = "/data/obj.txt";
  const url = env.url(path);
  const signed = (method = "GET", u = url, extra: Parameters<typeof signHeaders>[2] = CLIENT) =>
    signHeaders(method, u, { ...CLIENT, ...extra });
  try {
    await t.step(
      "control: a valid request and a valid presigned URL reach the backend",
      async () => {
        const res = await fetch(url, { headers: signed() });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "backend-ok");
        const pre = await fetch(presign("GET", url, { expires: "604800" }));
        assert.equal(pre.status, 200, "604800 s (7 days) is the maximum and valid");
        await pre.body?.cancel();
        const early = await fetch(presign("GET", url, { time: Date.now() + 10 * MIN }));
        assert.equal(early.status, 200, "a presigned date 10 min ahead is within the skew");
        await early.body?.cancel();
        const old = await fetch(url, {
          headers: signed("GET", url, { ...CLIENT, time: Date.now() - 14 * MIN }),
        });
        assert.equal(old.status, 200, "14 minutes old is within the ±15 min window");
        await old.body?.cancel();
        const v2 = await fetch(url, { headers: signV2Headers("GET", url, CLIENT) });
        assert.equal(v2.status, 200, "a SigV2 header-signed request");
        await v2.body?.cancel();
        const v2Url = presignV2Url("GET", url, CLIENT);
        const v2Presigned = await fetch(v2Url);
        assert.equal(v2Presigned.status, 200, `a SigV2 presigned URL: ${v2Url}`);
        await v2Presigned.body?.cancel();
        // Bytes, so that fetch adds no Content-Type (SigV2 signs it).
        const v2Put = await fetch(presignV2Url("PUT", url, CLIENT), { method: "PUT", body: X });
        assert.equal(v2Put.status, 200, "a SigV2 presigned PUT");
        await v2Put.body?.cancel();
        assert.equal(env.backend.requests.length, 7);
        env.backend.requests.length = 0;
      },
    );

    const cases: Case[] = [];
    const add = (name: string, send: Send, status: number, code: string) =>
      cases.push({ name, send, status, code });

    // --- duplicated Authorization -------------------------------------------------
    const dupFetch = (first: Record<string, string>, second: string) => () => {
      const h = new Headers(first);
      h.append("authorization", second);
      return fetch(url, { headers: h });
    };
    {
      const good = signed();
      const bad = signed("GET", url, { ...CLIENT, secretKey: "wrong" });
      add(
        "fetch: two valid Authorization values (merged with ', ')",
        dupFetch(good, good.authorization),
        400,
        "AuthorizationHeaderMalformed",
      );
      add(
        "fetch: valid then forged Authorization",
        dupFetch(good, bad.authorization),
        400,
        "AuthorizationHeaderMalformed",
      );
      add(
        "fetch: forged then valid Authorization",
        dupFetch(bad, good.authorization),
        400,
        "AuthorizationHeaderMalformed",
      );
    }
    const rawDup = (mutate: (h: [string, string][]) => [string, string][]) => () => {
      const h = signRaw("GET", port, path);
      return rawRequest(port, "GET", path, mutate(Object.entries(h)));
    };
    add(
      "raw socket: two separate valid Authorization lines",
      rawDup((h) => [...h, ["Authorization", h.find(([k]) => k === "authorization")![1]]]),
      400,
      "AuthorizationHeaderMalformed",
    );
    add(
      "raw socket: valid Authorization line, then a SigV2 line",
      rawDup((h) => [...h, ["Authorization", "AWS hostile-ak:c2ln"]]),
      400,
      "AuthorizationHeaderMalformed",
    );
    add(
      "raw socket: a SigV2 Authorization line, then a valid one",
      rawDup((h) => [["Authorization", "AWS hostile-ak:c2ln"], ...h]),
      400,
      "InvalidArgument",
    );
    add(
      "raw socket: two valid SigV2 Authorization lines",
      () => {
        const h = signV2Headers("GET", url, CLIENT);
        return rawRequest(port, "GET", path, [
          ...Object.entries(h),
          ["Authorization", h.authorization],
        ]);
      },
      400,
      "InvalidArgument",
    );
    add(
      "raw socket: two x-amz-date lines",
      rawDup((h) => [...h, ["x-amz-date", h.find(([k]) => k === "x-amz-date")![1]]]),
      400,
      "AuthorizationHeaderMalformed",
    );
    add(
      "raw socket: two x-amz-content-sha256 lines",
      rawDup((h) => [...h, ["x-amz-content-sha256", "UNSIGNED-PAYLOAD"]]),
      400,
      "InvalidArgument",
    );

    // --- mixed header and query auth ----------------------------------------------
    const headerPlusQuery = (query: string) => () => {
      const u = `${url}?${query}`;
      return fetch(u, { headers: signed("GET", u) });
    };
    add(
      "header auth + a lone X-Amz-Signature query parameter",
      headerPlusQuery(`X-Amz-Signature=${"0".repeat(64)}`),
      400,
      "InvalidArgument",
    );
    add(
      "header auth + a lone X-Amz-Credential query parameter",
      headerPlusQuery("X-Amz-Credential=hostile-ak%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"),
      400,
      "InvalidArgument",
    );
    add(
      "header auth + a lone X-Amz-Algorithm query parameter",
      headerPlusQuery("X-Amz-Algorithm=AWS4-HMAC-SHA256"),
      400,
      "InvalidArgument",
    );
    add(
      "header auth + SigV2 query parameters",
      headerPlusQuery("AWSAccessKeyId=hostile-ak&Signature=abc&Expires=9999999999"),
      400,
      "InvalidArgument",
    );
    add(
      "presigned URL + a SigV2 Authorization header",
      () => fetch(presign("GET", url), { headers: { authorization: "AWS hostile-ak:c2ln" } }),
      400,
      "InvalidArgument",
    );
    add(
      "header auth + a lone SigV2 Signature query parameter",
      headerPlusQuery("Signature=abc"),
      400,
      "InvalidArgument",
    );
    add(
      "valid SigV2 header + valid SigV2 presigned query",
      () => {
        const u = presignV2Url("GET", url, CLIENT);
        return fetch(u, { headers: signV2Headers("GET", url, CLIENT) });
      },
      400,
      "InvalidArgument",
    );
    add(
      "valid SigV4 presigned URL + valid SigV2 presigned query",
      () => {
        const v2 = new URL(presignV2Url("GET", url, CLIENT)).search.slice(1);
        return fetch(`${presign("GET", url)}&${v2}`);
      },
      400,
      "InvalidArgument",
    );
    add(
      "valid SigV2 presigned URL + a valid SigV4 Authorization header",
      () => fetch(presignV2Url("GET", url, CLIENT), { headers: signed() }),
      400,
      "InvalidArgument",
    );
    add(
      "SigV2 presigned URL with Signature twice",
      () => fetch(`${presignV2Url("GET", url, CLIENT)}&Signature=abc`),
      400,
      "InvalidArgument",
    );
    add(
      "presigned URL with X-Amz-Signature twice",
      () => fetch(`${presign("GET", url)}&X-Amz-Signature=${"0".repeat(64)}`),
      400,
      "AuthorizationQueryParametersError",
    );
    add(
      "presigned URL with only X-Amz-Signature (no algorithm)",
      () => fetch(`${url}?X-Amz-Signature=${"0".repeat(64)}`),
      400,
      "AuthorizationQueryParametersError",
    );
    add(
      "presigned URL + an unsigned x-amz-copy-source header",
      () =>
        fetch(presign("PUT", url), { method: "PUT", headers: { "x-amz-copy-source": "/other/k" } }),
      403,
      "AccessDenied",
    );
    add(
      "presigned URL + X-Amz-Security-Token added after signing",
      () => fetch(`${presign("GET", url)}&X-Amz-Security-Token=stolen`),
      403,
      "SignatureDoesNotMatch",
    );

    // --- SigV2 and other schemes ----------------------------------------------------
    add(
      "SigV2 header with a forged signature on a PUT with a body",
      () =>
        fetch(url, {
          method: "PUT",
          body: "payload",
          headers: { authorization: "AWS hostile-ak:c2lnbmF0dXJl", date: new Date().toUTCString() },
        }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "SigV2 presigned DELETE with a forged signature",
      () =>
        fetch(`${url}?AWSAccessKeyId=hostile-ak&Expires=9999999999&Signature=abc%3D`, {
          method: "DELETE",
        }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "SigV2-looking query with Signature only (no key, no Expires)",
      () => fetch(`${url}?Signature=abc`),
      403,
      "AccessDenied",
    );
    add(
      "SigV2 presigned URL with no Expires",
      () => fetch(presignV2Url("GET", url, CLIENT).replace(/&Expires=\d+/, "")),
      403,
      "AccessDenied",
    );
    add(
      "SigV2 presigned URL expired a second ago",
      () =>
        fetch(presignV2Url("GET", url, { ...CLIENT, expires: Math.floor(Date.now() / 1000) - 1 })),
      403,
      "AccessDenied",
    );
    add(
      "SigV2 presigned GET sent as a DELETE",
      () => fetch(presignV2Url("GET", url, CLIENT), { method: "DELETE" }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "SigV2 presigned GET with ?acl added (a signed sub-resource)",
      () => fetch(`${presignV2Url("GET", url, CLIENT)}&acl`),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "SigV2 presigned GET with ?retention added (an unsigned sub-resource)",
      () => fetch(`${presignV2Url("GET", url, CLIENT)}&retention`),
      403,
      "AccessDenied",
    );
    add(
      "SigV2 presigned PUT with an x-amz-meta header added",
      () =>
        fetch(presignV2Url("PUT", url, CLIENT), {
          method: "PUT",
          body: X,
          headers: { "x-amz-meta-evil": "1" },
        }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "SigV2 presigned PUT with an x-amz-copy-source query parameter added",
      () =>
        fetch(`${presignV2Url("PUT", url, CLIENT)}&x-amz-copy-source=%2Fother%2Fsecret.txt`, {
          method: "PUT",
        }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "SigV2 presigned PUT signed for another Content-Type",
      () =>
        fetch(presignV2Url("PUT", url, { ...CLIENT, contentType: "text/plain" }), {
          method: "PUT",
          body: "x",
          headers: { "content-type": "text/html" },
        }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "SigV2 header with an unsigned x-amz-copy-source added",
      () =>
        fetch(url, {
          method: "PUT",
          headers: {
            ...signV2Headers("PUT", url, CLIENT),
            "x-amz-copy-source": "/other/secret.txt",
          },
        }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "SigV2 header with an x-amz-acl query parameter (SigV2 headers sign no query)",
      () => {
        const u = `${url}?x-amz-acl=public-read-write`;
        return fetch(u, { method: "PUT", body: "x", headers: signV2Headers("PUT", u, CLIENT) });
      },
      403,
      "AccessDenied",
    );
    add(
      "SigV2 header 16 minutes old",
      () =>
        fetch(url, {
          headers: signV2Headers("GET", url, { ...CLIENT, time: Date.now() - 16 * MIN }),
        }),
      403,
      "RequestTimeTooSkewed",
    );
    add(
      "SigV2 header with x-amz-date 16 minutes ahead (and a current Date)",
      () =>
        fetch(url, {
          headers: {
            ...signV2Headers("GET", url, { ...CLIENT, time: Date.now() + 16 * MIN, amzDate: true }),
            date: new Date().toUTCString(),
          },
        }),
      403,
      "RequestTimeTooSkewed",
    );
    add(
      "SigV2 header without Date or x-amz-date",
      () => {
        const h = signV2Headers("GET", url, CLIENT);
        return rawRequest(port, "GET", path, Object.entries(h).filter(([k]) => k !== "date"));
      },
      403,
      "AccessDenied",
    );
    add(
      "SigV2 header on an aws-chunked signed upload",
      () =>
        fetch(url, {
          method: "PUT",
          body: "x",
          headers: signV2Headers("PUT", url, {
            ...CLIENT,
            headers: { "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" },
          }),
        }),
      400,
      "InvalidRequest",
    );
    add(
      "SigV2 header without the colon",
      () =>
        fetch(url, {
          headers: { authorization: "AWS hostile-ak", date: new Date().toUTCString() },
        }),
      400,
      "InvalidArgument",
    );
    add(
      "SigV2 header signed with the wrong secret",
      () => fetch(url, { headers: signV2Headers("GET", url, { ...CLIENT, secretKey: "wrong" }) }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "SigV2 header with an unknown access key",
      () =>
        fetch(url, {
          headers: signV2Headers("GET", url, { accessKey: "unknown-ak", secretKey: "x" }),
        }),
      403,
      "InvalidAccessKeyId",
    );
    add(
      "AWS4-HMAC-SHA1 algorithm",
      () =>
        fetch(url, {
          headers: editAuth(signed(), (a) => a.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")),
        }),
      400,
      "AuthorizationHeaderMalformed",
    );
    add(
      "lower-case algorithm name",
      () =>
        fetch(url, {
          headers: editAuth(signed(), (a) => a.replace("AWS4-HMAC-SHA256", "aws4-hmac-sha256")),
        }),
      400,
      "AuthorizationHeaderMalformed",
    );
    add(
      "Bearer token",
      () => fetch(url, { headers: { ...signed(), authorization: "Bearer abc.def.ghi" } }),
      400,
      "AuthorizationHeaderMalformed",
    );
    add(
      "empty Authorization header",
      () => fetch(url, { headers: { ...signed(), authorization: "" } }),
      400,
      "AuthorizationHeaderMalformed",
    );
    add(
      "Authorization with an unknown extra field",
      () => fetch(url, { headers: editAuth(signed(), (a) => `${a}, Foo=bar`) }),
      400,
      "AuthorizationHeaderMalformed",
    );
    add(
      "Authorization with Credential twice",
      () =>
        fetch(url, {
          headers: editAuth(signed(), (a) =>
            a.replace(
              ", SignedHeaders",
              `, Credential=nobody-ak/x/y/s3/aws4_request, SignedHeaders`,
            )),
        }),
      400,
      "AuthorizationHeaderMalformed",
    );

    // --- signature made for another query string -----------------------------------
    const otherQuery = (signedQuery: string, sentQuery: string, p = path) => () => {
      const s = env.url(`${p}${signedQuery}`);
      return fetch(env.url(`${p}${sentQuery}`), { headers: signed("GET", s) });
    };
    add(
      "signed prefix=a, sent prefix=b",
      otherQuery("?list-type=2&prefix=a", "?list-type=2&prefix=b", "/data"),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signed without a query, sent with ?acl",
      otherQuery("", "?acl"),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signed ?versionId=a, sent ?versionId=a&versionId=b",
      otherQuery("?versionId=a", "?versionId=a&versionId=b"),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signed ?versionId=a, sent ?versionId=b",
      otherQuery("?versionId=a", "?versionId=b"),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signed partNumber=1, sent partNumber=2",
      otherQuery("?partNumber=1&uploadId=x", "?partNumber=2&uploadId=x"),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signed ?tagging, sent ?tagging&versionId=1",
      otherQuery("?tagging", "?tagging&versionId=1"),
      403,
      "SignatureDoesNotMatch",
    );

    // --- unsigned x-amz-* headers added after signing ------------------------------
    for (
      const [name, value] of [
        ["x-amz-copy-source", "/other/secret.txt"],
        ["x-amz-meta-evil", "1"],
        ["X-Amz-Meta-Mixed-Case", "1"],
        ["x-amz-acl", "public-read-write"],
        ["x-amz-grant-full-control", 'id="attacker"'],
        ["x-amz-server-side-encryption", "AES256"],
        ["x-amz-tagging", "owner=attacker"],
        ["x-amz-website-redirect-location", "https://evil.example/"],
        ["x-amz-security-token", "stolen"],
        ["x-amz-bypass-governance-retention", "true"],
        ["x-amz-object-lock-mode", "COMPLIANCE"],
        ["x-amz-expected-bucket-owner", "123456789012"],
      ]
    ) {
      add(
        `unsigned ${name} added to a signed PUT`,
        () => {
          const h = signed("PUT", url, { ...CLIENT, body: "data" });
          return fetch(url, { method: "PUT", body: "data", headers: { ...h, [name]: value } });
        },
        403,
        "AccessDenied",
      );
    }
    add(
      "x-amz-date changed after signing",
      () => {
        const time = Date.now();
        const h = signed("GET", url, { ...CLIENT, time });
        return fetch(url, { headers: { ...h, "x-amz-date": amzDate(time - 1000) } });
      },
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "x-amz-content-sha256 changed after signing",
      () => fetch(url, { headers: { ...signed(), "x-amz-content-sha256": "UNSIGNED-PAYLOAD" } }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "x-amz-content-sha256 left out of SignedHeaders",
      () =>
        fetch(url, {
          headers: signed("GET", url, { ...CLIENT, unsigned: ["x-amz-content-sha256"] }),
        }),
      403,
      "AccessDenied",
    );

    // --- replay outside the skew window ---------------------------------------------
    add(
      "replay: x-amz-date 16 minutes old",
      () => fetch(url, { headers: signed("GET", url, { ...CLIENT, time: Date.now() - 16 * MIN }) }),
      403,
      "RequestTimeTooSkewed",
    );
    add(
      "replay: a PUT with body captured 16 minutes ago",
      () =>
        fetch(url, {
          method: "PUT",
          body: "replayed",
          headers: signed("PUT", url, { ...CLIENT, body: "replayed", time: Date.now() - 16 * MIN }),
        }),
      403,
      "RequestTimeTooSkewed",
    );
    add(
      "x-amz-date 16 minutes in the future",
      () => fetch(url, { headers: signed("GET", url, { ...CLIENT, time: Date.now() + 16 * MIN }) }),
      403,
      "RequestTimeTooSkewed",
    );

    // --- presigned fields out of range -------------------------------------------
    for (
      const expires of [
        "604801",
        "-1",
        "0",
        "abc",
        "1e3",
        "60.5",
        "",
        " 60",
        "+60",
        "0x3c",
        "99999999",
      ]
    ) {
      add(
        `presigned X-Amz-Expires=${JSON.stringify(expires)}`,
        () => fetch(presign("GET", url, { expires })),
        400,
        "AuthorizationQueryParametersError",
      );
    }
    add(
      "presigned X-Amz-Date 16 min in the future",
      () => fetch(presign("GET", url, { time: Date.now() + 16 * MIN, expires: "3600" })),
      403,
      "AccessDenied",
    );
    add(
      "presigned X-Amz-Date one day in the future",
      () => fetch(presign("GET", url, { time: Date.now() + 24 * 60 * MIN, expires: "604800" })),
      403,
      "AccessDenied",
    );
    add(
      "presigned X-Amz-Date in ISO format",
      () => fetch(presign("GET", url, { date: new Date().toISOString() })),
      400,
      "AuthorizationQueryParametersError",
    );
    add(
      "presigned X-Amz-Date on 30 February",
      () =>
        fetch(
          presign("GET", url, {
            date: "20250230T000000Z",
            credential: "hostile-ak/20250230/us-east-1/s3/aws4_request",
          }),
        ),
      400,
      "AuthorizationQueryParametersError",
    );

    // --- X-Amz-Credential / Credential malformed ----------------------------------
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, "");
    const badCredentials: [string, string][] = [
      ["wrong service", `hostile-ak/${today}/us-east-1/sts/aws4_request`],
      ["missing terminal part", `hostile-ak/${today}/us-east-1/s3`],
      ["one extra part", `hostile-ak/${today}/us-east-1/s3/aws4_request/x`],
      ["empty access key", `/${today}/us-east-1/s3/aws4_request`],
      ["empty region", `hostile-ak/${today}//s3/aws4_request`],
      ["date not YYYYMMDD", `hostile-ak/${today.slice(0, 7)}/us-east-1/s3/aws4_request`],
      ["date of another day", `hostile-ak/20200101/us-east-1/s3/aws4_request`],
      ["wrong terminal", `hostile-ak/${today}/us-east-1/s3/aws4_requestX`],
      ["upper-case region", `hostile-ak/${today}/US-EAST-1/s3/aws4_request`],
      ["access key only", "hostile-ak"],
    ];
    for (const [what, credential] of badCredentials) {
      add(
        `presigned X-Amz-Credential: ${what}`,
        () => fetch(presign("GET", url, { credential })),
        400,
        "AuthorizationQueryParametersError",
      );
      add(
        `header Credential: ${what}`,
        () => fetch(url, { headers: replaceCredential(signed(), () => credential) }),
        400,
        "AuthorizationHeaderMalformed",
      );
    }

    // --- SignedHeaders -----------------------------------------------------------------
    add(
      "presigned empty X-Amz-SignedHeaders",
      () => fetch(presign("GET", url, { signedHeaders: "" })),
      400,
      "AuthorizationQueryParametersError",
    );
    add(
      "presigned X-Amz-SignedHeaders without host",
      () => fetch(presign("GET", url, { signedHeaders: "x-amz-date" })),
      403,
      "AccessDenied",
    );
    for (
      const sh of [
        ";",
        "Host;x-amz-content-sha256;x-amz-date",
        "host;;x-amz-date",
        "host x-amz-date",
        "host;x-amz-date;",
      ]
    ) {
      add(
        `header SignedHeaders=${JSON.stringify(sh)}`,
        () =>
          fetch(url, {
            headers: editAuth(signed(), (a) =>
              a.replace(/SignedHeaders=[^,]*/, `SignedHeaders=${sh}`)),
          }),
        400,
        "AuthorizationHeaderMalformed",
      );
    }

    // --- signature shape -----------------------------------------------------------------
    add(
      "presigned signature in upper-case hex",
      () => fetch(presign("GET", url, { editSignature: (s) => s.toUpperCase() })),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "presigned signature one digit short",
      () => fetch(presign("GET", url, { editSignature: (s) => s.slice(1) })),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "presigned signature one digit long",
      () => fetch(presign("GET", url, { editSignature: (s) => s + "0" })),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "presigned empty signature",
      () => fetch(presign("GET", url, { editSignature: () => "" })),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signature in mixed-case hex",
      () =>
        fetch(url, {
          headers: replaceSig(signed(), (s) => s.slice(0, 32) + s.slice(32).toUpperCase()),
        }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signature 63 digits",
      () => fetch(url, { headers: replaceSig(signed(), (s) => s.slice(0, 63)) }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signature 65 digits",
      () => fetch(url, { headers: replaceSig(signed(), (s) => s + "a") }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signature doubled (128 digits)",
      () => fetch(url, { headers: replaceSig(signed(), (s) => s + s) }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "empty signature",
      () =>
        fetch(url, {
          headers: editAuth(signed(), (a) => a.replace(/Signature=[0-9a-f]+$/, "Signature=")),
        }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signature of 64 non-hex characters",
      () => fetch(url, { headers: replaceSig(signed(), () => "g".repeat(64)) }),
      403,
      "SignatureDoesNotMatch",
    );
    add(
      "signature of 64 latin-1 characters",
      () => fetch(url, { headers: replaceSig(signed(), () => "\u00e9".repeat(64)) }),
      403,
      "SignatureDoesNotMatch",
    );

    for (const c of cases) {
      await t.step(c.name, async () => {
        const before = env.backend.requests.length;
        await checkError(await c.send(), c.status, c.code);
        assert.equal(env.backend.requests.length, before, "the backend was not touched");
        await env.healthy();
      });
    }

    // --- Expect: 100-continue on multipart operations --------------------------------
    type Override = { accessKey?: string; secretKey?: string; time?: number };
    const expectCases: [string, string, string, Override, string, number, string][] = [
      [
        "UploadPart, bad signature",
        "PUT",
        "/data/mp?partNumber=1&uploadId=x",
        { secretKey: "wrong" },
        "p".repeat(5000),
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "CompleteMultipartUpload, bad signature",
        "POST",
        "/data/mp?uploadId=x",
        { secretKey: "wrong" },
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "AbortMultipartUpload, bad signature",
        "DELETE",
        "/data/mp?uploadId=x",
        { secretKey: "wrong" },
        "",
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "UploadPart, valid signature but the validator says no",
        "PUT",
        "/data/mp?partNumber=1&uploadId=x",
        NOBODY,
        "p".repeat(5000),
        403,
        "AccessDenied",
      ],
      [
        "UploadPart, signature 16 minutes old",
        "PUT",
        "/data/mp?partNumber=1&uploadId=x",
        { time: Date.now() - 16 * MIN },
        "p".repeat(5000),
        403,
        "RequestTimeTooSkewed",
      ],
    ];
    for (const [name, method, target, override, body, status, code] of expectCases) {
      await t.step(`Expect: 100-continue — ${name}`, async () => {
        const before = env.backend.requests.length;
        const headers = signRaw(method, port, target, { ...override, body });
        const conn = new RawConn(port);
        try {
          await conn.connected;
          await conn.write(requestHead(method, target, {
            ...headers,
            expect: "100-continue",
            "content-length": String(body.length),
            connection: "close",
          }));
          // Whether or not an interim 100 comes, a hostile client sends the body anyway.
          await conn.waitFor((t) => t.startsWith("HTTP/1.1 100") || t.includes("</Error>"), 2000);
          if (body.length > 0) await conn.write(body);
          const res = await conn.response();
          await checkError(res, status, code);
        } finally {
          await conn.close();
        }
        assert.equal(env.backend.requests.length, before, "nothing reached the backend");
        await env.healthy();
      });
    }

    // --- very long headers -----------------------------------------------------------
    await t.step("a correctly signed 48 KiB x-amz-meta header is forwarded intact", async () => {
      const value = "w".repeat(48 * 1024);
      const h = signed("PUT", url, { ...CLIENT, body: "x", headers: { "x-amz-meta-big": value } });
      const res = await fetch(url, { method: "PUT", body: "x", headers: h });
      assert.equal(res.status, 200, await res.text());
      const seen = env.backend.requests.at(-1)!;
      assert.equal(seen.headers.get("x-amz-meta-big"), value);
      env.backend.requests.length = 0;
      await env.healthy();
    });

    await t.step(
      "a correctly signed 64 KiB x-amz-meta header: success or a clean 4xx",
      async () => {
        const value = "v".repeat(64 * 1024);
        const h = signed("PUT", url, {
          ...CLIENT,
          body: "x",
          headers: { "x-amz-meta-big": value },
        });
        const res = await fetch(url, { method: "PUT", body: "x", headers: h });
        const text = await res.text();
        assert.ok(res.status < 500, `no 5xx: ${res.status} ${text.slice(0, 300)}`);
        if (res.status === 200) {
          const seen = env.backend.requests.at(-1)!;
          assert.equal(seen.headers.get("x-amz-meta-big"), value, "forwarded intact");
        }
        env.backend.requests.length = 0;
        await env.healthy();
      },
    );

    await t.step("2000 signed x-amz-meta headers: success or a clean 4xx", async () => {
      const extra: Record<string, string> = {};
      for (let i = 0; i < 2000; i++) extra[`x-amz-meta-h${i}`] = String(i);
      const res = await rawRequest(
        port,
        "GET",
        path,
        signRaw("GET", port, path, { headers: extra }),
      );
      assert.ok(
        res === undefined || res.status < 500,
        `no 5xx: ${res?.status} ${res?.body.slice(0, 300)}`,
      );
      env.backend.requests.length = 0;
      await env.healthy();
    });

    await t.step("a signed 64 KiB key and a 5000-parameter query: no 5xx", async () => {
      const longKey = `/data/${"k".repeat(64 * 1024)}`;
      const a = await rawRequest(port, "GET", longKey, signRaw("GET", port, longKey));
      assert.ok(a === undefined || a.status < 500, `no 5xx: ${a?.status} ${a?.body.slice(0, 300)}`);
      const q = "/data?" + Array.from({ length: 5000 }, (_, i) => `p${i}=${i}`).join("&");
      const b = await rawRequest(port, "GET", q, signRaw("GET", port, q));
      assert.ok(b === undefined || b.status < 500, `no 5xx: ${b?.status} ${b?.body.slice(0, 300)}`);
      env.backend.requests.length = 0;
      await env.healthy();
    });

    for (
      const [what, name] of [["Authorization", "authorization"], ["x-amz-meta", "x-amz-meta-huge"]]
    ) {
      await t.step(
        `a 1 MiB ${what} header: a 4xx or a closed connection, never a crash`,
        async () => {
          const before = env.backend.requests.length;
          const h = signRaw("GET", port, path);
          const huge = name === "authorization"
            ? h.authorization + ", X=" + "a".repeat(1024 * 1024)
            : "a".repeat(1024 * 1024);
          const conn = new RawConn(port);
          try {
            await conn.connected;
            await conn.write(requestHead("GET", path, { ...h, [name]: huge, connection: "close" }));
            const res = await conn.response(5000);
            if (res !== undefined) {
              assert.ok(
                res.status >= 400 && res.status < 500,
                `a 4xx, got ${res.status} ${res.body.slice(0, 200)}`,
              );
            } else {
              assert.ok(
                conn.closed || conn.error,
                "no response: the connection was refused/closed",
              );
            }
          } finally {
            await conn.close();
          }
          assert.equal(env.backend.requests.length, before);
          await env.healthy();
        },
      );
    }
  } finally {
    await env.close();
  }
});

Deno.test("hostile auth: with sigV2 false, valid SigV2 requests are AccessDenied and never reach the backend", async () => {
  const env = setup({ config: { sigV2: false } });
  try {
    const url = env.url("/data/obj.txt");
    for (
      const send of [
        () => fetch(url, { headers: signV2Headers("GET", url, CLIENT) }),
        () => fetch(presignV2Url("GET", url, CLIENT)),
      ]
    ) {
      const res = await send();
      await expectError(res, 403, "AccessDenied");
    }
    assert.equal(env.backend.requests.length, 0);
    const v4 = await fetch(url, { headers: signHeaders("GET", url, CLIENT) });
    assert.equal(v4.status, 200, "SigV4 is unaffected");
    await v4.body?.cancel();
  } finally {
    await env.close();
  }
});
