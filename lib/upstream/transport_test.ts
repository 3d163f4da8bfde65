// Which client carries a bodiless request, seen from a backend that counts
// requests and connections: small answers come back as bytes over one pooled
// connection, large GET answers are fetched again (natively piped), ranged
// parts of that size go to fetch at once.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bufferedBodyLength } from "./http1.ts";
import { NATIVE_DOWNLOAD_MIN, type SendOptions, Transport } from "./transport.ts";
import type { UpstreamRequest } from "./upstream_request.ts";
import { selfSignedCert } from "../../tests/_tls.ts";
import { S3Error } from "../request/errors.ts";
import { answer, raceServer, type Step } from "./_test_util.ts";

function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function countingBackend() {
  const seen: { method: string; path: string; range: string | null; remote: number }[] = [];
  const bodies = new Map<number, Uint8Array>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req, info) => {
    const url = new URL(req.url);
    const size = Number(url.pathname.split("/").at(-1));
    let body = bodies.get(size);
    if (body === undefined) bodies.set(size, body = pattern(size));
    const range = req.headers.get("range");
    seen.push({ method: req.method, path: url.pathname, range, remote: info.remoteAddr.port });
    const m = range ? /^bytes=(\d+)-(\d+)$/.exec(range) : null;
    if (m) {
      const part = body.subarray(Number(m[1]), Number(m[2]) + 1);
      return new Response(part.slice(), {
        status: 206,
        headers: { "content-range": `bytes ${m[1]}-${m[2]}/${size}` },
      });
    }
    return new Response(req.method === "HEAD" ? null : body.slice(), {
      headers: { "content-length": String(size) },
    });
  });
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    seen,
    close: () => server.shutdown(),
  };
}

function request(origin: string, path: string, extra: [string, string][] = []): UpstreamRequest {
  const headerList: [string, string][] = [["host", new URL(origin).host], ...extra];
  return {
    method: "GET",
    origin,
    pathAndQuery: path,
    headerList,
    headers: new Headers(headerList),
  };
}

Deno.test("transport: small GETs come back as bytes over one reused connection", async () => {
  const backend = countingBackend();
  const transport = new Transport();
  try {
    for (let i = 0; i < 10; i++) {
      const response = await transport.send(request(backend.origin, "/b/1024"), {
        body: null,
        verify: true,
      });
      assert.equal(bufferedBodyLength(response), 1024);
      assert.equal(sha(new Uint8Array(await response.arrayBuffer())), sha(pattern(1024)));
    }
    assert.equal(backend.seen.length, 10);
    assert.equal(new Set(backend.seen.map((s) => s.remote)).size, 1, "one connection");
  } finally {
    transport.close();
    await backend.close();
  }
});

Deno.test("transport: a large GET answer is fetched again and arrives intact; a medium one streams", async () => {
  const backend = countingBackend();
  const transport = new Transport();
  try {
    const large = NATIVE_DOWNLOAD_MIN + 1000;
    const a = await transport.send(request(backend.origin, `/b/${large}`), {
      body: null,
      verify: true,
    });
    assert.equal(a.headers.get("content-length"), String(large));
    assert.equal(sha(new Uint8Array(await a.arrayBuffer())), sha(pattern(large)));
    assert.equal(backend.seen.length, 2, "sent once pooled, once through fetch");

    const medium = 1024 * 1024;
    const b = await transport.send(request(backend.origin, `/b/${medium}`), {
      body: null,
      verify: true,
    });
    assert.equal(bufferedBodyLength(b), undefined);
    assert.equal(sha(new Uint8Array(await b.arrayBuffer())), sha(pattern(medium)));
    assert.equal(backend.seen.length, 3, "streamed from the pooled connection");

    // A large ranged part goes to fetch at once; a HEAD never refetches.
    const size = 3 * NATIVE_DOWNLOAD_MIN;
    const c = await transport.send(
      request(backend.origin, `/b/${size}`, [["range", `bytes=0-${NATIVE_DOWNLOAD_MIN - 1}`]]),
      { body: null, verify: true },
    );
    assert.equal(c.status, 206);
    const part = new Uint8Array(await c.arrayBuffer());
    assert.equal(sha(part), sha(pattern(size).subarray(0, NATIVE_DOWNLOAD_MIN)));
    assert.equal(backend.seen.length, 4, "one request for the part");
    const d = await transport.send(
      { ...request(backend.origin, `/b/${size}`), method: "HEAD" },
      { body: null, verify: true },
    );
    assert.equal(d.headers.get("content-length"), String(size));
    assert.equal(backend.seen.length, 5);
  } finally {
    transport.close();
    await backend.close();
  }
});

