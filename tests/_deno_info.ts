// `deno info --json` of an entry point of this repository, for the tests
// that check the module graph (import cycles, what loads at start).
import assert from "node:assert/strict";

/** One dependency of a module, as `deno info --json` lists it. */
export interface InfoDependency {
  specifier: string;
  code?: { specifier?: string };
  type?: { specifier?: string };
  isDynamic?: boolean;
}

/** One module of the graph. */
export interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

/** The graph reachable from `entry` (a path relative to the repository root). */
export async function denoInfo(entry: string): Promise<{ roots: string[]; modules: InfoModule[] }> {
  const path = new URL(`../${entry}`, import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
