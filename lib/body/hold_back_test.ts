import assert from "node:assert/strict";
import { holdBackStream } from "./hold_back.ts";

function source(chunks: string[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c)));
}

Deno.test("hold_back: passes every byte through when the check passes", async () => {
  let seen = "";
  const out = source(["ab", "cd", "", "ef"]).pipeThrough(holdBackStream({
    update: (c) => seen += new TextDecoder().decode(c),
    check: () => {},
  }));
  assert.equal(await new Response(out).text(), "abcdef");
  assert.equal(seen, "abcdef");
});

Deno.test("hold_back: a failing check keeps the last piece from the consumer", async () => {
  const received: string[] = [];
  const out = source(["ab", "cd", "ef"]).pipeThrough(holdBackStream({
    update: () => {},
    check: () => {
      throw new Error("digest mismatch");
    },
  }));
  const reader = out.getReader();
  await assert.rejects(async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received.push(new TextDecoder().decode(value));
    }
  }, /digest mismatch/);
  assert.deepEqual(received, ["ab", "cd"], "the final piece never arrived");
});
