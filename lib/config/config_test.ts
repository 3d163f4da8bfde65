import assert from "node:assert/strict";
import { autoThreads, type ProxyConfig, resolveConfig, resolveConfigProblems } from "./config.ts";
import { checkConfig } from "./check_config.ts";

const PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n";

/** A minimal valid config; `extra` is merged at the top level. */
function minimal(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cosMap: { logs: { host: "rgw.local", port: 8443, accessKey: "BAK", secretKey: "BSK" } },
    hmacKeystore: [{ accessKey: "client", secretKey: "client-secret" }],
    httpPort: 8080,
    ...extra,
  };
}

/** A minimal config whose `logs` bucket is replaced by `bucket`. */
function withBucket(bucket: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return minimal({ cosMap: { logs: bucket }, ...extra });
}

function problems(config: unknown): string[] {
  const result = resolveConfigProblems(config);
  const fromCheck = checkConfig(config);
  if ("config" in result) {
    assert.deepEqual(fromCheck, []);
    return [];
  }
  assert.deepEqual(fromCheck, result.problems);
  return result.problems;
}

/** Runs `fn` with the TLS env variables set (or deleted for undefined), then restores them. */
function withTlsEnv(
  values: { cert?: string; key?: string },
  fn: () => void,
): void {
  const saved = { cert: Deno.env.get("TLS_CERT_PATH"), key: Deno.env.get("TLS_KEY_PATH") };
  const set = (name: string, value: string | undefined) =>
    value === undefined ? Deno.env.delete(name) : Deno.env.set(name, value);
  try {
    set("TLS_CERT_PATH", values.cert);
    set("TLS_KEY_PATH", values.key);
    fn();
  } finally {
    set("TLS_CERT_PATH", saved.cert);
    set("TLS_KEY_PATH", saved.key);
  }
}

Deno.test("config: a minimal valid config resolves with every default", () => {
  assert.deepEqual(problems(minimal()), []);
  const config = resolveConfig(minimal() as unknown as ProxyConfig);
  assert.equal(config.buckets.size, 1);
  const bucket = config.buckets.get("logs")!;
  assert.deepEqual(bucket, {
    name: "logs",
    host: "rgw.local",
    port: 8443,
    region: "us-east-1",
    credentials: { kind: "hmac", accessKey: "BAK", secretKey: "BSK" },
    ttlMs: 300_000,
    addressingStyle: "virtual",
    tls: true,
    backendBucket: "logs",
    origin: "https://rgw.local:8443",
    payloadForwarding: "decode",
    verifyPayloadHash: false,
    verifyChecksums: false,
    addContentMd5: false,
    serviceInstanceId: undefined,
    backendCredentials: undefined,
    strictKeyPaths: false,
    cors: [],
    anonymous: new Set(),
    anonymousAs: "bucket",
    website: undefined,
  });
  assert.deepEqual(config.cors, []);
  assert.deepEqual(config.validatorCacheKey, { query: true, headers: "all", sourceIp: true });
  assert.deepEqual([...config.keystore], [["client", "client-secret"]]);
  assert.equal(config.httpPort, 8080);
  assert.equal(config.httpsPort, undefined);
  assert.equal(config.tls, undefined);
  assert.equal(config.hostname, "0.0.0.0");
  assert.deepEqual(config.virtualHostSuffixes, []);
  assert.equal(config.threads, 1);
  assert.equal(config.verify, true);
  assert.equal(config.skipSignatureValidation, false);
  assert.equal(config.sigV2, true);
  assert.equal(config.maxPresignUrlUsageAttempts, 3);
  assert.equal(config.serverName, "osp");
  assert.equal(config.metricsPort, undefined);
  assert.equal(config.logLevel, "info");
  assert.equal(config.clockSkewMs, 900_000);
  assert.equal(config.secretCacheTtlMs, 300_000);
  assert.equal(config.cacheSize, 10_000);
  assert.equal(config.callbackTimeoutMs, 5000);
  assert.equal(config.clock, Date.now);
  assert.equal(config.fetch, fetch);
  assert.equal(config.validator, undefined);
  assert.equal(config.hmacFetcher, undefined);
  assert.equal(config.bucketCredsFetcher, undefined);
});

