import assert from "node:assert/strict";
import { denoEval } from "../../tests/_deno_eval.ts";

// What a streamed answer does to the heap, in a fresh process: sixteen 256
// KiB chunks allocated, written and freed, twenty times over; the page
// faults of the last twenty rounds from /proc/self/stat. `setup` runs first.
async function churnFaults(setup: string): Promise<number> {
  const script = `
    ${setup}
    const faults = () => Number(Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ")[7]);
    const round = () => {
      const chunks = Array.from({ length: 16 }, () => new Uint8Array(256 * 1024).fill(1));
      for (const c of chunks) c.buffer.transfer(0);
    };
    round();
    const before = faults();
    for (let i = 0; i < 20; i++) round();
    console.log(faults() - before);
    Deno.exit(0);
  `;
  const out = await denoEval(script, { flags: ["--ext=ts"] });
  assert.equal(out.code, 0, out.stderr);
  return Number(out.stdout.trim());
}

const here = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);

// Each round's 4 MiB is faulted in again without priming (16 × 64 pages =
// 1024 a round, about 20 000 in all); with it, the heap keeps them.
Deno.test({
  name: "primeMalloc: freed stream chunks stay in the heap instead of being faulted in again",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const plain = await churnFaults("");
    const primed = await churnFaults(
      `import { primeMalloc } from ${here("./_malloc.ts")}; primeMalloc();`,
    );
    // The check itself works: without priming, every round faults again.
    assert.ok(plain > 10_000, `${plain} page faults without priming`);
    assert.ok(primed < plain / 10, `${primed} page faults primed, against ${plain}`);
  },
});

Deno.test({
  name: "serve() primes malloc as it starts",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const faults = await churnFaults(`
      import { localProxy } from ${here("../../tests/_backend.ts")};
      localProxy(9, { key: { accessKey: "k", secretKey: "s" } });
    `);
    assert.ok(faults < 2_000, `${faults} page faults after serve()`);
  },
});
