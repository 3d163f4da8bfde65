// Differential integrity test: the backend does exactly the (operation,
// bucket, key) the validator approved. A seeded corpus of hostile but
// correctly signed requests goes through two in-process osp proxies (default
// route path style, and virtual-host style) to a real Ceph RGW; every
// validator call is recorded, and RGW's ops log (tests/_ops_log.ts) says what
// RGW actually ran for each request (correlated by a unique user agent, which
// osp forwards). Every RGW operation must match an approved call; copies must
// come from an approved source; the "secret" bucket (denied to everyone) must
// not change or leak; a canary port named in bucket names must see no
// connection. One focused test per finding follows the corpus machinery.
//
// Seed: printed on every run; OSP_INTEGRITY_SEED=<n> replays a corpus.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { serve } from "../../mod.ts";
import type { ProxyConfig, ProxyServer, ValidatorRequest } from "../../mod.ts";
import { uriEncode } from "../../lib/sigv4/sigv4.ts";
import { getRgw, type Rgw, type RgwUser } from "../_rgw.ts";
import { ensureResolves, RGW_TEST } from "../_rgw_env.ts";
import {
  byUserAgent,
  entryObject,
  entryQuery,
  OpsLog,
  type OpsLogEntry,
  parseEntryUri,
  rgwDecode,
  splitJsonObjects,
} from "../_ops_log.ts";
import { signHeaders } from "../_sign.ts";
import { CLIENT, parseErrorXml, presign, prng, RawConn, requestHead } from "./_setup.ts";

// ---------------------------------------------------------------------------
// Names

/** Explicit cosMap entries: client bucket → backend bucket. */
const EXPLICIT: Readonly<Record<string, string>> = {
  "ig-data": "ig-data",
  "ig-alias": "ig-alias-be",
  "ig-secret": "ig-secret",
};
/** Denied to everyone; holds objects an unauthorized copy or delete would touch. */
const SECRET = "ig-secret";
/** Buckets reached through the default route (they exist on RGW). */
const DEFAULT_BUCKETS = ["ig-dr-one", "ig-dr-two"];
/** Valid default-route names the corpus may create. */
const NEW_BUCKETS = ["ig-dr-new-0", "ig-dr-new-1", "ig-dr-new-2"];
const SEEDED_BUCKETS = ["ig-data", "ig-alias-be", SECRET, ...DEFAULT_BUCKETS];
/** Keys seeded in every bucket, with content naming them (see Fixture.markers). */
const SEEDED_KEYS = [
  "src/a",
  "src/b c",
  "src/ü",
  "src/a+b",
  "src/p%41",
  "k",
  "x/k",
  "k?versionId=x",
  "a#b",
  "../k",
  "./k",
  "/k",
  "a//k",
  "a\rb",
  "a\nb",
  "a\tb",
  "latest/meta-data",
];
const DEL_KEYS = Array.from({ length: 12 }, (_, i) => `del/${i}`);
/** The key of the multipart upload opened in every bucket. */
const MP_KEY = "mp/obj";
/** The corpus's client bucket mix. */
const BUCKET_WEIGHTS: [string, number][] = [
  ["ig-data", 30],
  ["ig-alias", 25],
  ["ig-dr-one", 15],
  ["ig-dr-two", 8],
  ["ig-alias-be", 5],
  [SECRET, 17],
];
const CORPUS_SIZE = 1000;
const PUBLIC_GROUPS = /AllUsers|AuthenticatedUsers/;

// ---------------------------------------------------------------------------
// Small helpers

const utf8 = new TextEncoder();
const sha256 = (d: string | Uint8Array) => createHash("sha256").update(d).digest("hex");
const md5Base64 = (d: Uint8Array) => createHash("md5").update(d).digest("base64");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** JSON text, cut at `max` characters. */
function show(value: unknown, max = 140): string {
  const text = value === undefined ? "undefined" : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Decodes XML text (entity and character references). */
function xmlText(text: string): string {
  const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, ref: string) => {
    if (ref[0] !== "#") return named[ref];
    return String.fromCodePoint(ref[1] === "x" ? parseInt(ref.slice(2), 16) : Number(ref.slice(1)));
  });
}

/** `/bucket/key` with the key URI-encoded once (slashes kept). */
function objectPath(bucket: string, key: string): string {
  return `/${bucket}/${uriEncode(key, { keepSlash: true })}`;
}

/** Collects failed expectations, so that a focused test reports all of them at once. */
class Checks {
  readonly failures: string[] = [];

  check(ok: boolean, what: string): void {
    if (!ok) this.failures.push(what);
  }

  /** Expects an S3 XML error with this status and code. */
  error(reply: Reply, status: number, code: string, what: string): void {
    const got = errorCode(reply);
    this.check(
      reply.status === status && got === code,
      `${what}: expected ${status} ${code}, got ${reply.status} ${got}`,
    );
  }
}

// ---------------------------------------------------------------------------
// Raw HTTP

/** A response read off a raw socket. */
interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

/** The S3 error code of a reply, or a short description of what came instead. */
function errorCode(reply: Reply): string {
  if (reply.status < 300) return "(success)";
  if (reply.body === "") return "(no body)";
  try {
    return parseErrorXml(reply.status, reply.body).code;
  } catch {
    return `(not an S3 error: ${show(reply.body, 80)})`;
  }
}

/** The UTF-8 text of a body the raw-socket helpers read as latin1. */
function fromLatin1(text: string): string {
  return new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0)));
}

/** Status and headers of a response head (HEAD requests have no body). */
function headReply(text: string): Reply {
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end < 0 ? text.length : end).split("\r\n");
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0), headers, body: "" };
}

/** One request on a fresh connection (`connection: close`), exactly as given. */
async function sendRaw(
  port: number,
  method: string,
  target: string,
  headers: [string, string][],
  body?: Uint8Array,
): Promise<Reply> {
  const all: [string, string][] = [...headers, ["connection", "close"]];
  if (body !== undefined) all.push(["content-length", String(body.length)]);
  const conn = new RawConn(port);
  try {
    await conn.connected;
    await conn.write(requestHead(method, target, all));
    if (body !== undefined && body.length > 0) await conn.write(body);
    if (method === "HEAD") return headReply(await conn.waitFor((t) => t.includes("\r\n\r\n")));
    const res = await conn.response(15_000);
    if (res === undefined) return { status: 0, headers: new Headers(), body: conn.text() };
    return { status: res.status, headers: res.headers, body: fromLatin1(res.body) };
  } finally {
    await conn.close();
  }
}

// ---------------------------------------------------------------------------
// The fixture: a RGW user, seeded buckets, an open multipart upload per bucket

interface Origin {
  bucket: string;
  key: string;
}

interface Fixture {
  rgw: Rgw;
  user: RgwUser;
  opsLog: OpsLog;
  /** Seeded object content → where it was seeded. */
  markers: Map<string, Origin>;
  /** Backend bucket → id of an upload open on MP_KEY. */
  uploads: Map<string, string>;
  /** Whether `<name>.localhost` resolves for the virtual-host default route's buckets. */
  vhost: boolean;
}

/** A signed request straight to RGW as the backend user (or `user`). */
function direct(
  fx: Fixture,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; user?: RgwUser } = {},
): Promise<Reply> {
  const body = options.body === undefined ? undefined : utf8.encode(options.body);
  const h = signHeaders(method, `http://127.0.0.1:${fx.rgw.port}${path}`, {
    ...(options.user ?? fx.user),
    headers: options.headers,
    body: body ?? "",
  });
  const headers: [string, string][] = [...Object.entries(h), [
    "user-agent",
    "osp-integrity/direct",
  ]];
  return sendRaw(fx.rgw.port, method, path, headers, body);
}

async function directOk(
  fx: Fixture,
  method: string,
  path: string,
  options: Parameters<typeof direct>[3] = {},
): Promise<Reply> {
  const reply = await direct(fx, method, path, options);
  assert.ok(reply.status < 300, `${method} ${path} on RGW: ${reply.status} ${reply.body}`);
  return reply;
}

/** Every key in a backend bucket. */
async function listKeys(fx: Fixture, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token = "";
  while (true) {
    const q = token === "" ? "" : `&continuation-token=${encodeURIComponent(token)}`;
    const reply = await directOk(fx, "GET", `/${bucket}?list-type=2&max-keys=1000${q}`);
    for (const m of reply.body.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(xmlText(m[1]));
    token = xmlText(/<NextContinuationToken>([^<]*)</.exec(reply.body)?.[1] ?? "");
    if (token === "") return keys;
  }
}

/** key → SHA-256 of the content, for every object of a backend bucket. */
async function snapshot(fx: Fixture, bucket: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await listKeys(fx, bucket)) {
    const reply = await direct(fx, "GET", objectPath(bucket, key));
    out.set(key, reply.status === 200 ? sha256(reply.body) : `HTTP ${reply.status}`);
  }
  return out;
}

/** How two snapshots differ, one line per key. */
function snapshotDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [key, hash] of before) {
    if (!after.has(key)) out.push(`${show(key)} was deleted`);
    else if (after.get(key) !== hash) out.push(`${show(key)} was overwritten`);
  }
  for (const key of after.keys()) if (!before.has(key)) out.push(`${show(key)} was created`);
  return out;
}

async function seedBucket(fx: Fixture, bucket: string, run: string): Promise<void> {
  await directOk(fx, "PUT", `/${bucket}`);
  await Promise.all([...SEEDED_KEYS, ...DEL_KEYS].map(async (key, i) => {
    const body = `ig-object:${run}:${bucket}:${i}${bucket === SECRET ? ":SECRET" : ""}`;
    await directOk(fx, "PUT", objectPath(bucket, key), { body });
    fx.markers.set(body, { bucket, key });
  }));
  const listed = new Set(await listKeys(fx, bucket));
  const missing = [...SEEDED_KEYS, ...DEL_KEYS].filter((k) => !listed.has(k));
  assert.deepEqual(missing, [], `RGW stored every seeded key as named in ${bucket}`);
  const mp = await directOk(fx, "POST", `${objectPath(bucket, MP_KEY)}?uploads`);
  fx.uploads.set(bucket, /<UploadId>([^<]+)<\/UploadId>/.exec(mp.body)![1]);
}

