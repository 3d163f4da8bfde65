# osp in a container.
#
#   docker build -t osp .
#   docker run --rm -p 8080:8080 -v "$PWD/osp.config.ts:/config/osp.config.ts:ro" osp
#
# The config module is mounted at /config/osp.config.ts (mount a directory at
# /config instead when the config reads more files, e.g. TLS certificates: the
# process may read only /app and /config). It may import osp's types with
# `import type { ProxyConfig } from "/app/mod.ts";`. Set httpPort 8080 (and
# httpsPort 8443, metricsPort 9090 if you use them) and keep hostname 0.0.0.0.
FROM denoland/deno:2.9.6

WORKDIR /app

# The image's `deno` user owns the module cache (DENO_DIR=/deno-dir); the app
# files below stay root-owned, so the server cannot change its own code.
USER deno

# Dependencies first: this layer is rebuilt only when deno.json or deno.lock change.
COPY deno.json deno.lock ./
RUN deno install --frozen

# Then the source, with everything main.ts imports cached at build time.
COPY . .
RUN deno cache --frozen main.ts

EXPOSE 8080 8443 9090

# /healthz arrives with the metrics listener (metricsPort, 9090). Until then,
# check that the proxy port answers HTTP at all: any status counts, since osp
# answers unauthenticated requests with a 403 XML error. Change the port if
# your config listens elsewhere.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["deno", "eval", "await fetch('http://127.0.0.1:8080/', { signal: AbortSignal.timeout(4000) }).then((r) => r.body?.cancel(), () => Deno.exit(1))"]

# The image's entrypoint (tini) prefixes `deno` and forwards SIGTERM, which
# osp answers with a graceful shutdown. --unstable-net lets `threads` > 1
# share the port (Deno.serve's reusePort); it changes nothing with one isolate.
# --unstable-no-legacy-abort keeps Deno 2.9 from warning, on the first slow
# request, that request.signal also aborts after successful responses.
# --v8-flags=--no-memory-reducer keeps the code V8 compiled for osp's
# requests across idle spells; --no-allocation-site-pretenuring keeps V8 from
# allocating per-request objects in its old generation, which slowed one
# process in three (docs/operating.md).
CMD ["run", "--frozen", "--cached-only", \
  "--allow-net", \
  "--allow-read=/app,/config", \
  "--allow-env=TLS_CERT_PATH,TLS_KEY_PATH,OSP_ENABLE_REQUEST_COUNTING", \
  "--unstable-net", \
  "--unstable-no-legacy-abort", \
  "--v8-flags=--no-memory-reducer,--no-allocation-site-pretenuring", \
  "main.ts", "--config", "/config/osp.config.ts"]
