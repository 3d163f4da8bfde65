// `deno task s3tests`: ceph/s3-tests as the yardstick. Starts one throwaway
// Ceph RGW, creates the three s3-tests identities on it (main, alt, and tenant
// under tenant "testx"), starts osp in this process with a default route to
// that RGW (each client acting as itself there), runs the s3-tests subset
// twice (directly against RGW, then through osp), and writes the comparison
// to docs/s3-tests.md. Not part of `deno task test`: it takes about 10
// minutes and needs the s3-tests snapshot and its Python dependencies.
//
//   deno task s3tests                    # full run, rewrites docs/s3-tests.md
//   deno task s3tests --out DIR          # keep confs, junit XML, pytest and osp logs in DIR
//   deno task s3tests -k EXPR --no-docs  # a few tests only (pytest -k), docs untouched
//   deno task s3tests --only osp         # one side only (implies --no-docs)
//   deno task s3tests --report DIR       # no run: compare DIR's junit XML again (after editing compare.ts)
//   deno task s3tests --validator-yes    # with a validator that allows everything, Unknown operations included
//
// Environment: S3TESTS_DIR (default ../shared/s3-tests beside the checkout, copied to a writable
// temp dir), S3TESTS_PYTHON (default /usr/bin/python3).
import { serve } from "../../mod.ts";
import type { ProxyConfig } from "../../mod.ts";
import { rgwInstalled, startOwnedRgw } from "../_rgw.ts";
import { ANONYMOUS_OPERATIONS, UNSIGNED_ANONYMOUS_OPERATIONS } from "../../lib/sigv4/anonymous.ts";
import { classify, GAINED_NOTES, type Outcome, parseJunit } from "./compare.ts";

const DOCS = new URL("../../docs/s3-tests.md", import.meta.url);
const SRC = Deno.env.get("S3TESTS_DIR") ??
  new URL("../../../shared/s3-tests", import.meta.url).pathname;
const PYTHON = Deno.env.get("S3TESTS_PYTHON") ?? "/usr/bin/python3";
const DESELECT = "s3tests/functional/test_s3.py::test_upload_part_copy_percent_encoded_key";
const FILES = ["s3tests/functional/test_s3.py", "s3tests/functional/test_headers.py"];

/** The s3-tests config shipped with the snapshot: its identities are created on RGW as they are. */
const EXAMPLE_CONF = await Deno.readTextFile(`${SRC}/s3tests.conf.example`);

interface Identity {
  tenant?: string;
  uid: string;
  displayName: string;
  email: string;
  accessKey: string;
  secretKey: string;
}

