// The access log's output can fail under a running proxy: a log collector
// that exits closes the pipe osp writes to. Lines are then dropped and the
// loss reported on stderr; the proxy keeps serving (before, the first
// buffered flush into the closed pipe threw in a timer and ended it).
import assert from "node:assert/strict";
import { countingBackend, localBucket } from "./_backend.ts";
import { signHeaders } from "./_sign.ts";
import { type MainProcess, startMain } from "./_main.ts";
import { selfSignedCert } from "./_tls.ts";

const KEY = { accessKey: "lo-ak", secretKey: "lo-secret" };

/**
 * main.ts at info level, bucket `b` on the backend at `port` (over HTTPS with
 * `verify: false` when `tls`); its config goes into `dir`.
 */
async function startOsp(
  port: number,
  options: { dir: string; tls?: boolean; accessLogSample?: number },
): Promise<MainProcess> {
  const path = `${options.dir}/osp.config.ts`;
  const bucket = localBucket(port, { tls: options.tls === true });
  await Deno.writeTextFile(
    path,
    `export default { hmacKeystore: [{ accessKey: "${KEY.accessKey}", secretKey: "${KEY.secretKey}" }],
      hostname: "127.0.0.1", logLevel: "info", verify: ${options.tls !== true},
      accessLogSample: ${options.accessLogSample ?? 1},
      cosMap: { b: ${JSON.stringify(bucket)} } };`,
  );
  return await startMain(["--config", path, "--http-port", "0"]);
}

Deno.test("main.ts keeps serving when its stdout pipe is closed, and says once that lines were dropped", async () => {
  const backend = countingBackend();
  const dir = await Deno.makeTempDir({ prefix: "osp-log-output-" });
  const main = await startOsp(backend.port, { dir });
  try {
    // Past the "listening" line, close osp's stdout: its next writes meet a
    // closed pipe (EPIPE).
    await main.closeStdout();
    const get = async () => {
      const u = `${main.base}/b/k`;
      const r = await fetch(u, { headers: signHeaders("GET", u, KEY) });
      await r.body?.cancel();
      return r.status;
    };
    // Bursts, with pauses shorter and longer than the 100 ms log window: the
    // first line after a pause is written at once, the rest when the window
    // closes (a timer).
    for (let round = 0; round < 8; round++) {
      const statuses = await Promise.all(Array.from({ length: 25 }, get));
      assert.deepEqual(new Set(statuses), new Set([200]));
      await new Promise((r) => setTimeout(r, round % 2 === 0 ? 20 : 150));
    }
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await get(), 200, "still serving after the log windows closed");
  } finally {
    try {
      main.child.kill("SIGTERM");
    } catch { /* ended */ }
    const status = await main.child.status;
    await main.release();
    const errors = main.errors();
    await backend.close();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, errors);
    const reports = errors.split("\n").filter((l) => l.includes("log output failed"));
    assert.equal(reports.length, 1, errors);
    const report = JSON.parse(reports[0]);
    assert.equal(report.level, "error");
    assert.ok(report.lines >= 1);
    assert.equal(report.error.name, "BrokenPipe");
  }
});

// A response body that fails after its head went out reaches Deno.serve's
// onError; Deno's default printed a bare stack on stderr. osp logs one JSON
// line naming the request and the backend (lib/serve/listeners.ts), and
// counts the bytes that went out. Through osp's own HTTP/1.1 client (a plain
// backend) and through node:http (an HTTPS backend with verify: false). With
// accessLogSample 0, so the request line shows that a failed body is logged
// as an error is, never sampled away.
for (const tls of [false, true]) {
  Deno.test(
    `main.ts logs a backend that cuts a response body as one JSON warn line with the request id, and counts the bytes that went out (${
      tls ? "HTTPS, verify: false: node:http" : "HTTP: osp's own client"
    })`,
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "osp-log-output-" });
      let listener: Deno.Listener;
      if (tls) {
        const files = await selfSignedCert(dir);
        listener = Deno.listenTls({
          hostname: "127.0.0.1",
          port: 0,
          cert: await Deno.readTextFile(files.cert),
          key: await Deno.readTextFile(files.key),
        });
      } else listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (listener.addr as Deno.NetAddr).port;
      const origin = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
      const serving = (async () => {
        for await (const conn of listener) {
          (async () => {
            const buf = new Uint8Array(65536);
            let head = "";
            while (!head.includes("\r\n\r\n")) {
              const n = await conn.read(buf);
              if (n === null) break;
              head += new TextDecoder().decode(buf.subarray(0, n));
            }
            await conn.write(
              new TextEncoder().encode(
                "HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n" + "x".repeat(1000),
              ),
            );
            await new Promise((r) => setTimeout(r, 20));
            conn.close();
          })().catch(() => {});
        }
      })();
      const main = await startOsp(port, { dir, tls, accessLogSample: 0 });
      let id: string | null = null;
      try {
        const u = `${main.base}/b/k`;
        const r = await fetch(u, { headers: signHeaders("GET", u, KEY) });
        assert.equal(r.status, 200);
        id = r.headers.get("x-amz-request-id");
        await assert.rejects(r.arrayBuffer());
        for (let i = 0; i < 50 && !main.errors().includes("response body failed"); i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        main.child.kill("SIGTERM");
        await main.child.status;
        await main.release();
        listener.close();
        await serving.catch(() => {});
        await Deno.remove(dir, { recursive: true });
      }
      const lines = main.errors().split("\n").filter((l) => l !== "");
      const parsed = lines.map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          throw new Error(`a stderr line is not JSON: ${l}\n${main.errors()}`);
        }
      });
      const failed = parsed.filter((l) => l.msg === "response body failed");
      assert.equal(failed.length, 1, main.errors());
      assert.equal(failed[0].level, "warn");
      assert.ok(id !== null);
      assert.equal(failed[0].requestId, id);
      assert.equal(failed[0].backend, origin);
      assert.equal(failed[0].aborted, false);
      assert.match(failed[0].error.message, tls ? /aborted/ : /closed the connection mid-body/);
      // The request line counts the 1000 bytes that went out, not the 1 MiB
      // declared (Deno's `completed` resolves although the body failed).
      const request = main.output().split("\n").filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l)).find((l) => l.msg === "request" && l.requestId === id);
      assert.equal(request?.status, 200, main.output());
      assert.equal(request?.bytesOut, 1000);
      assert.equal("sampleRate" in request, false);
    },
  );
}
