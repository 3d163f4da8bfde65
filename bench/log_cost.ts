/**
 * What one access-log line costs, by how it is written: osp's way today
 * (`console.log(JSON.stringify(fields))` per request) against a buffer
 * written with one `Deno.stdout.writeSync` per 64 KiB, and the
 * `JSON.stringify` alone. Interleaved rounds; results on stderr, so run it
 * with stdout sent where logs go:
 *
 *   deno run -A bench/log_cost.ts > /dev/null
 *   deno run -A bench/log_cost.ts > /tmp/osp-log.txt
 *   deno run -A bench/log_cost.ts | cat > /dev/null      # a pipe, as under a supervisor
 */
const FIELDS = {
  time: new Date().toISOString(),
  level: "info",
  msg: "request",
  requestId: "ABCDEF0123456789",
  clientIp: "127.0.0.1",
  accessKey: "bench-client",
  method: "GET",
  bucket: "bench",
  operation: "GetObject",
  key: "photos/2024/IMG_0042.jpg",
  status: 200,
  bytesIn: 0,
  bytesOut: 1024,
  ms: 0.4,
  upstreamMs: 0.2,
};
const LINES = 50_000;
const ROUNDS = 5;
const encoder = new TextEncoder();
let buffer = "";

function writeAll(text: string): void {
  const bytes = encoder.encode(text);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

const variants: Record<string, () => void> = {
  "console.log per line (today)": () => console.log(JSON.stringify(FIELDS)),
  "buffered, one write per 64 KiB": () => {
    buffer += JSON.stringify(FIELDS) + "\n";
    if (buffer.length >= 65536) {
      writeAll(buffer);
      buffer = "";
    }
  },
  "JSON.stringify alone": () => void JSON.stringify(FIELDS),
};

const results = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(variants)) {
    const started = performance.now();
    for (let i = 0; i < LINES; i++) run();
    results.set(name, [...(results.get(name) ?? []), (performance.now() - started) * 1000 / LINES]);
  }
}
writeAll(buffer);
for (const [name, us] of results) {
  const median = [...us].sort((a, b) => a - b)[Math.floor(us.length / 2)];
  console.error(
    `${name}: ${us.map((u) => u.toFixed(2)).join(" / ")} µs per line, median ${median.toFixed(2)}`,
  );
}