Deno.test("config: explicit bucket values override the defaults", () => {
  const config = resolveConfig(
    withBucket({
      host: "cos.example",
      port: 80,
      region: "eu-de",
      apiKey: "API",
      ttl: 1.5,
      addressingStyle: "path",
      tls: false,
      backendBucket: "real-logs",
    }, { virtualHostSuffixes: [".S3.Example.COM"], logLevel: "debug" }) as unknown as ProxyConfig,
  );
  const bucket = config.buckets.get("logs")!;
  assert.equal(bucket.region, "eu-de");
  assert.deepEqual(bucket.credentials, { kind: "apiKey", apiKey: "API" });
  assert.equal(bucket.ttlMs, 1500);
  assert.equal(bucket.addressingStyle, "path");
  assert.equal(bucket.tls, false);
  assert.equal(bucket.backendBucket, "real-logs");
  assert.equal(bucket.origin, "http://cos.example:80");
  assert.deepEqual(config.virtualHostSuffixes, ["s3.example.com"]);
  assert.equal(config.logLevel, "debug");
});

Deno.test("config: a bucket without static creds resolves to fetch with a bucketCredsFetcher", () => {
  const fetcher = () => "api-key";
  const config = resolveConfig(
    withBucket({ host: "rgw", port: 7480 }, {
      bucketCredsFetcher: fetcher,
    }) as unknown as ProxyConfig,
  );
  assert.deepEqual(config.buckets.get("logs")!.credentials, { kind: "fetch" });
  assert.equal(config.bucketCredsFetcher, fetcher);
});

Deno.test("config: bucket port must be an integer 1–65535", () => {
  for (const port of [0, 70000, "80", 1.5, -1]) {
    assert.deepEqual(
      problems(withBucket({ host: "rgw", port, accessKey: "a", secretKey: "s" })),
      ['cosMap["logs"].port must be an integer 1–65535'],
      `port ${JSON.stringify(port)}`,
    );
  }
  for (const port of [1, 65535]) {
    assert.deepEqual(
      problems(withBucket({ host: "rgw", port, accessKey: "a", secretKey: "s" })),
      [],
    );
  }
});

Deno.test("config: listener ports accept 0 (any free port) but not out of range", () => {
  assert.deepEqual(problems(minimal({ httpPort: 0 })), []);
  assert.deepEqual(problems(minimal({ httpPort: 65536 })), ["httpPort must be an integer 0–65535"]);
  assert.deepEqual(problems(minimal({ metricsPort: "9090" })), [
    "metricsPort must be an integer 0–65535",
  ]);
});

Deno.test("config: unknown top-level field is named", () => {
  assert.deepEqual(problems(minimal({ htpPort: 1 })), ["htpPort is not a known field"]);
});

Deno.test("config: unknown bucket field is named with its bucket path", () => {
  assert.deepEqual(
    problems(withBucket({ host: "rgw", port: 80, accessKey: "a", secretKey: "s", regoin: "x" })),
    ['cosMap["logs"].regoin is not a known field'],
  );
});

Deno.test("config: a missing host is required", () => {
  assert.deepEqual(problems(withBucket({ port: 80, accessKey: "a", secretKey: "s" })), [
    'cosMap["logs"].host is required',
  ]);
});

Deno.test("config: a missing port is required", () => {
  assert.deepEqual(problems(withBucket({ host: "rgw", accessKey: "a", secretKey: "s" })), [
    'cosMap["logs"].port is required',
  ]);
});

Deno.test("config: host must be bare (no scheme, port or path)", () => {
  for (const host of ["http://rgw", "rgw:80", "rgw/x"]) {
    assert.deepEqual(problems(withBucket({ host, port: 80, accessKey: "a", secretKey: "s" })), [
      'cosMap["logs"].host must be a bare host name or IP (no scheme, port or path)',
    ], host);
  }
  assert.deepEqual(
    problems(withBucket({ host: "[::1]", port: 80, accessKey: "a", secretKey: "s" })),
    [],
  );
});

Deno.test("config: neither httpPort nor httpsPort", () => {
  const config = minimal();
  delete config.httpPort;
  assert.deepEqual(problems(config), ["httpPort or httpsPort must be set"]);
});

Deno.test("config: accessKey without secretKey (and the reverse)", () => {
  assert.deepEqual(problems(withBucket({ host: "rgw", port: 80, accessKey: "a" })), [
    'cosMap["logs"].secretKey is required with its pair',
  ]);
  assert.deepEqual(problems(withBucket({ host: "rgw", port: 80, secretKey: "s" })), [
    'cosMap["logs"].accessKey is required with its pair',
  ]);
});

