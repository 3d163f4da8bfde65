// Reading s3-tests' junit XML and naming why a test that passes directly
// against RGW does not pass through osp (used by tests/s3tests/run.ts).

export interface Outcome {
  status: "passed" | "failed" | "error" | "skipped" | "missing";
  /** the failure's message attribute, then its text (traceback) */
  message: string;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g, (_, e, dec, hex) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" }[e as string]!;
  });
}

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(attrs);
  return m ? unescapeXml(m[1]) : undefined;
}

/** test name (`test_s3.py::test_x`) → outcome, from a pytest --junitxml file */
export function parseJunit(xml: string): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  const re = /<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const attrs = m[1], body = m[2] ?? "";
    const file = (attr(attrs, "classname") ?? "").split(".").at(-1);
    const name = `${file}.py::${attr(attrs, "name")}`;
    const f = /<(failure|error|skipped)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    if (!f) {
      out.set(name, { status: "passed", message: "" });
      continue;
    }
    const status = f[1] === "failure" ? "failed" : f[1] as "error" | "skipped";
    out.set(name, {
      status,
      message: `${attr(f[2], "message") ?? ""}\n${unescapeXml(f[3] ?? "")}`,
    });
  }
  return out;
}

export interface Cause {
  /** group key; ids starting with "bug" are osp bugs */
  id: string;
  title: string;
  reason: string;
  /** a short per-test note (e.g. the status codes) */
  detail?: string;
}

interface Rule {
  id: string;
  title: string;
  reason: string;
  /** a test name pattern, a message pattern, or both (both must match) */
  name?: RegExp;
  message?: RegExp;
}

/**
 * Causes, most specific first. Each was read off the failure messages of a
 * real run (see docs/s3-tests.md for the latest).
 */
const RULES: Rule[] = [];

/** A short summary of the assertion, e.g. "403 != 200" or "AccessDenied". */
function detail(message: string): string | undefined {
  const first = message.split("\n")[0].trim();
  const m = /^(?:AssertionError: )?assert (.*)$/.exec(first) ??
    /^([\w.]+(?:Error|Exception)): (.*)$/.exec(first);
  const s = m ? (m[2] ?? m[1]) : first;
  return s ? s.replace(/\s+/g, " ").slice(0, 160).replaceAll("`", "'") : undefined;
}

export function classify(name: string, outcome: Outcome): Cause {
  const short = name.split("::").at(-1)!;
  for (const r of RULES) {
    if (r.name && !r.name.test(short)) continue;
    if (r.message && !r.message.test(outcome.message)) continue;
    return { id: r.id, title: r.title, reason: r.reason, detail: detail(outcome.message) };
  }
  return {
    id: "bug?unclassified",
    title: "Not classified yet",
    reason: "No cause in tests/s3tests/compare.ts matches these failures: read them and add one.",
    detail: `${outcome.status}: ${detail(outcome.message) ?? ""}`,
  };
}
