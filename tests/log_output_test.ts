// The access log's output can fail under a running proxy: a log collector
// that exits closes the pipe osp writes to. Lines are then dropped and the
// loss reported on stderr; the proxy keeps serving (before, the first
// buffered flush into the closed pipe threw in a timer and ended it).
import assert from "node:assert/strict";
import { countingBackend, localBucket } from "./_backend.ts";
import { signHeaders } from "./_sign.ts";
import { startMain } from "./_main.ts";

const KEY = { accessKey: "lo-ak", secretKey: "lo-secret" };

Deno.test("main.ts keeps serving when its stdout pipe is closed, and says once that lines were dropped", async () => {
  const backend = countingBackend();
  const dir = await Deno.makeTempDir({ prefix: "osp-log-output-" });
  const path = `${dir}/osp.config.ts`;
  await Deno.writeTextFile(
    path,
    `export default { hmacKeystore: [{ accessKey: "${KEY.accessKey}", secretKey: "${KEY.secretKey}" }],
      hostname: "127.0.0.1", logLevel: "info",
      cosMap: { b: ${JSON.stringify(localBucket(backend.port))} } };`,
  );
  const main = await startMain(["--config", path, "--http-port", "0"]);
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
