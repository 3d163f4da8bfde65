// Races of osp's pooled HTTP/1.1 client (Http1Pool) against a raw keep-alive
// server: bytes of a previous answer arriving after the connection went back
// to the pool (RGW sends a body after some HEAD answers), answers split at
// every byte, a backend closing a reused connection, and which requests may
// be sent again after that.
import assert from "node:assert/strict";
import { Http1Pool, NoResponseError, sendHttp1 } from "./http1.ts";
import { answer, raceServer, type Seen, split, type Step } from "./_test_util.ts";

const enc = new TextEncoder();

function send(
  origin: string,
  pool: Http1Pool,
  method: string,
  path: string,
  body?: string,
) {
  return sendHttp1({
    origin,
    method,
    pathAndQuery: path,
    headerList: [["host", "backend.test"]],
  }, {
    body: body === undefined ? null : ReadableStream.from([enc.encode(body)]),
    contentLength: body?.length,
    pool,
  });
}

/** A body naming its request, so that an answer to another one shows. */
const own = (s: Seen) => `${s.method} ${s.path}`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

// What RGW 16.2 sends after a HEAD it answers with a body (measured):
// `HEAD /bucket?acl` declares the ACL document's length and sends it;
// `HEAD /`, `HEAD /?acl` and `HEAD /bucket?uploads` answer chunked and send
// the last chunk.
const ACL =
  '<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></AccessControlPolicy>';
const STRAYS: [string, string, string][] = [
  ["a Content-Length body", answer(200, null, {}, ACL.length), ACL],
  ["a chunked last chunk", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", "0\r\n\r\n"],
  [
    "a chunked body with data and a trailer",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
    "5\r\nHTTP/\r\n0\r\nx-trailer: 1\r\n\r\n",
  ],
];

for (const [what, head, stray] of STRAYS) {
  Deno.test(`race: ${what} after a HEAD answer, arriving late, is not the next answer`, async () => {
    // The stray bytes come 30 ms after the head: the next request is out by then.
    const server = raceServer((s): Step[] =>
      s.method === "HEAD"
        ? [{ write: head }, { wait: 30 }, { write: stray }]
        : [{ write: answer(200, own(s)) }]
    );
    const pool = new Http1Pool();
    try {
      for (let i = 0; i < 3; i++) {
        const h = await send(server.origin, pool, "HEAD", `/b${i}?acl`);
        assert.equal(h.status, 200);
        assert.equal(h.body, null);
        const g = await send(server.origin, pool, "GET", `/b/k${i}`);
        assert.equal(await g.text(), `GET /b/k${i}`);
        const p = await send(server.origin, pool, "PUT", `/b/p${i}`, "data");
        assert.equal(await p.text(), `PUT /b/p${i}`);
      }
      assert.equal(server.connections, 1, "the connection stays in use");
      assert.equal(server.seen.length, 9, "every request sent once");
    } finally {
      pool.close();
      await server.close();
    }
  });

  Deno.test(`race: ${what} after a HEAD answer, arriving while idle, is dropped`, async () => {
    const server = raceServer((s): Step[] =>
      s.method === "HEAD"
        ? [{ write: head }, { wait: 5 }, ...split(stray, 1, 5)]
        : [{ write: answer(200, own(s)) }]
    );
    const pool = new Http1Pool();
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await send(server.origin, pool, "HEAD", "/b?acl")).status, 200);
        await pause(40);
        const g = await send(server.origin, pool, "GET", `/b/k${i}`);
        assert.equal(await g.text(), `GET /b/k${i}`);
      }
      assert.equal(server.connections, 1, "the connection stays in use");
    } finally {
      pool.close();
      await server.close();
    }
  });
}

