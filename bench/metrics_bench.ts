/**
 * What recording one finished request into the metrics costs (the handler
 * does it once per request), and one render of the exposition. With
 * OSP_BASE=<another checkout>, the same benches run on that checkout's
 * lib/observe/metrics.ts too, in the same run, for a before/after:
 *
 *   OSP_BASE=/tmp/osp-base deno bench -A bench/metrics_bench.ts
 */
import { Metrics } from "../lib/observe/metrics.ts";

type MetricsClass = typeof Metrics;
const base = Deno.env.get("OSP_BASE");
const variants: [string, MetricsClass][] = [["this checkout", Metrics]];
if (base) {
  const url = new URL(`${base.replace(/\/$/, "")}/lib/observe/metrics.ts`, "file:///");
  variants.push(["OSP_BASE", (await import(url.href)).Metrics]);
}

const RECORD = {
  operation: "GetObject",
  bucket: "photos",
  status: 200,
  durationMs: 3.2,
  upstreamMs: 1.1,
  bytesIn: 0,
  bytesOut: 1024,
  sigVersion: "4" as const,
};

for (const [label, M] of variants) {
  const m = new M({ version: "bench" });
  Deno.bench(`requestFinished (${label})`, { group: "record" }, () => {
    m.requestStarted();
    m.requestFinished(RECORD);
  });
  const full = new M({ version: "bench" });
  for (const operation of ["GetObject", "PutObject", "HeadObject", "ListObjectsV2"]) {
    for (const bucket of ["a", "b", "c", "_unknown"]) {
      full.requestFinished({ ...RECORD, operation, bucket });
    }
  }
  Deno.bench(`render, 16 series (${label})`, { group: "render" }, async () => {
    await full.render();
  });
}
