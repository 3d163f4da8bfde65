/**
 * What importing a module costs a Deno process in resident memory: for each
 * set of specifiers (one argument, comma-separated; `-` for none), a fresh
 * `deno run` that imports them and nothing else, VmRSS read 2 s after start;
 * sets interleaved, medians of --rounds.
 *
 *   deno run -A bench/import_rss.ts - node:crypto node:buffer,node:crypto,node:zlib
 *
 * Bare specifiers resolve through this checkout's deno.json (without touching its lock file).
 */
import { parseArgs } from "node:util";
import { median, settledRssMib } from "./_procs.ts";

const args = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "3" } },
  allowPositionals: true,
});
const sets = args.positionals.map((a) => a === "-" ? [] : a.split(","));
const config = new URL("../deno.json", import.meta.url).pathname;

async function sample(specifiers: string[]): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "osp-import-rss-" });
  const file = `${dir}/probe.ts`;
  const imports = specifiers.map((s) => `import ${JSON.stringify(s)};\n`).join("");
  await Deno.writeTextFile(file, `${imports}setInterval(() => {}, 1000);\n`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", "--config", config, file],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  return await settledRssMib(child, { dir });
}

const results = sets.map(() => [] as number[]);
for (let r = 0; r < Number(args.values.rounds); r++) {
  for (const [i, set] of sets.entries()) results[i].push(await sample(set));
}
console.log("| imports | VmRSS, MiB (each round) | median |");
console.log("|---|---|---|");
for (const [i, set] of sets.entries()) {
  const values = results[i];
  console.log(
    `| ${set.join(", ") || "(nothing)"} | ${values.map((v) => v.toFixed(1)).join(" / ")} | ${
      median(values).toFixed(1)
    } |`,
  );
}
