/**
 * osp's request stages one by one, in process, on a canned backend: where a
 * small GET's JavaScript time goes, so that a regression shows up in the
 * stage that caused it. Each case runs the stages before it too (a stage
 * needs its predecessor's value), so subtract the case above it.
 *
 *   deno bench -A bench/stages_bench.ts
 */
import { admit } from "../lib/request/admit.ts";
import { forward } from "../lib/request/forward.ts";
import { createHandler } from "../lib/request/handler.ts";
import { prepare } from "../lib/request/prepare.ts";
import { present } from "../lib/request/present.ts";
import { route } from "../lib/request/route.ts";
import { freshState, signed, targetOf, testPipeline } from "../lib/request/_test_util.ts";
import { stageRunner, STAGES } from "./_bench_setup.ts";

const OBJECT = new Uint8Array(1024);
const { pipeline } = testPipeline({
  config: { validator: () => true },
  bucket: { ttl: 300 },
  backend: () => new Response(OBJECT, { headers: { "content-length": "1024", etag: '"e"' } }),
});
const handler = createHandler(pipeline);
const upTo = stageRunner(
  { route, admit, prepare, forward, present, freshState, targetOf },
  { pipeline, request: signed("GET", "/data/photos/2024/IMG_0042.jpg?versionId=3") },
);

// Warm the caches (validator decision, signing keys, secrets) once.
await upTo("present");

for (const stage of STAGES) {
  Deno.bench({
    name: `up to ${stage}`,
    group: "stages",
    baseline: stage === "route",
    fn: () => upTo(stage),
  });
}
Deno.bench({
  name: "the whole handler (exchange included)",
  group: "stages",
  async fn() {
    const response = await handler(signed("GET", "/data/photos/2024/IMG_0042.jpg?versionId=3"), {
      remoteIp: "127.0.0.1",
    });
    await response.body?.cancel();
  },
});
