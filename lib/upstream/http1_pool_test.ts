// Keep-alive connection reuse in osp's HTTP/1.1 client (Http1Pool), against a
// raw TCP server that answers several requests per connection, as scripted.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  BodySourceError,
  bufferedBodyLength,
  Http1Pool,
  sendHttp1,
  SMALL_BODY_MAX,
} from "./http1.ts";
import { raceServer, type Seen, type Step } from "./_test_util.ts";

const enc = new TextEncoder();

/** What the server does with a request: bytes to write, then maybe close. */
interface Answer {
  bytes: Uint8Array | string;
  close?: boolean;
}

/**
 * A keep-alive server: reads bodiless requests one after another on each
 * connection and writes `answer(request, index)` for each (`index` counts
 * every request the server read).
 */
function keepAliveServer(answer: (seen: Seen, index: number) => Answer | Promise<Answer>) {
  const server = raceServer(async (s): Promise<Step[]> => {
    const out = await answer(s, server.seen.indexOf(s));
    return [
      { write: out.bytes },
      { answered: true },
      ...(out.close ? [{ close: true as const }] : []),
    ];
  });
  return server;
}

function get(
  origin: string,
  path: string,
  pool: Http1Pool,
  options: { method?: string; signal?: AbortSignal } = {},
) {
  return sendHttp1({
    origin,
    method: options.method ?? "GET",
    pathAndQuery: path,
    headerList: [["host", "backend.test"]],
  }, { body: null, pool, signal: options.signal });
}

const pathOf = (head: string) => head.split(" ")[1];

/** A body that names its request, so crossed answers show. */
function bodyFor(path: string, size: number): Uint8Array {
  const seed = enc.encode(path);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = seed[i % seed.length] ^ (i & 0xff);
  return out;
}

