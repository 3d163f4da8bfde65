// wrk as a load generator for the bench scripts: one thread, a Lua script
// that sends the given headers, checks every answer (status 200 and the body
// byte for byte against the no-op backend's pattern) and prints a JSON
// summary with wrk's latency percentiles.

/** What one wrk run measured. */
export interface WrkResult {
  requests: number;
  /** Bad statuses, bad bodies, socket errors and unchecked answers. */
  errors: number;
  firstError?: string;
  seconds: number;
  /** Latency percentiles, ms. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
}

/** wrk's Lua: the signed headers, a byte-for-byte body check, a JSON summary line. */
export function wrkScript(size: number, headers: Record<string, string>): string {
  const set = Object.entries(headers)
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join("\n");
  return `${set}
local size = ${size}
local parts = {}
for i = 0, 255 do parts[#parts + 1] = string.char((i * 31 + 7) % 256) end
local period = table.concat(parts)
local expected = string.rep(period, math.floor(size / 256)) .. period:sub(1, size % 256)
checked, bad_body, bad_status, first = 0, 0, 0, ""
function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 then
    bad_status = bad_status + 1
    if first == "" then first = "status " .. status .. ": " .. string.sub(body or "", 1, 200) end
  elseif body ~= expected then
    bad_body = bad_body + 1
    if first == "" then
      first = "body of " .. #(body or "") .. " bytes differs from the expected " .. size
    end
  end
end
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local c, b, s, f = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + t:get("checked"); b = b + t:get("bad_body"); s = s + t:get("bad_status")
    if f == "" then f = t:get("first") end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"us":%d,"p50":%.0f,"p90":%.0f,"p99":%.0f,"p999":%.0f,"checked":%d,"badBody":%d,"badStatus":%d,"socket":%d,"first":"%s"}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), c, b, s,
    e.connect + e.read + e.write + e.timeout, (f:gsub('[^%w %.:,;=()/-]', '?'))))
end
`;
}

/**
 * Runs wrk (`-t1`) against `url` for `seconds` at `concurrency`, expecting
 * `size`-byte bodies; the script is written into `dir`.
 */
export async function runWrk(
  url: string,
  options: {
    size: number;
    concurrency: number;
    seconds: number;
    headers?: Record<string, string>;
    dir: string;
  },
): Promise<WrkResult> {
  const script = `${options.dir}/wrk-${crypto.randomUUID()}.lua`;
  await Deno.writeTextFile(script, wrkScript(options.size, options.headers ?? {}));
  const o = await new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${options.concurrency}`,
      `-d${options.seconds}s`,
      "--timeout",
      "30s",
      "-s",
      script,
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(script);
  const text = new TextDecoder().decode(o.stdout);
  const line = text.split("\n").reverse().find((l) => l.startsWith("{"));
  if (!o.success || !line) {
    throw new Error(`wrk failed: ${text}${new TextDecoder().decode(o.stderr)}`);
  }
  const r = JSON.parse(line);
  const errors = r.badBody + r.badStatus + r.socket + (r.requests - r.checked);
  return {
    requests: r.requests,
    errors,
    firstError: r.first ||
      (errors ? `${r.socket} socket errors, ${r.requests - r.checked} unchecked` : undefined),
    seconds: r.us / 1e6,
    p50: r.p50 / 1000,
    p90: r.p90 / 1000,
    p99: r.p99 / 1000,
    p999: r.p999 / 1000,
  };
}
