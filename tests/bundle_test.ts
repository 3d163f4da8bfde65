// `deno task bundle` makes one self-contained dist/osp.js (deno compile cannot
// fetch its runtime here): it must run from anywhere with `deno run` and serve.
import assert from "node:assert/strict";
import { countingBackend } from "./_backend.ts";
import { signHeaders } from "./_sign.ts";
import { startMain } from "./_main.ts";

const KEY = { accessKey: "bundle-ak", secretKey: "bundle-secret" };

Deno.test("bundle: dist/osp.js runs outside the project and proxies a signed request, with threads too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "osp-bundle-" });
  const backend = countingBackend();
  try {
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "-o", `${dir}/osp.js`, new URL("../main.ts", import.meta.url).pathname],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    await Deno.writeTextFile(
      `${dir}/osp.config.ts`,
      `export default { hmacKeystore: [{ accessKey: "${KEY.accessKey}", secretKey: "${KEY.secretKey}" }],
         hostname: "127.0.0.1", cosMap: { b: { host: "127.0.0.1", port: ${backend.port}, tls: false,
         addressingStyle: "path", accessKey: "x", secretKey: "y" } } };`,
    );
    const main = await startMain(["--config", "osp.config.ts", "--http-port", "0"], {
      script: "osp.js",
      cwd: dir,
      permissions: ["--allow-net", "--allow-read", "--allow-env", "--unstable-no-legacy-abort"],
    });
    try {
      const url = `${main.base}/b/key`;
      const res = await fetch(url, { headers: signHeaders("GET", url, KEY) });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "backend-ok");
      assert.match(backend.requests[0].headers.get("authorization")!, /Credential=x\//);
    } finally {
      main.child.kill("SIGTERM");
      assert.equal((await main.child.status).code, 0);
      await main.release();
    }
    // threads > 1: the bundle is its own worker entry (lib/serve/worker.ts is inside it).
    const threaded = await startMain(
      ["--config", "osp.config.ts", "--http-port", "0", "--threads", "2"],
      {
        script: "osp.js",
        cwd: dir,
        permissions: [
          "--allow-net",
          "--allow-read",
          "--allow-env",
          "--unstable-no-legacy-abort",
          "--unstable-net",
        ],
      },
    );
    try {
      await threaded.waitFor(/"msg":"all isolates listening","isolates":2/);
      for (let i = 0; i < 8; i++) {
        const client = Deno.createHttpClient({});
        const url = `${threaded.base}/b/key-${i}`;
        const res = await fetch(url, { headers: signHeaders("GET", url, KEY), client });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "backend-ok");
        client.close();
      }
      assert.equal(threaded.output().match(/"msg":"listening"/g)?.length, 2);
    } finally {
      threaded.child.kill("SIGTERM");
      assert.equal((await threaded.child.status).code, 0);
      await threaded.release();
    }
  } finally {
    await backend.close();
    await Deno.remove(dir, { recursive: true });
  }
});
