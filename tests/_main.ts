// Runs main.ts (or a bundle of it) as a child process and waits until it
// logs the URL it listens on.

/** A running osp process. */
export interface MainProcess {
  /** `http://host:port` of the proxy listener. */
  base: string;
  child: Deno.ChildProcess;
  /** Waits until the process has printed a line matching `re`. */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  /** Releases the output stream (call after the process has ended). */
  release(): Promise<void>;
}

/** Starts `deno run <permissions> <script> <args>` and waits for its "listening" log line. */
export async function startMain(
  args: string[],
  options: { script?: string; cwd?: string; permissions?: string[] } = {},
): Promise<MainProcess> {
  const script = options.script ?? new URL("../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.permissions ?? ["-A"]), script, ...args],
    cwd: options.cwd,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const waitFor = async (re: RegExp) => {
    for (;;) {
      const m = re.exec(seen);
      if (m) return m;
      const { value, done } = await reader.read();
      if (done) throw new Error(`osp ended before printing ${re}:\n${seen}`);
      seen += value;
    }
  };
  const base = (await waitFor(/"msg":"listening","url":"(http:\/\/[^"]+)"/))[1];
  return {
    base,
    child,
    waitFor,
    async release() {
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
    },
  };
}
