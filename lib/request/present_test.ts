import assert from "node:assert/strict";
import { type Outbound, prepare } from "./prepare.ts";
import { present } from "./present.ts";
import type { Pipeline } from "./context.ts";
import { admitted, freshState, signed, testPipeline } from "./_test_util.ts";

let lastPipeline: Pipeline;

async function outboundOf(request: Request, config: object = {}): Promise<Outbound> {
  const { pipeline } = testPipeline({ config });
  lastPipeline = pipeline;
  const state = freshState();
  const admission = await admitted(pipeline, request, state);
  return await prepare(pipeline, admission, { body: request.body, state }) as Outbound;
}

const xml = (body: string) =>
  new Response(body, {
    headers: { "content-type": "application/xml", "content-length": String(body.length) },
  });

Deno.test("present: an alias never shows the backend's bucket name", async () => {
  const out = await outboundOf(signed("GET", "/data?list-type=2"));
  const answer = await present(
    lastPipeline,
    out,
    xml("<ListBucketResult><Name>be-data</Name></ListBucketResult>"),
    {
      url: "http://proxy.test:8080/data?list-type=2",
    },
  );
  assert.equal(await answer.text(), "<ListBucketResult><Name>data</Name></ListBucketResult>");
  assert.equal(answer.headers.get("content-length"), null);
});

Deno.test("present: an object body naming the backend bucket is left alone", async () => {
  const out = await outboundOf(signed("GET", "/data/k"));
  const body = "<Name>be-data</Name>";
  const answer = await present(lastPipeline, out, xml(body), {
    url: "http://proxy.test:8080/data/k",
  });
  assert.equal(await answer.text(), body);
});

Deno.test("present: refused DeleteObjects keys are merged into the backend's result", async () => {
  const doc = "<Delete><Object><Key>keep</Key></Object><Object><Key>go</Key></Object></Delete>";
  const out = await outboundOf(signed("POST", "/data?delete", { body: doc }), {
    validator: (_t: string, _b: string, r: { key?: string }) => r.key !== "keep",
  });
  const answer = await present(
    lastPipeline,
    out,
    xml("<DeleteResult><Deleted><Key>go</Key></Deleted></DeleteResult>"),
    { url: "http://proxy.test:8080/data?delete" },
  );
  assert.match(
    await answer.text(),
    /<Deleted><Key>go<\/Key><\/Deleted><Error><Key>keep<\/Key><Code>AccessDenied<\/Code>/,
  );
});
