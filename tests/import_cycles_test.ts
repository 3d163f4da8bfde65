// No import cycles among osp's own modules: `deno info --json` lists every
// module reachable from the entry points with its dependencies; a depth-first
// walk over the project's own files finds any cycle and names it. Type-only
// imports count too: a cycle of types still ties two modules together.
import assert from "node:assert/strict";
import { denoInfo } from "./_deno_info.ts";

const root = new URL("../", import.meta.url).href;

async function graph(entries: string[]): Promise<Map<string, string[]>> {
  const edges = new Map<string, string[]>();
  for (const entry of entries) {
    const info = await denoInfo(entry);
    for (const m of info.modules) {
      if (!m.specifier.startsWith(root) || m.specifier.includes("/node_modules/")) continue;
      const deps = (m.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier])
        .filter((s): s is string => s !== undefined && s.startsWith(root));
      edges.set(m.specifier, [...new Set([...(edges.get(m.specifier) ?? []), ...deps])]);
    }
  }
  return edges;
}

function findCycle(edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, "open");
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of edges.keys()) {
    if (state.get(node) !== undefined) continue;
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

Deno.test("modules: no import cycles among osp's own files", async () => {
  const edges = await graph(["mod.ts", "main.ts", "lib/serve/worker.ts"]);
  assert.ok(edges.size > 40, `only ${edges.size} modules found`);
  const cycle = findCycle(edges);
  assert.equal(
    cycle,
    undefined,
    `import cycle: ${cycle?.map((s) => s.slice(root.length)).join(" -> ")}`,
  );
});

Deno.test("modules: the cycle finder finds a cycle", () => {
  const edges = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", []]]);
  assert.deepEqual(findCycle(edges), ["a", "b", "c", "a"]);
  assert.equal(findCycle(new Map([["a", ["b"]], ["b", []]])), undefined);
});
