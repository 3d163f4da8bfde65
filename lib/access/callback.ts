/**
 * Runs a user callback (validator, hmacFetcher, bucketCredsFetcher) with a
 * time limit. A throw becomes InternalError, a timeout ServiceUnavailable;
 * both keep the reason as the cause, for the log, never for the client.
 *
 * @module
 */
import { S3Error } from "../request/errors.ts";

/** Calls `fn` and waits at most `timeoutMs` for it (0 = no limit). */
export async function runCallback<T>(
  name: string,
  fn: () => T | Promise<T>,
  options: { timeoutMs: number; observe?: (ms: number) => void },
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const started = performance.now();
  const work = (async () => await fn())().catch((err) => {
    throw new S3Error("InternalError", `The ${name} callback failed`, { cause: err });
  });
  if (options.timeoutMs <= 0) {
    try {
      return await work;
    } finally {
      options.observe?.(performance.now() - started);
    }
  }
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new S3Error(
            "ServiceUnavailable",
            `The ${name} callback did not answer within ${options.timeoutMs} ms; please retry`,
          ),
        ),
      options.timeoutMs,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    options.observe?.(performance.now() - started);
    work.catch(() => {}); // a late failure after the timeout is not unhandled
  }
}