/** `[s3 main]`, `[s3 alt]`, `[s3 tenant]` of an s3tests.conf (user_id is `tenant$uid` for the tenant). */
function identities(conf: string): Record<"main" | "alt" | "tenant", Identity> {
  const sections = new Map<string, Map<string, string>>();
  let cur: Map<string, string> | undefined;
  for (const raw of conf.split("\n")) {
    const line = raw.trim();
    const h = /^\[(.+)\]$/.exec(line);
    if (h) sections.set(h[1], cur = new Map());
    else if (cur && line && !line.startsWith("#")) {
      const i = line.indexOf("=");
      if (i > 0) cur.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
  }
  const get = (name: string): Identity => {
    const s = sections.get(`s3 ${name}`);
    if (!s) throw new Error(`s3tests.conf.example has no [s3 ${name}]`);
    const tenant = s.get("tenant");
    let uid = s.get("user_id")!;
    if (tenant && uid.startsWith(`${tenant}$`)) uid = uid.slice(tenant.length + 1);
    return {
      tenant,
      uid,
      displayName: s.get("display_name")!,
      email: s.get("email")!,
      accessKey: s.get("access_key")!,
      secretKey: s.get("secret_key")!,
    };
  };
  return { main: get("main"), alt: get("alt"), tenant: get("tenant") };
}
const IDENTITIES = identities(EXAMPLE_CONF);

// ---------------------------------------------------------------------------
// arguments

let outDir: string | undefined;
let kExpr: string | undefined;
let only: "direct" | "osp" | undefined;
let writeDocs = true;
let reportOnly: string | undefined;
let validatorYes = false;
for (let i = 0; i < Deno.args.length; i++) {
  const a = Deno.args[i];
  if (a === "--out") outDir = Deno.args[++i];
  else if (a === "-k") kExpr = Deno.args[++i];
  else if (a === "--only") only = Deno.args[++i] as "direct" | "osp";
  else if (a === "--no-docs") writeDocs = false;
  else if (a === "--report") reportOnly = Deno.args[++i];
  else if (a === "--validator-yes") validatorYes = true;
  else {
    console.error(`unknown argument ${a}; see the head of tests/s3tests/run.ts`);
    Deno.exit(2);
  }
}
if (kExpr !== undefined || only !== undefined || validatorYes) writeDocs = false;

const enc = new TextEncoder();
const t0 = performance.now();
function progress(msg: string): void {
  const s = ((performance.now() - t0) / 1000).toFixed(0);
  Deno.stderr.writeSync(enc.encode(`[s3tests +${s}s] ${msg}\n`));
}

if (reportOnly) {
  await compare(await loadRuns(reportOnly), reportOnly);
  Deno.exit(0);
}

if (!rgwInstalled()) {
  console.error("Ceph binaries missing (ceph-mon, ceph-osd, radosgw, radosgw-admin…)");
  Deno.exit(1);
}
try {
  Deno.statSync(`${SRC}/s3tests/functional/test_s3.py`);
} catch {
  console.error(`no s3-tests snapshot at ${SRC} (set S3TESTS_DIR)`);
  Deno.exit(1);
}

// the code under test: taken now, before the runs (the tree may change meanwhile)
const commit = (await sh("git", ["rev-parse", "--short", "HEAD"])).trim();
const dirty = (await sh("git", ["status", "--porcelain", "--untracked-files=no"])).trim() !== "";
const rgwVersion = (await sh("radosgw", ["--version"]).catch(() => "radosgw (unknown version)"))
  .trim().split("\n")[0];

outDir ??= await Deno.makeTempDir({ prefix: "osp-s3tests-" });
await Deno.mkdir(outDir, { recursive: true });
// shared/ is read-only and pytest writes next to its rootdir: work on a copy.
const suite = `${outDir}/s3-tests`;
await Deno.remove(suite, { recursive: true }).catch(() => {});
await sh("cp", ["-r", SRC, suite]);
const marker = (await Deno.readTextFile(`${suite}/subset-marker.txt`)).trim();
progress(`work dir ${outDir}`);

// osp writes one JSON line per request with console.log/console.error: keep
// them in a file (for reading failures), not on the terminal.
const ospLog = await Deno.open(`${outDir}/osp.log`, { write: true, create: true, truncate: true });
const toLog = (...args: unknown[]) => {
  ospLog.writeSync(enc.encode(
    args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(
      " ",
    ) + "\n",
  ));
};
console.log = toLog;
console.error = toLog;
console.warn = toLog;

// ---------------------------------------------------------------------------
// RGW and its users

const rgw = await startOwnedRgw();
const state = rgw.state();
progress(`RGW up at ${rgw.endpoint}`);
for (const id of Object.values(IDENTITIES)) {
  await radosgwAdmin([
    "user",
    "create",
    ...(id.tenant ? [`--tenant=${id.tenant}`] : []),
    `--uid=${id.uid}`,
    `--display-name=${id.displayName}`,
    `--email=${id.email}`,
    `--access-key=${id.accessKey}`,
    `--secret=${id.secretKey}`,
  ]);
}
progress("users main, alt, testx$tenant created");

// ---------------------------------------------------------------------------
// osp

const keys = Object.values(IDENTITIES).map((id) => ({
  accessKey: id.accessKey,
  secretKey: id.secretKey,
}));
const ospConfig: ProxyConfig = {
  httpPort: 0,
  hostname: "127.0.0.1",
  logLevel: "info",
  hmacKeystore: keys,
  // s3-tests reuses presigned URLs (and boto retries); RGW does not cap them.
  maxPresignUrlUsageAttempts: 0,
  cosMap: {
    "*": {
      host: "127.0.0.1",
      port: rgw.port,
      tls: false,
      addressingStyle: "path",
      // each s3-tests identity acts as the same RGW user
      backendCredentials: Object.fromEntries(keys.map((k) => [k.accessKey, k])),
      // cors: "backend" reads the bucket's CORS configuration with the
      // route's static identity: the main user (RGW lets a bucket's owner
      // read it; s3-tests' CORS tests use main's buckets).
      accessKey: IDENTITIES.main.accessKey,
      secretKey: IDENTITIES.main.secretKey,
      cors: "backend",
      // Every operation osp lets anonymous callers do, sent to RGW unsigned:
      // RGW's own public ACLs and bucket policies decide, as for a direct
      // anonymous caller (re-signed as the main user they would open every
      // bucket, whatever its ACLs say).
      anonymous: [...ANONYMOUS_OPERATIONS, ...UNSIGNED_ANONYMOUS_OPERATIONS],
      anonymousAs: "anonymous",
    },
  },
  // No validator: every authenticated request is allowed, but a request osp
  // cannot name (operation "Unknown") is refused with 501.
  ...(validatorYes ? { validator: () => true } : {}),
};
const proxy = serve(ospConfig);
const ospPort = proxy.http!.port;
progress(`osp up at http://127.0.0.1:${ospPort}`);

// ---------------------------------------------------------------------------
// the two runs

interface Run {
  name: "direct" | "osp";
  port: number;
  junit: string;
  outcomes?: Map<string, Outcome>;
  meta?: RunMeta;
}
/** kept next to the junit XML as `<name>.json`, for --report */
interface RunMeta {
  seconds: number;
  summary: string;
  commit: string;
  dirty: boolean;
  date: string;
  rgwVersion: string;
  validatorYes: boolean;
}
const runs: Run[] = [
  { name: "direct", port: rgw.port, junit: `${outDir}/direct.xml` },
  { name: "osp", port: ospPort, junit: `${outDir}/osp.xml` },
].filter((r) => !only || r.name === only) as Run[];

const pytestArgs = (junit: string) => [
  "-m",
  "pytest",
  "-p",
  "s3lab_compat",
  "-p",
  "no:cacheprovider",
  "-q",
  "--timeout",
  "20",
  "--junitxml",
  junit,
  "-m",
  marker,
  ...(kExpr ? ["-k", kExpr] : []),
  ...FILES,
  "--deselect",
  DESELECT,
];

try {
  for (const run of runs) {
    const conf = `${outDir}/${run.name}.conf`;
    await Deno.writeTextFile(conf, s3testsConf(run.port));
    await Deno.remove(run.junit).catch(() => {});
    progress(
      `${run.name}: pytest against 127.0.0.1:${run.port} (log ${outDir}/pytest-${run.name}.log)`,
    );
    const started = performance.now();
    const log = await Deno.open(`${outDir}/pytest-${run.name}.log`, {
      write: true,
      create: true,
      truncate: true,
    });
    const child = new Deno.Command(PYTHON, {
      args: pytestArgs(run.junit),
      cwd: suite,
      env: {
        S3TEST_CONF: conf,
        AWS_MAX_ATTEMPTS: "1",
        PYTHONPATH: `${suite}/plugin`,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const copy = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) log.writeSync(chunk);
    };
    await Promise.all([copy(child.stdout), copy(child.stderr), child.status]);
    log.close();
    const text = await Deno.readTextFile(`${outDir}/pytest-${run.name}.log`);
    run.meta = {
      seconds: Math.round((performance.now() - started) / 1000),
      summary: text.trim().split("\n").at(-1) ?? "",
      commit,
      dirty,
      date: new Date().toISOString().slice(0, 10),
      rgwVersion,
      validatorYes,
    };
    await Deno.writeTextFile(`${outDir}/${run.name}.json`, JSON.stringify(run.meta, null, 2));
    run.outcomes = parseJunit(await Deno.readTextFile(run.junit));
    progress(`${run.name}: ${run.meta.summary} (${run.meta.seconds} s)`);
    // radosgw 16.2 aborts on a few requests: the next run must not start on a dead gateway
    if (!(await answers(rgw.endpoint))) {
      progress(`${run.name}: radosgw stopped answering during the run; restarting it`);
      await rgw.restartGateway();
    }
  }
} finally {
  await proxy.shutdown();
  await rgw.stop();
  ospLog.close();
}

// ---------------------------------------------------------------------------
// comparison

await compare(runs, outDir);
progress(`confs, junit XML, pytest and osp logs kept in ${outDir}`);

// ---------------------------------------------------------------------------

async function loadRuns(dir: string): Promise<Run[]> {
  const runs: Run[] = [];
  for (const name of ["direct", "osp"] as const) {
    const junit = `${dir}/${name}.xml`;
    runs.push({
      name,
      port: 0,
      junit,
      outcomes: parseJunit(await Deno.readTextFile(junit)),
      meta: JSON.parse(await Deno.readTextFile(`${dir}/${name}.json`)),
    });
  }
  return runs;
}

async function compare(runs: Run[], dir: string): Promise<void> {
  const [direct, viaOsp] = [
    runs.find((r) => r.name === "direct"),
    runs.find((r) => r.name === "osp"),
  ];
  for (const r of runs) {
    const counts = countOutcomes(r.outcomes!);
    progress(`${r.name}: ${counts.passed} passed of ${counts.total}`);
  }
  if (!direct?.outcomes || !viaOsp?.outcomes) return;
  const md = report(direct, viaOsp);
  if (writeDocs && !viaOsp.meta!.validatorYes) {
    await Deno.writeTextFile(DOCS, md);
    // the repository's `deno fmt --check` covers docs/
    await sh(Deno.execPath(), ["fmt", "-q", DOCS.pathname]);
    progress(`wrote docs/s3-tests.md`);
  } else {
    await Deno.writeTextFile(`${dir}/s3-tests.md`, md);
    progress(`wrote ${dir}/s3-tests.md`);
  }
}

function countOutcomes(m: Map<string, Outcome>) {
  let passed = 0;
  for (const o of m.values()) if (o.status === "passed") passed++;
  return { passed, total: m.size };
}

function report(direct: Run, viaOsp: Run): string {
  const d = direct.outcomes!, o = viaOsp.outcomes!;
  const dc = countOutcomes(d), oc = countOutcomes(o);
  const lost: { name: string; outcome: Outcome }[] = [];
  const gained: string[] = [];
  for (const [name, od] of d) {
    const oo = o.get(name);
    if (od.status === "passed" && oo?.status !== "passed") {
      lost.push({ name, outcome: oo ?? { status: "missing", message: "not run through osp" } });
    }
  }
  for (const [name, oo] of o) {
    if (oo.status === "passed" && d.get(name)?.status !== "passed") gained.push(name);
  }
  const groups = new Map<string, { title: string; reason: string; tests: string[] }>();
  for (const { name, outcome } of lost) {
    const c = classify(name, outcome);
    let g = groups.get(c.id);
    if (!g) groups.set(c.id, g = { title: c.title, reason: c.reason, tests: [] });
    g.tests.push(`\`${name}\`${c.detail ? `: ${c.detail}` : ""}`);
  }
  const { commit, dirty, date, rgwVersion } = viaOsp.meta!;
  const lines: string[] = [];
  lines.push(
    "# ceph/s3-tests through osp",
    "",
    "<!-- generated by `deno task s3tests` (tests/s3tests/run.ts); edit the causes in tests/s3tests/compare.ts -->",
    "",
    "The S3 conformance suite of the Ceph project, run twice against one throwaway Ceph RGW: directly,",
    'and through osp with a default route (`cosMap["*"]`, path style) on which each s3-tests identity',
    "(main, alt, and tenant under tenant `testx`) acts as itself on RGW (`backendCredentials`),",
    '`cors: "backend"`, `maxPresignUrlUsageAttempts: 0`, no validator, and every operation osp can',
    'open to anonymous callers in `anonymous` with `anonymousAs: "anonymous"` (sent to RGW unsigned, so',
    "its public ACLs and policies decide). A test that passes directly but not through osp is a",
    "difference; each is listed below under its cause.",
    "",
    `- date: ${date}`,
    `- osp commit: \`${commit}\`${dirty ? " (with uncommitted changes)" : ""}`,
    `- backend: ${rgwVersion}`,
    "- command: `deno task s3tests` (tests/s3tests/run.ts; snapshot and how it is run: `../shared/s3-tests/README.md` beside the checkout)",
    `- subset: \`-m "$(cat subset-marker.txt)"\` over \`${
      FILES.join(" ")
    }\`, \`--deselect ${DESELECT}\``,
    "",
    "| run | passed | of | time |",
    "| --- | --- | --- | --- |",
    `| directly against RGW | ${dc.passed} | ${dc.total} | ${direct.meta!.seconds} s |`,
    `| through osp | ${oc.passed} | ${oc.total} | ${viaOsp.meta!.seconds} s |`,
    "",
    `${lost.length} tests pass directly but not through osp; ${gained.length} pass through osp but not directly.`,
    "",
  );
  const sorted = [...groups.entries()].sort((a, b) =>
    Number(a[0].startsWith("bug")) - Number(b[0].startsWith("bug")) ||
    b[1].tests.length - a[1].tests.length
  );
  for (const [, g] of sorted) {
    lines.push(`## ${g.title} (${g.tests.length})`, "", g.reason, "");
    for (const t of g.tests.sort()) lines.push(`- ${t}`);
    lines.push("");
  }
  if (gained.length) {
    lines.push(
      "## Passing through osp only",
      "",
      "A test flaky on RGW, or one that passes for a reason of its own.",
      "",
    );
    for (const t of gained.sort()) {
      const note = GAINED_NOTES[t.split("::").at(-1)!];
      lines.push(`- \`${t}\`${note ? `: ${note}` : ""}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

/** s3tests.conf.example pointed at 127.0.0.1:port */
function s3testsConf(port: number): string {
  return EXAMPLE_CONF.replace(/^host = .*$/m, "host = 127.0.0.1").replace(
    /^port = .*$/m,
    `port = ${port}`,
  );
}

async function radosgwAdmin(args: string[]): Promise<void> {
  await sh("radosgw-admin", [
    "-c",
    state.conf,
    "--keyring",
    state.keyring,
    "-n",
    "client.admin",
    ...args,
  ], { CEPH_CONF: state.conf, CEPH_ARGS: "" });
}

async function sh(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}):\n${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout);
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
