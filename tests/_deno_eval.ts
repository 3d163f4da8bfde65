// A script run in a child `deno eval`, for tests that need a process of its
// own: V8 flags, a fresh heap, what is written at exit.

/** How the child ended, and what it printed. */
export interface EvalOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `script` with `deno eval [flags…] script`, in `cwd` when given. */
export async function denoEval(
  script: string,
  options: { flags?: string[]; cwd?: string } = {},
): Promise<EvalOutput> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", ...(options.flags ?? []), script],
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}