async function makeFixture(): Promise<Fixture> {
  const rgw = await getRgw();
  const fx: Fixture = {
    rgw,
    user: await rgw.createUser("osp-integrity"),
    opsLog: new OpsLog(rgw.opsLogPath),
    markers: new Map(),
    uploads: new Map(),
    vhost: false,
  };
  const run = crypto.randomUUID().slice(0, 8);
  for (const bucket of SEEDED_BUCKETS) await seedBucket(fx, bucket, run);
  const names = [...DEFAULT_BUCKETS, ...NEW_BUCKETS, "ig-alias-be"].map((b) => `${b}.localhost`);
  fx.vhost = (await Promise.all(names.map(ensureResolves))).every(Boolean);
  return fx;
}

let fixturePromise: Promise<Fixture> | undefined;
/** The fixture, made once per module. */
function fixture(): Promise<Fixture> {
  return fixturePromise ??= makeFixture();
}

// ---------------------------------------------------------------------------
// Canary and proxies

/** A TCP listener that counts connections (and closes them at once). */
interface Canary {
  port: number;
  connections: number;
  close(): void;
}

function startCanary(): Canary {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const canary: Canary = {
    port: (listener.addr as Deno.NetAddr).port,
    connections: 0,
    close: () => listener.close(),
  };
  (async () => {
    try {
      for await (const conn of listener) {
        canary.connections++;
        conn.close();
      }
    } catch { /* closed */ }
  })();
  return canary;
}

/** One validator call, with the corpus request it belongs to. */
interface Call {
  n: number;
  token: string | null;
  bucket: string;
  operation: string;
  key?: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  allowed: boolean;
}

type Decide = (bucket: string, request: ValidatorRequest) => boolean;

/** Both proxies, sharing one recording validator. */
interface Proxies {
  /** Default route in path style. */
  pathPort: number;
  /** Default route in virtual-host style (`<bucket>.localhost`). */
  vhostPort: number;
  calls: Call[];
  /** The corpus request being sent (for Call.n). */
  current: number;
  /** Client bucket → backend bucket of the explicit entries. */
  explicit: Record<string, string>;
  close(): Promise<void>;
}

const allowAllButSecret: Decide = (bucket) => bucket !== SECRET;

function proxyConfig(
  fx: Fixture,
  style: "path" | "virtual",
  explicit: Record<string, string>,
  validator: ProxyConfig["validator"],
): ProxyConfig {
  const base = {
    host: "127.0.0.1",
    port: fx.rgw.port,
    tls: false,
    addressingStyle: "path" as const,
    accessKey: fx.user.accessKey,
    secretKey: fx.user.secretKey,
    ttl: 0,
  };
  const cosMap: ProxyConfig["cosMap"] = {
    "*": style === "path" ? base : { ...base, host: "localhost", addressingStyle: "virtual" },
  };
  for (const [name, backendBucket] of Object.entries(explicit)) {
    cosMap[name] = { ...base, backendBucket };
  }
  return {
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: "error",
    hmacKeystore: [CLIENT],
    cosMap,
    virtualHostSuffixes: ["s3.test"],
    upstreamTimeoutMs: 5000,
    maxPresignUrlUsageAttempts: 0,
    validator,
  };
}

function startProxies(
  fx: Fixture,
  decide: Decide,
  extra: Record<string, string> = {},
): Proxies {
  const explicit = { ...EXPLICIT, ...extra };
  const calls: Call[] = [];
  const proxies = { current: -1 } as Proxies;
  const validator = (token: string | null, bucket: string, request: ValidatorRequest) => {
    const allowed = decide(bucket, request);
    const { operation, key, query, headers } = request;
    calls.push({ n: proxies.current, token, bucket, operation, key, query, headers, allowed });
    return allowed;
  };
  const servers: ProxyServer[] = [
    serve(proxyConfig(fx, "path", explicit, validator)),
    serve(proxyConfig(fx, "virtual", explicit, validator)),
  ];
  return Object.assign(proxies, {
    pathPort: servers[0].http!.port,
    vhostPort: servers[1].http!.port,
    calls,
    explicit,
    close: async () => {
      await Promise.all(servers.map((s) => s.shutdown()));
    },
  });
}

// ---------------------------------------------------------------------------
// Client requests

/** A client request, before signing. */
interface Spec {
  family: string;
  /** Which proxy: default route path style or virtual-host style. */
  via: "path" | "vhost";
  method: string;
  /** The raw request target. */
  target: string;
  /** Client Host name for virtual-host addressing of osp (`<bucket>.s3.test`); the port is added. */
  host?: string;
  /** Extra headers the signature covers (names lower-cased by the signer). */
  signed?: Record<string, string>;
  /** Extra headers sent as given, not signed. */
  unsigned?: [string, string][];
  body?: string;
  presign?: boolean;
}

interface Wire {
  target: string;
  headers: [string, string][];
  body?: Uint8Array;
}

/** Signs a spec for the proxy on `port` (header-signed, or presigned) and adds the user agent. */
function wire(spec: Spec, port: number, userAgent: string): Wire {
  const host = `${spec.host ?? "127.0.0.1"}:${port}`;
  const url = `http://${host}${spec.target}`;
  const body = spec.body === undefined ? undefined : utf8.encode(spec.body);
  const extra: [string, string][] = [["user-agent", userAgent], ...(spec.unsigned ?? [])];
  if (spec.presign) {
    const target = presign(spec.method, url).slice(`http://${host}`.length);
    return {
      target,
      headers: [["host", host], ...Object.entries(spec.signed ?? {}), ...extra],
      body,
    };
  }
  const signed = signHeaders(spec.method, url, {
    ...CLIENT,
    headers: spec.signed,
    body: body ?? "",
  });
  return { target: spec.target, headers: [...Object.entries(signed), ...extra], body };
}

/** Sends a spec to one of the proxies. */
function sendSpec(proxies: Proxies, spec: Spec, userAgent: string): Promise<Reply> {
  const port = spec.via === "vhost" ? proxies.vhostPort : proxies.pathPort;
  const w = wire(spec, port, userAgent);
  return sendRaw(port, spec.method, w.target, w.headers, w.body);
}

/** A header-signed spec to the path-style proxy. */
function signedSpec(method: string, target: string, extra: Partial<Spec> = {}): Spec {
  return { family: "focused", via: "path", method, target, ...extra };
}

