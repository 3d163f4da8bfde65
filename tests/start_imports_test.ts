// What an osp process loads before its first request: the node: modules and
// npm packages reachable from main.ts through static imports (`deno info
// --json`; dynamic imports and type-only ones load nothing at start). Each one
// costs every process resident memory (docs/performance.md, "Idle memory"),
// so the list is closed: a new one needs a measurement and an entry here.
import assert from "node:assert/strict";
import { denoInfo } from "./_deno_info.ts";

/** The node: and npm: modules main.ts reaches through static imports. */
async function loadedAtStart(entry: string): Promise<string[]> {
  const info = await denoInfo(entry);
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const external = new Set<string>();
  const walk = (specifier: string) => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const dep of modules.get(specifier)?.dependencies ?? []) {
      const target = dep.code?.specifier;
      if (dep.isDynamic || target === undefined) continue;
      if (!target.startsWith("file:")) external.add(dep.specifier);
      else walk(target);
    }
  };
  walk(info.roots[0]);
  return [...external].sort();
}

Deno.test("start: main.ts statically loads only these node: modules and no npm package", async () => {
  assert.deepEqual(await loadedAtStart("main.ts"), [
    "node:buffer",
    "node:crypto",
    "node:path",
    "node:url",
    "node:util",
    "node:zlib",
  ]);
});