Deno.test("race: a HEAD answer, its stray body and the next answer split at every byte", async () => {
  const [, head, stray] = STRAYS[0];
  const first = head + stray;
  const next = answer(200, "GET /b/k", { etag: '"e"' });
  let at = 1;
  const server = raceServer((s): Step[] =>
    s.method === "HEAD"
      ? split(first, Math.min(at, first.length - 1))
      : split(next, at % next.length || 1)
  );
  const pool = new Http1Pool();
  try {
    for (; at < first.length; at++) {
      const h = await send(server.origin, pool, "HEAD", "/b?acl");
      assert.equal(h.headers.get("content-length"), String(ACL.length), `split at ${at}`);
      const g = await send(server.origin, pool, "GET", "/b/k");
      assert.equal(await g.text(), "GET /b/k", `split at ${at}`);
      assert.equal(g.headers.get("etag"), '"e"');
    }
    assert.equal(server.seen.length, 2 * (first.length - 1), "every request sent once");
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("race: 204 and 304 answers declaring a body are followed by the right answer", async () => {
  const server = raceServer((s): Step[] => {
    if (s.path === "/204") {
      return [{ write: answer(204, null, {}, 3) }, { wait: 20 }, { write: "abc" }];
    }
    if (s.path === "/304") return [{ write: answer(304, null, {}, 5) }];
    return [{ write: answer(200, own(s)) }];
  });
  const pool = new Http1Pool();
  try {
    assert.equal((await send(server.origin, pool, "DELETE", "/204")).status, 204);
    assert.equal(await (await send(server.origin, pool, "GET", "/a")).text(), "GET /a");
    assert.equal((await send(server.origin, pool, "GET", "/304")).status, 304);
    assert.equal(await (await send(server.origin, pool, "GET", "/b")).text(), "GET /b");
    assert.equal(server.connections, 1);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("race: an answer nobody asked for, arriving on an idle connection, closes it", async () => {
  // Sent 10 ms after the real answer: it must never be taken for the next one.
  const server = raceServer((s): Step[] =>
    s.path === "/one"
      ? [{ write: answer(200, own(s)) }, { wait: 10 }, { write: answer(200, "EVIL") }]
      : [{ write: answer(200, own(s)) }]
  );
  const pool = new Http1Pool();
  try {
    assert.equal(await (await send(server.origin, pool, "GET", "/one")).text(), "GET /one");
    await pause(40);
    const idle = pool.idleCount;
    assert.equal(await (await send(server.origin, pool, "GET", "/two")).text(), "GET /two");
    assert.equal(idle, 0, "dropped as soon as the bytes came");
    assert.equal(server.connections, 2);
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("race: a backend closing right after its answer is noticed before the next request", async () => {
  // No connection: close header, then a close: the next request, with a
  // body, must not be lost on that connection.
  const server = raceServer((s): Step[] => [{ write: answer(200, own(s)) }, { close: true }]);
  const pool = new Http1Pool();
  try {
    for (let i = 0; i < 5; i++) {
      assert.equal(await (await send(server.origin, pool, "GET", `/g${i}`)).text(), `GET /g${i}`);
      await pause(10);
      const p = await send(server.origin, pool, "PUT", `/p${i}`, "body");
      assert.equal(await p.text(), `PUT /p${i}`);
      await pause(10);
    }
    assert.equal(server.seen.length, 10, "every request sent once");
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("race: a reused connection closed without an answer: only a safe request goes again", async () => {
  // The second request on each connection is read, then the connection closed unanswered.
  const server = raceServer((s): Step[] =>
    s.index === 1 ? [{ close: true }] : [{ write: answer(200, own(s)) }]
  );
  const pool = new Http1Pool();
  try {
    const cases: [string, string | undefined, boolean][] = [
      ["GET", undefined, true],
      ["HEAD", undefined, true],
      ["PUT", "a body", false],
      ["POST", "a body", false],
      ["DELETE", undefined, false],
      ["PUT", undefined, false], // a copy: a PUT without a body
    ];
    for (const [method, body, again] of cases) {
      pool.close();
      server.seen.length = 0;
      await (await send(server.origin, pool, "GET", "/warm")).text();
      const pending = send(server.origin, pool, method, "/x", body);
      if (again) {
        const res = await pending;
        assert.equal(res.status, 200, method);
        await res.text();
        assert.deepEqual(server.seen.map((s) => s.path), ["/warm", "/x", "/x"], method);
      } else {
        await assert.rejects(pending, NoResponseError, method);
        assert.deepEqual(server.seen.map((s) => s.path), ["/warm", "/x"], `${method} sent once`);
      }
    }
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("race: an answer whose small body is cut short is delivered, its body failing", async () => {
  const server = raceServer((s): Step[] =>
    s.path === "/cut"
      ? [{ write: answer(200, "only part", {}, 100) }, { close: true }]
      : [{ write: answer(200, own(s)) }]
  );
  const pool = new Http1Pool();
  try {
    const res = await send(server.origin, pool, "GET", "/cut");
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "only part");
    await assert.rejects(reader.read(), /mid-body/);
    assert.equal(pool.idleCount, 0);
    assert.equal(await (await send(server.origin, pool, "GET", "/next")).text(), "GET /next");
  } finally {
    pool.close();
    await server.close();
  }
});

Deno.test("race: a garbage answer on a reused connection is not sent again, and says so", async () => {
  const server = raceServer((s): Step[] =>
    s.index === 1
      ? [{ write: "NOT HTTP\r\n\r\n" }, { close: true }]
      : [{ write: answer(200, own(s)) }]
  );
  const pool = new Http1Pool();
  try {
    await (await send(server.origin, pool, "GET", "/warm")).text();
    await assert.rejects(
      send(server.origin, pool, "GET", "/x"),
      (err: Error) => err instanceof NoResponseError && /malformed status line/.test(err.message),
    );
    assert.equal(server.seen.length, 2, "a request that got an answer is not sent again");
  } finally {
    pool.close();
    await server.close();
  }
});
