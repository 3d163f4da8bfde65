import assert from "node:assert/strict";
import { isoTime } from "./log.ts";
import { denoEval } from "../../tests/_deno_eval.ts";

/** Runs `code` in a child Deno with this module imported as `log`; returns its stdout and stderr. */
async function child(code: string): Promise<{ stdout: string; stderr: string }> {
  const module = new URL("./log.ts", import.meta.url).href;
  const { stdout, stderr } = await denoEval(`import * as log from "${module}";\n${code}`);
  return { stdout, stderr };
}

Deno.test("log: buffered output writes every line whole, in order, and flushes at exit", async () => {
  const { stdout, stderr } = await child(`
    log.bufferLogOutput();
    const logger = log.createLogger({ level: "info" });
    for (let i = 0; i < 2000; i++) logger.log("info", "request", { n: i, pad: "x".repeat(i % 300) });
    logger.log("warn", "after", { n: 2000 });
    for (let i = 2001; i < 2100; i++) logger.log("info", "request", { n: i });
  `);
  const lines = stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.n), [
    ...Array(2000).keys(),
    ...Array.from({ length: 99 }, (_, i) => 2001 + i),
  ]);
  assert.equal(JSON.parse(stderr.trim()).n, 2000);
});

Deno.test("log: buffered lines go out within a flush period while the process runs", async () => {
  const { stdout } = await child(`
    log.bufferLogOutput();
    const logger = log.createLogger({ level: "info" });
    logger.log("info", "first");
    logger.log("info", "second");
    await new Promise((r) => setTimeout(r, 400));
    // Die without unload handlers: only the window's timer can have written "second".
    Deno.kill(Deno.pid, "SIGKILL");
  `);
  assert.match(stdout, /"msg":"first"[^\n]*\n[^\n]*"msg":"second"/);
});

Deno.test("log: a lone line after a quiet spell goes out at once", async () => {
  const { stdout } = await child(`
    log.bufferLogOutput();
    log.createLogger({ level: "info" }).log("info", "listening");
    // Killed before any timer could fire: only an immediate write shows the line.
    Deno.kill(Deno.pid, "SIGKILL");
  `);
  assert.match(stdout, /"msg":"listening"/);
});

Deno.test("isoTime: the same text as Date.toISOString, across seconds and odd times", () => {
  const times = [0, 1, 9, 10, 99, 100, 999, 1000, 1736944200123, 1736944200999, 1736944201000];
  for (const ms of [...times, ...times.map((t) => t + 86_400_000 * 365)]) {
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
  for (let i = 0; i < 2000; i++) {
    const ms = Math.floor(Math.random() * 4e12);
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
  // Outside four-digit years Date's own text is used.
  assert.equal(isoTime(-1), new Date(-1).toISOString());
  assert.equal(isoTime(253402300800000), new Date(253402300800000).toISOString());
});
