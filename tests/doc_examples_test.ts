// Every @example in osp's library modules runs and asserts: `deno test --doc`
// over the non-test files of lib/ and mod.ts, in a child process (a test
// module cannot register doc tests itself). Examples marked `ts ignore` need
// a network or a running server and are only shown.
import assert from "node:assert/strict";

async function libraryFiles(dir: URL): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) files.push(...await libraryFiles(url));
    else if (/(?<!_test)\.ts$/.test(entry.name) && !entry.name.startsWith("_")) {
      files.push(url.pathname);
    }
  }
  return files;
}

Deno.test("examples: every JSDoc @example in lib/ and mod.ts runs and passes", async () => {
  const root = new URL("../", import.meta.url);
  const files = [new URL("mod.ts", root).pathname, ...await libraryFiles(new URL("lib/", root))];
  assert.ok(files.length > 50, `only ${files.length} files`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--doc", "-A", "--no-check=remote", ...files],
    cwd: root.pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text.slice(-4000));
  assert.match(text, /ok \| \d+ passed/);
});
