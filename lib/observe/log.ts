/**
 * A small structured logger: one JSON object per line. Secrets never go in:
 * callers pass only access key ids, never secrets, signatures or tokens.
 *
 * @module
 */
import type { LogLevel } from "../config/config.ts";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger writing JSON lines. */
export interface Logger {
  /** Logs at `level` when enabled. */
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
  /**
   * Logs at `level` when enabled, with fields already serialized: `fields`
   * is a run of {@linkcode jsonField}s. For lines written on every request,
   * in a fixed order, without building an object for each.
   */
  logJson(level: LogLevel, message: string, fields: string): void;
  /** True when `level` would be written. */
  enabled(level: LogLevel): boolean;
}

function describe(value: unknown): unknown {
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...(value.cause ? { cause: describe(value.cause) } : {}),
    };
  }
  return value;
}

/** Pipe writes up to this size are atomic (POSIX PIPE_BUF): isolates never split each other's lines. */
const ATOMIC_WRITE = 4096;
/** Buffered lines go out at least this often. */
const FLUSH_MS = 100;

const ENCODER = new TextEncoder();
let buffered: string[] | undefined;
let bufferedBytes = 0;
let windowTimer: ReturnType<typeof setTimeout> | undefined;

/** Log lines dropped because their output could not be written, not yet reported. */
let lostLines = 0;
let lostReportedAt = -Infinity;
/** Dropped lines are reported on stderr at most this often. */
const LOST_REPORT_MS = 60_000;

/**
 * Writes `text` (whole lines) to `fd`. An output that fails (a closed pipe,
 * a full disk) loses those lines, never the request that logged them nor the
 * process: the loss is reported on stderr, at most once a minute.
 */
function writeAll(fd: typeof Deno.stdout, text: string): void {
  const bytes = ENCODER.encode(text);
  try {
    for (let off = 0; off < bytes.length;) off += fd.writeSync(bytes.subarray(off));
  } catch (err) {
    lost(text.split("\n").length - 1, err);
  }
}

/** Writes one line through `console`, which may fail like any output. */
function consoleWrite(line: string, level: LogLevel): void {
  try {
    (ORDER[level] >= ORDER.warn ? console.error : console.log)(line);
  } catch (err) {
    lost(1, err);
  }
}

function lost(lines: number, err: unknown): void {
  lostLines += lines;
  const now = Date.now();
  if (now - lostReportedAt < LOST_REPORT_MS) return;
  lostReportedAt = now;
  const report = {
    time: isoTime(now),
    level: "error",
    msg: "log output failed: lines dropped",
    lines: lostLines,
    error: describe(err),
  };
  lostLines = 0;
  try {
    console.error(JSON.stringify(report));
  } catch {
    // stderr is gone too: nothing left to tell.
  }
}

/** Writes the buffered lines, in writes of whole lines of at most 4 KiB each. */
export function flushLogs(): void {
  if (buffered === undefined || buffered.length === 0) return;
  let chunk = "";
  for (const line of buffered) {
    if (chunk.length > 0 && chunk.length + line.length > ATOMIC_WRITE) {
      writeAll(Deno.stdout, chunk);
      chunk = "";
    }
    chunk += line;
  }
  if (chunk.length > 0) writeAll(Deno.stdout, chunk);
  buffered.length = 0;
  bufferedBytes = 0;
}

/**
 * From now on, this isolate's loggers write info and debug lines to stdout
 * in batches: the first line after a quiet spell goes out at once and opens
 * a 100 ms window whose lines are written together when it closes (or at
 * 64 KiB, before any warn or error line, when the isolate ends, and by
 * {@linkcode flushLogs}). Under load that is one write per few lines instead
 * of a `console.log` per line, about 10× cheaper per request
 * (bench/log_cost.ts); a lone line (`listening`) is not delayed. main.ts
 * turns it on; library users who capture `console.log` keep the default.
 */
export function bufferLogOutput(): void {
  if (buffered !== undefined) return;
  buffered = [];
  globalThis.addEventListener("unload", flushLogs);
}

function closeWindow(): void {
  windowTimer = undefined;
  flushLogs();
}

function bufferedWrite(line: string, level: LogLevel): void {
  if (ORDER[level] >= ORDER.warn) {
    flushLogs();
    consoleWrite(line, level);
    return;
  }
  if (windowTimer === undefined) {
    writeAll(Deno.stdout, line + "\n");
    const timer = setTimeout(closeWindow, FLUSH_MS);
    Deno.unrefTimer(timer);
    windowTimer = timer;
    return;
  }
  buffered!.push(line + "\n");
  bufferedBytes += line.length + 1;
  if (bufferedBytes >= 65536) flushLogs();
}

let isoSecond = NaN;
let isoPrefix = "";

/**
 * `new Date(ms).toISOString()`, its part up to the second made once per
 * second: about 0.4 µs less on every log line.
 */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Years beyond 9999 (or before 0) are not `YYYY-MM-DDTHH:MM:SS.000Z`.
    if (iso.length !== 24) return new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = iso.slice(0, 20);
  }
  const milli = ms - second * 1000;
  return `${isoPrefix}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}

/**
 * `,"name":value` as JSON text, or `""` for an undefined value: one field of
 * {@linkcode Logger.logJson}. Strings are escaped as `JSON.stringify` does;
 * a number that JSON has no text for (NaN, ±Infinity) is `null`, as there.
 *
 * @example The same text JSON.stringify writes
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonField } from "./log.ts";
 * const text = `{"a":1${jsonField("key", 'x"\n\u00e9')}${jsonField("ms", 0.5)}${jsonField("gone", undefined)}}`;
 * assert.equal(text, JSON.stringify({ a: 1, key: 'x"\n\u00e9', ms: 0.5 }));
 * ```
 */
export function jsonField(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return "";
  const text = typeof value === "string"
    ? JSON.stringify(value)
    : typeof value === "number" && !Number.isFinite(value)
    ? "null"
    : String(value);
  return `,"${name}":${text}`;
}

/** Creates a logger writing to stdout (info and below) and stderr (warn and above). */
export function createLogger(
  options: { level: LogLevel; write?: (line: string, level: LogLevel) => void },
): Logger {
  const min = ORDER[options.level];
  const write = options.write ??
    ((line: string, level: LogLevel) =>
      buffered !== undefined ? bufferedWrite(line, level) : consoleWrite(line, level));
  return {
    enabled: (level) => ORDER[level] >= min,
    log(level, message, fields = {}) {
      if (ORDER[level] < min) return;
      const out: Record<string, unknown> = { time: isoTime(Date.now()), level, msg: message };
      for (const k in fields) {
        const v = fields[k];
        if (v !== undefined) out[k] = typeof v === "object" ? describe(v) : v;
      }
      write(JSON.stringify(out), level);
    },
    logJson(level, message, fields) {
      if (ORDER[level] < min) return;
      const head = `{"time":"${isoTime(Date.now())}","level":"${level}","msg":`;
      write(`${head}${JSON.stringify(message)}${fields}}`, level);
    },
  };
}
