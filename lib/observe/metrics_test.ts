import assert from "node:assert/strict";
import { countingStream, Metrics, NO_CODE, type RequestRecord, UNKNOWN_BUCKET } from "./metrics.ts";

/** One sample of the text exposition format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the sample lines of the Prometheus text format; checks HELP/TYPE lines are well formed. */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      assert.match(line, /^# (HELP|TYPE) osp_[a-z_]+ .+$/);
      continue;
    }
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(m, `bad sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The value of the one sample with exactly this name and label set, or undefined. */
function value(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const found = samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  assert.ok(found.length <= 1, `duplicate series ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** Every sample of a metric name. */
function series(samples: Sample[], name: string): Sample[] {
  return samples.filter((s) => s.name === name);
}

const GET_OK: RequestRecord = {
  operation: "GetObject",
  bucket: "photos",
  status: 200,
  durationMs: 120,
  upstreamMs: 30,
  bytesIn: 0,
  bytesOut: 5000,
};

Deno.test("metrics: counters carry the right labels and counts", async () => {
  const m = new Metrics({ version: "1.2.3" });
  m.requestStarted();
  m.requestFinished(GET_OK);
  m.requestStarted();
  m.requestFinished({ ...GET_OK, bytesOut: 1000, presigned: "hit" });
  m.requestStarted();
  m.requestFinished({
    operation: "PutObject",
    bucket: "photos",
    status: 200,
    durationMs: 40,
    upstreamMs: 35,
    bytesIn: 700,
    bytesOut: 0,
  });
  m.requestStarted();
  m.requestFinished({
    operation: "GetObject",
    bucket: UNKNOWN_BUCKET,
    status: 403,
    code: "AccessDenied",
    durationMs: 2,
    bytesIn: 0,
    bytesOut: 250,
    presigned: "rejected",
  });
  m.requestStarted();
  m.requestFinished({ ...GET_OK, status: 502, code: undefined, bytesOut: 0 });

  const s = parse(await m.render());
  const req = "osp_requests_total";
  assert.equal(value(s, req, { operation: "GetObject", bucket: "photos", status: "200" }), 2);
  assert.equal(value(s, req, { operation: "PutObject", bucket: "photos", status: "200" }), 1);
  assert.equal(value(s, req, { operation: "GetObject", bucket: "_unknown", status: "403" }), 1);
  assert.equal(value(s, req, { operation: "GetObject", bucket: "photos", status: "502" }), 1);
  assert.equal(series(s, req).length, 4);
  assert.equal(series(s, req).reduce((n, x) => n + x.value, 0), 5, "one increment per request");

  const err = "osp_request_errors_total";
  assert.equal(
    value(s, err, { operation: "GetObject", bucket: "_unknown", code: "AccessDenied" }),
    1,
  );
  assert.equal(value(s, err, { operation: "GetObject", bucket: "photos", code: NO_CODE }), 1);
  assert.equal(series(s, err).length, 2, "successes are not errors");

  const xfer = "osp_transfer_bytes_total";
  assert.equal(value(s, xfer, { direction: "tx", bucket: "photos" }), 6000);
  assert.equal(value(s, xfer, { direction: "rx", bucket: "photos" }), 700);
  assert.equal(value(s, xfer, { direction: "tx", bucket: "_unknown" }), 250);
  assert.equal(value(s, xfer, { direction: "rx", bucket: "_unknown" }), 0);

  assert.equal(value(s, "osp_presigned_url_hits_total", { bucket: "photos" }), 1);
  assert.equal(series(s, "osp_presigned_url_hits_total").length, 1);
  assert.equal(value(s, "osp_presigned_url_rejected_total", { bucket: "_unknown" }), 1);
  assert.equal(series(s, "osp_presigned_url_rejected_total").length, 1);
  assert.equal(value(s, "osp_active_requests"), 0);
});

Deno.test("metrics: authenticated requests count by signature version, others not", async () => {
  const m = new Metrics({ version: "1.2.3" });
  m.requestFinished({ ...GET_OK, sigVersion: "4" });
  m.requestFinished({ ...GET_OK, sigVersion: "2" });
  m.requestFinished({ ...GET_OK, sigVersion: "2", presigned: "hit" });
  m.requestFinished({ ...GET_OK, status: 403, code: "SignatureDoesNotMatch" });
  const s = parse(await m.render());
  assert.equal(value(s, "osp_signature_requests_total", { version: "2" }), 2);
  assert.equal(value(s, "osp_signature_requests_total", { version: "4" }), 1);
  assert.equal(series(s, "osp_signature_requests_total").length, 2);
});

Deno.test("metrics: histograms count every observation", async () => {
  const m = new Metrics({ version: "1.2.3" });
  m.requestFinished(GET_OK);
  m.requestFinished({ ...GET_OK, durationMs: 3000, upstreamMs: 2, bytesOut: 10 });
  m.requestFinished({ ...GET_OK, upstreamMs: undefined, durationMs: 1, bytesOut: 0 });
  m.callbackTimed("validator", 4);
  m.callbackTimed("validator", 40);
  m.callbackTimed("iam", 300);
  const s = parse(await m.render());
  const photos = { operation: "GetObject", bucket: "photos" };

  const dur = "osp_request_duration_seconds";
  assert.equal(value(s, `${dur}_count`, photos), 3);
  assert.ok(Math.abs(value(s, `${dur}_sum`, photos)! - 3.121) < 1e-9);
  assert.equal(value(s, `${dur}_bucket`, { ...photos, le: "+Inf" }), 3);
  assert.equal(value(s, `${dur}_bucket`, { ...photos, le: "0.001" }), 1);
  assert.equal(value(s, `${dur}_bucket`, { ...photos, le: "0.25" }), 2);

  const up = "osp_upstream_duration_seconds";
  assert.equal(value(s, `${up}_count`, photos), 2, "only requests that reached the backend");
  assert.ok(Math.abs(value(s, `${up}_sum`, photos)! - 0.032) < 1e-9);

  const size = "osp_response_size_bytes";
  assert.equal(value(s, `${size}_count`, photos), 3);
  assert.equal(value(s, `${size}_sum`, photos), 5010);
  assert.equal(value(s, `${size}_bucket`, { ...photos, le: "0" }), 1);
  assert.equal(value(s, `${size}_bucket`, { ...photos, le: "256" }), 2);

  const cb = "osp_callback_duration_seconds";
  assert.equal(value(s, `${cb}_count`, { callback: "validator" }), 2);
  assert.equal(value(s, `${cb}_count`, { callback: "iam" }), 1);
  assert.ok(Math.abs(value(s, `${cb}_sum`, { callback: "iam" })! - 0.3) < 1e-9);

  // Buckets are cumulative and end at _count, for every histogram series.
  for (const name of [dur, up, size, cb]) {
    for (const c of series(s, `${name}_count`)) {
      const buckets = series(s, `${name}_bucket`).filter((b) => {
        const { le: _, ...rest } = b.labels;
        return sameLabels(rest, c.labels);
      });
      assert.ok(buckets.length > 1);
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(buckets[i].value >= buckets[i - 1].value, `${name} buckets are cumulative`);
      }
      assert.equal(buckets.at(-1)!.labels.le, "+Inf");
      assert.equal(buckets.at(-1)!.value, c.value);
    }
  }
});