Deno.test("transport: UTF-8 header bytes reach the backend and come back unchanged on every route", async () => {
  // é, à (C3 A0), Р (D0 A0), an emoji, and every byte from 0x80 to 0xFF.
  const meta = new Uint8Array([
    ...new TextEncoder().encode("Hello World\u00e9 voil\u00e0 \u0420\u0438\u043c \u{1f600} "),
    ...Array.from({ length: 128 }, (_, i) => 0x80 + i),
    ...new TextEncoder().encode("voil\u00e0"),
  ]);
  const value = String.fromCharCode(...meta);
  const seen: (string | null)[] = [];
  const handler = async (req: Request) => {
    await req.body?.cancel();
    // Deno.serve hands the value over one character per byte, and sends it back so.
    seen.push(req.headers.get("x-amz-meta-meta1"));
    return new Response("ok", { headers: { "x-amz-meta-meta1": value } });
  };
  const plain = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const dir = await Deno.makeTempDir();
  const { cert, key } = await selfSignedCert(dir);
  const tls = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
    onListen: () => {},
  }, handler);
  const transport = new Transport();
  try {
    const http = `http://127.0.0.1:${plain.addr.port}`;
    const https = `https://127.0.0.1:${tls.addr.port}`;
    const medium = pattern(100_000);
    const routes: [string, UpstreamRequest, SendOptions][] = [
      ["pooled HTTP/1.1 (no body)", request(http, "/b/k"), { body: null, verify: true }],
      ["own HTTP/1.1 (transformed body)", { ...request(http, "/b/k"), method: "PUT" }, {
        body: ReadableStream.from([medium]),
        contentLength: medium.length,
        transformedBody: true,
        verify: true,
      }],
      ["fetch (medium body)", { ...request(http, "/b/k"), method: "PUT" }, {
        body: ReadableStream.from([medium]),
        contentLength: medium.length,
        verify: true,
      }],
      ["node:http (unverified TLS)", request(https, "/b/k"), { body: null, verify: false }],
    ];
    for (const [label, req, options] of routes) {
      req.headerList.push(["x-amz-meta-meta1", value]);
      seen.length = 0;
      const res = await transport.send(req, options);
      assert.equal(res.status, 200, label);
      assert.equal(await res.text(), "ok", label);
      assert.equal(seen[0], value, `${label}: the bytes the backend received`);
      assert.equal(res.headers.get("x-amz-meta-meta1"), value, `${label}: the bytes returned`);
    }
  } finally {
    transport.close();
    await plain.shutdown();
    await tls.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("transport: a body RGW sends after a HEAD answer never turns the next request into a 503", async () => {
  // RGW 16.2 answers HEAD ?acl with the ACL's Content-Length and then sends
  // the document (HEAD / and ?uploads: chunked, then the last chunk), in a
  // TCP segment of its own: the next request on that connection used to
  // read it as its status line and answer 503 "could not be reached",
  // although the backend had carried it out.
  const acl = "<AccessControlPolicy><Owner><ID>u</ID></Owner></AccessControlPolicy>";
  const server = raceServer((s): Step[] => {
    const own = `${s.method} ${s.path}`;
    if (s.path.endsWith("?acl")) {
      return [{ write: answer(200, null, {}, acl.length) }, { wait: 20 }, { write: acl }];
    }
    if (s.path === "/") {
      return [{ write: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" }, { wait: 20 }, {
        write: "0\r\n\r\n",
      }];
    }
    return [{ write: answer(200, own) }];
  });
  const transport = new Transport();
  const send = (method: string, path: string, body?: string) =>
    transport.send({ ...request(server.origin, path), method }, {
      body: body === undefined ? null : ReadableStream.from([new TextEncoder().encode(body)]),
      contentLength: body?.length,
      verify: true,
    });
  try {
    for (const head of ["/b?acl", "/", "/b/k?acl"]) {
      assert.equal((await send("HEAD", head)).status, 200);
      assert.equal(await (await send("GET", "/b/a/../k")).text(), "GET /b/a/../k");
      assert.equal((await send("HEAD", head)).status, 200);
      assert.equal(await (await send("PUT", "/b/k", "small")).text(), "PUT /b/k");
    }
    assert.equal(server.seen.length, 12, "every request sent once");
    assert.equal(server.connections, 1);
  } finally {
    transport.close();
    await server.close();
  }
});

Deno.test("transport: a request that went out unanswered is never called unreachable, nor sent again", async () => {
  // The second request on a connection is read, then left unanswered.
  const server = raceServer((s): Step[] =>
    s.index === 1 ? [{ close: true }] : [{ write: answer(200, `${s.method} ${s.path}`) }]
  );
  const transport = new Transport();
  try {
    await (await transport.send(request(server.origin, "/warm"), { body: null, verify: true }))
      .text();
    const put = transport.send({ ...request(server.origin, "/b/k"), method: "PUT" }, {
      body: ReadableStream.from([new TextEncoder().encode("data")]),
      contentLength: 4,
      verify: true,
    });
    const err = await put.then(() => undefined, (e) => e);
    assert.ok(err instanceof S3Error, String(err));
    assert.equal(err.status, 503);
    assert.doesNotMatch(err.message, /could not be reached|please retry/);
    assert.match(err.message, /may have been carried out/);
    assert.deepEqual(server.seen.map((s) => s.path), ["/warm", "/b/k"], "the PUT went out once");

    // Nothing sent at all (connection refused): that one may be retried.
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const refused = await transport.send(request(`http://127.0.0.1:${port}`, "/x"), {
      body: null,
      verify: true,
    }).then(() => undefined, (e) => e);
    assert.ok(refused instanceof S3Error);
    assert.match(refused.message, /could not be reached; please retry/);
  } finally {
    transport.close();
    await server.close();
  }
});

Deno.test("transport: fetch failures say 'please retry' only when nothing was sent", async () => {
  // A 100 KiB untouched upload goes through fetch.
  const server = raceServer((): Step[] => [{ close: true }]);
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const transport = new Transport();
  const put = (origin: string) =>
    transport.send({ ...request(origin, "/b/k"), method: "PUT" }, {
      body: ReadableStream.from([new Uint8Array(100 * 1024)]),
      contentLength: 100 * 1024,
      verify: true,
    }).then(() => undefined, (e) => e);
  try {
    const sent = await put(server.origin);
    assert.ok(sent instanceof S3Error, String(sent));
    assert.equal(sent.status, 503);
    assert.match(sent.message, /may have been carried out/);
    assert.equal(server.seen.length, 1);
    const refused = await put(`http://127.0.0.1:${deadPort}`);
    assert.ok(refused instanceof S3Error, String(refused));
    assert.equal(refused.status, 503);
    assert.match(refused.message, /could not be reached; please retry/);
  } finally {
    transport.close();
    await server.close();
  }
});
