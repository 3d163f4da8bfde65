/**
 * Peak resident memory of osp (main.ts, a config module) while a browser
 * form upload (presigned POST) of 100 MiB passes through it to a no-op
 * backend (bench/noop_backend.ts), sent by curl from a file:
 *
 *   deno run -A bench/post_rss.ts [--mib 100]
 *
 * Prints VmRSS before, VmHWM (peak) after, and the upload's time. The form's
 * file streams through osp: the peak should not grow with the file.
 */
import { parseArgs } from "node:util";
import { postForm } from "../tests/_sign.ts";
import { freePort, waitFor } from "./_procs.ts";

const args = parseArgs({ args: Deno.args, options: { mib: { type: "string", default: "100" } } });
const size = Number(args.values.mib) << 20;
const CLIENT = { accessKey: "bench", secretKey: "bench-secret" };

const memory = async (pid: number, field: string) =>
  Number(
    new RegExp(`${field}:\\s+(\\d+)`).exec(await Deno.readTextFile(`/proc/${pid}/status`))![1],
  ) /
  1024;

const dir = await Deno.makeTempDir({ prefix: "osp-post-bench-" });
const backendPort = freePort();
const httpPort = freePort();
const backend = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net",
    new URL("noop_backend.ts", import.meta.url).pathname,
    String(backendPort),
  ],
  stdout: "null",
}).spawn();
const config = {
  httpPort,
  hostname: "127.0.0.1",
  logLevel: "error",
  hmacKeystore: [CLIENT],
  cosMap: {
    data: {
      host: "127.0.0.1",
      port: backendPort,
      tls: false,
      addressingStyle: "path",
      accessKey: "a",
      secretKey: "s",
    },
  },
};
await Deno.writeTextFile(`${dir}/osp.config.ts`, `export default ${JSON.stringify(config)};\n`);
const osp = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    "--unstable-net",
    new URL("../main.ts", import.meta.url).pathname,
    "--config",
    `${dir}/osp.config.ts`,
  ],
  stdout: "null",
  stderr: "inherit",
}).spawn();
try {
  await waitFor(backendPort);
  await waitFor(httpPort);
  await new Promise((r) => setTimeout(r, 1000));
  const file = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
  const { body, contentType } = postForm({
    ...CLIENT,
    bucket: "data",
    fields: { key: "bench/post.bin", "Content-Type": "application/octet-stream" },
    file,
  });
  await Deno.writeFile(`${dir}/form`, body);
  const before = await memory(osp.pid, "VmRSS");
  const started = performance.now();
  const out = await new Deno.Command("curl", {
    args: [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-H",
      `content-type: ${contentType}`,
      "--data-binary",
      `@${dir}/form`,
      `http://127.0.0.1:${httpPort}/data`,
    ],
    stdout: "piped",
  }).output();
  const ms = performance.now() - started;
  const status = new TextDecoder().decode(out.stdout);
  const peak = await memory(osp.pid, "VmHWM");
  console.log(
    `| ${args.values.mib} MiB form POST | HTTP ${status} | RSS before ${before.toFixed(1)} MiB | ` +
      `peak (VmHWM) ${peak.toFixed(1)} MiB | ${(ms / 1000).toFixed(2)} s, ${
        (size / (1 << 20) / (ms / 1000)).toFixed(0)
      } MiB/s |`,
  );
} finally {
  osp.kill("SIGKILL");
  backend.kill("SIGKILL");
  await osp.status;
  await backend.status;
  await Deno.remove(dir, { recursive: true });
}