Deno.test("metrics: every metric in the table is exported once with the osp_ prefix", async () => {
  const m = new Metrics({ version: "1.2.3" });
  m.requestStarted();
  m.requestFinished({ ...GET_OK, presigned: "hit", status: 404, code: "NoSuchKey" });
  m.requestFinished({ ...GET_OK, presigned: "rejected" });
  m.cacheLookup("creds", "hit");
  m.callbackTimed("hmacFetcher", 1);
  const text = await m.render();
  const types = new Map(
    [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => [x[1], x[2]] as const),
  );
  assert.deepEqual(
    Object.fromEntries([...types].sort(([a], [b]) => a.localeCompare(b))),
    {
      osp_active_requests: "gauge",
      osp_anonymous_requests_total: "counter",
      osp_auth_cache_hits_total: "counter",
      osp_build_info: "gauge",
      osp_callback_duration_seconds: "histogram",
      osp_isolate_requests_total: "counter",
      osp_memory_bytes: "gauge",
      osp_presigned_url_hits_total: "counter",
      osp_presigned_url_rejected_total: "counter",
      osp_request_duration_seconds: "histogram",
      osp_request_errors_total: "counter",
      osp_requests_total: "counter",
      osp_response_size_bytes: "histogram",
      osp_signature_requests_total: "counter",
      osp_transfer_bytes_total: "counter",
      osp_upstream_duration_seconds: "histogram",
    },
  );
  assert.doesNotMatch(text, /osp_osp_/);
});

