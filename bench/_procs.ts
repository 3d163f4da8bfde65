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
  /** Hands every further line to `fn`, in the background, until the output ends. */
  each(fn: (line: string) => void): void {
    (async () => {
      for (;;) {
        let line: string;
        try {
          line = await this.next();
        } catch {
          return;
        }
        fn(line);
      }
    })();
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

/** The fields of /proc/PID/stat after the command name (field 3 of stat(5) first). */
export function statFields(pid: number | "self"): string[] {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The kernel's clock ticks per second (`getconf CLK_TCK`; 100 where that fails), the unit of /proc's CPU times. */
export async function clockTicksPerSecond(): Promise<number> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process (fields 14 and 15 of stat(5), all threads), in clock ticks. */
export function cpuTicks(pid: number): number {
  const f = statFields(pid);
  return Number(f[11]) + Number(f[12]);
}

/** A `kB` field of /proc/PID/status (VmRSS, VmHWM), in kB; NaN when the field is missing. */
export function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
    Deno.readTextFileSync(`/proc/${pid}/status`),
  );
  return m ? Number(m[1]) : NaN;
}

/**
 * What a process's resident memory is made of (/proc/PID/smaps_rollup), as
 * text: file-backed MB (mapped files, above all the deno executable) and
 * anonymous MB (heaps, buffers).
 */
export function rssSplit(pid: number): string {
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1]);
  const mb = (k: number) => (k * 1024 / 1e6).toFixed(0);
  const anon = kb("Anonymous");
  return `${mb(kb("Rss") - anon)} MB file-backed, ${mb(anon)} MB anonymous`;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0); false when not allowed. */
export function resetPeakRss(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * VmRSS of `child` in MiB once `ready` has resolved and 2 s more have passed;
 * then kills it and removes `dir`, its scratch directory.
 */
export async function settledRssMib(
  child: Deno.ChildProcess,
  options: { dir: string; ready?: () => Promise<void> },
): Promise<number> {
  try {
    await options.ready?.();
    await new Promise((r) => setTimeout(r, 2000));
    return statusKb(child.pid, "VmRSS") / 1024;
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Deno.remove(options.dir, { recursive: true });
  }
}

/** One GC's record from V8's `--trace-gc-nvp` (the fields the benchmarks read). */
export interface GcRecord {
  /** `s` for a scavenge, `ms` for a mark-compact, …. */
  gc: string;
  /** Milliseconds. */
  pause: number;
  /** Bytes promoted to the old generation. */
  promoted: number;
  /** Bytes allocated since the previous GC. */
  allocated?: number;
}

/**
 * The record of a `--trace-gc-nvp` line (`… GC: {…}`), or undefined for any
 * other line, and for one that another line of output broke into.
 */
export function gcRecord(line: string): GcRecord | undefined {
  const at = line.indexOf("GC: {");
  if (at < 0) return undefined;
  try {
    return JSON.parse(line.slice(at + 4));
  } catch {
    return undefined;
  }
}

/** The median of some numbers (the upper one of an even count). */
export function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/** A TCP port free on 127.0.0.1 just now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Resolves once something accepts connections on the port; throws after 10 s. */
export async function waitFor(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const up = await Deno.connect({ hostname: "127.0.0.1", port }).then((c) => {
      c.close();
      return true;
    }, () => false);
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Child processes of `pid` (scanning /proc). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Number(statFields(Number(e.name))[1]) === pid) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** A process's command line, words joined by spaces; "" once it is gone. */
export function cmdline(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

/** Whether a command is on the PATH. */
export async function which(bin: string): Promise<boolean> {
  try {
    const o = await new Deno.Command("sh", {
      args: ["-c", `command -v ${bin}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return o.success;
  } catch {
    return false;
  }
}
