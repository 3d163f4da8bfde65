// A counting backend for tests that must prove what reached the backend: it
// records every request, reads each body to the end and notes whether it
// arrived complete (as many bytes as Content-Length announced).
import { type BucketConfig, type ProxyConfig, type ProxyServer, serve } from "../mod.ts";
export interface SeenRequest {
  method: string;
  url: string;
  headers: Headers;
  /** Body bytes received. */
  bytes: number;
  /** The body arrived whole (false when the sender cut it off). */
  complete: boolean;
  /** The body, when it was at most 64 KiB. */
  body?: Uint8Array;
}

export interface CountingBackend {
  port: number;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export function countingBackend(): CountingBackend {
  const requests: SeenRequest[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const seen: SeenRequest = {
      method: req.method,
      url: req.url,
      headers: req.headers,
      bytes: 0,
      complete: true,
    };
    requests.push(seen);
    const parts: Uint8Array[] = [];
    try {
      if (req.body) {
        for await (const part of req.body) {
          seen.bytes += part.length;
          if (seen.bytes <= 65536) parts.push(part);
        }
      }
    } catch {
      seen.complete = false;
      return new Response(null, { status: 400 });
    }
    const declared = req.headers.get("content-length");
    if (declared !== null && Number(declared) !== seen.bytes) seen.complete = false;
    if (seen.bytes <= 65536) {
      seen.body = new Uint8Array(seen.bytes);
      let o = 0;
      for (const p of parts) {
        seen.body.set(p, o);
        o += p.length;
      }
    }
    return new Response(req.method === "HEAD" ? null : "backend-ok", { status: 200 });
  });
  return { port: server.addr.port, requests, close: () => server.shutdown() };
}

/** The bucket config for a plain-HTTP, path-style backend on 127.0.0.1:`port`. */
export function localBucket(port: number, extra: Partial<BucketConfig> = {}): BucketConfig {
  return {
    host: "127.0.0.1",
    port,
    tls: false,
    addressingStyle: "path",
    accessKey: "x",
    secretKey: "y",
    ...extra,
  };
}

/** Options of {@linkcode localProxy}. */
export interface LocalProxyOptions {
  /** The one client key. */
  key: { accessKey: string; secretKey: string };
  /** Fields of bucket `b` beyond {@linkcode localBucket}'s. */
  bucket?: Partial<BucketConfig>;
  /** Top-level config fields, applied last. */
  config?: Partial<ProxyConfig>;
}

/** An osp on 127.0.0.1 (error-level logs) with one bucket `b` on the backend at `port`. */
export function localProxy(port: number, options: LocalProxyOptions): ProxyServer {
  return serve({
    httpPort: 0,
    hostname: "127.0.0.1",
    logLevel: "error",
    hmacKeystore: [options.key],
    cosMap: { b: localBucket(port, options.bucket) },
    ...options.config,
  });
}