Deno.test("metrics: the active gauge follows start/finish and never goes negative", async () => {
  const m = new Metrics({ version: "1.2.3" });
  const active = async () => value(parse(await m.render()), "osp_active_requests");
  assert.equal(await active(), 0);
  m.requestStarted();
  m.requestStarted();
  m.requestStarted();
  assert.equal(await active(), 3);
  assert.equal(m.activeRequests, 3);
  m.requestFinished(GET_OK);
  assert.equal(await active(), 2);
  m.requestFinished(GET_OK);
  m.requestFinished(GET_OK);
  m.requestFinished(GET_OK); // one too many
  m.requestFinished(GET_OK);
  assert.equal(await active(), 0);
  assert.equal(m.activeRequests, 0);
  m.requestStarted();
  assert.equal(await active(), 1, "extra finishes are not owed back");
  // Every finish still counts as a request.
  assert.equal(
    value(parse(await m.render()), "osp_requests_total", {
      operation: "GetObject",
      bucket: "photos",
      status: "200",
    }),
    5,
  );
});

Deno.test("metrics: build_info, memory and auth cache series", async () => {
  const m = new Metrics({ version: "9.8.7" });
  m.cacheLookup("validator", "hit");
  m.cacheLookup("validator", "hit");
  m.cacheLookup("validator", "miss");
  m.cacheLookup("secret", "miss");
  const s = parse(await m.render());
  assert.equal(value(s, "osp_build_info", { version: "9.8.7", deno: Deno.version.deno }), 1);
  assert.equal(series(s, "osp_build_info").length, 1);
  const rss = value(s, "osp_memory_bytes");
  assert.ok(rss !== undefined && rss > 0, `rss ${rss}`);
  const cache = "osp_auth_cache_hits_total";
  assert.equal(value(s, cache, { cache: "validator", result: "hit" }), 2);
  assert.equal(value(s, cache, { cache: "validator", result: "miss" }), 1);
  assert.equal(value(s, cache, { cache: "secret", result: "miss" }), 1);
  assert.equal(
    value(s, cache, { cache: "creds", result: "hit" }),
    0,
    "series exist from the start",
  );
  assert.equal(series(s, cache).length, 6);
});

