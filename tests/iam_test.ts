// IBM COS API keys: exchanged at IAM (a local server speaking IAM's wire
// contract, since iam.cloud.ibm.com is out of reach) for bearer tokens that
// the backend (a capturing server) receives instead of SigV4.
import assert from "node:assert/strict";
import { serve } from "../mod.ts";
import { signHeaders } from "./_sign.ts";

const KEY = { accessKey: "iam-client", secretKey: "iam-client-secret" };
const API_KEY = "cos-api-key-0123456789";

interface FakeIam {
  url: string;
  calls: URLSearchParams[];
  /** Seconds until tokens expire. */
  lifetime: number;
  /** Answer this status instead of a token. */
  failWith?: number;
  delayMs: number;
  close(): Promise<void>;
}

function fakeIam(clock: () => number): FakeIam {
  const iam: FakeIam = {
    url: "",
    calls: [],
    lifetime: 3600,
    delayMs: 0,
    close: () => server.shutdown(),
  };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    assert.equal(req.method, "POST");
    assert.equal(req.headers.get("content-type"), "application/x-www-form-urlencoded");
    const form = new URLSearchParams(await req.text());
    iam.calls.push(form);
    if (iam.delayMs) await new Promise((r) => setTimeout(r, iam.delayMs));
    if (iam.failWith) {
      return Response.json({
        errorCode: "BXNIM0415E",
        errorMessage: "Provided API key could not be found.",
      }, {
        status: iam.failWith,
      });
    }
    const now = Math.floor(clock() / 1000);
    return Response.json({
      access_token: `token-${iam.calls.length}`,
      refresh_token: "not_supported",
      token_type: "Bearer",
      expires_in: iam.lifetime,
      expiration: now + iam.lifetime,
      scope: "ibm openid",
    });
  });
  iam.url = `http://127.0.0.1:${server.addr.port}/identity/token`;
  return iam;
}

interface Seen {
  authorization: string | null;
  instance: string | null;
}

function capturingBackend(rejectToken?: { value?: string }) {
  const seen: Seen[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    await req.body?.cancel();
    const authorization = req.headers.get("authorization");
    seen.push({ authorization, instance: req.headers.get("ibm-service-instance-id") });
    if (rejectToken?.value && authorization === `Bearer ${rejectToken.value}`) {
      return new Response("<Error><Code>AccessDenied</Code></Error>", { status: 401 });
    }
    return new Response("cos-ok");
  });
  return { port: server.addr.port, seen, close: () => server.shutdown() };
}

function setup(options: { apiKeyVia: "static" | "fetcher"; rejectToken?: { value?: string } }) {
  let now = Date.now();
  const clock = () => now;
  const iam = fakeIam(clock);
  const backend = capturingBackend(options.rejectToken);
  const bucket = {
    host: "127.0.0.1",
    port: backend.port,
    tls: false,
    addressingStyle: "path" as const,
    serviceInstanceId: "crn:v1:bluemix:public:cloud-object-storage:global:a/123::",
    ...(options.apiKeyVia === "static" ? { apiKey: API_KEY } : {}),
  };
  const logs: string[] = [];
  const proxy = serve({
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: "warn",
    hmacKeystore: [KEY],
    iamEndpoint: iam.url,
    clock,
    cosMap: { cos: bucket },
    ...(options.apiKeyVia === "fetcher" ? { bucketCredsFetcher: () => API_KEY } : {}),
  });
  const base = `http://127.0.0.1:${proxy.http!.port}/cos`;
  return {
    iam,
    backend,
    logs,
    advance(ms: number) {
      now += ms;
    },
    get: (key: string) => {
      const url = `${base}/${key}`;
      return fetch(url, { headers: signHeaders("GET", url, { ...KEY, time: now }) });
    },
    async close() {
      await proxy.shutdown();
      await iam.close();
      await backend.close();
    },
  };
}

Deno.test("iam: an API key is exchanged for a bearer token the backend receives", async () => {
  for (const via of ["static", "fetcher"] as const) {
    const env = setup({ apiKeyVia: via });
    try {
      const res = await env.get("a.txt");
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(await res.text(), "cos-ok");
      assert.equal(env.iam.calls.length, 1);
      assert.equal(env.iam.calls[0].get("grant_type"), "urn:ibm:params:oauth:grant-type:apikey");
      assert.equal(env.iam.calls[0].get("apikey"), API_KEY);
      assert.deepEqual(env.backend.seen[0], {
        authorization: "Bearer token-1",
        instance: "crn:v1:bluemix:public:cloud-object-storage:global:a/123::",
      });
    } finally {
      await env.close();
    }
  }
});

Deno.test("iam: tokens are cached, and refreshed 5 minutes before they expire", async () => {
  const env = setup({ apiKeyVia: "static" });
  try {
    for (let i = 0; i < 3; i++) await (await env.get("x")).body?.cancel();
    assert.equal(env.iam.calls.length, 1, "cached");
    env.advance(54 * 60_000);
    await (await env.get("x")).body?.cancel();
    assert.equal(env.iam.calls.length, 1, "still fresh at 54 minutes");
    env.advance(2 * 60_000);
    await (await env.get("x")).body?.cancel();
    assert.equal(env.iam.calls.length, 2, "refreshed inside the last 5 minutes");
    assert.equal(env.backend.seen.at(-1)!.authorization, "Bearer token-2");
  } finally {
    await env.close();
  }
});

Deno.test("iam: 50 concurrent requests share one exchange", async () => {
  const env = setup({ apiKeyVia: "static" });
  env.iam.delayMs = 200;
  try {
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => env.get(`k${i}`)));
    for (const r of responses) {
      assert.equal(r.status, 200);
      await r.body?.cancel();
    }
    assert.equal(env.iam.calls.length, 1);
    assert.ok(env.backend.seen.every((s) => s.authorization === "Bearer token-1"));
  } finally {
    await env.close();
  }
});

Deno.test("iam: a 401 for a revoked token evicts it and retries once with a new one", async () => {
  const reject = { value: "token-1" };
  const env = setup({ apiKeyVia: "static", rejectToken: reject });
  try {
    const res = await env.get("x");
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(env.iam.calls.length, 2);
    assert.deepEqual(env.backend.seen.map((s) => s.authorization), [
      "Bearer token-1",
      "Bearer token-2",
    ]);
  } finally {
    await env.close();
  }
});

Deno.test("iam: IAM down or refusing gives 503 ServiceUnavailable, nothing forwarded", async () => {
  const env = setup({ apiKeyVia: "static" });
  const lines: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = console.error = (line: string) => lines.push(String(line));
  try {
    env.iam.failWith = 400;
    const refused = await env.get("x");
    assert.equal(refused.status, 503);
    assert.match(await refused.text(), /<Code>ServiceUnavailable<\/Code>/);
    await env.iam.close();
    const down = await env.get("x");
    assert.equal(down.status, 503);
    assert.match(await down.text(), /<Code>ServiceUnavailable<\/Code>.*IBM IAM/);
    assert.equal(env.backend.seen.length, 0);
    const failures = lines.filter((l) => l.includes("IAM token exchange failed"));
    assert.equal(failures.length, 2, lines.join("\n"));
    assert.match(failures[0], /BXNIM0415E/, "IAM's error code is logged");
    assert.ok(lines.every((l) => !l.includes(API_KEY)), "the API key never appears in a log line");
  } finally {
    [console.log, console.error] = [log, error];
    await env.close().catch(() => {});
  }
});
