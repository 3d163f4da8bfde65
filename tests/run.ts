// The test command (`deno task test`): starts one throwaway Ceph RGW for the
// whole run when Ceph is installed, runs `deno test` with every module
// attached to it, then tears it down. Without Ceph, RGW tests skip visibly
// (and fail when CI=true). Arguments are passed on to `deno test`. A run
// longer than OSP_TEST_TIMEOUT_S seconds (900) is stopped and fails.
import { ATTACH_ENV, rgwInstalled, startOwnedRgw } from "./_rgw.ts";

const env: Record<string, string> = {};
let stop = () => Promise.resolve();
if (rgwInstalled()) {
  const started = performance.now();
  const rgw = await startOwnedRgw();
  const stateFile = await Deno.makeTempFile({ prefix: "osp-rgw-state-", suffix: ".json" });
  await Deno.writeTextFile(stateFile, JSON.stringify(rgw.state()));
  env[ATTACH_ENV] = stateFile;
  console.log(
    `Ceph RGW up at ${rgw.endpoint} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  stop = async () => {
    await rgw.stop();
    await Deno.remove(stateFile).catch(() => {});
  };
}
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", ...Deno.args],
  env,
  stdin: "null",
}).spawn();
const forward = (sig: Deno.Signal) => () => child.kill(sig);
Deno.addSignalListener("SIGINT", forward("SIGINT"));
Deno.addSignalListener("SIGTERM", forward("SIGTERM"));
// A hung test (deno test has no per-test timeout) fails the run instead of
// holding CI: the whole suite takes about 2 minutes.
const limitS = Number(Deno.env.get("OSP_TEST_TIMEOUT_S") ?? 900);
let timedOut = false;
const limit = setTimeout(() => {
  timedOut = true;
  console.error(`::: the test run took over ${limitS} s (OSP_TEST_TIMEOUT_S): stopped`);
  child.kill("SIGKILL");
}, limitS * 1000);
const { code } = await child.status;
clearTimeout(limit);
await stop();
Deno.exit(timedOut ? 1 : code);