/** A DeleteObjects body for these raw `<Key>` texts, and its signed headers. */
function deleteDocument(
  rawKeys: string[],
  quiet = false,
): { body: string; signed: Record<string, string> } {
  const objects = rawKeys.map((k) => `<Object><Key>${k}</Key></Object>`).join("");
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Delete>${
    quiet ? "<Quiet>true</Quiet>" : ""
  }${objects}</Delete>`;
  return {
    body,
    signed: { "content-md5": md5Base64(utf8.encode(body)), "content-type": "application/xml" },
  };
}

// ---------------------------------------------------------------------------
// The seeded corpus

interface CorpusContext {
  canary: number;
  uploads: Map<string, string>;
  vhost: boolean;
}

/** Seeded choices. */
class Gen {
  constructor(readonly rnd: () => number, readonly ctx: CorpusContext, readonly n: number) {}

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }

  chance(p: number): boolean {
    return this.rnd() < p;
  }

  weighted<T>(items: readonly [T, number][]): T {
    let r = this.rnd() * items.reduce((s, [, w]) => s + w, 0);
    for (const [item, w] of items) if ((r -= w) < 0) return item;
    return items[items.length - 1][0];
  }

  bucket(): string {
    return this.weighted(BUCKET_WEIGHTS);
  }

  seededKey(): string {
    return uriEncode(this.pick(SEEDED_KEYS), { keepSlash: true });
  }

  upload(bucket: string): string {
    return this.ctx.uploads.get(EXPLICIT[bucket] ?? bucket) ?? "no-such-upload";
  }

  /** A body naming the request that wrote it. */
  putBody(): string {
    return `ig-put:${this.n}`;
  }
}

type Family = (g: Gen) => Omit<Spec, "family" | "via">;

const ALL_USERS = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"';

const PLAIN_KINDS: Record<string, Family> = {
  get: (g) => ({ method: "GET", target: `/${g.bucket()}/${g.seededKey()}` }),
  range: (g) => ({
    method: "GET",
    target: `/${g.bucket()}/${g.seededKey()}`,
    signed: { range: "bytes=0-3" },
  }),
  head: (g) => ({ method: "HEAD", target: `/${g.bucket()}/${g.seededKey()}` }),
  put: (g) => ({ method: "PUT", target: `/${g.bucket()}/w/put-${g.n}`, body: g.putBody() }),
  putPublic: (g) => ({
    method: "PUT",
    target: `/${g.bucket()}/w/pub-${g.n}`,
    body: g.putBody(),
    signed: { "x-amz-acl": "public-read" },
  }),
  delete: (g) => ({ method: "DELETE", target: `/${g.bucket()}/${g.pick(DEL_KEYS)}` }),
  copy: (g) => ({
    method: "PUT",
    target: `/${g.bucket()}/w/cp-${g.n}`,
    signed: { "x-amz-copy-source": `/${g.bucket()}/${g.seededKey()}` },
  }),
  list: (g) => ({
    method: "GET",
    target: `/${g.bucket()}${
      g.pick(["", "?list-type=2", "?prefix=src/", "?list-type=2&prefix=del/&max-keys=3"])
    }`,
  }),
  acl: (g) => ({ method: "GET", target: `/${g.bucket()}/${g.seededKey()}?acl` }),
  part: (g) => {
    const bucket = g.bucket();
    return {
      method: "PUT",
      target: `/${bucket}/${MP_KEY}?partNumber=${1 + g.int(3)}&uploadId=${g.upload(bucket)}`,
      body: `part:${g.n}`,
    };
  },
  listParts: (g) => {
    const bucket = g.bucket();
    return { method: "GET", target: `/${bucket}/${MP_KEY}?uploadId=${g.upload(bucket)}` };
  },
  init: (g) => ({ method: "POST", target: `/${g.bucket()}/w/mp-${g.n}?uploads` }),
  headBucket: (g) => ({ method: "HEAD", target: `/${g.bucket()}` }),
  location: (g) => ({ method: "GET", target: `/${g.bucket()}?location` }),
  uploads: (g) => ({ method: "GET", target: `/${g.bucket()}?uploads` }),
  tagging: (g) => ({ method: "GET", target: `/${g.bucket()}/${g.seededKey()}?tagging` }),
};

/** Valid S3 operations with ordinary names. */
const plain: Family = (g) => g.pick(Object.values(PLAIN_KINDS))(g);

/** Bucket names that make a virtual-host backend URL point at 127.0.0.1:<canary>. */
function ssrfBucketNames(canary: number): string[] {
  return [
    `127.0.0.1%3A${canary}%2F`,
    `127.0.0.1%3A${canary}%23`,
    `127.0.0.1%3A${canary}%3F`,
    `x%40127.0.0.1%3A${canary}%2F`,
    `x@127.0.0.1%3A${canary}%23`,
  ];
}

function hostileBucketNames(canary: number): string[] {
  return [
    ...ssrfBucketNames(canary),
    "ig-secret%2Fx",
    "ig-secret%2F",
    "ig-data%2Fsrc",
    "ig-dr-one%2Fx",
    "ig-dr-one%2F",
    "IG-DR-ONE",
    "IG-SECRET",
    "Ig-Data",
    "ig_dr_one",
    "ab",
    "a".repeat(64),
    "192.168.5.4",
    "127.0.0.1",
    "ig..dr",
    "-ig-dr",
    "ig-dr-",
    "ig-dr-one.",
    "ig-dr-one%23",
    "ig-dr-one%3F",
    "ig-dr-one%20",
    "ig%2Ddr%2Done",
    "%69g-secret",
    "ig-secret%20",
    "ig-dr-one%252F",
    "ig-dr-one:x",
    ...NEW_BUCKETS,
  ];
}

/** Default-route bucket names, valid and not. */
const names: Family = (g) => {
  const name = g.pick(hostileBucketNames(g.ctx.canary));
  const key = g.pick(["x/k", "k", "latest/meta-data", "src/a"]);
  return g.pick<Omit<Spec, "family" | "via">>([
    { method: "GET", target: `/${name}/${key}` },
    { method: "HEAD", target: `/${name}/${key}` },
    { method: "PUT", target: `/${name}/w/nm-${g.n}`, body: g.putBody() },
    { method: "DELETE", target: `/${name}/${key}` },
    { method: "GET", target: `/${name}` },
    { method: "PUT", target: `/${name}` },
    { method: "GET", target: `/${name}/` },
  ]);
};

/** Dot and empty segments, encoded separators and odd bytes in keys. */
const segments: Family = (g) => {
  const b = g.bucket();
  const target = g.pick([
    `/${b}/./k`,
    `/${b}/../k`,
    `/${b}/a//k`,
    `/${b}//k`,
    `/${b}/%2E%2E/k`,
    `/${b}/%2e/k`,
    `/${b}/src/../k`,
    `/${b}/./../ig-secret/k`,
    `/${b}/%2E%2E/ig-secret/k`,
    `/${b}/..%2Fig-secret%2Fk`,
    `/${b}/src%2Fa`,
    `/${b}/k%3FversionId=x`,
    `/${b}/a%23b`,
    `/${b}/%2Fk`,
    `/${b}/x%2Fk`,
    `/${b}/k/`,
    `/${b}/`,
    `//${b}/k`,
    `/${b}/src/b%20c`,
    `/${b}/src/a+b`,
    `/${b}/src/%C3%BC`,
    `/${b}/src/p%2541`,
    `/${b}/a%0Db`,
    `/${b}/a%0Ab`,
    `/${b}/a%09b`,
  ]);
  const method = g.weighted<string>([["GET", 50], ["HEAD", 20], ["PUT", 15], ["DELETE", 15]]);
  return { method, target, body: method === "PUT" ? g.putBody() : undefined };
};

/** Clients naming the bucket in the Host (virtual-host style to osp), mixed with paths. */
const vhostClient: Family = (g) => {
  const label = g.pick([
    "ig-data",
    "ig-alias",
    SECRET,
    "ig-dr-one",
    "IG-DATA",
    "ig_data",
    "127.0.0.1",
    "ig-secret.ig-data",
    "ig-dr-one.ig-secret",
  ]);
  const path = g.pick(["/src/a", "/ig-secret/k", "/", "/x/k", "//k", "/x%2Fk", "/ig-data/src/a"]);
  const method = g.pick(["GET", "HEAD", "GET", "DELETE", "PUT"]);
  const target = method === "PUT"
    ? `/w/vh-${g.n}`
    : method === "DELETE"
    ? `/${g.pick(DEL_KEYS)}`
    : path;
  return {
    method,
    target,
    host: `${label}.s3.test`,
    body: method === "PUT" ? g.putBody() : undefined,
  };
};

function copySources(canary: number): string[] {
  return [
    "/ig-data/src/a",
    "ig-data/src/a",
    "/ig-data%2Fsrc/a",
    "ig-data%2Fsrc%2Fa",
    "/ig-secret/k",
    "ig-secret/k",
    "/ig-secret%2Fx/k",
    "ig-secret%2Fk",
    "/ig-data/src/a?versionId=null",
    "/ig-data/k%3FversionId=x",
    "/ig-data/k?versionId=x",
    "arn:aws:s3:::ig-secret/k",
    "arn:aws:s3:::ig-data/src/a",
    "/ig-alias/src/a",
    "ig-alias/x/k",
    "/ig-alias-be/src/a",
    "/ig-dr-one/src/a",
    "/IG-DR-ONE/src/a",
    "/ig-dr-one%2Fx/k",
    `/127.0.0.1%3A${canary}%2F/x`,
    "/ig-data/src/b%20c",
    "/ig-data/src/b c",
    "/ig-data/%2E%2E/k",
    "/ig-data/../k",
    "/ig-data//k",
    "/%69g-secret/k",
    "/ig-secret%20/k",
    "/ig-data/a%0Db",
  ];
}

/** CopyObject and UploadPartCopy with every form of x-amz-copy-source. */
const copies: Family = (g) => {
  const bucket = g.weighted(BUCKET_WEIGHTS.filter(([b]) => b !== SECRET));
  const source = g.pick(copySources(g.ctx.canary));
  const name = g.pick(["x-amz-copy-source", "x-amz-copy-source", "X-Amz-Copy-Source"]);
  const signed: Record<string, string> = {};
  const unsigned: [string, string][] = [];
  if (g.chance(0.85)) signed[name] = source;
  else unsigned.push([name, source]);
  if (g.chance(0.15)) signed["x-amz-metadata-directive"] = "REPLACE";
  const target = g.chance(0.12)
    ? `/${bucket}/${MP_KEY}?partNumber=${2 + g.int(2)}&uploadId=${g.upload(bucket)}`
    : `/${bucket}/w/cp-${g.n}`;
  return { method: "PUT", target, signed, unsigned };
};

const TWIN_HEADERS: [string, string][] = [
  ["x_amz_copy_source", "/ig-secret/k"],
  ["X_Amz_Copy_Source", "/ig-secret/x/k"],
  ["x_amz_copy_source", "/ig-data/src/a"],
  ["x-amz-copy_source", "/ig-secret/k"],
  ["X_Amz_Acl", "public-read"],
  ["x_amz_acl", "public-read-write"],
  ["x_amz_grant_full_control", ALL_USERS],
  ["x_amz_grant_read", ALL_USERS],
  ["x_amz_server_side_encryption", "AES256"],
  ["x_amz_metadata_directive", "REPLACE"],
  ["x_amz_tagging", "k=v"],
  ["x_amz_meta_note", "hi"],
  ["X-Amz-Copy-Source", "/ig-secret/k"],
];

/** `_`/`-`/case twins of S3 headers, mostly unsigned. */
const twins: Family = (g) => {
  const bucket = g.weighted(BUCKET_WEIGHTS.filter(([b]) => b !== SECRET));
  const signed: Record<string, string> = {};
  const unsigned: [string, string][] = [];
  for (let i = 0, count = 1 + g.int(2); i < count; i++) {
    const [name, value] = g.pick(TWIN_HEADERS);
    if (g.chance(0.8)) unsigned.push([name, value]);
    else signed[name] = value;
  }
  if (g.chance(0.2)) signed["x-amz-copy-source"] = "/ig-data/src/a";
  const body = g.chance(0.7) || "x-amz-copy-source" in signed ? "" : g.putBody();
  return { method: "PUT", target: `/${bucket}/w/tw-${g.n}`, signed, unsigned, body };
};

const TAGGING = "<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>";

