import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  BodySourceError,
  failedBodyBytes,
  Http1Pool,
  RELEASE_TRACK_MAX,
  releaseBodyChunks,
  ResponseBodyError,
  sendHttp1,
} from "./http1.ts";
import { raceServer, type Step } from "./_test_util.ts";
import { caSignedCert } from "../../tests/_tls.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Received {
  head: string;
  /** The head's bytes as received. */
  rawHead: Uint8Array;
  body: Uint8Array;
  /** The client closed its side (EOF or reset) before sending all it declared. */
  cut: boolean;
}

/**
 * A raw TCP server: reads one request (head + Content-Length bytes), hands it
 * to `answer`, writes what `answer` returns, and closes.
 */
function rawServer(
  answer: (req: Received) => Uint8Array | string | Promise<Uint8Array | string>,
  options: { early?: string } = {},
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Received[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      (async () => {
        let data = new Uint8Array(0);
        let cut = false;
        const buf = new Uint8Array(65536);
        try {
          if (options.early !== undefined) {
            // Answer before reading the body, then stop.
            await conn.write(enc.encode(options.early));
            await new Promise((r) => setTimeout(r, 20));
            conn.close();
            return;
          }
          let headEnd = -1;
          let length = 0;
          while (true) {
            const n = await conn.read(buf).catch(() => null);
            if (n === null) {
              cut = true;
              break;
            }
            const next = new Uint8Array(data.length + n);
            next.set(data);
            next.set(buf.subarray(0, n), data.length);
            data = next;
            if (headEnd < 0) {
              // In bytes: a UTF-8 value decodes to fewer characters.
              headEnd = indexOfBytes(data, enc.encode("\r\n\r\n"));
              if (headEnd >= 0) {
                const m = /content-length: (\d+)/i.exec(dec.decode(data.subarray(0, headEnd)));
                length = m ? Number(m[1]) : 0;
              }
            }
            if (headEnd >= 0 && data.length >= headEnd + 4 + length) break;
          }
          const head = headEnd >= 0 ? dec.decode(data.subarray(0, headEnd)) : dec.decode(data);
          const rawHead = headEnd >= 0 ? data.slice(0, headEnd) : data.slice();
          const req = { head, rawHead, body: data.subarray(headEnd + 4), cut };
          received.push(req);
          if (cut) return;
          const out = await answer(req);
          await conn.write(typeof out === "string" ? enc.encode(out) : out);
          conn.close();
        } catch {
          try {
            conn.close();
          } catch { /* closed */ }
        }
      })();
    }
  })();
  const addr = listener.addr as Deno.NetAddr;
  return {
    origin: `http://127.0.0.1:${addr.port}`,
    received,
    async close() {
      listener.close();
      await done;
    },
  };
}

function request(origin: string, extra: Partial<{ method: string; path: string }> = {}) {
  return {
    origin,
    method: extra.method ?? "PUT",
    pathAndQuery: extra.path ?? "/bucket/key",
    headerList: [["host", "backend"], ["x-amz-date", "20261123T000000Z"]] as [string, string][],
  };
}

function streamOf(...parts: (Uint8Array | Error)[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i >= parts.length) return c.close();
      const p = parts[i++];
      if (p instanceof Error) c.error(p);
      else c.enqueue(p);
    },
  });
}

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

