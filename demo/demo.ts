/**
 * `deno task demo`: osp in front of a throwaway local S3 backend, with
 * nothing to install but Deno.
 *
 * It starts s3rver (an S3 emulator from npm) on 127.0.0.1 with a temporary
 * directory and two buckets, then osp in this process with the config from
 * `demo/osp.config.ts`, and a small upload page (`demo/upload_page.ts`) that
 * sends files through osp by presigned POST, and prints the page's URL,
 * aws-cli credentials and commands to try.
 * Ctrl-C (or SIGTERM) shuts both down and deletes the temporary directory.
 *
 * Environment:
 * - `OSP_DEMO_PORT`: the proxy's port; default 8080, 0 = any free port.
 * - `OSP_DEMO_UI_PORT`: the upload page's port; default 0, any free port.
 * - `OSP_DEMO_READY_FILE`: once serving, write one JSON line with the
 *   endpoint, the page's URL and both key pairs to this file (for tests and
 *   scripts).
 *
 * @module
 */
// Pinned inline so the demo adds nothing to the library's import map.
import S3rver from "s3rver";
import { serve } from "../mod.ts";
import { ADMIN, BUCKETS, demoConfig, READER } from "./osp.config.ts";
import { serveUploadPage } from "./upload_page.ts";

/** How long shutdown may take before the demo gives up waiting and exits anyway. */
const SHUTDOWN_GRACE_MS = 5_000;

function portFromEnv(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new TypeError(`${name} must be a port number 0–65535, not ${JSON.stringify(raw)}`);
  }
  return port;
}

/** Starts s3rver on a free port of 127.0.0.1 with the demo's backend buckets. */
async function startBackend(directory: string) {
  const s3rver = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: Object.values(BUCKETS).map((name) => ({ name })),
  });
  const addr: { port: number } = await s3rver.run();
  return {
    port: addr.port,
    async close() {
      // osp has closed its backend connections by now; drop any stragglers so
      // close() does not wait for idle keep-alive sockets.
      s3rver.httpServer?.closeAllConnections?.();
      await s3rver.close();
    },
  };
}

function banner(endpoint: string, page: string, backendPort: number, directory: string): string {
  const profile = (name: string, key: { accessKey: string; secretKey: string }) =>
    `[${name}]\naws_access_key_id = ${key.accessKey}\naws_secret_access_key = ${key.secretKey}`;
  const buckets = Object.entries(BUCKETS).map(([client, backend]) => `${client} → ${backend}`);
  return `
osp demo is running
  proxy    ${endpoint}   (osp, this process)
  backend  http://127.0.0.1:${backendPort}   (s3rver; data in ${directory}, deleted on exit)
  buckets  ${buckets.join(", ")}
  keys     ${ADMIN.accessKey} (read-write), ${READER.accessKey} (GET/HEAD and ListBuckets only)

Upload page (files go through osp by presigned POST, signed with ${ADMIN.accessKey};
no login, as it only listens on 127.0.0.1):

  ${page}

aws-cli profiles, for ~/.aws/credentials (use with --profile osp-demo-admin):

${profile("osp-demo-admin", ADMIN)}

${profile("osp-demo-reader", READER)}

and in ~/.aws/config:

[profile osp-demo-admin]
region = us-east-1

[profile osp-demo-reader]
region = us-east-1

Or as environment variables (the admin key):

export AWS_ACCESS_KEY_ID=${ADMIN.accessKey}
export AWS_SECRET_ACCESS_KEY=${ADMIN.secretKey}
export AWS_DEFAULT_REGION=us-east-1

Then try:

  aws --endpoint-url ${endpoint} s3 ls
  echo hello > hello.txt && aws --endpoint-url ${endpoint} s3 cp hello.txt s3://demo-data/hello.txt
  aws --endpoint-url ${endpoint} s3 cp s3://demo-data/hello.txt downloaded.txt

With --profile osp-demo-reader the download works and the upload is denied (AccessDenied).
Ctrl-C stops the proxy and the backend.
`;
}

async function writeReadyFile(path: string, endpoint: string, page: string): Promise<void> {
  const line = JSON.stringify({
    endpoint,
    page,
    admin: { accessKey: ADMIN.accessKey, secretKey: ADMIN.secretKey },
    reader: { accessKey: READER.accessKey, secretKey: READER.secretKey },
    buckets: Object.keys(BUCKETS),
  });
  // Write then rename, so a reader never sees half a line.
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, line + "\n");
  await Deno.rename(tmp, path);
}

/** Resolves with the name of the first SIGINT/SIGTERM; a second one exits at once. */
function stopSignal(): Promise<Deno.Signal> {
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  let received = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      if (received) {
        console.error("osp demo: second signal, exiting without cleanup");
        Deno.exit(130);
      }
      received = true;
      resolve(signal);
    });
  }
  return promise;
}

async function main(): Promise<number> {
  let port: number;
  let pagePort: number;
  try {
    port = portFromEnv("OSP_DEMO_PORT", 8080);
    pagePort = portFromEnv("OSP_DEMO_UI_PORT", 0);
  } catch (err) {
    console.error(`osp demo: ${(err as Error).message}`);
    return 2;
  }
  const stopped = stopSignal();
  const directory = await Deno.makeTempDir({ prefix: "osp-demo-" });
  const cleanups: (() => Promise<void>)[] = [() => Deno.remove(directory, { recursive: true })];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        console.error(`osp demo: cleanup: ${(err as Error).message}`);
      }
    }
  };
  try {
    const backend = await startBackend(directory);
    cleanups.push(() => backend.close());
    // The page first: osp's CORS rule names its origin.
    const page = serveUploadPage(pagePort);
    cleanups.push(() => page.shutdown());
    const pageOrigin = new URL(page.url).origin;
    const proxy = serve(demoConfig({ backendPort: backend.port, httpPort: port, pageOrigin }));
    cleanups.push(() => proxy.shutdown());
    const endpoint = `http://127.0.0.1:${proxy.http!.port}`;
    page.ospEndpoint = endpoint; // the page presigns for osp from now on
    console.log(banner(endpoint, page.url, backend.port, directory));
    const readyFile = Deno.env.get("OSP_DEMO_READY_FILE");
    if (readyFile) await writeReadyFile(readyFile, endpoint, page.url);
  } catch (err) {
    const hint = err instanceof Deno.errors.AddrInUse
      ? ` (a port is taken: set OSP_DEMO_PORT (now ${port}) or OSP_DEMO_UI_PORT (now ${pagePort}) ` +
        "to another port, or 0 for any free one)"
      : "";
    console.error(`osp demo: failed to start: ${(err as Error).message}${hint}`);
    await cleanup();
    return 1;
  }

  const signal = await stopped;
  console.log(`\nosp demo: ${signal}, shutting down…`);
  const timer = setTimeout(() => {
    console.error(`osp demo: shutdown took over ${SHUTDOWN_GRACE_MS / 1000} s, exiting anyway`);
    Deno.exit(1);
  }, SHUTDOWN_GRACE_MS);
  await cleanup();
  clearTimeout(timer);
  console.log("osp demo: stopped");
  return 0;
}

if (import.meta.main) Deno.exit(await main());
