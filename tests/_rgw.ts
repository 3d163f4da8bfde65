/**
 * Throwaway single-host Ceph cluster (1 mon, 1 OSD on memstore, 1 radosgw) for
 * integration tests. Everything listens on 127.0.0.1, runs in the foreground
 * (`-f`) as a child of the test process and lives under one temp directory.
 * No systemd, no mgr. See /work/shared/test-backends.md for the recipe.
 *
 * Set `OSP_RGW_LOG=1` to print progress lines to stderr.
 */

export interface RgwUser {
  uid: string;
  accessKey: string;
  secretKey: string;
}

export interface Rgw {
  /** e.g. "http://127.0.0.1:PORT" */
  endpoint: string;
  port: number;
  /**
   * RGW's ops log: one JSON entry per operation radosgw ran (see
   * tests/_ops_log.ts for reading it).
   */
  opsLogPath: string;
  /** creates a RGW user with generated keys via `radosgw-admin user create` */
  createUser(uid: string): Promise<RgwUser>;
  /** restart radosgw only (it sometimes aborts); waits until HTTP answers */
  restartGateway(): Promise<void>;
  stop(): Promise<void>;
}

const REQUIRED_BINARIES = [
  "ceph-mon",
  "ceph-osd",
  "radosgw",
  "ceph-authtool",
  "monmaptool",
  "radosgw-admin",
  "ceph",
];

const STATE_KEY = Symbol.for("osp.tests.rgw");

/** Env var naming a JSON file with the {@linkcode AttachState} of a running cluster. */
export const ATTACH_ENV = "OSP_TEST_RGW";

/** Where a running cluster lives, for test processes that attach to it. */
export interface AttachState {
  dir: string;
  conf: string;
  keyring: string;
  port: number;
  /** RGW's ops log file; absent in state files written before it existed (then `<dir>/ops.log`). */
  opsLogPath?: string;
}

/** Starts a cluster owned by the caller (tests/run.ts), independent of getRgw's memo. */
export function startOwnedRgw(): Promise<Rgw & { state(): AttachState }> {
  return startCluster() as Promise<Rgw & { state(): AttachState }>;
}

interface GlobalState {
  promise?: Promise<Rgw>;
}

function globalState(): GlobalState {
  const g = globalThis as unknown as Record<symbol, GlobalState | undefined>;
  let s = g[STATE_KEY];
  if (!s) {
    s = {};
    g[STATE_KEY] = s;
  }
  return s;
}

function verbose(): boolean {
  try {
    return Deno.env.get("OSP_RGW_LOG") === "1";
  } catch {
    return false;
  }
}

const t0 = performance.now();
function log(msg: string): void {
  if (!verbose()) return;
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  console.error(`[rgw +${s}s] ${msg}`);
}