/** A 200 answer with `body` and its Content-Length. */
function okAnswer(body: Uint8Array): Uint8Array {
  const head = enc.encode(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("http1: sends an explicit Content-Length and the exact bytes; reads a Content-Length response", async () => {
  const server = rawServer(() =>
    'HTTP/1.1 200 OK\r\nETag: "abc"\r\nContent-Length: 5\r\n\r\nhello'
  );
  try {
    const body = random(200_000);
    const parts = [
      body.subarray(0, 70_000),
      body.subarray(70_000, 130_001),
      body.subarray(130_001),
    ];
    const res = await sendHttp1(request(server.origin), {
      body: streamOf(...parts),
      contentLength: body.length,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("etag"), '"abc"');
    assert.equal(await res.text(), "hello");
    const got = server.received[0];
    assert.match(got.head, /^PUT \/bucket\/key HTTP\/1\.1\r\n/);
    assert.match(got.head, /\r\ncontent-length: 200000\r\n/);
    assert.doesNotMatch(got.head, /transfer-encoding/i);
    assert.match(got.head, /\r\nhost: backend\r\n/);
    assert.equal(sha(got.body), sha(body));
  } finally {
    await server.close();
  }
});

Deno.test("http1: the request target goes out verbatim (dot segments, encoded bytes)", async () => {
  const server = rawServer(() => "HTTP/1.1 204 No Content\r\n\r\n");
  try {
    const path = "/bucket/a/../b/./%2e%2e/c?x=1&y=%2F";
    const res = await sendHttp1(request(server.origin, { method: "GET", path }), { body: null });
    assert.equal(res.status, 204);
    assert.equal(res.body, null);
    assert.equal(server.received[0].head.split("\r\n")[0], `GET ${path} HTTP/1.1`);
    assert.match(server.received[0].head, /content-length: 0/);
  } finally {
    await server.close();
  }
});

Deno.test("http1: chunked and EOF-delimited response bodies; 100 Continue skipped", async () => {
  const chunked = rawServer(() =>
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: t\r\n\r\n"
  );
  const eof = rawServer(() => "HTTP/1.0 200 OK\r\n\r\nuntil the end");
  try {
    const a = await sendHttp1(request(chunked.origin, { method: "GET" }), { body: null });
    assert.equal(a.status, 200);
    assert.equal(await a.text(), "hello world");
    const b = await sendHttp1(request(eof.origin, { method: "GET" }), { body: null });
    assert.equal(await b.text(), "until the end");
  } finally {
    await chunked.close();
    await eof.close();
  }
});

Deno.test("http1: a large streamed response arrives intact", async () => {
  const big = random(3 * 1024 * 1024 + 17);
  const server = rawServer(() => okAnswer(big));
  try {
    const res = await sendHttp1(request(server.origin, { method: "GET" }), { body: null });
    const got = new Uint8Array(await res.arrayBuffer());
    assert.equal(got.length, big.length);
    assert.equal(sha(got), sha(big));
  } finally {
    await server.close();
  }
});

Deno.test("http1: releaseBodyChunks detaches the chunks a read body handed out, up to RELEASE_TRACK_MAX", async () => {
  const big = random(RELEASE_TRACK_MAX + 512 * 1024 + 3);
  const server = rawServer(() => okAnswer(big));
  try {
    for (const pool of [undefined, new Http1Pool()]) {
      const res = await sendHttp1(request(server.origin, { method: "GET" }), { body: null, pool });
      const chunks: Uint8Array[] = [];
      const hash = createHash("sha256");
      for await (const chunk of res.body!) {
        hash.update(chunk);
        chunks.push(chunk);
      }
      assert.equal(hash.digest("hex"), sha(big));
      releaseBodyChunks(res);
      releaseBodyChunks(res); // a second call is a no-op
      let released = 0;
      let kept = 0;
      for (const chunk of chunks) {
        if (chunk.byteLength === 0) released++;
        else kept += chunk.byteLength;
      }
      assert.ok(released > 0, "the tracked chunks are detached");
      // Past the cap, chunks are left to the GC, untouched.
      assert.ok(kept >= big.length - RELEASE_TRACK_MAX, `kept ${kept}`);
      assert.ok(kept < big.length);
      pool?.close();
    }
    // Any other Response: nothing happens.
    const other = new Response(new Uint8Array(10));
    releaseBodyChunks(other);
    assert.equal((await other.arrayBuffer()).byteLength, 10);
  } finally {
    await server.close();
  }
});

Deno.test("http1: a failing body cuts the connection before the declared length; the error is BodySourceError", async () => {
  const server = rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  try {
    const failure = new Error("bad chunk signature");
    await assert.rejects(
      sendHttp1(request(server.origin), {
        body: streamOf(new Uint8Array(1000), failure),
        contentLength: 5000,
      }),
      (err: unknown) => err instanceof BodySourceError && err.cause === failure,
    );
    // The backend saw a cut request, never a complete one.
    for (let i = 0; i < 50 && server.received.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(server.received.length, 1);
    assert.equal(server.received[0].cut, true);
    assert.equal(server.received[0].body.length, 1000);
  } finally {
    await server.close();
  }
});

Deno.test("http1: a body longer or shorter than its Content-Length is never completed", async () => {
  const server = rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  try {
    await assert.rejects(
      sendHttp1(request(server.origin), { body: streamOf(new Uint8Array(10)), contentLength: 20 }),
      BodySourceError,
    );
    await assert.rejects(
      sendHttp1(request(server.origin), { body: streamOf(new Uint8Array(30)), contentLength: 20 }),
      BodySourceError,
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(server.received.every((r) => r.cut), "no request reached its declared length");
  } finally {
    await server.close();
  }
});

Deno.test("http1: an early answer is returned and the rest of the body cancelled", async () => {
  const server = rawServer(() => "", {
    early: "HTTP/1.1 403 Forbidden\r\ncontent-length: 7\r\n\r\ndenied!",
  });
  try {
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull: async (c) => {
        await new Promise((r) => setTimeout(r, 1));
        c.enqueue(new Uint8Array(65536));
      },
      cancel: () => {
        cancelled = true;
      },
    });
    const res = await sendHttp1(request(server.origin), {
      body: endless,
      contentLength: 1024 * 1024 * 1024,
    });
    assert.equal(res.status, 403);
    assert.equal(await res.text(), "denied!");
    for (let i = 0; i < 100 && !cancelled; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cancelled, true);
  } finally {
    await server.close();
  }
});

Deno.test("http1: abort before the answer rejects and closes the connection", async () => {
  const server = rawServer(() => new Promise(() => {})); // never answers
  try {
    const abort = new AbortController();
    const pending = sendHttp1(request(server.origin), {
      body: streamOf(new Uint8Array(10)),
      contentLength: 10,
      signal: abort.signal,
    });
    setTimeout(() => abort.abort(new Error("client left")), 50);
    await assert.rejects(pending);
  } finally {
    await server.close();
  }
});

/** A 1 MiB answer's head and its first 1000 bytes: the rest never comes. */
const CUT_HEAD = "HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n" + "x".repeat(1000);

// A body failure reaches Deno.serve's onError (lib/serve/listeners.ts) as a
// ResponseBodyError: a backend that cut the body is a fault to report, an
// abort (the client gone) closed the connection under a pending read and is
// an effect. Before, the abort case surfaced as a bare BadResource.
Deno.test("http1: a body the backend cuts fails with ResponseBodyError naming the backend and the request", async () => {
  const server = raceServer((): Step[] => [
    { write: CUT_HEAD },
    { wait: 20 },
    { close: true },
  ]);
  try {
    for (const pool of [undefined, new Http1Pool()]) {
      const res = await sendHttp1(request(server.origin, { method: "GET" }), {
        body: null,
        pool,
        requestId: "req-1",
      });
      assert.equal(res.status, 200);
      const err = await res.arrayBuffer().then(() => undefined, (e) => e);
      assert.ok(err instanceof ResponseBodyError, String(err));
      assert.equal(err.aborted, false);
      assert.equal(err.origin, server.origin);
      assert.equal(err.requestId, "req-1");
      assert.match((err.cause as Error).message, /closed the connection mid-body/);
      assert.equal(failedBodyBytes(res), 1000);
      pool?.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("http1: a cut body hands out every byte that arrived before it fails; failedBodyBytes counts them", async () => {
  // 300 001 bytes, then the end: more than the head's read and one large
  // chunk's worth (the read-into-chunk path), ending inside a chunk.
  const sent = random(300_001);
  const server = raceServer((): Step[] => [
    { write: "HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n" },
    { wait: 20 },
    { write: sent },
    { wait: 20 },
    { close: true },
  ]);
  try {
    const res = await sendHttp1(request(server.origin, { method: "GET" }), { body: null });
    const reader = res.body!.getReader();
    const parts: Uint8Array<ArrayBuffer>[] = [];
    const err = await (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return undefined;
        parts.push(value as Uint8Array<ArrayBuffer>);
      }
    })().catch((e) => e);
    assert.ok(err instanceof ResponseBodyError, String(err));
    const got = new Uint8Array(await new Blob(parts).arrayBuffer());
    assert.equal(got.length, sent.length);
    assert.equal(sha(got), sha(sent));
    assert.equal(failedBodyBytes(res), sent.length);
  } finally {
    await server.close();
  }
});

Deno.test("http1: failedBodyBytes is undefined for a body that arrived whole", async () => {
  const server = rawServer(() => okAnswer(random(200_000)));
  try {
    const res = await sendHttp1(request(server.origin, { method: "GET" }), { body: null });
    assert.equal((await res.arrayBuffer()).byteLength, 200_000);
    assert.equal(failedBodyBytes(res), undefined);
  } finally {
    await server.close();
  }
});

Deno.test("http1: an abort while a body read is pending fails the body with ResponseBodyError, aborted", async () => {
  // 1000 bytes come with the head, then the backend holds: the next read waits.
  const server = raceServer((): Step[] => [
    { write: CUT_HEAD },
    { wait: 400 },
  ]);
  try {
    for (const pool of [undefined, new Http1Pool()]) {
      const abort = new AbortController();
      const res = await sendHttp1(request(server.origin, { method: "GET" }), {
        body: null,
        pool,
        signal: abort.signal,
        requestId: "req-2",
      });
      const reader = res.body!.getReader();
      assert.equal((await reader.read()).value?.length, 1000);
      const pending = reader.read();
      await new Promise((r) => setTimeout(r, 20));
      abort.abort(new Error("the client went away"));
      const err = await pending.then(() => undefined, (e) => e);
      assert.ok(err instanceof ResponseBodyError, String(err));
      assert.equal(err.aborted, true);
      assert.equal(err.requestId, "req-2");
      pool?.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("http1: malformed answers and refused connections reject", async () => {
  const bad = rawServer(() => "SPDY/9 200 OK\r\n\r\n");
  const huge = rawServer(() => `HTTP/1.1 200 OK\r\nx: ${"a".repeat(70_000)}\r\n\r\n`);
  const twoLengths = rawServer(() =>
    "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab"
  );
  try {
    for (const s of [bad, huge, twoLengths]) {
      await assert.rejects(sendHttp1(request(s.origin, { method: "GET" }), { body: null }));
    }
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    await assert.rejects(
      sendHttp1(request(`http://127.0.0.1:${port}`, { method: "GET" }), { body: null }),
      (err: unknown) => !(err instanceof BodySourceError),
    );
  } finally {
    await bad.close();
    await huge.close();
    await twoLengths.close();
  }
});

/** A byte string (one character per byte) of `bytes`. */
const byteString = (bytes: Uint8Array) => String.fromCharCode(...bytes);

/** Where `needle` starts in `haystack`, or -1. */
function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// UTF-8 metadata: é (C3 A9), à (C3 A0: 0xA0 is no space), Р (D0 A0), an emoji, and 0x80–0xFF.
const META_BYTES = new Uint8Array([
  ...enc.encode("Hello World\u00e9 voil\u00e0 \u0420\u0438\u043c \u{1f600} "),
  ...Array.from({ length: 128 }, (_, i) => 0x80 + i),
  ...enc.encode("voil\u00e0"),
]);

Deno.test("http1: header values go out as their bytes, one per character (UTF-8 metadata)", async () => {
  for (const pooled of [false, true]) {
    const server = rawServer(() => "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    const pool = pooled ? new Http1Pool() : undefined;
    try {
      const req = request(server.origin);
      req.headerList.push(["x-amz-meta-meta1", byteString(META_BYTES)]);
      const res = await sendHttp1(req, { body: null, pool });
      assert.equal(res.status, 200);
      await res.body?.cancel();
      const raw = server.received[0].rawHead;
      const line = concatBytes(
        enc.encode("\r\nx-amz-meta-meta1: "),
        META_BYTES,
        enc.encode("\r\n"),
      );
      assert.ok(indexOfBytes(raw, line) >= 0, `pooled=${pooled}: the value's bytes, unchanged`);
    } finally {
      pool?.close();
      await server.close();
    }
  }
});

function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("http1: response header values reach the caller as their bytes (UTF-8 metadata)", async () => {
  for (const pooled of [false, true]) {
    const server = rawServer(() =>
      concatBytes(
        enc.encode("HTTP/1.1 200 OK\r\nx-amz-meta-meta1: "),
        META_BYTES,
        enc.encode("\r\nx-amz-meta-edge:\t"),
        enc.encode("voil\u00e0"),
        enc.encode(" \r\nContent-Length: 2\r\n\r\nok"),
      )
    );
    const pool = pooled ? new Http1Pool() : undefined;
    try {
      const res = await sendHttp1(request(server.origin, { method: "GET" }), { body: null, pool });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-amz-meta-meta1"), byteString(META_BYTES), `pooled=${pooled}`);
      // Only SP and HTAB are trimmed: the trailing A0 of à stays.
      assert.equal(res.headers.get("x-amz-meta-edge"), byteString(enc.encode("voil\u00e0")));
      assert.equal(await res.text(), "ok");
    } finally {
      pool?.close();
      await server.close();
    }
  }
});

Deno.test("http1: a header value that is not a byte string, or a non-ASCII target, is refused", async () => {
  const base = { origin: "http://127.0.0.1:1", method: "PUT", pathAndQuery: "/b/k" };
  await assert.rejects(
    sendHttp1({ ...base, headerList: [["x-amz-meta-a", "\u65e5\u672c"]] }, { body: null }),
    TypeError,
  );
  await assert.rejects(
    sendHttp1({ ...base, headerList: [["x-amz-meta-\u0101", "v"]] }, { body: null }),
    TypeError,
  );
  await assert.rejects(
    sendHttp1({ ...base, pathAndQuery: "/b/\u00e9", headerList: [] }, { body: null }),
    TypeError,
  );
});

Deno.test("http1: header injection is refused before anything is sent", async () => {
  const server = rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  const base = { origin: server.origin, pathAndQuery: "/b/k" };
  const bad = [
    { method: "PUT", headerList: [["x-amz-meta-a", "v\r\nevil: 1"]] },
    { method: "PUT", headerList: [["x-amz-meta-a", "v\nevil: 1"]] },
    { method: "PUT", headerList: [["x-amz-meta-a", "v\revil: 1"]] },
    { method: "PUT", headerList: [["x-amz-meta-a", "v\0"]] },
    { method: "PUT", headerList: [["x-amz-meta-a\r\nevil", "1"]] },
    { method: "GET /x HTTP/1.1\r\nevil:", headerList: [] },
    { method: "GE T", headerList: [] },
    { method: "", headerList: [] },
  ] as { method: string; headerList: [string, string][] }[];
  const pool = new Http1Pool();
  try {
    for (const fields of bad) {
      for (const p of [undefined, pool]) {
        await assert.rejects(
          sendHttp1({ ...base, ...fields }, { body: null, pool: p }),
          TypeError,
          JSON.stringify(fields),
        );
      }
    }
    assert.equal(server.received.length, 0);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("http1: the request head goes out byte for byte; framing headers are osp's own", async () => {
  const server = rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
  const headerList: [string, string][] = [
    ["host", "backend:9000"],
    ["content-length", "99"],
    ["connection", "keep-alive"],
    ["transfer-encoding", "gzip"],
    ["x-amz-meta-a", "\xc3\xa9 \xa0"],
    ["x-amz-date", "20261123T000000Z"],
  ];
  const base = { origin: server.origin, method: "PUT", pathAndQuery: "/b/k%20?uploads=&x=1" };
  const pool = new Http1Pool();
  try {
    // On a connection of its own, with a length, and closed after the answer.
    const own = await sendHttp1({ ...base, headerList }, {
      body: streamOf(enc.encode("abc")),
      contentLength: 3,
    });
    await own.body?.cancel();
    // On a pooled one: no body, kept alive.
    const pooled = await sendHttp1({ ...base, method: "GET", headerList }, { body: null, pool });
    await pooled.body?.cancel();
    const fields =
      "host: backend:9000\r\nx-amz-meta-a: \xc3\xa9 \xa0\r\nx-amz-date: 20261123T000000Z";
    assert.deepEqual(server.received.map((r) => byteString(r.rawHead)), [
      `PUT /b/k%20?uploads=&x=1 HTTP/1.1\r\n${fields}\r\ncontent-length: 3\r\nconnection: close`,
      `GET /b/k%20?uploads=&x=1 HTTP/1.1\r\n${fields}\r\ncontent-length: 0`,
    ]);
    assert.equal(dec.decode(server.received[0].body), "abc");
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("http1: response heads: names lower-cased and trimmed, framing read from them, bad lines refused", async () => {
  const answers = [
    "HTTP/1.1 200 Fine Thanks\r\nX-Odd-Name :  v a l \t\r\nContent-Length: 2\r\n" +
    "content-length: 2\r\nKeep-Alive: max=5, timeout=30\r\n\r\nok",
    "HTTP/1.1 200 OK\r\nx-a: 1\r\n folded: 2\r\ncontent-length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nno colon here\r\ncontent-length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\n: empty name\r\ncontent-length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nxx",
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 02\r\n\r\nok",
    "HTTP/1.1 200 OK\r\ncontent-length: -2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\ncontent-length: 0x2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\ncontent-length: 1234567890123456\r\n\r\nok",
  ];
  let i = 0;
  const server = rawServer(() => answers[i++]);
  try {
    const res = await sendHttp1(request(server.origin, { method: "GET" }), { body: null });
    assert.equal(res.status, 200);
    assert.equal(res.statusText, "Fine Thanks");
    assert.equal(res.headers.get("x-odd-name"), "v a l");
    assert.equal(res.headers.get("keep-alive"), "max=5, timeout=30");
    assert.equal(await res.text(), "ok");
    for (let n = 1; n < answers.length; n++) {
      await assert.rejects(
        sendHttp1(request(server.origin, { method: "GET" }), { body: null }),
        Error,
        answers[n],
      );
    }
  } finally {
    await server.close();
  }
});

Deno.test("http1: HTTPS with an extra root certificate", async () => {
  const dir = await Deno.makeTempDir();
  const { ca, cert, key } = await caSignedCert(dir);
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(cert),
      key: await Deno.readTextFile(key),
      onListen() {},
    },
    async (req) =>
      new Response(
        `got ${(await req.arrayBuffer()).byteLength} ${req.headers.get("content-length")}`,
      ),
  );
  try {
    const res = await sendHttp1({
      origin: `https://localhost:${server.addr.port}`,
      method: "PUT",
      pathAndQuery: "/b/k",
      headerList: [["host", `localhost:${server.addr.port}`]],
    }, {
      body: streamOf(new Uint8Array(100_000), new Uint8Array(23)),
      contentLength: 100_023,
      caCerts: [await Deno.readTextFile(ca)],
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "got 100023 100023");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http1: without a length the body goes out chunked", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) =>
      new Response(
        `${req.headers.get("transfer-encoding")} ${req.headers.get("content-length")} ${
          sha(new Uint8Array(await req.arrayBuffer()))
        }`,
      ),
  );
  try {
    const body = random(150_000);
    const res = await sendHttp1(request(`http://127.0.0.1:${server.addr.port}`), {
      body: streamOf(body.subarray(0, 1), new Uint8Array(0), body.subarray(1)),
    });
    assert.equal(await res.text(), `chunked null ${sha(body)}`);
  } finally {
    await server.shutdown();
  }
});
