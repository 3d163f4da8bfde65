import assert from "node:assert/strict";
import { S3Error } from "../request/errors.ts";
import { formBoundary, readPostForm } from "./post_form.ts";

const B = "XyZboundary";
const enc = new TextEncoder();

function form(
  fields: [string, string][],
  file: string,
  options: { filename?: string; end?: string; preamble?: string } = {},
): Uint8Array {
  let text = options.preamble ?? "";
  for (const [name, value] of fields) {
    text += `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  }
  text += `--${B}\r\nContent-Disposition: form-data; name="file"; filename="${
    options.filename ?? "a.txt"
  }"\r\nContent-Type: text/plain\r\n\r\n${file}${options.end ?? `\r\n--${B}--\r\n`}`;
  return enc.encode(text);
}

/** The body as a stream cut at the given offsets. */
function chunked(body: Uint8Array, cuts: number[]): ReadableStream<Uint8Array> {
  const pieces: Uint8Array[] = [];
  let last = 0;
  for (const c of [...cuts, body.length]) {
    pieces.push(body.slice(last, c));
    last = c;
  }
  return ReadableStream.from(pieces);
}

async function read(body: Uint8Array, cuts: number[] = [], length = body.length) {
  const parsed = await readPostForm(chunked(body, cuts), {
    contentType: `multipart/form-data; boundary=${B}`,
    contentLength: length,
  });
  const file = new TextDecoder().decode(
    new Uint8Array(await new Response(parsed.file).arrayBuffer()),
  );
  return { ...parsed, text: file };
}

async function rejects(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => e instanceof S3Error && e.code === code);
}

Deno.test("post form: fields in order, lower-cased names, the file and its name", async () => {
  const body = form([["key", "u/${filename}"], ["Content-Type", "text/plain"], [
    "x-amz-meta-a",
    "é",
  ]], "hello");
  const r = await read(body);
  assert.deepEqual(r.names, ["key", "Content-Type", "x-amz-meta-a"]);
  assert.deepEqual([...r.fields], [["key", "u/${filename}"], ["content-type", "text/plain"], [
    "x-amz-meta-a",
    "é",
  ]]);
  assert.equal(r.filename, "a.txt");
  assert.equal(r.fileLength, 5);
  assert.equal(r.text, "hello");
  assert.equal(r.fileOffset, body.length - 5 - `\r\n--${B}--\r\n`.length);
});

Deno.test("post form: the body split at every byte position parses the same", async () => {
  const body = form([["key", "k"], ["policy", "cG9s"]], "file\r\n-- bytes --\r\n");
  for (let i = 1; i < body.length; i++) {
    const r = await read(body, [i]);
    assert.equal(r.text, "file\r\n-- bytes --\r\n", `cut at ${i}`);
    assert.equal(r.fields.get("policy"), "cG9s");
  }
  // And one byte at a time.
  const r = await read(body, Array.from({ length: body.length - 1 }, (_, i) => i + 1));
  assert.equal(r.text, "file\r\n-- bytes --\r\n");
});

Deno.test("post form: a preamble before the first boundary is skipped", async () => {
  const r = await read(form([["key", "k"]], "x", { preamble: "ignored\r\n" }));
  assert.equal(r.fields.get("key"), "k");
  assert.equal(r.text, "x");
});

Deno.test("post form: an empty file", async () => {
  const r = await read(form([["key", "k"]], ""));
  assert.equal(r.fileLength, 0);
  assert.equal(r.text, "");
});

const BIG = "0123456789".repeat(7000); // streamed: more than SMALL_FILE_MAX

Deno.test("post form: a body cut short, a missing or wrong closing boundary, a part after the file fail", async () => {
  for (const file of ["0123456789", BIG]) {
    const body = form([["key", "k"]], file);
    await rejects(read(body.slice(0, body.length - 3), [], body.length), "IncompleteBody");
    await rejects(read(body.slice(0, body.length - 20), [], body.length), "IncompleteBody");
    await rejects(
      read(form([["key", "k"]], file, { end: `\r\n--${B}--\r\nepilogue` })),
      "MalformedPOSTRequest",
    );
    const after = form([["key", "k"]], file, {
      end:
        `\r\n--${B}\r\nContent-Disposition: form-data; name="acl"\r\n\r\npublic-read\r\n--${B}--\r\n`,
    });
    await rejects(read(after), "MalformedPOSTRequest");
  }
  // Without the final CRLF (Deno's FormData): read whole when small, refused when streamed.
  const small = await read(form([["key", "k"]], "0123456789", { end: `\r\n--${B}--` }));
  assert.equal(small.text, "0123456789");
  await rejects(read(form([["key", "k"]], BIG, { end: `\r\n--${B}--` })), "MalformedPOSTRequest");
});

Deno.test("post form: a streamed file split at many positions", async () => {
  const body = form([["key", "k"]], BIG);
  for (let i = body.length - 80; i < body.length; i++) {
    assert.equal((await read(body, [100, 200, i])).text, BIG, `cut at ${i}`);
  }
});

Deno.test("post form: the file stream holds back its last piece until the closing boundary", async () => {
  const body = form([["key", "k"]], BIG);
  const cut = body.length - 4; // the closing boundary loses its end
  const parsed = await readPostForm(chunked(body.slice(0, cut), [1000, 30_000, cut - 30]), {
    contentType: `multipart/form-data; boundary=${B}`,
    contentLength: body.length,
  });
  const reader = parsed.file.getReader();
  let got = 0;
  await assert.rejects(async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.length;
    }
  });
  assert.ok(got < BIG.length, `only ${got} of ${BIG.length} bytes passed`);
});

Deno.test("post form: limits and malformed forms", async () => {
  const big = form([["key", "k"], ["x-ignore-pad", "p".repeat(70_000)]], "x");
  await rejects(read(big), "MaxPostPreDataLengthExceededError");
  await rejects(read(form([["key", "k"], ["key", "j"]], "x")), "InvalidArgument");
  await rejects(
    read(
      enc.encode(`--${B}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--${B}--\r\n`),
    ),
    "InvalidArgument",
  );
  await rejects(
    read(enc.encode(`--${B}\r\nContent-Disposition: form-data; name="key"\r\n\r\nk`)),
    "MalformedPOSTRequest",
  );
  await rejects(
    read(enc.encode(`--${B}\r\nX: y\r\n\r\nk\r\n--${B}--\r\n`)),
    "MalformedPOSTRequest",
  );
  await rejects(read(form([["key", "k"]], "x"), [], 10), "MalformedPOSTRequest");
});

Deno.test("post form: the boundary from the Content-Type", () => {
  assert.equal(formBoundary("multipart/form-data; boundary=abc"), "abc");
  assert.equal(formBoundary('Multipart/Form-Data;charset=utf-8; Boundary="a b:c"'), "a b:c");
  assert.throws(() => formBoundary("multipart/form-data"), S3Error);
  assert.throws(() => formBoundary("multipart/form-data; boundary=" + "x".repeat(71)), S3Error);
  assert.throws(() => formBoundary("text/plain; boundary=abc"), S3Error);
});