function which(bin: string): boolean {
  const path = Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
  for (const dir of path.split(":")) {
    if (!dir) continue;
    try {
      const st = Deno.statSync(`${dir}/${bin}`);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** true when ceph-mon, ceph-osd, radosgw, ceph-authtool, monmaptool, radosgw-admin, ceph are all on PATH */
export function rgwInstalled(): boolean {
  try {
    return REQUIRED_BINARIES.every(which);
  } catch {
    return false;
  }
}

/**
 * Starts the cluster once and returns it; the promise is memoized on
 * `globalThis`. Cleanup (SIGKILL of every daemon, removal of the temp dir) runs
 * on the "unload" event, plus a shell watchdog in case the process is killed.
 *
 * Caveat (measured with Deno 2.9.6): `deno test` runs every test module in its
 * own isolate with its own `globalThis` and fires "unload" after each module,
 * so in practice each test module that calls this gets its own cluster (the
 * startup costs about 2 s). All tests inside one module share it.
 */
export function getRgw(): Promise<Rgw> {
  const state = globalState();
  const attachFile = Deno.env.get(ATTACH_ENV);
  if (!state.promise && attachFile) {
    // tests/run.ts started one cluster for the whole run: attach to it.
    const s = JSON.parse(Deno.readTextFileSync(attachFile)) as AttachState;
    state.promise = Promise.resolve(
      new Cluster(s.dir, s.conf, s.keyring, s.port, false, s.opsLogPath),
    );
  }
  if (!state.promise) {
    const p = startCluster();
    state.promise = p;
    // A failed start must not poison later calls forever.
    p.catch(() => {
      if (state.promise === p) state.promise = undefined;
    });
  }
  return state.promise;
}

// ---------------------------------------------------------------------------

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(path: string, lines = 40): string {
  try {
    const text = Deno.readTextFileSync(path);
    return text.split("\n").slice(-lines).join("\n");
  } catch (e) {
    return `(cannot read ${path}: ${e instanceof Error ? e.message : e})`;
  }
}

function randomAlnum(n: number, alphabet: string): string {
  const out: string[] = [];
  const buf = new Uint8Array(n * 2);
  while (out.length < n) {
    crypto.getRandomValues(buf);
    for (const b of buf) {
      // rejection sampling for an unbiased pick
      if (b < 256 - (256 % alphabet.length)) out.push(alphabet[b % alphabet.length]);
      if (out.length === n) break;
    }
  }
  return out.join("");
}

const UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

interface Daemon {
  name: string;
  child: Deno.ChildProcess;
  /** file receiving the process's stdout+stderr */
  outLog: string;
  /** ceph log_file of the daemon */
  cephLog: string;
  exited: boolean;
  status: Promise<Deno.CommandStatus>;
}

class Cluster implements Rgw {
  readonly endpoint: string;
  readonly opsLogPath: string;
  private readonly daemons = new Map<string, Daemon>();
  private watchdog: Deno.ChildProcess | undefined;
  private stopped = false;
  private restarting: Promise<void> | undefined;
  private readonly onUnload = () => this.killAllSync();

  constructor(
    readonly dir: string,
    readonly conf: string,
    readonly keyring: string,
    readonly port: number,
    readonly owned = true,
    opsLog?: string,
  ) {
    this.endpoint = `http://127.0.0.1:${port}`;
    this.opsLogPath = opsLog ?? opsLogPath(dir);
    if (owned) globalThis.addEventListener("unload", this.onUnload);
  }

  /** What another process needs to attach to this cluster. */
  state(): AttachState {
    return {
      dir: this.dir,
      conf: this.conf,
      keyring: this.keyring,
      port: this.port,
      opsLogPath: this.opsLogPath,
    };
  }

  private get env(): Record<string, string> {
    return { CEPH_CONF: this.conf, CEPH_ARGS: "" };
  }

  /** Runs a short-lived command, consuming all of its output. */
  async run(
    cmd: string,
    args: string[],
    opts: { timeoutMs?: number; allowFail?: boolean } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const out = await new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: this.env,
      cwd: this.dir,
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const dec = new TextDecoder();
    const res = {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
    if (!out.success && !opts.allowFail) {
      throw new Error(
        `${cmd} ${args.join(" ")} failed (code ${out.code}${
          out.signal ? `, signal ${out.signal}` : ""
        }):\n${res.stdout}\n${res.stderr}`,
      );
    }
    return res;
  }

  /** `ceph` CLI against this cluster, non-interactive, bounded. */
  ceph(args: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}) {
    return this.run("ceph", [
      "-c",
      this.conf,
      "--keyring",
      this.keyring,
      "--connect-timeout",
      "10",
      ...args,
    ], { timeoutMs: opts.timeoutMs ?? 30_000, allowFail: opts.allowFail });
  }

  /** Spawns a long-running daemon with stdout/stderr going to a log file. */
  spawnDaemon(name: string, cmd: string, args: string[]): Daemon {
    const outLog = `${this.dir}/log/${name}.out`;
    const child = new Deno.Command("sh", {
      // exec keeps the daemon's PID equal to the child's PID
      args: ["-c", 'exec "$@" >>"$OSP_RGW_OUT" 2>&1', "sh", cmd, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      env: { ...this.env, OSP_RGW_OUT: outLog },
      cwd: this.dir,
    }).spawn();
    child.unref();
    const d: Daemon = {
      name,
      child,
      outLog,
      cephLog: `${this.dir}/log/${name}.log`,
      exited: false,
      status: child.status,
    };
    d.status.then((s) => {
      d.exited = true;
      if (!this.stopped) {
        // Always said, with its logs' tails: the directory holding them is
        // removed with the cluster, and every later RGW test fails on a
        // refused connection that does not say why.
        console.error(
          `::: ceph ${name} (pid ${child.pid}) exited unexpectedly: code ${s.code} signal ${s.signal}` +
            this.daemonError(d, "").message,
        );
      }
    });
    this.daemons.set(name, d);
    this.writePids();
    log(`started ${name} pid ${child.pid}`);
    return d;
  }

  private writePids(): void {
    const pids = [...this.daemons.values()].filter((d) => !d.exited).map((d) => d.child.pid);
    try {
      Deno.writeTextFileSync(`${this.dir}/pids.tmp`, pids.join(" ") + "\n");
      Deno.renameSync(`${this.dir}/pids.tmp`, `${this.dir}/pids`);
    } catch {
      // dir already gone
    }
  }

  /**
   * A tiny shell watchdog: if the test process dies without running "unload"
   * (SIGKILL, crash), it kills the daemons and removes the temp dir.
   */
  startWatchdog(): void {
    const script = `
      # stop when the parent is gone or a zombie (state "Z" after the comm field)
      while s=$(sed 's/.*) //' "/proc/$OSP_PARENT/stat" 2>/dev/null) && [ "\${s%% *}" != Z ]; do
        sleep 0.5
      done
      # Only Ceph daemons: a daemon that exited earlier may have left its PID
      # to another process (pid_max can be 32768, and PIDs wrap in minutes).
      if [ -f "$OSP_DIR/pids" ]; then
        for p in $(cat "$OSP_DIR/pids"); do
          case "$(cat "/proc/$p/comm" 2>/dev/null)" in
            ceph-*|radosgw*) kill -9 "$p" 2>/dev/null ;;
          esac
        done
      fi
      sleep 0.2
      rm -rf "$OSP_DIR"
    `;
    const child = new Deno.Command("sh", {
      args: ["-c", script],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      env: { OSP_PARENT: String(Deno.pid), OSP_DIR: this.dir },
    }).spawn();
    child.unref();
    this.watchdog = child;
  }

  daemonError(d: Daemon, what: string): Error {
    return new Error(
      `${what}\n--- ${d.cephLog} (tail) ---\n${tail(d.cephLog)}\n--- ${d.outLog} (tail) ---\n${
        tail(d.outLog)
      }`,
    );
  }

  allLogTails(): string {
    let out = "";
    for (const d of this.daemons.values()) {
      out += `\n--- ${d.cephLog} (tail) ---\n${tail(d.cephLog, 20)}`;
      out += `\n--- ${d.outLog} (tail) ---\n${tail(d.outLog, 20)}`;
    }
    return out;
  }

  async waitOsdUp(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const osd = this.daemons.get("osd.0")!;
    let last = "";
    while (Date.now() < deadline) {
      if (osd.exited) throw this.daemonError(osd, "ceph-osd exited during startup");
      const r = await this.ceph(["osd", "stat"], { allowFail: true, timeoutMs: 20_000 }).catch(
        (e) => ({ code: -1, stdout: "", stderr: String(e) }),
      );
      last = (r.stdout + r.stderr).trim();
      if (r.code === 0 && /\b1 up\b/.test(r.stdout)) {
        log(`osd up: ${last}`);
        return;
      }
      await sleep(250);
    }
    throw this.daemonError(osd, `timed out waiting for osd.0 to be up (last: ${last})`);
  }

  async waitHttp(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const rgw = this.daemons.get("client.rgw.a")!;
    let last = "";
    while (Date.now() < deadline) {
      if (rgw.exited) throw this.daemonError(rgw, "radosgw exited during startup");
      try {
        const res = await fetch(this.endpoint, { signal: AbortSignal.timeout(2_000) });
        await res.body?.cancel();
        log(`radosgw answers HTTP ${res.status} on ${this.endpoint}`);
        return;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      await sleep(200);
    }
    throw this.daemonError(rgw, `timed out waiting for radosgw HTTP on ${this.endpoint} (${last})`);
  }

  startGateway(): Daemon {
    return this.spawnDaemon("client.rgw.a", "radosgw", [
      "-f",
      "-c",
      this.conf,
      "-n",
      "client.rgw.a",
      "--keyring",
      this.keyring,
    ]);
  }

  async createUser(uid: string): Promise<RgwUser> {
    const accessKey = randomAlnum(20, UPPER_ALNUM);
    const secretKey = randomAlnum(40, ALNUM);
    const common = ["-c", this.conf, "--keyring", this.keyring, "-n", "client.admin"];
    const keyArgs = [`--uid=${uid}`, `--access-key=${accessKey}`, `--secret=${secretKey}`];
    const r = await this.run("radosgw-admin", [
      ...common,
      "user",
      "create",
      `--display-name=${uid}`,
      ...keyArgs,
    ], { timeoutMs: 60_000, allowFail: true });
    if (r.code === 17 /* EEXIST: "user: <uid> exists" */) {
      // Same uid requested twice: give the existing user one more key pair.
      await this.run("radosgw-admin", [...common, "key", "create", "--key-type=s3", ...keyArgs], {
        timeoutMs: 60_000,
      });
    } else if (r.code !== 0) {
      throw new Error(
        `radosgw-admin user create --uid=${uid} failed (code ${r.code}):\n${r.stdout}\n${r.stderr}`,
      );
    }
    log(`created user ${uid}`);
    return { uid, accessKey, secretKey };
  }

  /**
   * SIGKILLs a daemon and waits for it to be reaped. The data is throwaway
   * (memstore) and radosgw can take more than 5 s to honour SIGTERM.
   */
  private async killDaemon(d: Daemon): Promise<void> {
    if (d.exited) return;
    // The child is unref'd; re-ref it while we await its status, otherwise
    // the event loop may consider itself idle and abort the pending promise.
    d.child.ref();
    try {
      d.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await d.status;
    d.child.unref();
  }

  restartGateway(): Promise<void> {
    // concurrent callers share one restart
    if (!this.restarting) {
      this.restarting = this.doRestartGateway().finally(() => {
        this.restarting = undefined;
      });
    }
    return this.restarting;
  }

  private async doRestartGateway(): Promise<void> {
    if (this.stopped) throw new Error("rgw cluster is stopped");
    if (!this.owned) throw new Error("cannot restart a cluster owned by another process");
    const old = this.daemons.get("client.rgw.a");
    if (old) {
      await this.killDaemon(old);
      this.daemons.delete("client.rgw.a");
    }
    log("restarting radosgw");
    this.startGateway();
    await this.waitHttp();
  }

  /**
   * Synchronous best-effort cleanup for the "unload" event. Note that
   * `deno test` dispatches "unload" after every test module (each module runs
   * in its own isolate), so this runs once per module that used the cluster.
   */
  killAllSync(): void {
    this.stopped = true;
    globalThis.removeEventListener("unload", this.onUnload);
    for (const d of this.daemons.values()) {
      if (d.exited) continue;
      try {
        Deno.kill(d.child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    let removed = false;
    for (let i = 0; i < 5 && !removed; i++) {
      try {
        Deno.removeSync(this.dir, { recursive: true });
        removed = true;
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) removed = true;
      }
    }
    // If the directory could not be removed yet (a dying daemon still writing
    // into it), leave the watchdog alive: it removes it once we exit.
    if (removed && this.watchdog) {
      try {
        Deno.kill(this.watchdog.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.owned) return; // the owning process (tests/run.ts) stops it
    if (this.stopped) return;
    this.stopped = true;
    const state = globalState();
    state.promise = undefined;
    globalThis.removeEventListener("unload", this.onUnload);
    const order = ["client.rgw.a", "osd.0", "mon.a"];
    for (const name of order) {
      const d = this.daemons.get(name);
      if (d) await this.killDaemon(d);
    }
    if (this.watchdog) {
      this.watchdog.ref();
      try {
        this.watchdog.kill("SIGKILL");
      } catch {
        // already gone
      }
      await this.watchdog.status;
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    log("stopped");
  }
}

/** Where RGW writes its ops log (rgw_ops_log_file_path) in a cluster directory. */
function opsLogPath(dir: string): string {
  return `${dir}/ops.log`;
}

function configText(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon_host = [v2:127.0.0.1:${monPort}]
ms_bind_msgr1 = false
ms_bind_ipv6 = false
public_network = 127.0.0.0/8
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = ${dir}/keyring
run_dir = ${dir}/run
admin_socket = ${dir}/run/$cluster-$name.$pid.asok
log_file = ${dir}/log/$name.log
pid_file = ${dir}/run/$name.pid
log_to_stderr = false
err_to_stderr = true
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
osd_crush_chooseleaf_type = 0
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 1
mon_data_avail_crit = 0
# The default 1 s batching of monitor proposals dominates startup (every pool
# RGW creates waits for several osdmap epochs): 13 s -> under 2 s.
paxos_propose_interval = 0.05

[mon]
mon_data = ${dir}/mon/$cluster-$id

[mon.a]
admin_socket = ${dir}/run/$cluster-$name.asok

[osd]
osd_data = ${dir}/osd/$cluster-$id
osd_objectstore = memstore
# A cap, not an allocation: a 10-minute soak at 100 workers keeps about 1 GiB
# live plus overwritten tails waiting for RGW's garbage collector; at 2 GiB
# the OSD went full (failsafe at 100 %) a minute in and RGW stopped answering.
memstore_device_bytes = 6442450944
osd_max_object_name_len = 460
osd_max_object_namespace_len = 64

[osd.0]
admin_socket = ${dir}/run/$cluster-$name.asok

[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw_data = ${dir}/rgw
rgw_dns_name = localhost
rgw_gc_obj_min_wait = 10
rgw_gc_processor_period = 10
admin_socket = ${dir}/run/$cluster-$name.asok
# The ops log: one JSON line per request RGW ran as an operation (bucket,
# operation, raw uri, http_status, user_agent, trans_id…), written at once, for
# differential tests (tests/_ops_log.ts). Requests refused before an operation
# is chosen (bad signature, 405, ListBuckets) are not logged; with
# rgw_log_nonexistent_bucket, those naming a missing bucket are.
rgw_enable_ops_log = true
rgw_ops_log_rados = false
rgw_ops_log_file_path = ${opsLogPath(dir)}
rgw_log_nonexistent_bucket = true
`;
}

async function startCluster(): Promise<Rgw> {
  if (!rgwInstalled()) {
    throw new Error(`Ceph binaries missing; need all of: ${REQUIRED_BINARIES.join(", ")}`);
  }
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "osp-rgw-" });
  for (const sub of ["log", "run", "mon", "osd/ceph-0", "rgw"]) {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
  }
  const conf = `${dir}/ceph.conf`;
  const keyring = `${dir}/keyring`;
  const monPort = freePort();
  let rgwPort = freePort();
  while (rgwPort === monPort) rgwPort = freePort();
  const fsid = crypto.randomUUID();
  const osdUuid = crypto.randomUUID();
  await Deno.writeTextFile(conf, configText(dir, fsid, monPort, rgwPort));
  log(`temp dir ${dir}, mon port ${monPort}, rgw port ${rgwPort}`);

  const c = new Cluster(dir, conf, keyring, rgwPort);
  try {
    // keys
    await c.run("ceph-authtool", [
      "--create-keyring",
      keyring,
      "--gen-key",
      "-n",
      "mon.",
      "--cap",
      "mon",
      "allow *",
    ]);
    const keys: [string, string[]][] = [
      ["client.admin", ["mon", "allow *", "osd", "allow *", "mds", "allow *", "mgr", "allow *"]],
      ["osd.0", ["mon", "allow profile osd", "osd", "allow *", "mgr", "allow profile osd"]],
      ["client.rgw.a", ["mon", "allow rw", "osd", "allow rwx", "mgr", "allow rw"]],
    ];
    for (const [name, caps] of keys) {
      const capArgs: string[] = [];
      for (let i = 0; i < caps.length; i += 2) capArgs.push("--cap", caps[i], caps[i + 1]);
      await c.run("ceph-authtool", [keyring, "--gen-key", "-n", name, ...capArgs]);
    }

    // monitor
    const monmap = `${dir}/monmap`;
    await c.run("monmaptool", [
      "--create",
      "--fsid",
      fsid,
      "--addv",
      "a",
      `[v2:127.0.0.1:${monPort}]`,
      monmap,
    ]);
    await c.run("ceph-mon", [
      "-c",
      conf,
      "--mkfs",
      "-i",
      "a",
      "--monmap",
      monmap,
      "--keyring",
      keyring,
    ]);
    log("mon mkfs done");
    c.startWatchdog();
    c.spawnDaemon("mon.a", "ceph-mon", ["-f", "-c", conf, "-i", "a"]);

    await c.ceph(["auth", "import", "-i", keyring], { timeoutMs: 40_000 });
    log("keys imported");

    // OSD
    const osdId = (await c.ceph(["osd", "new", osdUuid])).stdout.trim();
    if (osdId !== "0") throw new Error(`unexpected osd id from "ceph osd new": ${osdId}`);
    await c.run("ceph-osd", [
      "-c",
      conf,
      "-i",
      "0",
      "--mkfs",
      "--osd-uuid",
      osdUuid,
      "--keyring",
      keyring,
    ], { timeoutMs: 60_000 });
    log("osd mkfs done");
    c.spawnDaemon("osd.0", "ceph-osd", ["-f", "-c", conf, "-i", "0", "--keyring", keyring]);
    await c.waitOsdUp(60_000);

    // gateway
    c.startGateway();
    await c.waitHttp(90_000);
    log(`cluster ready in ${((performance.now() - started) / 1000).toFixed(1)}s`);
    return c;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (!err.message.includes("(tail) ---")) {
      err.message += c.allLogTails();
    }
    c.killAllSync();
    throw err;
  }
}
