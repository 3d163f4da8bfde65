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

/** Creates a logger writing to stdout (info and below) and stderr (warn and above). */
export function createLogger(
  options: { level: LogLevel; write?: (line: string, level: LogLevel) => void },
): Logger {
  const min = ORDER[options.level];
  const write = options.write ??
    ((line: string, level: LogLevel) =>
      (ORDER[level] >= ORDER.warn ? console.error : console.log)(line));
  return {
    enabled: (level) => ORDER[level] >= min,
    log(level, message, fields = {}) {
      if (ORDER[level] < min) return;
      const out: Record<string, unknown> = { time: new Date().toISOString(), level, msg: message };
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = describe(v);
      write(JSON.stringify(out), level);
    },
  };
}
