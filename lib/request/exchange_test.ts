import assert from "node:assert/strict";
import { createLogger } from "../observe/log.ts";
import type { ConnInfo } from "./exchange.ts";
import { createHandler } from "./handler.ts";
import { type Backend, signed, testPipeline } from "./_test_util.ts";

/**
 * A backend answering with 12 bytes, or for `cut` with an unsized body that
 * fails after 5 (osp counts what passes; sized answers that fail are
 * tested through main.ts, tests/log_output_test.ts).
 */
const backend: Backend = (seen) => {
  if (!seen.url.endsWith("/cut")) {
    return new Response("backend body", { headers: { "content-length": "12" } });
  }
  return new Response(
    new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode("first"));
      },
      pull(c) {
        c.error(new Error("the backend closed the connection mid-body"));
      },
    }),
  );
};

/** A handler at info level with `accessLogSample`, and the access-log lines it writes (parsed). */
function sampledHandler(accessLogSample: number) {
  const lines: Record<string, unknown>[] = [];
  const { pipeline } = testPipeline({
    config: { accessLogSample, validator: (_t, bucket) => bucket === "data" },
    backend,
  });
  const counts = new Map<string, Map<string, number>>();
  const handler = createHandler({
    ...pipeline,
    logger: createLogger({
      level: "info",
      write: (line) => {
        const parsed = JSON.parse(line);
        if (parsed.msg === "request") lines.push(parsed);
      },
    }),
    requestCounts: counts,
  });
  /** Serves `request` as Deno.serve would: the body read whole, or the client leaving. */
  const serve = async (request: Request, options: { clientLeaves?: boolean } = {}) => {
    let delivered!: () => void;
    let lost!: (err: Error) => void;
    const completed = new Promise<void>((resolve, reject) => {
      delivered = resolve;
      lost = reject;
    });
    completed.catch(() => {});
    const conn: ConnInfo = { remoteIp: "10.0.0.7", completed };
    const response = await handler(request, conn);
    if (options.clientLeaves) {
      await response.body?.cancel();
      lost(new Error("connection closed before message completed"));
    } else {
      try {
        await response.arrayBuffer();
      } catch { /* a failed body: Deno.serve resolves `completed` all the same */ }
      delivered();
    }
    // `completed` settles, then the line is written.
    await new Promise((r) => setTimeout(r, 0));
    return response.status;
  };
  const requests = () =>
    [...counts.values()].flatMap((ops) => [...ops.values()])
      .reduce((a, b) => a + b, 0);
  return { serve, lines, requests };
}

Deno.test("exchange: accessLogSample 0 logs only what failed — an error status, a body cut short, a client that left", async () => {
  const h = sampledHandler(0);
  for (let i = 0; i < 20; i++) assert.equal(await h.serve(signed("GET", `/data/ok-${i}`)), 200);
  assert.equal(h.lines.length, 0, "no line for a success");
  assert.equal(h.requests(), 20, "every request is still counted");

  assert.equal(await h.serve(signed("GET", "/other/k")), 403);
  assert.equal(await h.serve(signed("GET", "/data/cut")), 200);
  assert.equal(await h.serve(signed("GET", "/data/gone"), { clientLeaves: true }), 200);
  assert.deepEqual(
    h.lines.map((l) => [l.key, l.status, l.code, l.clientIp, l.sampleRate]),
    [
      ["k", 403, "AccessDenied", "10.0.0.7", undefined],
      ["cut", 200, undefined, "10.0.0.7", undefined],
      ["gone", 200, undefined, "10.0.0.7", undefined],
    ],
  );
  assert.equal(h.lines[2].bytesOut, 0, "nothing counted as delivered to a client that left");
});

Deno.test("exchange: accessLogSample 1 (the default) logs every request, without a sampleRate", async () => {
  const h = sampledHandler(1);
  for (let i = 0; i < 10; i++) await h.serve(signed("GET", `/data/ok-${i}`));
  assert.equal(h.lines.length, 10);
  for (const line of h.lines) {
    assert.equal(line.status, 200);
    assert.equal(line.bytesOut, 12);
    assert.equal(line.clientIp, "10.0.0.7");
    assert.equal("sampleRate" in line, false);
  }
});

Deno.test("exchange: accessLogSample 0.25 logs about a quarter of the successes, each line saying so, and every error", async () => {
  const h = sampledHandler(0.25);
  const n = 800;
  for (let i = 0; i < n; i++) await h.serve(signed("GET", `/data/ok-${i}`));
  const sampled = h.lines.length;
  // Binomial(800, 0.25): mean 200, standard deviation 12.2; this is ±8 of them.
  assert.ok(sampled > 100 && sampled < 300, `${sampled} of ${n} logged`);
  assert.ok(h.lines.every((l) => l.sampleRate === 0.25 && l.status === 200));
  h.lines.length = 0;
  for (let i = 0; i < 20; i++) await h.serve(signed("GET", `/other/k-${i}`));
  assert.equal(h.lines.length, 20, "every error logged");
  assert.ok(h.lines.every((l) => l.status === 403 && !("sampleRate" in l)));
  assert.equal(h.requests(), n + 20);
});

Deno.test("exchange: the request line has its fields in a fixed order, and a hostile key stays one JSON value", async () => {
  const h = sampledHandler(1);
  await h.serve(signed("GET", "/data/a%22b%0A%5Cc%E2%80%A8%C3%A9%7D%2C%22x%22%3A1"));
  await h.serve(signed("GET", "/other/k"));
  const [ok, denied] = h.lines;
  assert.equal(
    Object.keys(ok).join(" "),
    "time level msg requestId clientIp accessKey sigVersion method bucket operation key status " +
      "bytesIn bytesOut ms upstreamMs",
  );
  assert.equal(ok.key, 'a"b\n\\c\u2028é},"x":1');
  assert.equal(ok.accessKey, "stage-client");
  assert.equal(ok.operation, "GetObject");
  assert.equal(typeof ok.ms, "number");
  assert.equal(denied.code, "AccessDenied");
  assert.equal(Object.keys(denied).indexOf("code"), Object.keys(denied).indexOf("status") + 1);
});
