// osp runs with --v8-flags=--no-memory-reducer,--no-allocation-site-pretenuring
// wherever this repository says how to run it: without the first, a pause in
// the traffic throws away the code V8 compiled for osp's requests; without
// the second, about one process in three keeps each request's objects alive
// into V8's old generation and stays slow (bench/gc_modes.ts,
// docs/performance.md, "Pretenuring: one process in three was slow"). What
// they save is measured, not tested (V8 takes both decisions on its own
// timers and statistics, which a test's seconds do not reliably reach):
// `deno run -A bench/warm_up.ts --rounds 8 --idle-after 4 --idle 30` with and
// without `--proxy-v8-flags=--no-memory-reducer` (docs/performance.md, "JIT
// warm-up and idle periods"), and `deno run -A bench/gc_modes.ts`.
import assert from "node:assert/strict";

const FLAG = "--v8-flags=--no-memory-reducer,--no-allocation-site-pretenuring";
const root = (path: string) => new URL(`../${path}`, import.meta.url).pathname;

/** The arguments of `deno task start` between `deno run` and `main.ts`. */
function startTaskFlags(): string[] {
  const task: string = JSON.parse(Deno.readTextFileSync(root("deno.json"))).tasks.start;
  const words = task.split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "run"], task);
  return words.slice(2, words.indexOf("main.ts"));
}

Deno.test("v8 flags: every documented way to run osp passes --v8-flags=--no-memory-reducer,--no-allocation-site-pretenuring", () => {
  assert.ok(startTaskFlags().includes(FLAG), "deno task start");
  const cmd = /^CMD \[([\s\S]*?)\]/m.exec(Deno.readTextFileSync(root("Dockerfile")));
  assert.ok(cmd, "the Dockerfile has a CMD");
  assert.ok(cmd[1].includes(`"${FLAG}"`), "the image's CMD");
  for (const doc of ["README.md", "docs/operating.md"]) {
    const lines = Deno.readTextFileSync(root(doc)).split("\n")
      .filter((line) => /deno run .*(main\.ts|dist\/osp\.js) --config/.test(line));
    assert.ok(lines.length > 0, `${doc} shows how to run osp`);
    for (const line of lines) assert.ok(line.includes(FLAG), `${doc}: ${line}`);
  }
});