function withLength(body: Uint8Array, extra = ""): Uint8Array {
  const head = enc.encode(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n`);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("pool: sequential requests share one connection; every answer is its own", async () => {
  const server = keepAliveServer((s) => ({ bytes: withLength(bodyFor(pathOf(s.head), 1024)) }));
  const pool = new Http1Pool();
  try {
    for (let i = 0; i < 20; i++) {
      const response = await get(server.origin, `/b/key-${i}`, pool);
      assert.equal(response.status, 200);
      assert.equal(bufferedBodyLength(response), 1024, "a small body is read whole, as bytes");
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.equal(sha(bytes), sha(bodyFor(`/b/key-${i}`, 1024)));
    }
    assert.equal(server.connections, 1);
    assert.equal(server.seen.length, 20);
    assert.ok(server.seen.every((s) => !/^connection:/im.test(s.head)), "no connection: close");
    assert.equal(pool.idleCount, 1);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: a body read whole stays its own while the connection carries the next answers", async () => {
  // The next answers arrive in the connection's read buffer while the
  // earlier responses are still unread: each must hold its own bytes.
  const server = keepAliveServer((s) => ({
    bytes: withLength(bodyFor(pathOf(s.head), 1024), "keep-alive: timeout=5\r\nx-kept: yes\r\n"),
  }));
  const pool = new Http1Pool();
  try {
    const responses: Response[] = [];
    for (let i = 0; i < 10; i++) {
      responses.push(
        await sendHttp1({
          origin: server.origin,
          method: "GET",
          pathAndQuery: `/b/unread-${i}`,
          headerList: [["host", "backend.test"]],
        }, { body: null, pool, dropHeaders: new Set(["keep-alive", "connection"]) }),
      );
    }
    assert.equal(server.connections, 1);
    for (let i = 0; i < 10; i++) {
      const response = responses[i];
      assert.equal(response.headers.get("keep-alive"), null, "a dropped header is left out");
      assert.equal(response.headers.get("x-kept"), "yes");
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.equal(sha(bytes), sha(bodyFor(`/b/unread-${i}`, 1024)));
    }
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: concurrent requests open connections, then reuse them", async () => {
  const server = keepAliveServer(async (s) => {
    await new Promise((r) => setTimeout(r, 5));
    return { bytes: withLength(bodyFor(pathOf(s.head), 300)) };
  });
  const pool = new Http1Pool();
  try {
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => get(server.origin, `/b/r${round}-${i}`, pool)),
      );
      for (let i = 0; i < 8; i++) {
        const bytes = new Uint8Array(await answers[i].arrayBuffer());
        assert.equal(sha(bytes), sha(bodyFor(`/b/r${round}-${i}`, 300)));
      }
    }
    assert.equal(server.connections, 8, "8 at once need 8; later rounds reuse them");
    assert.equal(pool.idleCount, 8);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: streamed, chunked, HEAD and 204 answers leave the connection reusable", async () => {
  const big = bodyFor("/big", SMALL_BODY_MAX + 12345);
  const server = keepAliveServer((s) => {
    const path = pathOf(s.head);
    if (path === "/big") return { bytes: withLength(big) };
    if (path === "/chunked") {
      return {
        bytes:
          "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
      };
    }
    if (path === "/head") {
      return { bytes: 'HTTP/1.1 200 OK\r\ncontent-length: 5000\r\netag: "x"\r\n\r\n' };
    }
    return { bytes: "HTTP/1.1 204 No Content\r\n\r\n" };
  });
  const pool = new Http1Pool();
  try {
    const a = await get(server.origin, "/big", pool);
    assert.equal(bufferedBodyLength(a), undefined, "a large body streams");
    assert.equal(sha(new Uint8Array(await a.arrayBuffer())), sha(big));
    const b = await get(server.origin, "/chunked", pool);
    assert.equal(await b.text(), "hello world");
    const c = await get(server.origin, "/head", pool, { method: "HEAD" });
    assert.equal(c.status, 200);
    assert.equal(c.headers.get("content-length"), "5000");
    assert.equal(c.body, null);
    const d = await get(server.origin, "/none", pool, { method: "DELETE" });
    assert.equal(d.status, 204);
    const e = await get(server.origin, "/big", pool);
    assert.equal(sha(new Uint8Array(await e.arrayBuffer())), sha(big));
    assert.equal(server.connections, 1);
    assert.equal(server.seen.length, 5);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: connection: close, HTTP/1.0 and EOF-delimited answers are not reused", async () => {
  const server = keepAliveServer((s) => {
    const path = pathOf(s.head);
    if (path === "/close") {
      return {
        bytes: "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
        close: true,
      };
    }
    if (path === "/http10") {
      return { bytes: "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok", close: true };
    }
    return { bytes: "HTTP/1.1 200 OK\r\n\r\nuntil eof", close: true };
  });
  const pool = new Http1Pool();
  try {
    assert.equal(await (await get(server.origin, "/close", pool)).text(), "ok");
    assert.equal(pool.idleCount, 0);
    assert.equal(await (await get(server.origin, "/http10", pool)).text(), "ok");
    assert.equal(pool.idleCount, 0);
    assert.equal(await (await get(server.origin, "/eof", pool)).text(), "until eof");
    assert.equal(pool.idleCount, 0);
    assert.equal(server.connections, 3);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: bytes after the declared body (a desync) close the connection", async () => {
  const server = keepAliveServer((s) =>
    pathOf(s.head) === "/smuggle"
      ? {
        bytes:
          "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nevil",
      }
      : { bytes: withLength(enc.encode("good")) }
  );
  const pool = new Http1Pool();
  try {
    assert.equal(await (await get(server.origin, "/smuggle", pool)).text(), "ok");
    assert.equal(pool.idleCount, 0, "never reused with bytes left over");
    assert.equal(await (await get(server.origin, "/next", pool)).text(), "good");
    assert.equal(server.connections, 2);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: a connection the backend closed while idle is replaced; the request is sent once", async () => {
  const server = keepAliveServer((s) => ({ bytes: withLength(bodyFor(pathOf(s.head), 100)) }));
  const pool = new Http1Pool();
  try {
    assert.equal((await (await get(server.origin, "/one", pool)).arrayBuffer()).byteLength, 100);
    assert.equal(pool.idleCount, 1);
    server.dropAll(); // the backend's keep-alive timeout
    await new Promise((r) => setTimeout(r, 20));
    const response = await get(server.origin, "/two", pool);
    assert.equal(sha(new Uint8Array(await response.arrayBuffer())), sha(bodyFor("/two", 100)));
    assert.equal(server.connections, 2);
    assert.deepEqual(server.seen.map((s) => pathOf(s.head)), ["/one", "/two"]);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: a new connection closed without an answer rejects (no retry loop)", async () => {
  const server = keepAliveServer(() => ({ bytes: "", close: true }));
  const pool = new Http1Pool();
  try {
    await assert.rejects(get(server.origin, "/x", pool), /closed the connection before/);
    assert.equal(server.seen.length, 1, "sent once");
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: a download cut short (abort, cancel) never returns its connection", async () => {
  const big = bodyFor("/big", 4 * 1024 * 1024);
  const server = keepAliveServer(() => ({ bytes: withLength(big) }));
  const pool = new Http1Pool();
  try {
    const abort = new AbortController();
    const a = await get(server.origin, "/big", pool, { signal: abort.signal });
    const reader = a.body!.getReader();
    await reader.read();
    abort.abort();
    await assert.rejects(async () => {
      while (!(await reader.read()).done) { /* drain */ }
    });
    assert.equal(pool.idleCount, 0);
    const b = await get(server.origin, "/big", pool);
    await b.body!.cancel();
    assert.equal(pool.idleCount, 0);
    const c = await get(server.origin, "/big", pool);
    assert.equal(sha(new Uint8Array(await c.arrayBuffer())), sha(big));
    assert.equal(pool.idleCount, 1);
    assert.equal(server.connections, 3);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: idle connections expire (own limit and the backend's keep-alive timeout)", async () => {
  const server = keepAliveServer((s) =>
    pathOf(s.head) === "/short"
      ? { bytes: withLength(enc.encode("s"), "keep-alive: timeout=1\r\n") }
      : { bytes: withLength(enc.encode("l")) }
  );
  const pool = new Http1Pool({ idleTimeoutMs: 60 });
  try {
    await (await get(server.origin, "/long", pool)).text();
    await (await get(server.origin, "/long", pool)).text();
    assert.equal(server.connections, 1);
    await new Promise((r) => setTimeout(r, 400)); // the sweep closes it
    assert.equal(pool.idleCount, 0);
    await (await get(server.origin, "/short", pool)).text();
    assert.equal(server.connections, 2);
    // timeout=1 leaves no margin: never reused.
    await (await get(server.origin, "/long", pool)).text();
    assert.equal(server.connections, 3);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: at most maxIdlePerOrigin idle connections are kept", async () => {
  const server = keepAliveServer(async () => {
    await new Promise((r) => setTimeout(r, 5));
    return { bytes: withLength(enc.encode("x")) };
  });
  const pool = new Http1Pool({ maxIdlePerOrigin: 3 });
  try {
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => get(server.origin, "/", pool)),
    );
    for (const a of answers) assert.equal(await a.text(), "x");
    assert.equal(pool.idleCount, 3);
  } finally {
    pool.close();
    await server.close();
  }
});

function put(
  origin: string,
  path: string,
  pool: Http1Pool,
  body: ReadableStream<Uint8Array>,
  options: { contentLength: number; signal?: AbortSignal },
) {
  return sendHttp1({
    origin,
    method: "PUT",
    pathAndQuery: path,
    headerList: [["host", "backend.test"]],
  }, { body, pool, contentLength: options.contentLength, signal: options.signal });
}

const streamOf = (...parts: string[]) => ReadableStream.from(parts.map((p) => enc.encode(p)));

Deno.test("pool: small bodies go out whole on pooled connections, and again after a stale one", async () => {
  const server = keepAliveServer((s) => ({
    bytes: `HTTP/1.1 200 OK\r\netag: "${s.body.length}"\r\ncontent-length: 0\r\n\r\n`,
  }));
  const pool = new Http1Pool();
  try {
    const one = await put(server.origin, "/k1", pool, streamOf("hello ", "world"), {
      contentLength: 11,
    });
    assert.equal(one.headers.get("etag"), '"11"');
    const big = "x".repeat(SMALL_BODY_MAX);
    const two = await put(server.origin, "/k2", pool, streamOf(big), {
      contentLength: big.length,
    });
    assert.equal(two.headers.get("etag"), `"${big.length}"`);
    assert.equal(server.connections, 1);
    server.dropAll();
    await new Promise((r) => setTimeout(r, 20));
    const three = await put(server.origin, "/k3", pool, streamOf("again"), { contentLength: 5 });
    assert.equal(three.headers.get("etag"), '"5"');
    assert.equal(server.connections, 2);
    assert.deepEqual(server.seen.map((s) => [pathOf(s.head), s.body.length]), [
      ["/k1", 11],
      ["/k2", big.length],
      ["/k3", 5],
    ]);
    assert.equal(server.seen[0].body, "hello world");
    assert.equal(server.seen[2].body, "again");
    assert.match(server.seen[0].head, /content-length: 11/);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("pool: a small body shorter, longer or aborted is never sent", async () => {
  const server = keepAliveServer(() => ({ bytes: withLength(enc.encode("")) }));
  const pool = new Http1Pool();
  try {
    await assert.rejects(
      put(server.origin, "/short", pool, streamOf("abc"), { contentLength: 10 }),
      (err: Error) => err instanceof BodySourceError && /ended at 3 of 10/.test(String(err.cause)),
    );
    await assert.rejects(
      put(server.origin, "/long", pool, streamOf("abcdef", "ghijkl"), { contentLength: 10 }),
      (err: Error) => err instanceof BodySourceError && /longer/.test(String(err.cause)),
    );
    const abort = new AbortController();
    let cancelled = false;
    const stalled = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode("ab"));
      },
      cancel() {
        cancelled = true;
      },
    });
    const pending = put(server.origin, "/stalled", pool, stalled, {
      contentLength: 10,
      signal: abort.signal,
    });
    setTimeout(() => abort.abort(new Error("client gone")), 30);
    await assert.rejects(pending, BodySourceError);
    assert.ok(cancelled, "the stalled body is cancelled");
    assert.equal(server.connections, 0, "nothing reached the backend");
  } finally {
    pool.close();
    await server.close();
  }
});
