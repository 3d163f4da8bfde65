// A counting backend for tests that must prove a request never reached the
// backend. It answers 200 with a small body and records every request.
export interface CountingBackend {
  port: number;
  requests: { method: string; url: string; headers: Headers }[];
  close(): Promise<void>;
}

export function countingBackend(): CountingBackend {
  const requests: CountingBackend["requests"] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    requests.push({ method: req.method, url: req.url, headers: req.headers });
    await req.body?.cancel();
    return new Response(req.method === "HEAD" ? null : "backend-ok", { status: 200 });
  });
  return {
    port: server.addr.port,
    requests,
    close: () => server.shutdown(),
  };
}