Deno.test("config: apiKey cannot be combined with an HMAC pair", () => {
  assert.deepEqual(
    problems(withBucket({ host: "rgw", port: 80, accessKey: "a", secretKey: "s", apiKey: "k" })),
    ['cosMap["logs"].apiKey cannot be combined with accessKey/secretKey'],
  );
});

Deno.test("config: a bucket without creds needs a bucketCredsFetcher", () => {
  assert.deepEqual(problems(withBucket({ host: "rgw", port: 80 })), [
    'cosMap["logs"] needs accessKey+secretKey, apiKey, backendCredentials, or a bucketCredsFetcher in the config',
  ]);
});

Deno.test("config: httpsPort without tls and without TLS_CERT_PATH/TLS_KEY_PATH", () => {
  withTlsEnv({}, () => {
    assert.deepEqual(problems(minimal({ httpsPort: 8443 })), [
      "tls is required with httpsPort (or set TLS_CERT_PATH and TLS_KEY_PATH)",
    ]);
  });
  withTlsEnv({ cert: "/only/the/cert" }, () => {
    assert.deepEqual(problems(minimal({ httpsPort: 8443 })), [
      "tls is required with httpsPort (or set TLS_CERT_PATH and TLS_KEY_PATH)",
    ]);
  });
});

Deno.test("config: tls PEM text is taken as is", () => {
  const config = resolveConfig(
    minimal({ httpsPort: 8443, tls: { cert: PEM_CERT, key: PEM_KEY } }) as unknown as ProxyConfig,
  );
  assert.deepEqual(config.tls, { cert: PEM_CERT, key: PEM_KEY });
  assert.equal(config.httpsPort, 8443);
});

