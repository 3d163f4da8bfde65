import assert from "node:assert/strict";
import { forward } from "./forward.ts";
import { type Outbound, prepare } from "./prepare.ts";
import { admitted, type Backend, freshState, signed, testPipeline } from "./_test_util.ts";

async function forwarded(request: Request, options: { config?: object; backend?: Backend } = {}) {
  const { pipeline, seen } = testPipeline(options);
  const state = freshState();
  const admission = await admitted(pipeline, request, state);
  const out = await prepare(pipeline, admission, { body: request.body, state }) as Outbound;
  const response = await forward(pipeline, out, { state });
  return { response, seen, state };
}

Deno.test("forward: re-signs with the backend identity and sends the body as it came", async () => {
  const { response, seen, state } = await forwarded(
    signed("PUT", "/data/dir/k?x-id=PutObject", {
      body: "hello",
      headers: { "x-amz-meta-a": "1" },
    }),
  );
  assert.equal(response.status, 200);
  assert.equal(seen.length, 1);
  const [s] = seen;
  assert.equal(s.method, "PUT");
  assert.equal(s.url, "http://backend.test:9000/be-data/dir/k?x-id=PutObject");
  assert.match(s.headers.get("authorization")!, /^AWS4-HMAC-SHA256 Credential=backend-ak\//);
  assert.equal(s.headers.get("x-amz-meta-a"), "1");
  assert.equal(new TextDecoder().decode(s.body), "hello");
  assert.ok(state.upstreamMs !== undefined);
});

Deno.test("forward: hop-by-hop headers, the names Connection lists and `_` twins never reach the backend", async () => {
  const hopByHop = {
    "keep-alive": "timeout=5",
    te: "trailers",
    upgrade: "h2c",
    trailer: "x-amz-checksum-crc32",
    "proxy-authorization": "Basic eA==",
    "proxy-connection": "keep-alive",
    "x-drop-me": "1",
    "x-amz-meta-listed": "2",
    x_amz_meta_twin: "3",
  };
  for (
    const [connection, dropped] of [
      ["x-drop-me, Keep-Alive , X-AMZ-META-LISTED", true],
      [" Keep-Alive ", false],
      ["close", false],
    ] as const
  ) {
    const { seen } = await forwarded(
      signed("GET", "/data/k", {
        headers: { connection, ...hopByHop, "x-kept": "yes", "x-amz-meta-a": "1" },
        // (An x-amz- header must be signed, even one Connection lists.)
        unsigned: ["connection", ...Object.keys(hopByHop), "x-kept"].filter((n) =>
          n !== "x-amz-meta-listed"
        ),
      }),
    );
    const names = [...seen[0].headers.keys()];
    assert.equal(seen[0].headers.get("x-kept"), "yes");
    assert.equal(seen[0].headers.get("x-amz-meta-a"), "1");
    for (const name of ["connection", ...Object.keys(hopByHop)]) {
      const listed = name === "x-drop-me" || name === "x-amz-meta-listed";
      assert.equal(names.includes(name), listed && !dropped, `${connection}: ${name}`);
    }
  }
});

Deno.test("forward: an IBM API-key bucket sends a bearer token and retries a GET once on 403", async () => {
  let tokens = 0;
  let answers = 0;
  const { response, seen } = await forwarded(signed("GET", "/cos/k"), {
    config: {
      iamEndpoint: "http://iam.test/identity/token",
      cosMap: {
        cos: { host: "cos.test", port: 443, addressingStyle: "path", apiKey: "ibm-key", ttl: 0 },
      },
    },
    backend: (s) => {
      if (s.url.startsWith("http://iam.test")) {
        tokens++;
        return Response.json({
          access_token: `token-${tokens}`,
          expires_in: 3600,
          token_type: "Bearer",
        });
      }
      answers++;
      return new Response(answers === 1 ? "expired" : "ok", { status: answers === 1 ? 403 : 200 });
    },
  });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "ok");
  const sent = seen.filter((s) => s.url.startsWith("https://cos.test"));
  assert.deepEqual(sent.map((s) => s.headers.get("authorization")), [
    "Bearer token-1",
    "Bearer token-2",
  ]);
});