function objectSubresources(upload: string): [string, string][] {
  return [
    ["DELETE", "?uploadId="],
    ["DELETE", "?uploadId"],
    ["PUT", "?partNumber=1&uploadId="],
    ["PUT", "?partNumber=1"],
    ["PUT", `?partNumber=&uploadId=${upload}`],
    ["PUT", `?partNumber=0&uploadId=${upload}`],
    ["PUT", `?partNumber=10001&uploadId=${upload}`],
    ["PUT", `?partNumber=1&partNumber=2&uploadId=${upload}`],
    ["GET", "?versionId=a&versionId=b"],
    ["GET", "?versionId="],
    ["GET", "?versionId"],
    ["GET", "?versionId=null"],
    ["GET", "?acl&acl"],
    ["GET", "?acl="],
    ["GET", "?acl=x"],
    ["GET", "?tagging&acl"],
    ["GET", "?uploadId="],
    ["GET", "?uploadId"],
    ["POST", "?uploads&uploadId=x"],
    ["POST", "?uploads="],
    ["POST", "?append&position=0"],
    ["POST", "?append"],
    ["POST", "?uploadId="],
    ["POST", "?restore"],
    ["GET", "?unknownthing"],
    ["PUT", "?unknownthing"],
    ["DELETE", "?unknownthing"],
    ["HEAD", "?partNumber=1"],
    ["GET", "?attributes"],
    ["GET", "?torrent"],
    ["DELETE", "?tagging"],
    ["PUT", "?tagging"],
    ["GET", "?response-content-type=text/plain"],
    ["DELETE", "?versionId="],
    ["DELETE", "?acl"],
    ["GET", "?legal-hold"],
    ["PUT", "?uploads"],
  ];
}

const BUCKET_SUBRESOURCES: [string, string][] = [
  ["PUT", "?unknownthing"],
  ["PUT", "?mdsearch"],
  ["POST", "?mdsearch"],
  ["GET", "?mdsearch"],
  ["DELETE", "?mdsearch"],
  ["GET", "?acl&acl"],
  ["GET", "?acl="],
  ["GET", "?encryption"],
  ["GET", "?ownershipControls"],
  ["GET", "?accelerate"],
  ["GET", "?versioning"],
  ["GET", "?uploads&versions"],
  ["GET", "?versions"],
  ["GET", "?policy"],
  ["GET", "?tagging"],
  ["GET", "?cors"],
  ["GET", "?lifecycle"],
  ["GET", "?logging"],
  ["GET", "?requestPayment"],
  ["GET", "?list-type=2&list-type=1"],
  ["GET", "?delete"],
  ["POST", ""],
  ["DELETE", "?uploadId="],
  ["DELETE", "?cors"],
  ["DELETE", "?unknownthing"],
  ["HEAD", "?acl"],
  ["GET", "?unknownthing=1"],
  ["PUT", "?acl"],
  ["POST", "?uploads"],
];

/** Sub-resources with empty, duplicated and missing values, and unknown ones. */
const subresources: Family = (g) => {
  const bucket = g.bucket();
  if (g.chance(0.4)) {
    const [method, query] = g.pick(BUCKET_SUBRESOURCES);
    const signed: Record<string, string> = {};
    if (query === "?acl" && method === "PUT") signed["x-amz-acl"] = "private";
    if (query === "?mdsearch" && method === "POST") {
      signed["x-amz-meta-search"] = "x-amz-meta-foo;string";
    }
    return { method, target: `/${bucket}${query}`, signed };
  }
  const [method, query] = g.pick(objectSubresources(g.upload(bucket)));
  const key = method === "GET" || method === "HEAD"
    ? g.seededKey()
    : method === "DELETE"
    ? g.pick(DEL_KEYS)
    : `w/sr-${g.n}`;
  const body = query === "?tagging" && method === "PUT"
    ? TAGGING
    : method === "PUT" || method === "POST"
    ? g.putBody()
    : undefined;
  const signed: Record<string, string> = {};
  if (body === TAGGING) signed["content-md5"] = md5Base64(utf8.encode(TAGGING));
  return { method, target: `/${bucket}/${key}${query}`, body, signed };
};

const DELETE_KEY_FORMS = [
  "a&#13;b",
  "a&#10;b",
  "a&#x9;b",
  "a&#xD;b",
  "a\rb",
  "a\r\nb",
  "a\nb",
  "x&#47;k",
  "k&#63;versionId=x",
  "/k",
  "../k",
  "a&amp;b",
];

/** DeleteObjects bodies with character references and raw line ends. */
const deletes: Family = (g) => {
  const keys = Array.from(
    { length: 1 + g.int(3) },
    () => g.chance(0.4) ? g.pick(DEL_KEYS) : g.pick(DELETE_KEY_FORMS),
  );
  const { body, signed } = deleteDocument(keys, g.chance(0.3));
  const bucket = g.chance(0.1) ? g.pick(["ig-secret%2F", "IG-SECRET", "ig-dr-one%2F"]) : g.bucket();
  return { method: "POST", target: `/${bucket}?delete`, body, signed };
};

const FAMILIES: [string, Family, number][] = [
  ["plain", plain, 22],
  ["names", names, 14],
  ["segments", segments, 9],
  ["vhost-client", vhostClient, 7],
  ["copies", copies, 15],
  ["twins", twins, 11],
  ["subresources", subresources, 15],
  ["deletes", deletes, 7],
];

/** The corpus for a seed: deterministic for a given seed and context. */
function generateCorpus(seed: number, ctx: CorpusContext, size = CORPUS_SIZE): Spec[] {
  const rnd = prng(seed);
  const specs: Spec[] = [];
  for (let n = 0; n < size; n++) {
    const g = new Gen(rnd, ctx, n);
    const [family, make] = g.weighted(FAMILIES.map(([name, f, w]) => [[name, f], w] as const));
    const vhost = g.chance(0.5); // drawn either way: a seed makes the same corpus everywhere
    const spec: Spec = { family, via: ctx.vhost && vhost ? "vhost" : "path", ...make(g) };
    const bodyBound = spec.signed?.["content-md5"] !== undefined || family === "twins";
    if (!bodyBound && g.chance(0.15)) spec.presign = true;
    specs.push(spec);
  }
  return specs;
}

