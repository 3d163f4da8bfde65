// Every request that fails authentication or authorization gets the right S3
// error and never reaches the backend (a counting backend proves it).
import assert from "node:assert/strict";
import net from "node:net";
import { serve } from "../mod.ts";
import { countingBackend } from "./_backend.ts";
import { presignUrl, signHeaders } from "./_sign.ts";

const CLIENT = { accessKey: "client-ak", secretKey: "client-secret" };
const READER = { accessKey: "reader-ak", secretKey: "reader-secret" };

function setup() {
  const backend = countingBackend();
  const bucket = (name: string) => ({
    host: "127.0.0.1",
    port: backend.port,
    tls: false,
    addressingStyle: "path" as const,
    accessKey: "backend-ak",
    secretKey: "backend-secret",
    backendBucket: `be-${name}`,
  });
  const proxy = serve({
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: "error",
    hmacKeystore: [CLIENT, READER],
    cosMap: { data: bucket("data"), secret: bucket("secret") },
    validator: (token, bucket, req) => {
      if (bucket === "secret") return token === CLIENT.accessKey;
      if (token === READER.accessKey) return req.method === "GET" || req.method === "HEAD";
      return true;
    },
  });
  const base = `http://127.0.0.1:${proxy.http!.port}`;
  return {
    backend,
    base,
    async close() {
      await proxy.shutdown();
      await backend.close();
    },
  };
}

async function s3Error(res: Response): Promise<{ status: number; code: string; message: string }> {
  const text = await res.text();
  assert.equal(res.headers.get("content-type"), "application/xml", text);
  assert.ok(res.headers.get("x-amz-request-id"), "x-amz-request-id is set");
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? "";
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? "";
  return { status: res.status, code, message };
}

