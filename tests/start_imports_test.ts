// What an osp process loads before its first request: the node: modules and
// npm packages reachable from main.ts through static imports (`deno info
// --json`; dynamic imports and type-only ones load nothing at start). Each one
// costs every process resident memory (docs/performance.md, "Idle memory"),
// so the list is closed: a new one needs a measurement and an entry here.
import assert from "node:assert/strict";

interface InfoDependency {
  specifier: string;
  code?: { specifier?: string };
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

const root = new URL("../", import.meta.url);

/** The node: and npm: modules main.ts reaches through static imports. */
async function loadedAtStart(entry: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, root).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: InfoModule[];
  };
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