function corpusSeed(): number {
  const fromEnv = Deno.env.get("OSP_INTEGRITY_SEED");
  if (fromEnv !== undefined && fromEnv !== "") return Number(fromEnv) >>> 0;
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

// ---------------------------------------------------------------------------
// What RGW ran, and whether the validator approved it

/**
 * S3 operation (as osp names it for the validator) → the RGW 16.2 ops-log
 * operations that carry it out, as measured. `put_part` is RGW's put_obj with
 * a non-empty uploadId (a part); put_obj without one writes the object.
 */
const RGW_OPERATIONS: Record<string, string[]> = {
  GetObject: ["get_obj"],
  HeadObject: ["get_obj"],
  PutObject: ["put_obj"],
  CopyObject: ["copy_obj"],
  UploadPart: ["put_part"],
  UploadPartCopy: ["put_part"],
  CreateMultipartUpload: ["init_multipart"],
  CompleteMultipartUpload: ["complete_multipart"],
  AbortMultipartUpload: ["abort_multipart"],
  ListParts: ["list_multipart"],
  DeleteObject: ["delete_obj"],
  DeleteObjects: ["multi_object_delete"],
  ListObjects: ["list_bucket"],
  ListObjectsV2: ["list_bucket"],
  ListObjectVersions: ["list_bucket"],
  ListMultipartUploads: ["list_bucket_multiparts"],
  HeadBucket: ["stat_bucket"],
  CreateBucket: ["create_bucket"],
  DeleteBucket: ["delete_bucket"],
  GetBucketLocation: ["get_bucket_location"],
  GetBucketVersioning: ["get_bucket_versioning"],
  GetBucketAcl: ["get_acls"],
  GetObjectAcl: ["get_acls"],
  PutBucketAcl: ["put_acls"],
  PutObjectAcl: ["put_acls"],
  GetObjectTagging: ["get_obj_tags"],
  PutObjectTagging: ["put_obj_tags"],
  DeleteObjectTagging: ["delete_obj_tags"],
  GetBucketTagging: ["get_bucket_tags"],
  GetBucketPolicy: ["get_bucket_policy"],
  GetBucketCors: ["get_cors"],
  DeleteBucketCors: ["delete_cors"],
  GetBucketLifecycleConfiguration: ["get_lifecycle"],
  GetObjectRetention: ["get_obj_retention"],
  GetObjectLegalHold: ["get_obj_legal_hold"],
  GetBucketRequestPayment: ["get_request_payment"],
  GetBucketLogging: ["get_bucket_logging"],
  // RGW 16.2 does not know ?attributes, ?torrent, ?encryption,
  // ?ownershipControls, ?accelerate…: it serves the object or the listing
  // instead. Not accepted here: osp asks the validator about GetObject or
  // ListObjects too (requiredApprovals), so RGW's get_obj / list_bucket must
  // match that second approval.
  // RGW 16.2 has no RestoreObject: POST ?restore is its browser-form upload
  // (post_obj), which runs as the signing (backend) user. osp refuses form
  // bodies, so what reaches RGW here has none and fails with 400, writing
  // nothing (tests/hostile/integrity_test.ts "form uploads" checks that).
  RestoreObject: ["post_obj"],
};

/** RGW's operation name, with put_obj of a part told apart. */
function rgwOperation(e: OpsLogEntry): string {
  if (e.operation !== "put_obj") return e.operation;
  const id = entryQuery(e).find(([name]) => name === "uploadId");
  return id !== undefined && id[1] !== "" ? "put_part" : "put_obj";
}

/** An approved `Unknown` lets RGW do anything to that bucket and key; otherwise the table decides. */
function compatible(operation: string, rgwOp: string): boolean {
  return operation === "Unknown" || (RGW_OPERATIONS[operation] ?? []).includes(rgwOp);
}

/** One request as sent, with what the validator was asked and what osp answered. */
interface Sent {
  n: number;
  spec: Spec;
  userAgent: string;
  target: string;
  reply: Reply;
  calls: Call[];
  /** Objects RGW wrote with a copy-source or ACL header around, read right after the request. */
  effects: Effect[];
}

interface Effect {
  op: string;
  bucket: string;
  key: string;
  content: string;
  acl: string;
}

interface Judge {
  explicit: Record<string, string>;
  markers: Map<string, Origin>;
  sent: Sent[];
  entries: Map<string, OpsLogEntry[]>;
  /** Oddities that are no authorization disagreement, printed after the run. */
  warnings: string[];
}

function backendOf(judge: Pick<Judge, "explicit">, clientBucket: string): string {
  return judge.explicit[clientBucket] ?? clientBucket;
}

function styleFor(judge: Pick<Judge, "explicit">, clientBucket: string, via: Spec["via"]) {
  return via === "vhost" && !(clientBucket in judge.explicit) ? "virtual" : "path";
}

/** For display when no approved call explains an entry: path style if the path starts with the bucket. */
function guessStyle(e: OpsLogEntry): "path" | "virtual" {
  const path = rgwDecode(e.uri.split(" ")[1] ?? "").replace(/^\//, "");
  return path.split("/")[0] === e.bucket.split("/").pop() ? "path" : "virtual";
}

interface Analysed {
  op: string;
  object: string;
  call?: Call;
  problems: string[];
}

function approvedList(calls: Call[]): string {
  const list = calls.filter((c) => c.allowed).map((c) =>
    `${c.operation} ${show(c.bucket)}${c.key === undefined ? "" : ` ${show(c.key)}`}`
  );
  return list.length === 0 ? "nothing" : list.join("; ");
}

/** Matches one ops-log entry to an approved call. */
function analyseEntry(judge: Judge, sent: Sent, e: OpsLogEntry): Analysed {
  const op = rgwOperation(e);
  for (const c of sent.calls) {
    if (!c.allowed || backendOf(judge, c.bucket) !== e.bucket) continue;
    const object = entryObject(e, styleFor(judge, c.bucket, sent.spec.via));
    if (object === (c.key ?? "") && compatible(c.operation, op)) {
      return { op, object, call: c, problems: multiDeleteProblems(judge, sent, e) };
    }
  }
  const object = entryObject(e, guessStyle(e));
  const problem = `RGW ran ${op} on bucket ${show(e.bucket)} object ${
    show(object)
  } (HTTP ${e.http_status}${e.error_code ? ` ${e.error_code}` : ""}); the validator approved ${
    approvedList(sent.calls)
  }`;
  return { op, object, problems: [problem] };
}

/** Every key RGW deleted in a DeleteObjects must be an approved DeleteObject of that bucket. */
function multiDeleteProblems(judge: Judge, sent: Sent, e: OpsLogEntry): string[] {
  if (e.operation !== "multi_object_delete") return [];
  const approved = new Set(
    sent.calls.filter((c) =>
      c.allowed && c.operation === "DeleteObject" && backendOf(judge, c.bucket) === e.bucket
    ).map((c) => c.key),
  );
  return (e.op_data?.objects ?? []).filter((o) => !approved.has(o.key)).map((o) =>
    `RGW's DeleteObjects in ${show(e.bucket)} deleted ${show(o.key)} (HTTP ${o.http_status}), ` +
    `not an approved DeleteObject key (approved: ${show([...approved])})`
  );
}

/** Where content came from: a seeded object, or the object a corpus PUT wrote. */
function originOf(judge: Judge, content: string): Origin | undefined {
  const seeded = judge.markers.get(content);
  if (seeded !== undefined) return seeded;
  const m = /^ig-put:(\d+)$/.exec(content);
  const writer = m === null ? undefined : judge.sent[Number(m[1])];
  if (writer === undefined) return undefined;
  for (const e of judge.entries.get(writer.userAgent) ?? []) {
    const a = analyseEntry(judge, writer, e);
    if (a.op === "put_obj" && e.http_status === "200") return { bucket: e.bucket, key: a.object };
  }
  return undefined;
}

/** Copies must come from an approved GetObject; nothing secret may leave; no unapproved public ACL. */
function effectProblems(judge: Judge, sent: Sent, effect: Effect): string[] {
  const where = `${show(effect.bucket)} ${show(effect.key)}`;
  const problems: string[] = [];
  if (effect.content.includes(":SECRET")) {
    problems.push(`secret content ended up in ${where}: ${show(effect.content)}`);
  }
  if (effect.op === "copy_obj") {
    const origin = originOf(judge, effect.content);
    const sources = sent.calls.filter((c) => c.allowed && c.operation === "GetObject")
      .map((c) => ({ bucket: backendOf(judge, c.bucket), key: c.key }));
    if (origin === undefined) {
      problems.push(`cannot tell where the copy in ${where} came from: ${show(effect.content)}`);
    } else if (!sources.some((s) => s.bucket === origin.bucket && s.key === origin.key)) {
      problems.push(
        `RGW copied ${show(origin.bucket)} ${show(origin.key)} into ${where}; ` +
          `the validator approved reading ${show(sources)}`,
      );
    }
  }
  const headers = sent.calls.filter((c) => c.allowed).map((c) => JSON.stringify(c.headers));
  const sawGrant = headers.some((h) =>
    /x-amz-acl":"public|x-amz-grant-[^"]*":"[^"]*AllUsers/.test(h)
  );
  if (PUBLIC_GROUPS.test(effect.acl) && !sawGrant) {
    problems.push(`${where} became public through a header the validator did not see`);
  }
  return problems;
}

/** Every disagreement of one request. */
function judgeRequest(judge: Judge, sent: Sent): string[] {
  const entries = judge.entries.get(sent.userAgent) ?? [];
  const problems: string[] = [];
  const requestId = sent.reply.headers.get("x-amz-request-id") ?? "";
  if (!requestId.startsWith("tx") && entries.length > 0) {
    const what = `osp answered itself (${sent.reply.status} ${
      errorCode(sent.reply)
    }), yet RGW logged ${entries.length} operation(s)`;
    // A 5xx of osp's own (backend unreachable, timeout) may come after the
    // backend ran the request: only a disagreement if what RGW ran was not approved.
    if (sent.reply.status < 500) problems.push(what);
    else judge.warnings.push(`#${sent.n} ${sent.spec.method} ${sent.target}: ${what}`);
  }
  for (const e of entries) problems.push(...analyseEntry(judge, sent, e).problems);
  for (const effect of sent.effects) problems.push(...effectProblems(judge, sent, effect));
  return problems;
}

// ---------------------------------------------------------------------------
// Running the corpus

/** Whether RGW's effects of a request must be read right away: a copy source or ACL header in any spelling. */
function needsEffects(spec: Spec): boolean {
  const names = [...Object.keys(spec.signed ?? {}), ...(spec.unsigned ?? []).map(([n]) => n)];
  return names.some((n) => /^x[-_]amz[-_](copy[-_]source$|acl$|grant[-_])/i.test(n));
}

/** Reads what RGW wrote for this request: content and ACL of each object put or copied. */
async function readEffects(
  fx: Fixture,
  judge: Judge,
  sent: Sent,
  entries: OpsLogEntry[],
): Promise<Effect[]> {
  const out: Effect[] = [];
  for (const e of entries) {
    if (!["put_obj", "copy_obj"].includes(e.operation) || e.http_status !== "200") continue;
    const { op, object } = analyseEntry(judge, sent, e);
    if (op === "put_part") continue;
    const path = objectPath(e.bucket, object);
    const content = (await direct(fx, "GET", path)).body;
    const acl = (await direct(fx, "GET", `${path}?acl`)).body;
    out.push({ op, bucket: e.bucket, key: object, content, acl });
  }
  return out;
}

/** Silences console output (osp's error log lines) while the corpus runs; returns a restorer. */
function quietConsole(): () => number {
  const original = { log: console.log, error: console.error, warn: console.warn };
  let count = 0;
  const swallow = () => {
    count++;
  };
  console.log = console.error = console.warn = swallow;
  return () => {
    Object.assign(console, original);
    return count;
  };
}

async function runCorpus(
  fx: Fixture,
  proxies: Proxies,
  specs: Spec[],
  judge: Judge,
  options: { seed: number; mark: number },
): Promise<void> {
  for (const [n, spec] of specs.entries()) {
    const userAgent = `osp-integrity/${options.seed}/${n}`;
    proxies.current = n;
    const port = spec.via === "vhost" ? proxies.vhostPort : proxies.pathPort;
    const w = wire(spec, port, userAgent);
    const reply = await sendRaw(port, spec.method, w.target, w.headers, w.body);
    const calls = proxies.calls.filter((c) => c.n === n);
    const sent: Sent = { n, spec, userAgent, target: w.target, reply, calls, effects: [] };
    judge.sent.push(sent);
    if (!needsEffects(spec)) continue;
    const entries = await fx.opsLog.barrier(options.mark, fx.rgw.endpoint);
    judge.entries = byUserAgent(entries);
    sent.effects = await readEffects(fx, judge, sent, judge.entries.get(userAgent) ?? []);
  }
}

// ---------------------------------------------------------------------------
// The report

function describeRequest(judge: Judge, sent: Sent, problems: string[]): string {
  const s = sent.spec;
  const how = s.presign ? "presigned" : "header-signed";
  const lines = [
    `#${sent.n} [${s.family}] ${s.method} ${sent.target}`,
    `    to the ${s.via === "vhost" ? "virtual-host" : "path"}-style default-route proxy, ${how}${
      s.host ? `, Host ${s.host}` : ""
    }`,
  ];
  for (const [k, v] of Object.entries(s.signed ?? {})) lines.push(`    signed   ${k}: ${show(v)}`);
  for (const [k, v] of s.unsigned ?? []) lines.push(`    unsigned ${k}: ${show(v)}`);
  if (s.body) lines.push(`    body ${show(s.body)}`);
  const asked = sent.calls.map((c) =>
    `${c.allowed ? "allowed" : "denied"} ${c.operation} ${show(c.bucket)}${
      c.key === undefined ? "" : ` ${show(c.key)}`
    }`
  );
  lines.push(`    validator: ${asked.length === 0 ? "(not asked)" : asked.join("; ")}`);
  const id = sent.reply.headers.get("x-amz-request-id") ?? "-";
  const message = /<Message>([^<]+)<\/Message>/.exec(sent.reply.body)?.[1];
  lines.push(
    `    osp answered ${sent.reply.status} ${errorCode(sent.reply)}${
      message ? ` "${xmlText(message)}"` : ""
    } (request id ${id})`,
  );
  for (const e of judge.entries.get(sent.userAgent) ?? []) {
    const deleted = e.op_data ? ` deleted ${show(e.op_data.objects.map((o) => o.key))}` : "";
    lines.push(
      `    RGW: ${e.operation} bucket ${show(e.bucket)} -> ${e.http_status} ${e.error_code} ${
        show(e.uri, 200)
      }${deleted}`,
    );
  }
  for (const p of problems) lines.push(`    ✗ ${p}`);
  return lines.join("\n");
}

function report(
  seed: number,
  judge: Judge,
  bad: { sent: Sent; problems: string[] }[],
  global: string[],
): string {
  const byFamily = new Map<string, number>();
  for (const { sent } of bad) {
    byFamily.set(sent.spec.family, (byFamily.get(sent.spec.family) ?? 0) + 1);
  }
  const head = [
    `osp-integrity seed ${seed}: ${bad.length} of ${judge.sent.length} requests disagree` +
    ` (replay: OSP_INTEGRITY_SEED=${seed} deno task test tests/hostile/integrity_test.ts)`,
    `by family: ${[...byFamily].map(([f, c]) => `${f} ${c}`).join(", ")}`,
    ...global.map((g) => `✗ ${g}`),
  ];
  return [...head, "", ...bad.map(({ sent, problems }) => describeRequest(judge, sent, problems))]
    .join("\n");
}

// ---------------------------------------------------------------------------
// One focused test per finding

/** What a focused test works with. */
interface Focus {
  fx: Fixture;
  proxies: Proxies;
  canary: Canary;
  checks: Checks;
  /** The ops-log mark taken when the proxies started. */
  mark: number;
}

/** Runs `run` with a fresh canary and both proxies; returns every failed check. */
async function focused(
  decide: Decide,
  run: (f: Focus) => Promise<void>,
  extra: Record<string, string> = {},
): Promise<string[]> {
  const fx = await fixture();
  const canary = startCanary();
  const proxies = startProxies(fx, decide, extra);
  const checks = new Checks();
  try {
    await run({ fx, proxies, canary, checks, mark: await fx.opsLog.mark() });
  } finally {
    await proxies.close();
    canary.close();
  }
  return checks.failures;
}

/** A focused test: fails with every failed check of its parts. */
function finding(name: string, parts: () => Promise<string[]>): void {
  Deno.test({ name: `integrity finding ${name}`, ...RGW_TEST }, async () => {
    const failures = await parts();
    if (failures.length > 0) {
      assert.fail(`${failures.length} failed:\n- ${failures.join("\n- ")}`);
    }
  });
}

let focusedCount = 0;

/** Sends one focused request; returns the reply, its user agent and the validator calls it made. */
async function focusSend(
  f: Focus,
  spec: Spec,
): Promise<{ reply: Reply; userAgent: string; calls: Call[] }> {
  const n = 1_000_000 + focusedCount++;
  const userAgent = `osp-integrity/focused/${n}`;
  f.proxies.current = n;
  const reply = await sendSpec(f.proxies, spec, userAgent);
  return { reply, userAgent, calls: f.proxies.calls.filter((c) => c.n === n) };
}

/** What RGW ran for a user agent since the focused test started. */
async function rgwRan(f: Focus, userAgent: string): Promise<OpsLogEntry[]> {
  const entries = await f.fx.opsLog.barrier(f.mark, f.fx.rgw.endpoint);
  return entries.filter((e) => e.user_agent === userAgent);
}

/** A short description of ops-log entries. */
function showEntries(entries: OpsLogEntry[]): string {
  return entries.length === 0
    ? "nothing"
    : entries.map((e) => `${e.operation} ${show(e.bucket)} ${e.http_status} ${e.uri}`).join("; ");
}

/** The content an object was seeded with. */
function seededContent(fx: Fixture, bucket: string, key: string): string {
  for (const [content, o] of fx.markers) if (o.bucket === bucket && o.key === key) return content;
  throw new Error(`${bucket} ${key} was not seeded`);
}

/** The SHA-256 of an object on RGW, or `HTTP <status>`. */
async function objectHash(fx: Fixture, bucket: string, key: string): Promise<string> {
  const reply = await direct(fx, "GET", objectPath(bucket, key));
  return reply.status === 200 ? sha256(reply.body) : `HTTP ${reply.status}`;
}

const VIAS = ["path", "vhost"] as const;

/** Finding 1: `/127.0.0.1%3A<port>%2F/…` through the default route (and `%23`, `%3F`, `@`). */
async function ssrfNames(f: Focus): Promise<void> {
  for (const via of VIAS) {
    for (const name of ssrfBucketNames(f.canary.port)) {
      const target = `/${name}/latest/meta-data`;
      const { reply, calls } = await focusSend(f, { ...signedSpec("GET", target), via });
      f.checks.error(reply, 400, "InvalidBucketName", `GET ${target} (${via} proxy)`);
      f.checks.check(calls.length === 0, `GET ${target} (${via} proxy): the validator was asked`);
    }
  }
  await sleep(50);
  f.checks.check(
    f.canary.connections === 0,
    `the canary port saw ${f.canary.connections} connection(s)`,
  );
}

/** Finding 2: `%2F` in a default-route bucket, in the path and in x-amz-copy-source. */
async function encodedSlashBucket(f: Focus): Promise<void> {
  const before = await snapshot(f.fx, SECRET);
  for (const via of VIAS) {
    const { reply } = await focusSend(f, { ...signedSpec("GET", "/ig-secret%2Fx/k"), via });
    const what = `GET /ig-secret%2Fx/k (${via} proxy)`;
    f.checks.error(reply, 400, "InvalidBucketName", what);
    f.checks.check(!reply.body.includes(":SECRET"), `${what} returned the secret object`);
    const dest = `f2/copy-${via}`;
    await direct(f.fx, "DELETE", objectPath("ig-data", dest));
    const copy = await focusSend(f, {
      ...signedSpec("PUT", `/ig-data/${dest}`, {
        signed: { "x-amz-copy-source": "/ig-secret%2Fx/k" },
      }),
      via,
    });
    const copyWhat = `PUT /ig-data/${dest} x-amz-copy-source: /ig-secret%2Fx/k (${via} proxy)`;
    f.checks.error(copy.reply, 400, "InvalidBucketName", copyWhat);
    const copied = await direct(f.fx, "GET", objectPath("ig-data", dest));
    f.checks.check(copied.status === 404, `${copyWhat}: the destination holds ${copied.body}`);
  }
  const changes = snapshotDiff(before, await snapshot(f.fx, SECRET));
  f.checks.check(changes.length === 0, `the secret bucket changed: ${changes.join("; ")}`);
}

/** Finding 3a: an unsigned `x_amz_copy_source` on a signed PUT is dropped. */
async function unsignedUnderscore(f: Focus): Promise<void> {
  const secret = sha256(seededContent(f.fx, SECRET, "k"));
  for (const name of ["x_amz_copy_source", "X_Amz_Copy_Source"]) {
    for (const body of ["", "the PUT's own bytes"]) {
      const key = `f3/${name}-${body.length}`;
      await direct(f.fx, "DELETE", objectPath("ig-data", key));
      const spec = signedSpec("PUT", `/ig-data/${key}`, {
        unsigned: [[name, "/ig-secret/k"]],
        body,
      });
      const { reply, calls } = await focusSend(f, spec);
      const what = `PUT /ig-data/${key} (${body.length} bytes) + unsigned ${name}: /ig-secret/k`;
      f.checks.check(reply.status === 200, `${what}: ${reply.status} ${errorCode(reply)}`);
      const stored = await objectHash(f.fx, "ig-data", key);
      f.checks.check(
        stored === sha256(body),
        `${what}: the stored object is ${
          stored === secret ? "the secret's" : stored
        }, not the body`,
      );
      const seen = calls.flatMap((c) => Object.keys(c.headers)).filter((h) => h.includes("_"));
      f.checks.check(seen.length === 0, `${what}: the validator was shown ${show(seen)}`);
    }
  }
}

/** Finding 3b: a signed header with `_` in its name is refused. */
async function signedUnderscore(f: Focus): Promise<void> {
  const spec = signedSpec("PUT", "/ig-data/f3/signed", {
    signed: { x_amz_acl: "public-read" },
    body: "x",
  });
  const { reply, userAgent } = await focusSend(f, spec);
  f.checks.error(reply, 400, "InvalidArgument", "PUT with a signed x_amz_acl header");
  const ran = await rgwRan(f, userAgent);
  f.checks.check(ran.length === 0, `a signed x_amz_acl reached RGW: ${showEntries(ran)}`);
}

/** Finding 4: `DELETE ?uploadId=`, `DELETE ?uploadId`, `PUT ?partNumber=1&uploadId=`. */
async function emptyUploadId(f: Focus): Promise<void> {
  const key = "f4/object";
  const reset = () => directOk(f.fx, "PUT", objectPath("ig-data", key), { body: "f4 original" });
  await reset();
  const original = await objectHash(f.fx, "ig-data", key);
  const requests: [string, string, string | undefined][] = [
    ["DELETE", "?uploadId=", undefined],
    ["DELETE", "?uploadId", undefined],
    ["PUT", "?partNumber=1&uploadId=", "a part?"],
  ];
  for (const [method, query, body] of requests) {
    const target = `/ig-data/${key}${query}`;
    const { reply, userAgent } = await focusSend(f, signedSpec(method, target, { body }));
    f.checks.error(reply, 400, "InvalidArgument", `${method} ${target}`);
    const now = await objectHash(f.fx, "ig-data", key);
    if (now === original) continue;
    const ran = showEntries(await rgwRan(f, userAgent));
    f.checks.check(
      false,
      `${method} ${target}: the object is ${
        now.startsWith("HTTP") ? "gone" : "overwritten"
      } (RGW ran ${ran})`,
    );
    await reset();
  }
}

/** Allows everything but the secret bucket, and of DeleteObject only the key `f6/a\r` + `b`. */
const onlyCrKey: Decide = (bucket, request) =>
  bucket !== SECRET && (request.operation !== "DeleteObject" || request.key === "f6/a\rb");

/** Finding 6: DeleteObjects keys with `&#13;`, a raw CR and a raw CRLF. */
async function carriageReturnKeys(f: Focus): Promise<void> {
  const documents: [string, string][] = [
    ["f6/a&#13;b", "a character reference &#13;"],
    ["f6/a\rb", "a raw CR"],
    ["f6/a\r\nb", "a raw CRLF"],
  ];
  for (const [rawKey, what] of documents) {
    for (const key of ["f6/a\rb", "f6/a\nb"]) {
      await directOk(f.fx, "PUT", objectPath("ig-data", key), { body: show(key) });
    }
    const { body, signed } = deleteDocument([rawKey]);
    const spec = signedSpec("POST", "/ig-data?delete", { body, signed });
    const { reply, calls } = await focusSend(f, spec);
    f.checks.check(reply.status === 200, `DeleteObjects with ${what}: ${reply.status}`);
    const crGone = (await objectHash(f.fx, "ig-data", "f6/a\rb")).startsWith("HTTP");
    const lfGone = (await objectHash(f.fx, "ig-data", "f6/a\nb")).startsWith("HTTP");
    f.checks.check(!lfGone, `DeleteObjects with ${what}: "f6/a\\nb" was deleted`);
    if (rawKey.includes("&#13;")) {
      f.checks.check(crGone, `DeleteObjects with ${what}: "f6/a\\rb" survived`);
      continue;
    }
    // An XML parser reads a raw CR or CRLF as LF: that is the key to authorize (and deny).
    const asked = calls.filter((c) => c.operation === "DeleteObject").map((c) => c.key);
    f.checks.check(!crGone, `DeleteObjects with ${what}: "f6/a\\rb" was deleted`);
    f.checks.check(
      asked.length === 1 && asked[0] === "f6/a\nb",
      `DeleteObjects with ${what}: the validator was asked about ${show(asked)}, not "f6/a\\nb"`,
    );
  }
}

/** Finding 7: `?versionId=a&versionId=b` (and `?acl&acl`). */
async function duplicatedParameters(f: Focus): Promise<void> {
  for (const query of ["?versionId=a&versionId=b", "?acl&acl"]) {
    const target = `/ig-data/src/a${query}`;
    const { reply, userAgent } = await focusSend(f, signedSpec("GET", target));
    f.checks.error(reply, 400, "InvalidArgument", `GET ${target}`);
    const ran = await rgwRan(f, userAgent);
    f.checks.check(ran.length === 0, `GET ${target} reached RGW: ${showEntries(ran)}`);
  }
}

const UNKNOWN_SUBRESOURCE = "/ig-data?somethingunknown";

/** Finding 8a: the validator is asked about operation Unknown. */
async function unknownAsked(f: Focus): Promise<void> {
  const { calls } = await focusSend(f, signedSpec("PUT", UNKNOWN_SUBRESOURCE));
  const operations = calls.map((c) => c.operation);
  f.checks.check(
    operations.length > 0 && operations.every((o) => o === "Unknown"),
    `PUT ${UNKNOWN_SUBRESOURCE}: the validator was asked about ${show(operations)}, not "Unknown"`,
  );
}

/** Finding 8b: a validator denying Unknown gets AccessDenied, and RGW does nothing. */
async function unknownDenied(f: Focus): Promise<void> {
  const what = `PUT ${UNKNOWN_SUBRESOURCE} with a validator denying Unknown`;
  const { reply, userAgent } = await focusSend(f, signedSpec("PUT", UNKNOWN_SUBRESOURCE));
  f.checks.error(reply, 403, "AccessDenied", what);
  const ran = await rgwRan(f, userAgent);
  f.checks.check(ran.length === 0, `${what}: RGW ran ${showEntries(ran)}`);
}

const denyUnknown: Decide = (bucket, request) =>
  allowAllButSecret(bucket, request) && request.operation !== "Unknown";

/** Makes `ig-poldst` (owned by another user) accept the backend user's copies only from `ig-polsrc/src/a`. */
async function copySourcePolicy(fx: Fixture): Promise<void> {
  const owner = await fx.rgw.createUser("osp-integrity-owner");
  await directOk(fx, "PUT", "/ig-polsrc");
  await directOk(fx, "PUT", "/ig-polsrc/src/a", { body: "policy source" });
  await directOk(fx, "PUT", "/ig-poldst", { user: owner });
  const policy = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{
      Effect: "Allow",
      Principal: { AWS: [`arn:aws:iam:::user/${fx.user.uid}`] },
      Action: "s3:PutObject",
      Resource: "arn:aws:s3:::ig-poldst/*",
      Condition: { StringEquals: { "s3:x-amz-copy-source": "ig-polsrc/src/a" } },
    }],
  });
  await directOk(fx, "PUT", "/ig-poldst?policy", { user: owner, body: policy });
  // The policy tells the two forms apart (ceph/s3-tests' test_bucket_policy_put_obj_copy_source).
  const forms = [["ig-polsrc/src/a", 200], ["/ig-polsrc/src/a", 403]] as const;
  for (const [source, status] of forms) {
    const reply = await direct(fx, "PUT", "/ig-poldst/direct", {
      headers: { "x-amz-copy-source": source },
    });
    assert.equal(reply.status, status, `a direct copy from ${source}: ${reply.body}`);
  }
}

