// Child Deno processes for the benchmarks: spawn one, read its stdout line by
// line (the first line is a JSON object describing it), drain the rest.

/** Reads a process's stdout line by line. */
export class Lines {
  #reader: ReadableStreamDefaultReader<string>;
  #pending = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next line, without its newline. */
  async next(): Promise<string> {
    for (;;) {
      const nl = this.#pending.indexOf("\n");
      if (nl >= 0) {
        const line = this.#pending.slice(0, nl);
        this.#pending = this.#pending.slice(nl + 1);
        return line;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("process output ended");
      this.#pending += value;
    }
  }
  /** Reads everything else in the background (so the pipe never fills). */
  drain(): void {
    (async () => {
      try {
        while (!(await this.#reader.read()).done);
      } catch { /* closed */ }
    })();
  }
}

/** A spawned Deno process and the JSON object of its first stdout line. */
export interface Proc {
  child: Deno.ChildProcess;
  pid: number;
  lines: Lines;
  first: Record<string, unknown>;
}

/** Runs `deno <args>` and waits for its first stdout line (JSON). */
export async function spawnDeno(
  args: string[],
  options: { stdin?: boolean } = {},
): Promise<Proc> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = new Lines(child.stdout);
  const first = JSON.parse(await lines.next());
  return { child, pid: child.pid, lines, first };
}