Deno.test("config: tls paths are read from files", () => {
  const dir = Deno.makeTempDirSync({ prefix: "osp-config-test-" });
  try {
    const certPath = `${dir}/cert.pem`;
    const keyPath = `${dir}/key.pem`;
    Deno.writeTextFileSync(certPath, PEM_CERT);
    Deno.writeTextFileSync(keyPath, PEM_KEY);
    const config = resolveConfig(
      minimal({ httpsPort: 8443, tls: { cert: certPath, key: keyPath } }) as unknown as ProxyConfig,
    );
    assert.deepEqual(config.tls, { cert: PEM_CERT, key: PEM_KEY });

    // The environment variables are read the same way when `tls` is absent.
    withTlsEnv({ cert: certPath, key: keyPath }, () => {
      const fromEnv = resolveConfig(minimal({ httpsPort: 8443 }) as unknown as ProxyConfig);
      assert.deepEqual(fromEnv.tls, { cert: PEM_CERT, key: PEM_KEY });
    });

    const missing = problems(
      minimal({ httpsPort: 8443, tls: { cert: `${dir}/nope.pem`, key: keyPath } }),
    );
    assert.equal(missing.length, 1);
    assert.match(missing[0], /^tls\.cert is neither PEM text nor a readable file \(/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("config: tls must be exactly {cert, key}", () => {
  assert.deepEqual(problems(minimal({ tls: { cert: PEM_CERT } })), ["tls.key is required"]);
  assert.deepEqual(problems(minimal({ tls: { cert: PEM_CERT, key: PEM_KEY, ca: "x" } })), [
    "tls.ca is not a known field",
  ]);
});

Deno.test("config: invalid logLevel", () => {
  for (const logLevel of ["verbose", "INFO", 3]) {
    assert.deepEqual(problems(minimal({ logLevel })), [
      "logLevel must be one of debug, info, warn, error",
    ]);
  }
});

Deno.test("config: accessLogSample is a share from 0 to 1, by default 1", () => {
  assert.equal(resolveConfig(minimal() as unknown as ProxyConfig).accessLogSample, 1);
  for (const accessLogSample of [0, 0.01, 0.5, 1]) {
    const config = resolveConfig(minimal({ accessLogSample }) as unknown as ProxyConfig);
    assert.equal(config.accessLogSample, accessLogSample);
  }
  for (const accessLogSample of [-0.1, 1.5, NaN, Infinity, "0.5", null]) {
    assert.deepEqual(problems(minimal({ accessLogSample })), [
      "accessLogSample must be a number from 0 to 1",
    ]);
  }
});

Deno.test("config: duplicate hmacKeystore access keys", () => {
  assert.deepEqual(
    problems(minimal({
      hmacKeystore: [
        { accessKey: "a", secretKey: "1" },
        { accessKey: "b", secretKey: "2" },
        { accessKey: "a", secretKey: "3" },
      ],
    })),
    ['hmacKeystore[2].accessKey duplicates "a"'],
  );
});

Deno.test("config: hmacKeystore entries are checked field by field", () => {
  assert.deepEqual(
    problems(
      minimal({ hmacKeystore: [{ accessKey: "a" }, { accessKey: "b", secretKey: "s", x: 1 }] }),
    ),
    ["hmacKeystore[0].secretKey is required", "hmacKeystore[1].x is not a known field"],
  );
});

Deno.test("config: no keystore and no hmacFetcher", () => {
  const config = minimal();
  delete config.hmacKeystore;
  assert.deepEqual(problems(config), [
    "hmacKeystore or hmacFetcher is required: no client could authenticate",
  ]);
  assert.deepEqual(problems({ ...config, hmacKeystore: [] }), [
    "hmacKeystore or hmacFetcher is required: no client could authenticate",
  ]);
  assert.deepEqual(problems({ ...config, hmacFetcher: () => null }), []);
  assert.deepEqual(problems({ ...config, skipSignatureValidation: true }), []);
});

Deno.test("config: callbacks must be functions", () => {
  assert.deepEqual(problems(minimal({ validator: "yes" })), ["validator must be a function"]);
});

Deno.test("config: a non-object config is one problem", () => {
  assert.deepEqual(problems(null), ["config must be an object"]);
  assert.deepEqual(problems([]), ["config must be an object"]);
  assert.deepEqual(problems(minimal({ cosMap: [] })), [
    "cosMap must be an object of bucket name → bucket config",
  ]);
});

Deno.test("config: resolveConfig throws a TypeError listing every problem", () => {
  const bad = {
    cosMap: {
      logs: { host: "rgw", port: 0, extra: true },
      data: { port: 80, accessKey: "a" },
    },
    unknownTop: 1,
    logLevel: "loud",
  };
  const expected = [
    "unknownTop is not a known field",
    'cosMap["logs"].extra is not a known field',
    'cosMap["logs"].port must be an integer 1–65535',
    'cosMap["logs"] needs accessKey+secretKey, apiKey, backendCredentials, or a bucketCredsFetcher in the config',
    'cosMap["data"].host is required',
    'cosMap["data"].secretKey is required with its pair',
    "hmacKeystore or hmacFetcher is required: no client could authenticate",
    "httpPort or httpsPort must be set",
    "logLevel must be one of debug, info, warn, error",
  ];
  assert.deepEqual(problems(bad), expected);
  assert.throws(
    () => resolveConfig(bad as unknown as ProxyConfig),
    (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.equal(err.message, `Invalid osp config:\n  - ${expected.join("\n  - ")}`);
      return true;
    },
  );
});

Deno.test("config: the default route and per-client backend identities", () => {
  const base = { httpPort: 8080, hmacKeystore: [{ accessKey: "c", secretKey: "s" }] };
  const ok = resolveConfig({
    ...base,
    cosMap: {
      "*": {
        host: "rgw",
        port: 7480,
        backendCredentials: { c: { accessKey: "u", secretKey: "v" } },
      },
    },
  });
  assert.deepEqual(ok.buckets.get("*")!.backendCredentials!.get("c"), {
    accessKey: "u",
    secretKey: "v",
  });
  assert.deepEqual(
    checkConfig({
      ...base,
      cosMap: {
        "*": { host: "rgw", port: 7480, backendBucket: "x", accessKey: "a", secretKey: "b" },
        logs: { host: "rgw", port: 7480, backendCredentials: { c: { accessKey: "u" } } },
      },
    }),
    [
      'cosMap["*"].backendBucket cannot be set on the default route: each bucket keeps its name',
      'cosMap["logs"].backendCredentials["c"].secretKey is required',
    ],
  );
});

Deno.test("config: bucket names and backend buckets that could change a URL are TypeErrors naming the field", () => {
  const bucket = { host: "rgw", port: 7480, accessKey: "a", secretKey: "b" };
  const cases: [Record<string, unknown>, string][] = [
    [{ "a/b": bucket }, 'cosMap["a/b"] is not a valid bucket name'],
    [{ "a:1": bucket }, 'cosMap["a:1"] is not a valid bucket name'],
    [{ "a@b": bucket }, 'cosMap["a@b"] is not a valid bucket name'],
    [{ "a%2F": bucket }, 'cosMap["a%2F"] is not a valid bucket name'],
    [{ "a b": bucket }, 'cosMap["a b"] is not a valid bucket name'],
    [{ "a?": bucket }, 'cosMap["a?"] is not a valid bucket name'],
    [{ "a#": bucket }, 'cosMap["a#"] is not a valid bucket name'],
    [{ "a\\b": bucket }, 'cosMap["a\\\\b"] is not a valid bucket name'],
    [
      { ok: { ...bucket, addressingStyle: "path", backendBucket: "x/y" } },
      'cosMap["ok"].backendBucket must not contain',
    ],
    [
      { ok: { ...bucket, backendBucket: "Not_DNS" } },
      'cosMap["ok"].backendBucket must be a lower-case DNS name',
    ],
    [
      { Legacy_Name: bucket },
      'cosMap["Legacy_Name"].backendBucket must be a lower-case DNS name',
    ],
    [{ ok: { ...bucket, host: "rgw%2F" } }, 'cosMap["ok"].host must be a bare host name'],
  ];
  for (const [cosMap, expected] of cases) {
    const found = problems({ ...minimal(), cosMap });
    assert.ok(found.some((p) => p.startsWith(expected)), `${JSON.stringify(cosMap)}: ${found}`);
  }
  // Legacy names are fine with path-style addressing, where they are a path segment.
  assert.deepEqual(
    problems({ ...minimal(), cosMap: { Legacy_Name: { ...bucket, addressingStyle: "path" } } }),
    [],
  );
});

Deno.test("config: validatorCacheKey and strictKeyPaths are checked and resolved", () => {
  const config = resolveConfig({
    ...minimal(),
    validatorCacheKey: { query: false, headers: ["X-Amz-Acl"], sourceIp: false },
  } as unknown as ProxyConfig);
  assert.deepEqual(config.validatorCacheKey, {
    query: false,
    headers: new Set(["x-amz-acl"]),
    sourceIp: false,
  });
  assert.deepEqual(problems({ ...minimal(), validatorCacheKey: { headers: "some", ip: 1 } }), [
    "validatorCacheKey.ip is not a known field",
    'validatorCacheKey.headers must be "all" or an array of header names',
  ]);
  const strict = withBucket({
    host: "rgw",
    port: 1,
    accessKey: "a",
    secretKey: "b",
    strictKeyPaths: "yes",
  });
  assert.deepEqual(problems(strict), ['cosMap["logs"].strictKeyPaths must be true or false']);
});

Deno.test("config: CORS rules are checked field by field; backend rules need static credentials", () => {
  const rule = { allowedOrigins: ["https://app.example.com"], allowedMethods: ["GET", "PUT"] };
  const config = resolveConfig(minimal({ cors: [rule] }) as unknown as ProxyConfig);
  assert.deepEqual(config.buckets.get("logs")!.cors, [
    { ...rule, allowedHeaders: [], exposeHeaders: [] },
  ]);
  assert.deepEqual(
    problems(
      minimal({
        cors: [{ allowedOrigins: [], allowedMethods: ["PATCH"], maxAgeSeconds: -1, extra: 1 }],
      }),
    ),
    [
      "cors[0].extra is not a known field",
      "cors[0].allowedMethods holds PATCH: only GET, PUT, POST, DELETE, HEAD",
      "cors[0].maxAgeSeconds must be an integer ≥ 0",
      "cors[0].allowedOrigins must be a non-empty array of strings",
    ],
  );
  assert.deepEqual(
    problems(minimal({ cors: [{ allowedOrigins: ["https://*.*.x"], allowedMethods: ["GET"] }] })),
    [
      "cors[0].allowedOrigins[0] may hold at most one *",
    ],
  );
  assert.deepEqual(
    problems(
      minimal({
        bucketCredsFetcher: () => "k",
        cosMap: { b: { host: "h", port: 1, cors: "backend" } },
      }),
    ),
    ['cosMap["b"].cors "backend" needs static credentials (accessKey+secretKey or apiKey) to read the bucket\'s CORS configuration'],
  );
  const own = resolveConfig(minimal({
    cors: [rule],
    cosMap: { b: { host: "h", port: 1, accessKey: "a", secretKey: "s", cors: "backend" } },
  }) as unknown as ProxyConfig);
  assert.equal(own.buckets.get("b")!.cors, "backend");
});

Deno.test('config: threads "auto" is one isolate per core from 4 cores, else 1', () => {
  assert.equal(autoThreads(1), 1);
  assert.equal(autoThreads(2), 1);
  assert.equal(autoThreads(3), 1);
  assert.equal(autoThreads(4), 4);
  assert.equal(autoThreads(16), 16);
  const config = resolveConfig(minimal({ threads: "auto" }) as unknown as ProxyConfig);
  assert.equal(config.threads, autoThreads(navigator.hardwareConcurrency));
  assert.deepEqual(problems(minimal({ threads: "all" })), ["threads must be an integer ≥ 1"]);
});

Deno.test("config: anonymous operations are checked and need the bucket's static credentials", () => {
  const bucket = { host: "h", port: 1, accessKey: "a", secretKey: "s" };
  const config = resolveConfig(
    minimal({
      cosMap: { pub: { ...bucket, anonymous: ["GetObject", "HeadObject"] } },
    }) as unknown as ProxyConfig,
  );
  assert.deepEqual([...config.buckets.get("pub")!.anonymous], ["GetObject", "HeadObject"]);
  const found = problems(minimal({ cosMap: { pub: { ...bucket, anonymous: ["DeleteBucket"] } } }));
  assert.equal(found.length, 1);
  assert.match(found[0], /^cosMap\["pub"\]\.anonymous holds "DeleteBucket": only GetObject, /);
  assert.deepEqual(
    problems(
      minimal({
        bucketCredsFetcher: () => "k",
        cosMap: { pub: { host: "h", port: 1, anonymous: ["GetObject"] } },
      }),
    ),
    ['cosMap["pub"].anonymous needs static credentials (accessKey+secretKey or apiKey): anonymous requests are re-signed with them'],
  );
});

Deno.test('config: anonymousAs is "bucket" (default) or "anonymous", which needs no static identity', () => {
  const bucket = { host: "h", port: 1, accessKey: "a", secretKey: "s" };
  const resolved = (raw: Record<string, unknown>) =>
    resolveConfig(minimal({ cosMap: { pub: raw } }) as unknown as ProxyConfig).buckets.get("pub")!;
  assert.equal(resolved({ ...bucket, anonymous: ["GetObject"] }).anonymousAs, "bucket");
  // Unsigned: no static identity needed, a default route with only backendCredentials will do.
  const own = {
    host: "h",
    port: 1,
    backendCredentials: { alice: { accessKey: "a", secretKey: "s" } },
  };
  const open = resolveConfig(
    minimal({
      cosMap: {
        "*": { ...own, anonymous: ["GetObject", "DeleteObject"], anonymousAs: "anonymous" },
      },
    }) as unknown as ProxyConfig,
  ).buckets.get("*")!;
  assert.equal(open.anonymousAs, "anonymous");
  assert.deepEqual([...open.anonymous], ["GetObject", "DeleteObject"]);
  for (const bad of ["Anonymous", "none", true, null]) {
    assert.deepEqual(problems(minimal({ cosMap: { pub: { ...bucket, anonymousAs: bad } } })), [
      'cosMap["pub"].anonymousAs must be "bucket" or "anonymous"',
    ]);
  }
  // DeleteObject only where the backend's own anonymous permissions bound it.
  assert.deepEqual(
    problems(minimal({ cosMap: { pub: { ...bucket, anonymous: ["DeleteObject"] } } })),
    ['cosMap["pub"].anonymous holds "DeleteObject": only with anonymousAs "anonymous" (sent unsigned)'],
  );
  const found = problems(
    minimal({ cosMap: { pub: { ...own, anonymous: ["DeleteBucket"], anonymousAs: "anonymous" } } }),
  );
  assert.equal(found.length, 1);
  assert.match(
    found[0],
    /^cosMap\["pub"\]\.anonymous holds "DeleteBucket": only GetObject, .*, DeleteObject$/,
  );
  assert.throws(
    () =>
      resolveConfig(
        minimal({
          cosMap: { pub: { ...bucket, anonymousAs: "public" } },
        }) as unknown as ProxyConfig,
      ),
    (err: unknown) => err instanceof TypeError && err.message.includes('cosMap["pub"].anonymousAs'),
  );
});

Deno.test("config: sigV2 is a boolean, default true; a wrong one is a TypeError naming the field", () => {
  assert.equal(resolveConfig(minimal({ sigV2: false }) as unknown as ProxyConfig).sigV2, false);
  assert.equal(resolveConfig(minimal({ sigV2: true }) as unknown as ProxyConfig).sigV2, true);
  for (const bad of ["false", 0, null, {}]) {
    assert.deepEqual(problems(minimal({ sigV2: bad })), ["sigV2 must be true or false"]);
    assert.throws(
      () => resolveConfig(minimal({ sigV2: bad }) as unknown as ProxyConfig),
      (err: unknown) =>
        err instanceof TypeError && err.message.includes("sigV2 must be true or false"),
    );
  }
  assert.deepEqual(problems(minimal({ sigv2: false })), ["sigv2 is not a known field"]);
});

Deno.test("config: website defaults, and its operations must be open to anonymous callers", () => {
  const bucket = {
    host: "h",
    port: 1,
    accessKey: "a",
    secretKey: "s",
    anonymous: ["GetObject", "HeadObject", "ListObjectsV2"],
  };
  const resolved = (website: unknown, more: Record<string, unknown> = {}) =>
    resolveConfig(
      minimal({ cosMap: { site: { ...bucket, website, ...more } } }) as unknown as ProxyConfig,
    ).buckets.get("site")!.website;
  assert.deepEqual(resolved({}), {
    indexDocument: "index.html",
    errorDocument: undefined,
    listing: false,
    listingPageSize: 1000,
  });
  assert.deepEqual(
    resolved({ indexDocument: "i.htm", errorDocument: "err/404.html", listing: true }),
    { indexDocument: "i.htm", errorDocument: "err/404.html", listing: true, listingPageSize: 1000 },
  );
  assert.equal(resolved(undefined), undefined);
  assert.equal(resolved({}, { anonymous: undefined, website: undefined }), undefined);
  // Allowed on the default route, like `anonymous`.
  const star = resolveConfig(
    minimal({
      cosMap: { "*": { ...bucket, website: { listing: true } } },
    }) as unknown as ProxyConfig,
  );
  assert.equal(star.buckets.get("*")!.website?.listing, true);

  const at = 'cosMap["site"].website';
  const found = (website: unknown, anonymous = bucket.anonymous) =>
    problems(minimal({ cosMap: { site: { ...bucket, anonymous, website } } }));
  assert.deepEqual(found("yes"), [
    `${at} must be an object {indexDocument, errorDocument, listing}`,
  ]);
  assert.deepEqual(found({ indexDocument: "a/index.html" }), [
    `${at}.indexDocument must not contain /`,
  ]);
  assert.deepEqual(found({ indexDocument: "" }), [
    `${at}.indexDocument must be a non-empty string`,
  ]);
  assert.deepEqual(found({ errorDocument: "" }), [
    `${at}.errorDocument must be a non-empty string`,
  ]);
  assert.deepEqual(found({ errorDocument: 404 }), [
    `${at}.errorDocument must be a non-empty string`,
  ]);
  assert.deepEqual(found({ listing: "yes" }), [`${at}.listing must be true or false`]);
  assert.deepEqual(found({ listingPageSize: 0 }), [`${at}.listingPageSize must be an integer ≥ 1`]);
  assert.deepEqual(found({ listingPageSize: 1001 }), [
    `${at}.listingPageSize must be at most 1000`,
  ]);
  assert.deepEqual(found({ index: "index.html" }), [`${at}.index is not a known field`]);
  assert.deepEqual(found({}, ["GetObject"]), [
    `${at} needs HeadObject in anonymous: a website serves anonymous callers with these operations`,
  ]);
  assert.deepEqual(found({ listing: true }, ["GetObject", "HeadObject"]), [
    `${at} needs ListObjectsV2 in anonymous: a website serves anonymous callers with these operations`,
  ]);
  assert.deepEqual(found({}, []), [
    `${at} needs GetObject, HeadObject in anonymous: a website serves anonymous callers with these operations`,
  ]);
  assert.throws(
    () =>
      resolveConfig(
        minimal({
          cosMap: { site: { ...bucket, anonymous: [], website: {} } },
        }) as unknown as ProxyConfig,
      ),
    (err: unknown) => err instanceof TypeError && err.message.includes(`${at} needs GetObject`),
  );
});