const POLICY_BUCKETS = {
  "ig-polsrc": "ig-polsrc",
  "ig-polsrc-alias": "ig-polsrc",
  "ig-poldst": "ig-poldst",
};

/** Finding 10: `x-amz-copy-source: srcbucket/key` reaches RGW as sent (a bucket policy tells). */
async function copySourceForm(f: Focus): Promise<void> {
  const forms = [
    ["ig-polsrc/src/a", 200],
    ["ig-polsrc-alias/src/a", 200],
    ["/ig-polsrc/src/a", 403],
  ] as const;
  for (const [i, [source, status]] of forms.entries()) {
    const spec = signedSpec("PUT", `/ig-poldst/f10/copy-${i}`, {
      signed: { "x-amz-copy-source": source },
    });
    const { reply } = await focusSend(f, spec);
    f.checks.check(
      reply.status === status,
      `CopyObject from ${source}: expected ${status}, got ${reply.status} ${errorCode(reply)}`,
    );
  }
}

/**
 * RGW runs a POST with a form body as a browser-form upload of the form's
 * key: refused, but on a bucket, where osp verifies the form itself (this
 * one has no credential field and no policy, an anonymous form: 403 on a
 * bucket that is not public-write, whatever the Authorization header) and
 * RGW never sees a form.
 */