Deno.test("metrics: two instances do not share series", async () => {
  const a = new Metrics({ version: "a" });
  const b = new Metrics({ version: "b" });
  a.requestFinished(GET_OK);
  a.requestFinished(GET_OK);
  b.requestFinished({ ...GET_OK, operation: "HeadObject" });
  b.cacheLookup("creds", "miss");
  const sa = parse(await a.render());
  const sb = parse(await b.render());
  const labels = { operation: "GetObject", bucket: "photos", status: "200" };
  assert.equal(value(sa, "osp_requests_total", labels), 2);
  assert.equal(value(sb, "osp_requests_total", labels), undefined);
  assert.equal(
    value(sb, "osp_requests_total", { ...labels, operation: "HeadObject" }),
    1,
  );
  assert.equal(series(sb, "osp_requests_total").length, 1);
  assert.equal(value(sa, "osp_auth_cache_hits_total", { cache: "creds", result: "miss" }), 0);
  assert.equal(value(sb, "osp_auth_cache_hits_total", { cache: "creds", result: "miss" }), 1);
  assert.equal(value(sa, "osp_build_info", { version: "a", deno: Deno.version.deno }), 1);
  assert.equal(value(sb, "osp_build_info", { version: "b", deno: Deno.version.deno }), 1);
  assert.equal(a.contentType, "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("metrics: bad numbers count as zero instead of throwing", async () => {
  const m = new Metrics({ version: "1" });
  m.requestFinished({
    ...GET_OK,
    durationMs: NaN,
    upstreamMs: -5,
    bytesIn: -1,
    bytesOut: Infinity,
  });
  m.callbackTimed("iam", NaN);
  const s = parse(await m.render());
  const photos = { operation: "GetObject", bucket: "photos" };
  assert.equal(value(s, "osp_request_duration_seconds_count", photos), 1);
  assert.equal(value(s, "osp_request_duration_seconds_sum", photos), 0);
  assert.equal(value(s, "osp_upstream_duration_seconds_sum", photos), 0);
  assert.equal(value(s, "osp_transfer_bytes_total", { direction: "rx", bucket: "photos" }), 0);
  assert.equal(value(s, "osp_transfer_bytes_total", { direction: "tx", bucket: "photos" }), 0);
  assert.equal(value(s, "osp_callback_duration_seconds_count", { callback: "iam" }), 1);
});

Deno.test("metrics: timeCallback records resolved and rejected calls", async () => {
  const m = new Metrics({ version: "1" });
  assert.equal(await m.timeCallback("bucketCredsFetcher", () => 42), 42);
  await assert.rejects(
    m.timeCallback("bucketCredsFetcher", () => Promise.reject(new Error("down"))),
    /down/,
  );
  const s = parse(await m.render());
  assert.equal(
    value(s, "osp_callback_duration_seconds_count", { callback: "bucketCredsFetcher" }),
    2,
  );
});

function chunks(...sizes: number[]): Uint8Array[] {
  return sizes.map((n) => new Uint8Array(n));
}

Deno.test("countingStream: counts every byte and reports once at the end, not failed", async () => {
  const calls: [number, boolean][] = [];
  const out = ReadableStream.from(chunks(3, 0, 1000, 17)).pipeThrough(
    countingStream((n, { failed }) => calls.push([n, failed])),
  );
  const body = new Uint8Array(await new Response(out).arrayBuffer());
  assert.equal(body.byteLength, 1020);
  assert.deepEqual(calls, [[1020, false]]);
});

Deno.test("countingStream: passes chunks through without copying or buffering", async () => {
  const sent = chunks(5, 6);
  let pulls = 0;
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulls < sent.length) c.enqueue(sent[pulls++]);
      else c.close();
    },
  }, { highWaterMark: 0 });
  const reader = source.pipeThrough(countingStream(() => {})).getReader();
  const first = await reader.read();
  assert.equal(first.value, sent[0], "the same chunk object");
  assert.ok(pulls <= 2, `pulled ${pulls} ahead of the reader`);
  await reader.cancel();
});

Deno.test("countingStream: reports the bytes so far once, failed, when the reader cancels", async () => {
  const calls: number[] = [];
  const failures: boolean[] = [];
  let cancelled: unknown;
  const source = new ReadableStream<Uint8Array>({
    pull(c) {
      c.enqueue(new Uint8Array(10));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const reader = source.pipeThrough(countingStream((n, { failed }) => {
    calls.push(n);
    failures.push(failed);
  })).getReader();
  await reader.read();
  await reader.read();
  await reader.cancel("client went away");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls.length, 1);
  assert.deepEqual(failures, [true]);
  assert.ok(calls[0] >= 20 && calls[0] % 10 === 0, `counted ${calls[0]}`);
  assert.equal(cancelled, "client went away", "the cancel reaches the source");
});

Deno.test("countingStream: reports once, failed, when the source errors", async () => {
  const calls: number[] = [];
  const failures: boolean[] = [];
  const source = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(8));
      c.enqueue(new Uint8Array(4));
    },
    pull(c) {
      c.error(new Error("backend reset"));
    },
  });
  const reader = source.pipeThrough(countingStream((n, { failed }) => {
    calls.push(n);
    failures.push(failed);
  })).getReader();
  await assert.rejects(async () => {
    for (;;) if ((await reader.read()).done) break;
  }, /backend reset/);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls.length, 1);
  assert.deepEqual(failures, [true]);
  assert.ok(calls[0] <= 12, `counted ${calls[0]}`);
});

Deno.test("countingStream: an empty stream reports 0", async () => {
  const calls: number[] = [];
  const out = ReadableStream.from<Uint8Array>([]).pipeThrough(countingStream((n) => calls.push(n)));
  assert.equal((await new Response(out).arrayBuffer()).byteLength, 0);
  assert.deepEqual(calls, [0]);
});
