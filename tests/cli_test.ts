// main.ts: --check, --help, --version, flag overrides, a graceful SIGTERM
// that lets an in-flight download finish, and a clean stderr when run as the
// README says.
import assert from "node:assert/strict";
import { signHeaders } from "./_sign.ts";
import { type MainProcess, startMain } from "./_main.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const KEY = { accessKey: "cli-ak", secretKey: "cli-secret" };

async function writeConfig(dir: string, body: string): Promise<string> {
  const path = `${dir}/osp.config.ts`;
  await Deno.writeTextFile(path, body);
  return path;
}

async function runMain(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: o.code,
    out: new TextDecoder().decode(o.stdout),
    err: new TextDecoder().decode(o.stderr),
  };
}

Deno.test("cli: --help, --version, --check", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "osp-cli-" });
  try {
    await t.step("--help and --version exit 0", async () => {
      const help = await runMain(["--help"]);
      assert.equal(help.code, 0);
      assert.match(help.out, /--config/);
      const version = await runMain(["--version"]);
      assert.equal(version.code, 0);
      assert.match(version.out, /^osp \d+\.\d+\.\d+/);
    });
    await t.step("--check prints every problem with its field path and exits 1", async () => {
      const path = await writeConfig(
        dir,
        `export default { cosMap: { logs: { host: "rgw", port: 0, accessKey: "a" } }, colour: "blue" };`,
      );
      const r = await runMain(["--config", path, "--check"]);
      assert.equal(r.code, 1);
      assert.match(r.err, /cosMap\["logs"\]\.port must be an integer 1–65535/);
      assert.match(r.err, /cosMap\["logs"\]\.secretKey is required with its pair/);
      assert.match(r.err, /colour is not a known field/);
      assert.match(r.err, /httpPort or httpsPort must be set/);
    });
    await t.step(
      "--check accepts a valid config from an async function, with flag overrides",
      async () => {
        const path = await writeConfig(
          dir,
          `export default async () => ({ hmacKeystore: [{ accessKey: "a", secretKey: "b" }],
           cosMap: { logs: { host: "rgw", port: 7480, accessKey: "x", secretKey: "y" } } });`,
        );
        const r = await runMain(["--config", path, "--http-port", "8089", "--check"]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /config OK/);
      },
    );
    await t.step(
      "--access-log-sample overrides accessLogSample; a bad one is an error",
      async () => {
        const path = await writeConfig(
          dir,
          `export default { hmacKeystore: [{ accessKey: "a", secretKey: "b" }], httpPort: 8089,
         cosMap: { logs: { host: "rgw", port: 7480, accessKey: "x", secretKey: "y" } } };`,
        );
        for (const good of ["0", "0.25", ".5", "1", "1.0"]) {
          const r = await runMain(["--config", path, "--access-log-sample", good, "--check"]);
          assert.equal(r.code, 0, `${good}: ${r.err}`);
        }
        const above = await runMain(["--config", path, "--access-log-sample", "1.5", "--check"]);
        assert.equal(above.code, 1);
        assert.match(above.err, /accessLogSample must be a number from 0 to 1/);
        for (const bad of ["", "half", "-0.1", "0x1", "1e-2"]) {
          const r = await runMain(["--config", path, `--access-log-sample=${bad}`, "--check"]);
          assert.equal(r.code, 2, bad);
          assert.match(r.err, /--access-log-sample must be a number from 0 to 1/);
        }
      },
    );
    await t.step("a missing --config is a usage error", async () => {
      const r = await runMain([]);
      assert.equal(r.code, 2);
      assert.match(r.err, /--config is required/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Runs `fn` with a temp dir holding an osp config whose bucket `slow` is
 * served by `handler` on 127.0.0.1; tears both down afterwards.
 */
async function withBackend(
  handler: Deno.ServeHandler,
  fn: (setup: { path: string; dir: string }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "osp-cli-" });
  const backend = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
  try {
    const path = await writeConfig(
      dir,
      `export default { hmacKeystore: [{ accessKey: "${KEY.accessKey}", secretKey: "${KEY.secretKey}" }],
         hostname: "127.0.0.1",
         cosMap: { slow: { host: "127.0.0.1", port: ${backend.addr.port}, tls: false,
           addressingStyle: "path", accessKey: "x", secretKey: "y" } } };`,
    );
    await fn({ path, dir });
  } finally {
    await backend.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Kills `main` if it still runs and releases its output. */
async function stop(main: MainProcess): Promise<void> {
  try {
    main.child.kill("SIGKILL");
  } catch { /* already exited */ }
  await main.release();
}

Deno.test("cli: SIGTERM stops accepting and lets an in-flight download finish", async () => {
  // A slow backend: the object arrives in two halves, 600 ms apart.
  const half = new Uint8Array(64 * 1024).fill(0x61);
  const slowObject = () =>
    new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(half);
          await new Promise((r) => setTimeout(r, 600));
          c.enqueue(half);
          c.close();
        },
      }),
      { headers: { "content-length": String(2 * half.length) } },
    );
  await withBackend(slowObject, async ({ path }) => {
    const main = await startMain(["--config", path, "--http-port", "0", "--log-level", "info"]);
    try {
      const objectUrl = `${main.base}/slow/object`;
      const response = await fetch(objectUrl, { headers: signHeaders("GET", objectUrl, KEY) });
      assert.equal(response.status, 200);
      main.child.kill("SIGTERM");
      const body = new Uint8Array(await response.arrayBuffer());
      assert.equal(body.length, 128 * 1024, "the in-flight download completed");
      const status = await main.child.status;
      assert.equal(status.code, 0);
      await assert.rejects(fetch(objectUrl), "no longer accepting");
    } finally {
      await stop(main);
    }
  });
});

Deno.test("cli: run as the README says, a slow request leaves nothing on stderr", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const documented = /^deno run (.+) main\.ts --config \.\/osp\.config\.ts$/m.exec(readme);
  assert.ok(documented, "the README shows the command line");
  // Slower than the 50 ms after which osp starts watching for the client
  // leaving (req.signal): under Deno 2.9's legacy abort semantics that
  // printed a warning to stderr on the first such request.
  const slowAnswer = async () => {
    await new Promise((r) => setTimeout(r, 300));
    return new Response("slow answer");
  };
  await withBackend(slowAnswer, async ({ path, dir }) => {
    // Run from the temp dir: osp's own deno.json (which sets the flag too) is not in play.
    const main = await startMain(["--config", path, "--http-port", "0"], {
      permissions: documented[1].split(" "),
      cwd: dir,
    });
    try {
      for (let i = 0; i < 2; i++) {
        const url = `${main.base}/slow/object-${i}`;
        const response = await fetch(url, { headers: signHeaders("GET", url, KEY) });
        assert.equal(response.status, 200);
        assert.equal(await response.text(), "slow answer");
      }
      main.child.kill("SIGTERM");
      assert.equal((await main.child.status).code, 0);
      await main.release();
      assert.equal(main.errors(), "", "stderr stays empty");
    } finally {
      await stop(main);
    }
  });
});