async function formUploads(f: Focus): Promise<void> {
  const form = [
    "--XFORM",
    'Content-Disposition: form-data; name="key"',
    "",
    "f11/written",
    "--XFORM",
    'Content-Disposition: form-data; name="file"; filename="a.txt"',
    "Content-Type: text/plain",
    "",
    "form bytes",
    "--XFORM--",
    "",
  ].join("\r\n");
  for (const target of ["/ig-data/f11/k?restore", "/ig-data/f11/k?select", "/ig-data"]) {
    const { reply, userAgent } = await focusSend(
      f,
      // (RGW writes the form key only with UNSIGNED-PAYLOAD; osp refuses either way.)
      signedSpec("POST", target, {
        signed: {
          "content-type": "multipart/form-data; boundary=XFORM",
        },
        body: form,
      }),
    );
    const [status, code] = target === "/ig-data" ? [403, "AccessDenied"] : [501, "NotImplemented"];
    f.checks.error(reply, status, code, `POST ${target} with a form body`);
    const ran = await rgwRan(f, userAgent);
    f.checks.check(ran.length === 0, `POST ${target}: RGW ran ${showEntries(ran)}`);
  }
  const written = await objectHash(f.fx, "ig-data", "f11/written");
  f.checks.check(written === "HTTP 404", `the form's key was written: ${written}`);
}

/** Where RGW runs a stronger operation, the validator must allow that one too. */
async function strongerOperations(f: Focus): Promise<void> {
  for (
    const target of ["/ig-data?encryption", "/ig-data?ownershipControls", "/ig-data/k?attributes"]
  ) {
    const { reply, userAgent, calls } = await focusSend(f, signedSpec("GET", target));
    f.checks.error(reply, 403, "AccessDenied", `GET ${target}`);
    const ran = await rgwRan(f, userAgent);
    f.checks.check(ran.length === 0, `GET ${target}: RGW ran ${showEntries(ran)}`);
    f.checks.check(
      calls.some((c) => c.operation === "ListObjects" || c.operation === "GetObject"),
      `GET ${target}: the validator was not asked about the listing or the object`,
    );
  }
}

/** Allows everything on ig-data but reading its objects and listing it. */
const noReads: Decide = (bucket, request) =>
  allowAllButSecret(bucket, request) &&
  !(bucket === "ig-data" && ["GetObject", "ListObjects"].includes(request.operation));

