// Hot reload: server.reload(config) and SIGHUP swap the bucket map, keys and
// callbacks; requests in flight finish on the old config; an invalid config is
// rejected and the old one stays. Also request counting.
import assert from "node:assert/strict";
import { type BucketConfig, type ProxyConfig, serve } from "../mod.ts";
import { countingBackend, localBucket } from "./_backend.ts";
import { signHeaders } from "./_sign.ts";
import { startMain } from "./_main.ts";

const KEY = { accessKey: "rl-ak", secretKey: "rl-secret" };
const NEW_KEY = { accessKey: "rl-new", secretKey: "rl-new-secret" };

/** A backend whose GET streams 256 KiB in 4 pieces, 250 ms apart. */
function slowBackend() {
  const piece = new Uint8Array(64 * 1024).fill(0x62);
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, () =>
    new Response(
      new ReadableStream({
        async start(c) {
          for (let i = 0; i < 4; i++) {
            c.enqueue(piece);
            await new Promise((r) => setTimeout(r, 250));
          }
          c.close();
        },
      }),
      { headers: { "content-length": String(4 * piece.length) } },
    ));
  return { port: server.addr.port, close: () => server.shutdown() };
}

Deno.test("reload: add and remove buckets while a download runs", async () => {
  const slow = slowBackend();
  const fast = countingBackend();
  const bucket = (port: number): BucketConfig => localBucket(port);
  const first: ProxyConfig = {
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: "error",
    enableRequestCounting: true,
    hmacKeystore: [KEY],
    cosMap: { old: bucket(slow.port) },
  };
  const proxy = serve(first);
  const url = (path: string) => `http://127.0.0.1:${proxy.http!.port}${path}`;
  const get = (path: string, key = KEY) =>
    fetch(url(path), { headers: signHeaders("GET", url(path), key) });
  try {
    const download = await get("/old/big");
    assert.equal(download.status, 200);
    const body = download.arrayBuffer();

    // Add "new" and remove "old", with a new client key, while the download runs.
    proxy.reload({ ...first, hmacKeystore: [KEY, NEW_KEY], cosMap: { new: bucket(fast.port) } });
    const removed = await get("/old/other");
    assert.equal(removed.status, 404);
    assert.match(await removed.text(), /NoSuchBucket/);
    const added = await get("/new/k", NEW_KEY);
    assert.equal(added.status, 200);
    await added.body?.cancel();
    assert.equal(
      (await body).byteLength,
      256 * 1024,
      "the in-flight download finished on the old config",
    );

    // An invalid config is rejected; the current one stays.
    const [error] = [console.error];
    console.error = () => {};
    try {
      assert.throws(
        () => proxy.reload({ ...first, cosMap: { broken: { host: "h", port: 0 } } }),
        (e) => e instanceof TypeError && /cosMap\["broken"\]\.port/.test(e.message),
      );
    } finally {
      console.error = error;
    }
    const still = await get("/new/k2", NEW_KEY);
    assert.equal(still.status, 200);
    await still.body?.cancel();

    assert.deepEqual(proxy.requestCounts(), {
      old: { GetObject: 1 },
      _unknown: { GetObject: 1 },
      new: { GetObject: 2 },
    });
  } finally {
    await proxy.shutdown();
    await slow.close();
    await fast.close();
  }
});

Deno.test("reload: SIGHUP makes main.ts re-import its config module", async () => {
  const backend = countingBackend();
  const dir = await Deno.makeTempDir({ prefix: "osp-reload-" });
  const path = `${dir}/osp.config.ts`;
  const write = (buckets: string[]) =>
    Deno.writeTextFile(
      path,
      `export default { hmacKeystore: [{ accessKey: "${KEY.accessKey}", secretKey: "${KEY.secretKey}" }],
        hostname: "127.0.0.1", cosMap: {${
        buckets.map((b) => `"${b}": ${JSON.stringify(localBucket(backend.port))}`).join(",")
      }} };`,
    );
  await write(["one"]);
  const main = await startMain(["--config", path, "--http-port", "0"]);
  try {
    const status = async (bucket: string) => {
      const u = `${main.base}/${bucket}/k`;
      const r = await fetch(u, { headers: signHeaders("GET", u, KEY) });
      await r.body?.cancel();
      return r.status;
    };
    assert.equal(await status("one"), 200);
    assert.equal(await status("two"), 404);
    await write(["two"]);
    main.child.kill("SIGHUP");
    await main.waitFor(/"msg":"config reloaded"/);
    assert.equal(await status("two"), 200);
    assert.equal(await status("one"), 404);
  } finally {
    main.child.kill("SIGTERM");
    await main.child.status;
    await main.release();
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
});
