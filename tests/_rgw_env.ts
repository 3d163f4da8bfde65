// Shared setup of the RGW integration tests: one RGW per `deno test` run
// (tests/_rgw.ts), a backend user and buckets per test module, and an osp
// proxy in-process on port 0.
import { CreateBucketCommand, HeadObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { lookup } from "node:dns/promises";
import { type BucketConfig, type ProxyConfig, type ProxyServer, serve } from "../mod.ts";
import { getRgw, type Rgw, rgwInstalled, type RgwUser } from "./_rgw.ts";

const inCi = Deno.env.get("CI") === "true";

/** True when the RGW tests must be skipped (Ceph missing, not in CI). */
export const SKIP_RGW = !rgwInstalled() && !inCi;
if (SKIP_RGW) {
  console.log(
    "%cSKIP: Ceph RGW integration tests — ceph-mon/ceph-osd/radosgw are not installed " +
      "(apt-get install -y ceph-mon ceph-osd radosgw ceph-common). With CI=true this is a failure.",
    "color: yellow; font-weight: bold",
  );
}

/** Options for Deno.test of RGW tests: skipped visibly without Ceph, no sanitizers (shared cluster). */
export const RGW_TEST = { ignore: SKIP_RGW, sanitizeResources: false, sanitizeOps: false };

/** The proxy's client keys. */
export const CLIENT = { accessKey: "osp-client", secretKey: "osp-client-secret" };
export const READER = { accessKey: "osp-reader", secretKey: "osp-reader-secret" };

/** The host name suffix RGW answers virtual-host requests on (rgw_dns_name). */
const RGW_DNS = "localhost";

/** Makes `name` resolve to 127.0.0.1 (an /etc/hosts line) where it does not; false when impossible. */
export async function ensureResolves(name: string): Promise<boolean> {
  // Deno.resolveDns answers *.localhost itself; fetch uses getaddrinfo, so ask that.
  const found = await lookup(name).catch(() => undefined);
  if (found?.address === "127.0.0.1") return true;
  try {
    const hosts = await Deno.readTextFile("/etc/hosts");
    if (new RegExp(`^127\\.0\\.0\\.1\\s+.*\\b${name.replace(/\./g, "\\.")}\\b`, "m").test(hosts)) {
      return true;
    }
    await Deno.writeTextFile("/etc/hosts", `127.0.0.1 ${name}\n`, { append: true });
    return true;
  } catch {
    return false;
  }
}

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Deterministic pseudo-random bytes (fast, for large objects). */
export function bytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 2654435761 >>> 0 || 1;
  const view = new DataView(out.buffer);
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    view.setUint32(i, x >>> 0);
  }
  for (; i < size; i++) out[i] = i & 0xff;
  return out;
}

export interface RgwEnv {
  rgw: Rgw;
  user: RgwUser;
  proxy: ProxyServer;
  endpoint: string;
  /** Client bucket names (proxy side). */
  buckets: { path: string; vhost: string; other: string; hidden: string };
  /** Backend bucket names. */
  backendBuckets: { path: string; vhost: string; other: string; hidden: string };
  /** Direct client to RGW with the backend user's keys. */
  direct: S3Client;
  /** SDK client to the proxy with CLIENT keys. */
  client: S3Client;
  close(): Promise<void>;
}

/** Starts (or joins) RGW, makes a backend user and buckets, and starts a proxy. */
export async function rgwEnv(
  prefix: string,
  options: { config?: Partial<ProxyConfig>; vhost?: boolean; bucket?: Partial<BucketConfig> } = {},
): Promise<RgwEnv> {
  const rgw = await getRgw();
  const user = await rgw.createUser(`${prefix}-user`);
  const backendBuckets = {
    path: `${prefix}-be-path`,
    vhost: `${prefix}-be-vhost`,
    other: `${prefix}-be-other`,
    hidden: `${prefix}-be-hidden`,
  };
  const direct = new S3Client({
    endpoint: rgw.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: user.accessKey, secretAccessKey: user.secretKey },
  });
  for (const b of Object.values(backendBuckets)) {
    await direct.send(new CreateBucketCommand({ Bucket: b }));
  }
  const vhostOk = options.vhost === false
    ? false
    : await ensureResolves(`${backendBuckets.vhost}.${RGW_DNS}`);
  const base = {
    host: "127.0.0.1",
    port: rgw.port,
    tls: false,
    addressingStyle: "path" as const,
    accessKey: user.accessKey,
    secretKey: user.secretKey,
    ...options.bucket,
  };
  const buckets = {
    path: `${prefix}-photos`,
    vhost: `${prefix}-vhost`,
    other: `${prefix}-other`,
    hidden: `${prefix}-hidden`,
  };
  const cosMap: ProxyConfig["cosMap"] = {
    [buckets.path]: { ...base, backendBucket: backendBuckets.path },
    [buckets.other]: { ...base, backendBucket: backendBuckets.other },
    [buckets.hidden]: { ...base, backendBucket: backendBuckets.hidden },
  };
  if (vhostOk) {
    cosMap[buckets.vhost] = {
      ...base,
      host: RGW_DNS,
      addressingStyle: "virtual",
      backendBucket: backendBuckets.vhost,
    };
  }
  const proxy = serve({
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: "warn",
    hmacKeystore: [CLIENT, READER],
    cosMap,
    validator: (token, bucket, req) => {
      if (bucket === buckets.hidden) return false;
      if (token === READER.accessKey) return ["GET", "HEAD"].includes(req.method);
      return true;
    },
    ...options.config,
  });
  const endpoint = `http://127.0.0.1:${proxy.http!.port}`;
  const client = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: CLIENT.accessKey, secretAccessKey: CLIENT.secretKey },
  });
  return {
    rgw,
    user,
    proxy,
    endpoint,
    buckets: vhostOk ? buckets : { ...buckets, vhost: "" },
    backendBuckets,
    direct,
    client,
    async close() {
      client.destroy();
      direct.destroy();
      await proxy.shutdown();
    },
  };
}

/** True when RGW has no object `key` in the env's path bucket (asked directly, not through osp). */
export async function absentOnRgw(env: RgwEnv, key: string): Promise<boolean> {
  return await env.direct.send(
    new HeadObjectCommand({ Bucket: env.backendBuckets.path, Key: key }),
  ).then(() => false, () => true);
}