finding(
  "1: an SSRF default-route bucket name is InvalidBucketName, the canary sees nothing",
  () => focused(allowAllButSecret, ssrfNames),
);
finding(
  "2: %2F in a default-route bucket is InvalidBucketName, the secret is untouched",
  () => focused(allowAllButSecret, encodedSlashBucket),
);
finding(
  "3: unsigned `_` headers are dropped, a signed one is InvalidArgument",
  async () => [
    ...await focused(allowAllButSecret, unsignedUnderscore),
    ...await focused(allowAllButSecret, signedUnderscore),
  ],
);
finding(
  "4: an empty uploadId is InvalidArgument, the object stays",
  () => focused(allowAllButSecret, emptyUploadId),
);
finding(
  "6: DeleteObjects deletes exactly the CR key the validator allowed",
  () => focused(onlyCrKey, carriageReturnKeys),
);
finding(
  "7: a duplicated query parameter is InvalidArgument",
  () => focused(allowAllButSecret, duplicatedParameters),
);
finding(
  "8: an unknown sub-resource is operation Unknown",
  async () => [
    ...await focused(allowAllButSecret, unknownAsked),
    ...await focused(denyUnknown, unknownDenied),
  ],
);
finding(
  "12: a POST form body never reaches RGW, whatever its query",
  () => focused(allowAllButSecret, formUploads),
);
finding(
  "13: a sub-resource RGW reads as a listing or a read needs that approval too",
  () => focused(noReads, strongerOperations),
);
finding(
  "10: x-amz-copy-source reaches RGW in the client's form",
  async () => {
    await copySourcePolicy(await fixture());
    return await focused(allowAllButSecret, copySourceForm, POLICY_BUCKETS);
  },
);

// ---------------------------------------------------------------------------
// The corpus test

/** The outcome of a corpus run. */
interface Outcome {
  judge: Judge;
  bad: { sent: Sent; problems: string[] }[];
  /** Disagreements not tied to one request (secret bucket, canary). */
  global: string[];
  ms: number;
}

/** Sends the specs through both proxies (allow all but the secret bucket) and judges every request. */
async function runAndJudge(
  fx: Fixture,
  seed: number,
  makeSpecs: (ctx: CorpusContext) => Spec[],
): Promise<Outcome> {
  const canary = startCanary();
  const proxies = startProxies(fx, allowAllButSecret);
  const judge: Judge = {
    explicit: proxies.explicit,
    markers: fx.markers,
    sent: [],
    entries: new Map(),
    warnings: [],
  };
  try {
    const specs = makeSpecs({ canary: canary.port, uploads: fx.uploads, vhost: fx.vhost });
    const secretBefore = await snapshot(fx, SECRET);
    const mark = await fx.opsLog.mark();
    const started = performance.now();
    const restore = quietConsole();
    try {
      await runCorpus(fx, proxies, specs, judge, { seed, mark });
    } finally {
      restore();
    }
    const ms = performance.now() - started;
    judge.entries = byUserAgent(await fx.opsLog.barrier(mark, fx.rgw.endpoint));
    const global = snapshotDiff(secretBefore, await snapshot(fx, SECRET))
      .map((change) => `the secret bucket changed: ${change}`);
    global.push(...await secretLeaks(fx, judge));
    await sleep(50);
    if (canary.connections > 0) {
      global.push(`the canary port saw ${canary.connections} connection(s)`);
    }
    const bad = judge.sent.map((sent) => ({ sent, problems: judgeRequest(judge, sent) }))
      .filter((b) => b.problems.length > 0);
    return { judge, bad, global, ms };
  } finally {
    await proxies.close();
    canary.close();
  }
}

const WRITES = new Set(["put_obj", "copy_obj", "complete_multipart", "post_obj"]);

/** Every object the corpus wrote outside the secret bucket, read back: none may hold secret content. */
async function secretLeaks(fx: Fixture, judge: Judge): Promise<string[]> {
  const out: string[] = [];
  for (const sent of judge.sent) {
    for (const e of judge.entries.get(sent.userAgent) ?? []) {
      if (!WRITES.has(e.operation) || e.http_status !== "200" || e.bucket === SECRET) continue;
      const { object } = analyseEntry(judge, sent, e);
      const reply = await direct(fx, "GET", objectPath(e.bucket, object));
      if (reply.body.includes(":SECRET")) {
        out.push(`#${sent.n} left secret content in ${show(e.bucket)} ${show(object)}`);
      }
    }
  }
  return out;
}

/** One line per family: requests sent, reaching RGW, disagreeing. */
function familyStats(outcome: Outcome): string {
  const stats = new Map<string, [number, number, number]>();
  for (const sent of outcome.judge.sent) {
    const s = stats.get(sent.spec.family) ?? [0, 0, 0];
    s[0]++;
    if (outcome.judge.entries.has(sent.userAgent)) s[1]++;
    if (outcome.bad.some((b) => b.sent === sent)) s[2]++;
    stats.set(sent.spec.family, s);
  }
  return [...stats].map(([f, [n, reached, bad]]) => `${f} ${n}/${reached}/${bad}`).join(", ");
}

/** Prints the outcome; fails with the report (the whole of it in a temp file) on any disagreement. */
async function assertAgreement(seed: number, outcome: Outcome, vhost: boolean): Promise<void> {
  const { judge, bad, global, ms } = outcome;
  const operations = [...judge.entries.values()].flat().length;
  console.log(
    `osp-integrity: ${judge.sent.length} requests in ${(ms / 1000).toFixed(1)} s, ` +
      `${operations} RGW operations, ${bad.length} disagreements` +
      (vhost ? "" : " (no virtual-host default route: its bucket names do not resolve)"),
  );
  console.log(`osp-integrity: family sent/reached RGW/disagreeing: ${familyStats(outcome)}`);
  for (const w of judge.warnings) console.log(`osp-integrity warning: ${w}`);
  if (bad.length === 0 && global.length === 0) return;
  const text = report(seed, judge, bad, global);
  const file = await Deno.makeTempFile({ prefix: "osp-integrity-", suffix: ".txt" });
  await Deno.writeTextFile(file, text);
  const cut = text.split("\n").slice(0, 400).join("\n");
  assert.fail(`${cut}\n… full report (${bad.length} requests): ${file}`);
}

Deno.test(
  { name: "integrity: control, plain valid requests agree with RGW's ops log", ...RGW_TEST },
  async () => {
    const fx = await fixture();
    const seed = 20261203;
    const outcome = await runAndJudge(fx, seed, (ctx) => {
      const rnd = prng(seed);
      return Array.from({ length: 120 }, (_, n) => {
        const g = new Gen(rnd, ctx, n);
        const vhost = g.chance(0.5);
        return { family: "plain", via: ctx.vhost && vhost ? "vhost" : "path", ...plain(g) };
      });
    });
    const reached = outcome.judge.sent.filter((s) => outcome.judge.entries.has(s.userAgent));
    assert.ok(reached.length > 80, `most plain requests reach RGW (${reached.length} of 120)`);
    const copies = reached.flatMap((s) => s.effects).filter((e) => e.op === "copy_obj");
    assert.ok(copies.length > 0, "some copies were checked against their source");
    await assertAgreement(seed, outcome, fx.vhost);
  },
);

Deno.test("integrity: the judge flags what the validator did not approve", () => {
  const spec: Spec = { family: "control", via: "path", method: "GET", target: "/ig-data/k" };
  const call: Call = {
    n: 0,
    token: CLIENT.accessKey,
    bucket: "ig-alias",
    operation: "GetObject",
    key: "k",
    query: {},
    headers: {},
    allowed: true,
  };
  const entry = (operation: string, bucket: string, uri: string): OpsLogEntry => ({
    bucket,
    operation,
    uri,
    http_status: "200",
    error_code: "",
    user_agent: "ua",
    trans_id: "tx1",
    time: "",
  });
  const reply: Reply = {
    status: 200,
    headers: new Headers({ "x-amz-request-id": "tx1" }),
    body: "",
  };
  const sent: Sent = {
    n: 0,
    spec,
    userAgent: "ua",
    target: spec.target,
    reply,
    calls: [call],
    effects: [],
  };
  const judgeWith = (e: OpsLogEntry) =>
    judgeRequest({
      explicit: EXPLICIT,
      markers: new Map(),
      sent: [sent],
      entries: new Map([["ua", [e]]]),
      warnings: [],
    }, sent);
  assert.deepEqual(judgeWith(entry("get_obj", "ig-alias-be", "GET /ig-alias-be/k HTTP/1.1")), []);
  for (
    const e of [
      entry("delete_obj", "ig-alias-be", "DELETE /ig-alias-be/k HTTP/1.1"),
      entry("get_obj", "ig-alias", "GET /ig-alias/k HTTP/1.1"),
      entry("get_obj", "ig-alias-be", "GET /ig-alias-be/x%2Fk HTTP/1.1"),
      entry("get_obj", "ig-data", "GET /ig-data/k HTTP/1.1"),
      entry("copy_obj", "ig-alias-be", "PUT /ig-alias-be/k HTTP/1.1"),
    ]
  ) {
    assert.equal(judgeWith(e).length, 1, `flagged: ${e.operation} ${e.uri}`);
  }
});

Deno.test("integrity: ops-log entries are read as RGW wrote them", () => {
  assert.deepEqual(
    parseEntryUri("PUT /b/k?partNumber=1&uploadId=?partNumber=1&uploadId= HTTP/1.1"),
    {
      method: "PUT",
      rawPath: "/b/k",
      rawQuery: "partNumber=1&uploadId=",
    },
  );
  assert.deepEqual(splitJsonObjects('{"a":"}{"}{"b":{"c":"\\""}}\n{"d":'), [
    '{"a":"}{"}',
    '{"b":{"c":"\\""}}',
  ]);
  const e = { uri: "GET /b%2Fx/a%0Db HTTP/1.1" } as OpsLogEntry;
  assert.equal(entryObject(e, "path"), "x/a\rb");
  assert.equal(entryObject(e, "virtual"), "b/x/a\rb");
});

Deno.test(
  { name: "integrity: a seeded hostile corpus, every RGW operation approved", ...RGW_TEST },
  async () => {
    const fx = await fixture();
    const seed = corpusSeed();
    console.log(`osp-integrity seed ${seed} (replay with OSP_INTEGRITY_SEED=${seed})`);
    const outcome = await runAndJudge(fx, seed, (ctx) => generateCorpus(seed, ctx));
    await assertAgreement(seed, outcome, fx.vhost);
  },
);
