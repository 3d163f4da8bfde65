/**
 * Where a process's CPU goes, by Linux perf: `perf record -g` on its pids for
 * a while, then the shares of the kernel's system calls, page faults and the
 * rest, and of user space by binary. bench/peers.ts uses it (`--perf DIR`) to
 * split each proxy's CPU per request the same way for osp and the gateway.
 *
 * The shares come from cpu-clock samples with call graphs: a system call's
 * share counts everything under it ("children"), so sending includes the
 * loopback delivery to the receiver that the kernel does on the sender's CPU.
 * The profiler itself adds some CPU; multiply the shares by CPU measured
 * without it.
 *
 * @module
 */

/** Shares of the sampled CPU, in percent. */
export interface PerfSplit {
  /** `sendto`, `sendmsg`, `writev` (how Deno and nginx write to sockets): everything under them. */
  send: number;
  /** Of `send`: copying the bytes from the process's buffers (`_copy_from_iter`). */
  sendCopy: number;
  /** `recvfrom`, `recvmsg`, `readv`. */
  receive: number;
  /**
   * Page faults (`asm_exc_page_fault`), wherever they happen: those inside a
   * receive (the kernel writing into a fresh page) are in `receive` too.
   */
  pageFaults: number;
  /** The rest of the kernel: `epoll_wait`, `futex`, `brk`, file writes (logs), interrupts… */
  otherKernel: number;
  /** User space by binary: "deno", "[JIT]", "libc.so.6", "nginx"… */
  user: Map<string, number>;
}

/** Samples `pids` (all their threads) with call graphs for `seconds` into `file`. */
export async function perfRecord(
  pids: number[],
  options: { seconds: number; file: string },
): Promise<void> {
  const out = await new Deno.Command("perf", {
    args: [
      "record",
      "-q",
      "-g",
      "-p",
      pids.join(","),
      "-o",
      options.file,
      "--",
      "sleep",
      String(options.seconds),
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`perf record failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

async function report(file: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("perf", {
    args: ["report", "-i", file, "--stdio", "-g", "none", ...args],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

/**
 * Each system call under the names its samples may show (a call graph does
 * not always hold the entry point: nginx's `writev` shows as `do_writev`).
 */
const SEND = [
  ["__x64_sys_sendto", "__sys_sendto"],
  ["__x64_sys_sendmsg", "__sys_sendmsg"],
  ["__x64_sys_writev", "do_writev"],
];
const RECEIVE = [
  ["__x64_sys_recvfrom", "__sys_recvfrom"],
  ["__x64_sys_recvmsg", "__sys_recvmsg"],
  ["__x64_sys_readv", "do_readv"],
];

/** The split of a recording made by {@linkcode perfRecord}. */
export async function perfSplit(file: string): Promise<PerfSplit> {
  // "    46.35%     0.03%  [k] __x64_sys_sendto": children, self, kind, symbol.
  const children = new Map<string, number>();
  for (const line of (await report(file, ["--children", "--sort", "sym"])).split("\n")) {
    const m = /^\s+([\d.]+)%\s+[\d.]+%\s+\[[k.]\]\s+(\S+)/.exec(line);
    if (m) children.set(m[2], (children.get(m[2]) ?? 0) + Number(m[1]));
  }
  // "    73.11%  [kernel.kallsyms]": self shares by binary.
  const user = new Map<string, number>();
  let kernel = 0;
  for (const line of (await report(file, ["--no-children", "--sort", "dso"])).split("\n")) {
    const m = /^\s+([\d.]+)%\s+(.+?)\s*$/.exec(line);
    if (!m) continue;
    const dso = m[2].startsWith("[JIT]") ? "[JIT]" : m[2];
    if (dso === "[kernel.kallsyms]") kernel += Number(m[1]);
    else user.set(dso, (user.get(dso) ?? 0) + Number(m[1]));
  }
  // One call's share is its largest name's (they nest); calls add up.
  const sum = (calls: string[][]) =>
    calls.reduce((s, names) => s + Math.max(...names.map((n) => children.get(n) ?? 0)), 0);
  const send = sum(SEND);
  const receive = sum(RECEIVE);
  const pageFaults = children.get("asm_exc_page_fault") ?? 0;
  // Faults inside a receive are counted there too, so the kernel's own share
  // less the three can undercount the rest a little; never below zero.
  return {
    send,
    sendCopy: children.get("_copy_from_iter") ?? 0,
    receive,
    pageFaults,
    otherKernel: Math.max(0, kernel - send - receive - pageFaults),
    user,
  };
}
