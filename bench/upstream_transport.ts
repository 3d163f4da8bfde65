// Measures the upstream client choice: a 256 MiB GET streamed from the no-op
// backend (own process) through osp, via fetch (the default path) and via
// node:http (taken for keys with dot segments), against a direct GET. The
// client is curl (own process); RSS is the proxy's (this process).
//   deno run -A bench/upstream_transport.ts
import { serve } from "../mod.ts";
import { localBucket } from "../tests/_backend.ts";
import { signHeaders } from "../tests/_sign.ts";

const SIZE = 256 * 1024 * 1024;
const RUNS = 3;
const backend = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", new URL("./noop_backend.ts", import.meta.url).pathname],
  stdout: "piped",
}).spawn();
const reader = backend.stdout.pipeThrough(new TextDecoderStream()).getReader();
const { port } = JSON.parse((await reader.read()).value!);
const key = { accessKey: "bench", secretKey: "bench-secret" };
const proxy = serve({
  httpPort: 0,
  hostname: "127.0.0.1",
  logLevel: "warn",
  hmacKeystore: [key],
  cosMap: { b: localBucket(port) },
});

async function curl(url: string, headers: Record<string, string>): Promise<number> {
  const args = [
    "-sS",
    "--path-as-is",
    "-o",
    "/dev/null",
    "-w",
    "%{size_download} %{time_total}",
    url,
  ];
  for (const [k, v] of Object.entries(headers)) if (k !== "host") args.push("-H", `${k}: ${v}`);
  const out = await new Deno.Command("curl", { args, stdout: "piped" }).output();
  const [bytes, seconds] = new TextDecoder().decode(out.stdout).split(" ").map(Number);
  if (bytes !== SIZE) throw new Error(`got ${bytes} bytes`);
  return SIZE / seconds / 1e6;
}

const baselineRss = Deno.memoryUsage().rss;
let peakRss = 0;
const sampler = setInterval(() => peakRss = Math.max(peakRss, Deno.memoryUsage().rss), 50);
const results: Record<string, number[]> = { direct: [], fetch: [], "node:http": [] };
const rss: Record<string, number> = {};
for (let i = 0; i < RUNS; i++) {
  results.direct.push(await curl(`http://127.0.0.1:${port}/b/${SIZE}`, {}));
  for (const [name, path] of [["fetch", `/b/${SIZE}`], ["node:http", `/b/./${SIZE}`]]) {
    const url = `http://127.0.0.1:${proxy.http!.port}${path}`;
    peakRss = 0;
    results[name].push(await curl(url, signHeaders("GET", url, key)));
    rss[name] = Math.max(rss[name] ?? 0, peakRss);
  }
}
clearInterval(sampler);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const d = median(results.direct);
console.log(`proxy process RSS before any transfer: ${(baselineRss / 2 ** 20).toFixed(0)} MiB\n`);
console.log(`| path | MB/s (median of ${RUNS}) | × direct | proxy peak RSS |`);
console.log("|---|---|---|---|");
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  console.log(
    `| ${name} | ${m.toFixed(0)} | ${(m / d).toFixed(2)} | ${
      rss[name] ? (rss[name] / 2 ** 20).toFixed(0) + " MiB" : "–"
    } |`,
  );
}
await proxy.shutdown();
backend.kill();
await backend.status;