Deno.test("auth: rejected requests get S3 XML errors and never reach the backend", async (t) => {
  const env = setup();
  const url = `${env.base}/data/some/key.txt`;
  try {
    await t.step("a valid request is re-signed with the backend key and forwarded", async () => {
      const res = await fetch(url, { headers: signHeaders("GET", url, CLIENT) });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "backend-ok");
      assert.equal(env.backend.requests.length, 1);
      const seen = env.backend.requests[0];
      assert.match(seen.url, /\/be-data\/some\/key\.txt$/);
      assert.match(seen.headers.get("authorization")!, /^AWS4-HMAC-SHA256 Credential=backend-ak\//);
      assert.equal(seen.headers.get("accept-encoding"), "identity");
      env.backend.requests.length = 0;
    });

    const cases: [string, () => Promise<Response>, number, string][] = [
      [
        "wrong secret",
        () => fetch(url, { headers: signHeaders("GET", url, { ...CLIENT, secretKey: "nope" }) }),
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "unknown access key",
        () =>
          fetch(url, { headers: signHeaders("GET", url, { accessKey: "who", secretKey: "x" }) }),
        403,
        "InvalidAccessKeyId",
      ],
      [
        "date 20 minutes in the past",
        () =>
          fetch(url, {
            headers: signHeaders("GET", url, { ...CLIENT, time: Date.now() - 20 * 60_000 }),
          }),
        403,
        "RequestTimeTooSkewed",
      ],
      [
        "date 20 minutes in the future",
        () =>
          fetch(url, {
            headers: signHeaders("GET", url, { ...CLIENT, time: Date.now() + 20 * 60_000 }),
          }),
        403,
        "RequestTimeTooSkewed",
      ],
      ["unsigned (anonymous) request", () => fetch(url), 403, "AccessDenied"],
      [
        "SigV2 header with a forged signature",
        () =>
          fetch(url, {
            headers: {
              authorization: "AWS client-ak:c2lnbmF0dXJl",
              date: new Date().toUTCString(),
            },
          }),
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "SigV2 presigned with a forged signature",
        () => fetch(`${url}?AWSAccessKeyId=client-ak&Expires=9999999999&Signature=abc`),
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "signature made for another host",
        () =>
          fetch(url, {
            headers: signHeaders("GET", url, { ...CLIENT, signHost: "evil.example:1234" }),
          }),
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "signature made for another method",
        () => fetch(url, { method: "DELETE", headers: signHeaders("GET", url, CLIENT) }),
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "signature made for another path",
        () => fetch(`${env.base}/data/other`, { headers: signHeaders("GET", url, CLIENT) }),
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "x-amz header added after signing",
        () =>
          fetch(url, { headers: { ...signHeaders("GET", url, CLIENT), "x-amz-meta-evil": "1" } }),
        403,
        "AccessDenied",
      ],
      [
        "host not signed",
        () => fetch(url, { headers: signHeaders("GET", url, { ...CLIENT, unsigned: ["host"] }) }),
        403,
        "AccessDenied",
      ],
      [
        "signature in upper-case hex",
        () => {
          const h = signHeaders("GET", url, CLIENT);
          h.authorization = h.authorization.replace(
            /Signature=([0-9a-f]+)/,
            (_, s) => `Signature=${s.toUpperCase()}`,
          );
          return fetch(url, { headers: h });
        },
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "credential for another service",
        () => {
          const h = signHeaders("GET", url, CLIENT);
          h.authorization = h.authorization.replace("/s3/aws4_request", "/iam/aws4_request");
          return fetch(url, { headers: h });
        },
        400,
        "AuthorizationHeaderMalformed",
      ],
      [
        "empty SignedHeaders",
        () => {
          const h = signHeaders("GET", url, CLIENT);
          h.authorization = h.authorization.replace(/SignedHeaders=[^,]*/, "SignedHeaders=");
          return fetch(url, { headers: h });
        },
        400,
        "AuthorizationHeaderMalformed",
      ],
      [
        "header and query auth together",
        () =>
          fetch(presignUrl("GET", url, { ...CLIENT, expires: 60 }), {
            headers: signHeaders("GET", url, CLIENT),
          }),
        400,
        "InvalidArgument",
      ],
      [
        "expired presigned URL",
        () => fetch(presignUrl("GET", url, { ...CLIENT, expires: 60, time: Date.now() - 120_000 })),
        403,
        "AccessDenied",
      ],
      [
        "presigned X-Amz-Expires over 7 days",
        () => fetch(presignUrl("GET", url, { ...CLIENT, expires: 604801 })),
        400,
        "AuthorizationQueryParametersError",
      ],
      [
        "presigned with a wrong secret",
        () => fetch(presignUrl("GET", url, { ...CLIENT, secretKey: "nope", expires: 60 })),
        403,
        "SignatureDoesNotMatch",
      ],
      [
        "validator says no",
        () => fetch(url, { method: "DELETE", headers: signHeaders("DELETE", url, READER) }),
        403,
        "AccessDenied",
      ],
      [
        "bucket the token may not use",
        () => {
          const u = `${env.base}/secret/k`;
          return fetch(u, { headers: signHeaders("GET", u, READER) });
        },
        403,
        "AccessDenied",
      ],
      [
        "unknown bucket",
        () => {
          const u = `${env.base}/nope/k`;
          return fetch(u, { headers: signHeaders("GET", u, CLIENT) });
        },
        404,
        "NoSuchBucket",
      ],
      [
        "copy from a bucket the token may not read",
        () => {
          const u = `${env.base}/data/copy-target`;
          return fetch(u, {
            method: "PUT",
            headers: signHeaders("PUT", u, {
              ...READER,
              headers: { "x-amz-copy-source": "/secret/k" },
            }),
          });
        },
        403,
        "AccessDenied",
      ],
      [
        "copy from a bucket not in cosMap",
        () => {
          const u = `${env.base}/data/copy-target`;
          return fetch(u, {
            method: "PUT",
            headers: signHeaders("PUT", u, {
              ...CLIENT,
              headers: { "x-amz-copy-source": "/elsewhere/k" },
            }),
          });
        },
        403,
        "AccessDenied",
      ],
    ];
    for (const [name, send, status, code] of cases) {
      await t.step(name, async () => {
        const err = await s3Error(await send());
        assert.equal(err.status, status, `${name}: ${err.code} ${err.message}`);
        assert.equal(err.code, code, err.message);
        assert.equal(env.backend.requests.length, 0, "the backend was not touched");
      });
    }

    await t.step("HEAD errors carry the status only", async () => {
      const res = await fetch(url, { method: "HEAD" });
      assert.equal(res.status, 403);
      assert.equal(await res.text(), "");
      assert.ok(res.headers.get("x-amz-request-id"));
    });

    // Deno.serve answers `100 Continue` itself before the handler runs, so the
    // interim response may come; what matters is the final 403 and that the
    // body never reaches the backend.
    await t.step("Expect: 100-continue with a bad signature gets a final 403", async () => {
      const headers = signHeaders("PUT", url, {
        ...CLIENT,
        secretKey: "nope",
        body: "x".repeat(1000),
      });
      const head =
        [`PUT /data/some/key.txt HTTP/1.1`, `expect: 100-continue`, `content-length: 1000`]
          .concat(Object.entries(headers).map(([k, v]) => `${k}: ${v}`))
          .join("\r\n") + "\r\n\r\n";
      const port = Number(new URL(env.base).port);
      const reply = await new Promise<string>((resolve, reject) => {
        const sock = net.connect(port, "127.0.0.1", () => sock.write(head));
        let data = "";
        sock.on("data", (d) => {
          data += d;
          if (data.includes("</Error>")) {
            sock.destroy();
            resolve(data);
          }
        });
        sock.on("error", reject);
        setTimeout(() => {
          sock.destroy();
          resolve(data);
        }, 5000);
      });
      const final = reply.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "");
      assert.match(final, /^HTTP\/1\.1 403/, reply.slice(0, 200));
      assert.match(reply, /<Code>SignatureDoesNotMatch<\/Code>/);
      assert.equal(env.backend.requests.length, 0);
    });

    await t.step("a presigned URL works until its use cap (3), then AccessDenied", async () => {
      const signed = presignUrl("GET", url, { ...CLIENT, expires: 300 });
      for (let i = 0; i < 3; i++) {
        const res = await fetch(signed);
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      const err = await s3Error(await fetch(signed));
      assert.equal(err.code, "AccessDenied");
      assert.equal(err.message, "presigned URL use limit reached");
      assert.equal(env.backend.requests.length, 3);
      const forwarded = new URL(env.backend.requests[0].url);
      assert.equal(forwarded.search, "", "presign parameters are not forwarded");
      assert.match(
        env.backend.requests[0].headers.get("authorization")!,
        /Credential=backend-ak\//,
      );
      env.backend.requests.length = 0;
    });
  } finally {
    await env.close();
  }
});
