// Runs main.ts (or a bundle of it) as a child process and waits until it
// logs the URL it listens on. Its stdout and stderr are read all along (so
// a chatty process never blocks on a full pipe) and kept: stdout for waitFor.

/** A running osp process. */
export interface MainProcess {
  /** `http://host:port` of the proxy listener. */
  base: string;
  child: Deno.ChildProcess;
  /** Waits until the process has printed a line matching `re`. */
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  /** Everything the process has printed on stdout so far. */
  output(): string;
  /** Everything the process has printed on stderr so far. */
  errors(): string;
  /** Stops reading stdout and closes the pipe: the process's next writes there fail (EPIPE). */
  closeStdout(): Promise<void>;
  /** Releases the output stream (call after the process has ended). */
  release(): Promise<void>;
}

function textReader(stream: ReadableStream<Uint8Array>): ReadableStreamDefaultReader<string> {
  return stream.pipeThrough(new TextDecoderStream()).getReader();
}

/** Hands every piece of text to `onText` until the stream ends or is cancelled. */
async function readAll(
  reader: ReadableStreamDefaultReader<string>,
  onText: (text: string) => void,
): Promise<void> {
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onText(value);
    }
  } catch { /* cancelled */ }
}

/** How long `release()` reads an exited child's stderr for its end. */
const STDERR_DRAIN_MS = 2000;

/** Waits for `promise`, or `ms`, whichever comes first. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
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
    stderr: "piped",
  }).spawn();
  let errors = "";
  let exited = false;
  child.status.then(() => exited = true);
  const errorReader = textReader(child.stderr);
  const errorPump = readAll(errorReader, (text) => errors += text);
  const reader = textReader(child.stdout);
  let seen = "";
  let ended = false;
  const waiters = new Set<() => void>();
  const pump = readAll(reader, (text) => {
    seen += text;
    for (const w of [...waiters]) w();
  }).then(() => {
    ended = true;
    for (const w of [...waiters]) w();
  });
  const waitFor = (re: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(seen);
        if (m) {
          waiters.delete(check);
          resolve(m);
        } else if (ended) {
          waiters.delete(check);
          reject(new Error(`osp ended before printing ${re}:\n${seen}`));
        }
      };
      waiters.add(check);
      check();
    });
  const base = (await waitFor(/"msg":"listening","url":"(http:\/\/[^"]+)"/))[1];
  return {
    base,
    child,
    waitFor,
    output: () => seen,
    errors: () => errors,
    async closeStdout() {
      await reader.cancel().catch(() => {});
      await pump;
    },
    async release() {
      await reader.cancel().catch(() => {});
      await pump;
      // After the exit, read stderr to its end (what is left is in the pipe
      // already); before it, stop reading. The wait is bounded: in one full
      // run of seven the suite hung here, after the child had exited, the
      // test process itself holding write ends of pipes (so no end came).
      if (exited) await settledWithin(errorPump, STDERR_DRAIN_MS);
      await errorReader.cancel().catch(() => {});
      await errorPump;
    },
  };
}
