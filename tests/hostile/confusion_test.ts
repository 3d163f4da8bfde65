// Hostile routing: keys with traversal segments, bucket names smuggled through
// Host or the path, double encoding, repeated query parameters, copy sources
// on other backends, DeleteObjects, ListBuckets with nothing allowed, and
// Unicode normalisation. The bucket the validator is asked about is always
// the bucket the backend gets, and the key reaches it verbatim.
import assert from "node:assert/strict";
import { percentDecode } from "../../lib/sigv4/sigv4.ts";
import {
  assertBackendSigned,
  backendPath,
  backendQuery,
  CLIENT,
  expectError,
  type HostileEnv,
  NOBODY,
  rawRequest,
  type RawResponse,
  settle,
  setup,
  signHeaders,
  signRaw,
} from "./_setup.ts";

const NFC = "\u00e9";
const NFD = "e\u0301";

/**
 * Asserts the last request was authorized for (bucket, key) and reached the
 * backend exactly once, in `be-<bucket>`, with a path that decodes to `key`.
 */
function assertRouted(
  env: HostileEnv,
  before: { requests: number; calls: number },
  expected: { bucket: string; key?: string; operation?: string },
): void {
  const calls = env.calls.slice(before.calls);
  assert.ok(calls.length >= 1, "the validator was asked");
  for (const c of calls) {
    assert.equal(c.bucket, expected.bucket, "the validator saw the bucket");
    assert.equal(c.request.key, expected.key, "the validator saw the key");
    if (expected.operation) assert.equal(c.request.operation, expected.operation);
  }
  const seen = env.backend.requests.slice(before.requests);
  assert.equal(seen.length, 1, `one backend request: ${seen.map((s) => s.url).join(" ")}`);
  const path = backendPath(seen[0].url);
  const prefix = `/be-${expected.bucket}`;
  if (expected.key === undefined) {
    assert.equal(path, prefix, "no key part");
  } else {
    assert.ok(path.startsWith(`${prefix}/`), `${path} is in ${prefix}/`);
    assert.equal(percentDecode(path.slice(prefix.length + 1)), expected.key, `key of ${path}`);
  }
  assertBackendSigned(seen[0]);
}

/** Text as an XML parser reads it: comments dropped, CDATA unwrapped, references decoded. */
function xmlText(xml: string): string {
  return xml
    .replace(/<!--[\s\S]*?-->/g, "")
    .replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, "$1")
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)));
}

function mark(env: HostileEnv) {
  return { requests: env.backend.requests.length, calls: env.calls.length };
}

function ok(res: RawResponse | Response | undefined): void {
  assert.ok(res !== undefined, "a response");
  assert.equal(res.status, 200, res instanceof Response ? "" : res.body);
}

