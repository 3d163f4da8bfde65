/**
 * Idle resident memory of osp as users run it (main.ts with a config module),
 * per config: minimal, with a Redis store (pointing at a closed port: the
 * client only has to be loaded), with metrics. Several checkouts can be
 * compared in one interleaved run:
 *
 *   deno run -A bench/idle_rss.ts                       # this checkout
 *   deno run -A bench/idle_rss.ts --root /tmp/old --root .   # before / after
 *
 * Each sample is a fresh process, read from /proc/PID/status (VmRSS) once its
 * listener is up and 2 s have passed.
 */
import { parseArgs } from "node:util";
import { freePort, median, settledRssMib, waitFor } from "./_procs.ts";

const args = parseArgs({
  args: Deno.args,
  options: { root: { type: "string", multiple: true }, rounds: { type: "string", default: "3" } },
});
const roots = (args.values.root ?? ["."]).map((r) =>
  new URL(r.endsWith("/") ? r : r + "/", `file://${Deno.cwd()}/`)
);
const rounds = Number(args.values.rounds);

const VARIANTS: Record<
  string,
  (ports: { http: number; metrics: number; closed: number }) => object
> = {
  minimal: () => ({}),
  "store.redis": ({ closed }) => ({ store: { redis: `redis://127.0.0.1:${closed}` } }),
  metricsPort: ({ metrics }) => ({ metricsPort: metrics }),
};

async function sample(root: URL, variant: string): Promise<number> {
  const ports = { http: freePort(), metrics: freePort(), closed: freePort() };
  const dir = await Deno.makeTempDir({ prefix: "osp-idle-" });
  const config = {
    httpPort: ports.http,
    hostname: "127.0.0.1",
    logLevel: "error",
    hmacKeystore: [{ accessKey: "idle", secretKey: "idle-secret" }],
    cosMap: { data: { host: "127.0.0.1", port: 9, tls: false, accessKey: "a", secretKey: "s" } },
    ...VARIANTS[variant](ports),
  };
  await Deno.writeTextFile(`${dir}/osp.config.ts`, `export default ${JSON.stringify(config)};\n`);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      new URL("main.ts", root).pathname,
      "--config",
      `${dir}/osp.config.ts`,
    ],
    cwd: root.pathname,
    stdout: "null",
    stderr: "null",
  }).spawn();
  return await settledRssMib(child, { dir, ready: () => waitFor(ports.http) });
}

const results = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  for (const variant of Object.keys(VARIANTS)) {
    for (const root of roots) {
      const key = `${variant}\t${root.pathname}`;
      results.set(key, [...(results.get(key) ?? []), await sample(root, variant)]);
    }
  }
}
console.log("| config | checkout | idle RSS, MiB (each round) | median |");
console.log("|---|---|---|---|");
for (const [key, values] of results) {
  const [variant, root] = key.split("\t");
  console.log(
    `| ${variant} | ${root} | ${values.map((v) => v.toFixed(1)).join(" / ")} | ${
      median(values).toFixed(1)
    } |`,
  );
}