Deno.test("hostile routing: keys and buckets are never reinterpreted", async (t) => {
  const env = setup({
    config: { virtualHostSuffixes: ["s3.test"] },
    cosMap: {
      far: { host: "localhost" },
      othercreds: { accessKey: "another-backend-ak", secretKey: "another-backend-secret" },
    },
    validator: (token, _bucket, req) =>
      token !== NOBODY.accessKey && req.key !== `deny-${NFD}` && req.key !== "deny-%2Fb" &&
      !(req.operation === "DeleteObject" && req.key === "secret"),
  });
  const port = env.port;
  try {
    // --- traversal and odd keys: raw on the wire, verbatim at the backend ----------
    const keys: [raw: string, key: string][] = [
      ["../x", "../x"],
      ["../../be-other/secret", "../../be-other/secret"],
      ["../other/x", "../other/x"],
      ["%2e%2e/x", "../x"],
      ["%2E%2E%2Fbe-other%2Fx", "../be-other/x"],
      ["..%2f..%2fbe-other", "../../be-other"],
      ["a//b", "a//b"],
      ["/x", "/x"],
      ["//etc/passwd", "//etc/passwd"],
      ["./x", "./x"],
      ["a/./b", "a/./b"],
      ["a/..", "a/.."],
      ["..", ".."],
      [".", "."],
      ["%2e", "."],
      ["..%5c..%5cx", "..\\..\\x"],
      ["a%3Fb", "a?b"],
      ["a%23b", "a#b"],
      ["a%00b", "a\0b"],
      ["k;x=1", "k;x=1"],
      ["a+b", "a+b"],
      ["%25", "%"],
      ["%zz", "%zz"],
      ["a%252Fb", "a%2Fb"],
      ["a%2Fb", "a/b"],
    ];
    for (const [raw, key] of keys) {
      await t.step(
        `key ${JSON.stringify(raw)} reaches be-data as ${JSON.stringify(key)}`,
        async () => {
          for (const method of ["GET", "PUT"]) {
            const before = mark(env);
            const target = `/data/${raw}`;
            const body = method === "PUT" ? "payload" : undefined;
            const res = await rawRequest(
              port,
              method,
              target,
              signRaw(method, port, target, { body }),
              body,
            );
            ok(res);
            assertRouted(env, before, { bucket: "data", key });
            if (method === "PUT") {
              assert.equal(new TextDecoder().decode(env.backend.requests.at(-1)!.body), "payload");
            }
          }
        },
      );
    }

    await t.step("double encoding: %252F stays a literal %2F in the key", async () => {
      const before = mark(env);
      const target = "/data/dir%252Ffile";
      ok(await rawRequest(port, "GET", target, signRaw("GET", port, target)));
      assertRouted(env, before, { bucket: "data", key: "dir%2Ffile" });
      assert.equal(backendPath(env.backend.requests.at(-1)!.url), "/be-data/dir%252Ffile");
      // A validator rule on the literal key applies to it, not to "deny-/b".
      const denied = "/data/deny-%252Fb";
      await expectError(
        fetch(env.url(denied), { headers: signHeaders("GET", env.url(denied), CLIENT) }),
        403,
        "AccessDenied",
      );
      const other = "/data/deny-%2Fb";
      const res = await fetch(env.url(other), {
        headers: signHeaders("GET", env.url(other), CLIENT),
      });
      assert.equal(res.status, 200, "deny-/b is another key");
      await res.body?.cancel();
      env.backend.requests.length = 0;
      await env.healthy();
    });

    // --- the bucket segment ----------------------------------------------------------
    // A name that is not a cosMap key must be a valid S3 bucket name before the
    // validator is asked or any backend is reached.
    const bucketCases: [string, string][] = [
      ["/../other/x", "a `..` bucket segment is not a bucket name"],
      ["/./data/x", "a `.` bucket segment is not a bucket name"],
      ["/data%2Fx", "an encoded slash in a bucket name"],
      ["/Data/x", "bucket names are not case-folded, and upper case is not valid"],
      [`/dat${encodeURIComponent("\u00e1")}/x`, "a non-ASCII bucket"],
      ["/127.0.0.1%3A1%2F/x", "an authority in a bucket name"],
      ["/a%40b/x", "an @ in a bucket name"],
    ];
    for (const [target, why] of bucketCases) {
      await t.step(`${target}: InvalidBucketName (${why})`, async () => {
        const before = mark(env);
        const res = await rawRequest(port, "GET", target, signRaw("GET", port, target));
        assert.ok(res);
        assert.equal(res.status, 400, res.body);
        assert.match(res.body, /<Code>InvalidBucketName<\/Code>/);
        assert.equal(env.calls.length, before.calls, "the validator was not asked");
        assert.equal(env.backend.requests.length, before.requests, "nothing reached a backend");
        await env.healthy();
      });
    }
    await t.step("//data/x: an empty bucket name is InvalidBucketName", async () => {
      const before = mark(env);
      const res = await rawRequest(port, "GET", "//data/x", signRaw("GET", port, "//data/x"));
      assert.ok(res);
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, /<Code>InvalidBucketName<\/Code>/);
      assert.equal(env.backend.requests.length, before.requests);
      await env.healthy();
    });
    await t.step("/%64ata/x: a percent-encoded bucket name is decoded, once", async () => {
      const before = mark(env);
      ok(await rawRequest(port, "GET", "/%64ata/x", signRaw("GET", port, "/%64ata/x")));
      assertRouted(env, before, { bucket: "data", key: "x" });
    });

    // --- Host header versus path ----------------------------------------------------
    // With virtualHostSuffixes, a Host of <bucket>.s3.test names the bucket and
    // the whole path is the key: the path can never pick another bucket.
    const hostCases: [host: string, target: string, bucket: string, key: string | undefined][] = [
      ["other.s3.test", "/data/k", "other", "data/k"],
      ["data.s3.test", "/other/secret", "data", "other/secret"],
      ["data.s3.test", "/../other/secret", "data", "../other/secret"],
      ["OTHER.S3.TEST:8080", "/data/k", "other", "data/k"],
      ["s3.test", "/data/k", "data", "k"],
      ["other.s3.test.evil.example", "/data/k", "data", "k"],
      ["data.s3.test", "/", "data", undefined],
    ];
    for (const [host, target, bucket, key] of hostCases) {
      await t.step(
        `Host ${host}, path ${target} → bucket ${bucket}, key ${JSON.stringify(key)}`,
        async () => {
          const before = mark(env);
          const headers = signHeaders("GET", `http://${host}${target}`, CLIENT);
          ok(await rawRequest(port, "GET", target, headers));
          assertRouted(env, before, { bucket, key });
        },
      );
    }
    await t.step("Host x.other.s3.test names the bucket x.other: NoSuchBucket", async () => {
      const before = mark(env);
      const headers = signHeaders("GET", "http://x.other.s3.test/data/k", CLIENT);
      const res = await rawRequest(port, "GET", "/data/k", headers);
      assert.equal(res?.status, 404, res?.body);
      assert.equal(env.calls.at(-1)!.bucket, "x.other");
      assert.equal(env.backend.requests.length, before.requests);
    });
    await t.step(
      "absolute-form target naming another host: the signed Host decides, consistently",
      async () => {
        const before = mark(env);
        const headers = signHeaders("GET", "http://other.s3.test/data/k", CLIENT);
        ok(await rawRequest(port, "GET", "http://data.s3.test/data/k", headers));
        assertRouted(env, before, { bucket: "other", key: "data/k" });
      },
    );
    await t.step("a Host that was not signed: SignatureDoesNotMatch", async () => {
      const before = mark(env);
      const headers = signHeaders("GET", "http://data.s3.test/other/k", CLIENT);
      const res = await rawRequest(port, "GET", "/other/k", { ...headers, host: "other.s3.test" });
      assert.equal(res?.status, 403, res?.body);
      assert.match(res!.body, /<Code>SignatureDoesNotMatch<\/Code>/);
      assert.equal(env.backend.requests.length, before.requests);
    });

    // --- repeated and tricky query parameters ----------------------------------------
    const queryCases: [target: string, expected: string[], key?: string][] = [
      ["/data?prefix=a%26versionId%3Db", ["prefix=a%26versionId%3Db"]],
      ["/data?list-type=2&prefix=a%2Fb", ["list-type=2", "prefix=a%2Fb"]],
    ];
    for (const [target, expected, key] of queryCases) {
      await t.step(`query ${target.split("?")[1]} is forwarded whole and signed`, async () => {
        const before = mark(env);
        ok(await rawRequest(port, "GET", target, signRaw("GET", port, target)));
        assertRouted(env, before, { bucket: "data", key });
        const sent = backendQuery(env.backend.requests.at(-1)!.url).split("&").sort();
        assert.deepEqual(sent, expected.sort());
      });
    }
    // Which of two values a backend picks is its choice: refused before the validator.
    for (
      const target of [
        "/data/k?versionId=a&versionId=b",
        "/data/k?versionId=a&versionId=a",
        "/data?list-type=2&prefix=a&prefix=b",
        "/data/k?tagging&tagging=",
        "/data/k?versionId=a&versionI%64=b",
      ]
    ) {
      await t.step(
        `query ${target.split("?")[1]}: a repeated parameter is InvalidArgument`,
        async () => {
          const before = mark(env);
          const res = await rawRequest(port, "GET", target, signRaw("GET", port, target));
          assert.equal(res?.status, 400, res?.body);
          assert.match(res!.body, /<Code>InvalidArgument<\/Code>/);
          assert.equal(env.calls.length, before.calls, "the validator was not asked");
          assert.equal(env.backend.requests.length, before.requests, "nothing reached a backend");
        },
      );
    }

    // --- copy sources ------------------------------------------------------------------
    const copyCases: [string, string, number, string][] = [
      ["a bucket on another backend", "/far/k", 501, "NotImplemented"],
      ["another backend, without the leading slash", "far/k", 501, "NotImplemented"],
      ["another backend, percent-encoded bucket name", "/f%61r/k", 501, "NotImplemented"],
      ["another backend, fully encoded", "far%2Fk", 501, "NotImplemented"],
      ["same backend, other credentials", "/othercreds/k", 501, "NotImplemented"],
      ["a bucket not in cosMap", "/be-other/k", 403, "AccessDenied"],
      ["a query other than versionId", "/other/k?versionId=1&x=2", 400, "InvalidArgument"],
      ["no key", "/other", 400, "InvalidArgument"],
    ];
    for (const [what, source, status, code] of copyCases) {
      await t.step(`copy source ${source} (${what}): ${status} ${code}`, async () => {
        const before = mark(env);
        const url = env.url("/data/copy-target");
        const headers = signHeaders("PUT", url, {
          ...CLIENT,
          headers: { "x-amz-copy-source": source },
        });
        await expectError(fetch(url, { method: "PUT", headers }), status, code);
        assert.equal(env.backend.requests.length, before.requests, "nothing reached a backend");
        await env.healthy();
      });
    }
    await t.step(
      "copy source on the same backend: authorized as GetObject, only its bucket rewritten",
      async () => {
        const before = mark(env);
        const url = env.url("/data/copy-target");
        const headers = signHeaders("PUT", url, {
          ...CLIENT,
          headers: { "x-amz-copy-source": "/other/dir/%2e%2e/k" },
        });
        const res = await fetch(url, { method: "PUT", headers });
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const calls = env.calls.slice(before.calls);
        assert.deepEqual(
          calls.map((c) => [c.bucket, c.request.operation, c.request.key]),
          [["data", "CopyObject", "copy-target"], ["other", "GetObject", "dir/../k"]],
        );
        const seen = env.backend.requests.slice(before.requests);
        assert.equal(seen.length, 1);
        assert.equal(backendPath(seen[0].url), "/be-data/copy-target");
        // The client's form, only the bucket replaced: a backend may match policy
        // conditions on the raw value.
        assert.equal(seen[0].headers.get("x-amz-copy-source"), "/be-other/dir/%2e%2e/k");
        assertBackendSigned(seen[0]);
      },
    );

    // --- DeleteObjects ----------------------------------------------------------------
    await t.step(
      "DeleteObjects naming keys is authorized as DeleteObjects on the bucket",
      async () => {
        const before = mark(env);
        const xml =
          `<Delete><Object><Key>a</Key></Object><Object><Key>../other/b</Key></Object></Delete>`;
        const url = env.url("/data?delete");
        const res = await fetch(url, {
          method: "POST",
          body: xml,
          headers: signHeaders("POST", url, { ...CLIENT, body: xml }),
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const calls = env.calls.slice(before.calls);
        assert.ok(
          calls.some((c) =>
            c.bucket === "data" && c.request.operation === "DeleteObjects" &&
            c.request.key === undefined
          ),
          JSON.stringify(calls.map((c) => [c.bucket, c.request.operation, c.request.key])),
        );
        for (const c of calls) assert.equal(c.bucket, "data");
        const seen = env.backend.requests.slice(before.requests);
        assert.equal(seen.length, 1);
        assert.equal(backendPath(seen[0].url), "/be-data");
        // Forwarded as sent, or rebuilt by per-key authorization: either way both keys are named.
        const sent = new TextDecoder().decode(seen[0].body);
        assert.match(sent, /<Key>a<\/Key>/);
        assert.match(sent, /<Key>\.\.\/other\/b<\/Key>/);
      },
    );
    // Per-key authorization of DeleteObjects: the validator refuses DeleteObject on
    // "secret". Whatever XML spelling names it, either osp sees "secret" (and
    // drops it) or refuses the document; the backend, which parses real XML,
    // must never be sent a document that names it.
    const spellings: [string, string][] = [
      ["plain", "<Object><Key>secret</Key></Object>"],
      ["character references", "<Object><Key>secr&#101;&#x74;</Key></Object>"],
      ["VersionId before Key", "<Object><VersionId>v1</VersionId><Key>secret</Key></Object>"],
      ["a tag with a space and nothing else", "<Object><Key >secret</Key ></Object>"],
      ["a DOCTYPE entity", "<Object><Key>&s;</Key></Object>"],
      ["a CDATA section", "<Object><Key><![CDATA[secret]]></Key></Object>"],
      ["a comment inside the key", "<Object><Key>sec<!-- -->ret</Key></Object>"],
      [
        "two Key elements, the allowed one first",
        "<Object><Key>public2</Key><Key>secret</Key></Object>",
      ],
      ["a second Key spelled <Key >", "<Object><Key>public3</Key><Key >secret</Key ></Object>"],
      [
        "a second Key with a namespace prefix",
        `<Object><Key>public4</Key><s3:Key xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">secret</s3:Key></Object>`,
      ],
      [
        "a Key hidden inside VersionId",
        "<Object><VersionId><Key>public5</Key></VersionId><Key>secret</Key></Object>",
      ],
    ];
    for (const [spelling, object] of spellings) {
      await t.step(`DeleteObjects naming a denied key via ${spelling}: never sent`, async () => {
        const before = mark(env);
        const doctype = spelling === "a DOCTYPE entity"
          ? `<!DOCTYPE Delete [<!ENTITY s "secret">]>`
          : "";
        const xml = `${doctype}<Delete><Object><Key>public</Key></Object>${object}</Delete>`;
        const url = env.url("/data?delete");
        const res = await fetch(url, {
          method: "POST",
          body: xml,
          headers: signHeaders("POST", url, { ...CLIENT, body: xml }),
        });
        const text = await res.text();
        assert.ok(
          res.status === 200 || (res.status === 400 && /<Code>MalformedXML<\/Code>/.test(text)),
          `${res.status} ${text.slice(0, 300)}`,
        );
        for (const seen of env.backend.requests.slice(before.requests)) {
          const sent = new TextDecoder().decode(seen.body);
          assert.doesNotMatch(
            xmlText(sent),
            /secret/,
            `the backend was sent a document naming the denied key: ${sent}`,
          );
        }
        const asked = env.calls.slice(before.calls).map((c) => c.request.key);
        if (res.status === 200) {
          assert.ok(asked.includes("secret"), `the validator was asked ${JSON.stringify(asked)}`);
        }
      });
    }

    await t.step("DeleteObjects by a token the validator refuses: AccessDenied", async () => {
      const before = mark(env);
      const xml = `<Delete><Object><Key>a</Key></Object></Delete>`;
      const url = env.url("/data?delete");
      await expectError(
        fetch(url, {
          method: "POST",
          body: xml,
          headers: signHeaders("POST", url, { ...NOBODY, body: xml }),
        }),
        403,
        "AccessDenied",
      );
      assert.equal(env.backend.requests.length, before.requests);
    });

    // --- ListBuckets --------------------------------------------------------------------
    await t.step("ListBuckets by a token with no buckets: 200 and an empty list", async () => {
      const before = mark(env);
      const url = env.url("/");
      const res = await fetch(url, { headers: signHeaders("GET", url, NOBODY) });
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /<ListAllMyBucketsResult[^>]*>/);
      assert.match(text, /<Buckets\/>|<Buckets><\/Buckets>/);
      assert.doesNotMatch(text, /<Bucket>/);
      const calls = env.calls.slice(before.calls);
      assert.ok(calls.length >= 1 && calls.every((c) => c.request.operation === "ListBuckets"));
      assert.equal(env.backend.requests.length, before.requests, "answered by osp itself");
    });
    await t.step("ListBuckets by the client lists exactly the cosMap buckets", async () => {
      const url = env.url("/");
      const res = await fetch(url, { headers: signHeaders("GET", url, CLIENT) });
      const names = [...(await res.text()).matchAll(/<Name>([^<]*)<\/Name>/g)].map((m) => m[1]);
      assert.deepEqual(names, ["data", "far", "other", "othercreds"]);
    });

    // --- Unicode normalisation ------------------------------------------------------
    await t.step(
      "NFC é and NFD e\u0301 are two keys: two backend paths, two decisions",
      async () => {
        const paths: string[] = [];
        for (const key of [NFC, NFD]) {
          const before = mark(env);
          const url = env.url(`/data/${encodeURIComponent(key)}`);
          const res = await fetch(url, {
            method: "PUT",
            body: key,
            headers: signHeaders("PUT", url, { ...CLIENT, body: key }),
          });
          assert.equal(res.status, 200);
          await res.body?.cancel();
          assertRouted(env, before, { bucket: "data", key });
          paths.push(backendPath(env.backend.requests.at(-1)!.url));
        }
        assert.deepEqual(paths, ["/be-data/%C3%A9", "/be-data/e%CC%81"]);
        // The validator denies only the NFD spelling; the NFC one is not folded into it.
        const allowed = env.url(`/data/deny-${encodeURIComponent(NFC)}`);
        const ok1 = await fetch(allowed, { headers: signHeaders("GET", allowed, CLIENT) });
        assert.equal(ok1.status, 200);
        await ok1.body?.cancel();
        const denied = env.url(`/data/deny-${encodeURIComponent(NFD)}`);
        await expectError(
          fetch(denied, { headers: signHeaders("GET", denied, CLIENT) }),
          403,
          "AccessDenied",
        );
      },
    );
    await t.step(
      "a raw (unencoded) UTF-8 key is the same key as its percent-encoded form",
      async () => {
        const before = mark(env);
        const wire = Buffer.from(`/data/${NFC}`, "utf8").toString("latin1");
        const res = await rawRequest(
          port,
          "GET",
          wire,
          signRaw("GET", port, `/data/${encodeURIComponent(NFC)}`),
        );
        ok(res);
        assertRouted(env, before, { bucket: "data", key: NFC });
      },
    );

    await settle();
    await env.healthy();
  } finally {
    await env.close();
  }
});
