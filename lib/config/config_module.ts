/**
 * Loading a config module (`main.ts --config`, and every worker isolate when
 * `threads` > 1), and splitting a config into the plain data that can be
 * posted to another isolate and the callbacks that cannot.
 *
 * @module
 */
import type { ProxyConfig } from "./config.ts";

/**
 * Imports `url` and returns its default export: a config object, or the
 * result of calling it when it is an (async) function. `reload` appends a
 * query string so that Deno imports the module afresh.
 */
export async function loadConfigModule(
  url: string,
  options: { reload?: number } = {},
): Promise<ProxyConfig> {
  const mod = await import(url + (options.reload ? `?reload=${options.reload}` : ""));
  let loaded = mod.default;
  if (typeof loaded === "function") loaded = await loaded();
  if (typeof loaded !== "object" || loaded === null) {
    throw new TypeError(
      `${url} must default-export a config object or a function returning one`,
    );
  }
  return { ...loaded };
}

/** The config without its function-valued fields: what may be posted to a worker. */
export function configData(config: ProxyConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (typeof v !== "function") out[k] = v;
  return out;
}

/** The names of the function-valued fields of a config. */
export function callbackNames(config: ProxyConfig): string[] {
  return Object.entries(config).filter(([, v]) => typeof v === "function").map(([k]) => k)
    .sort();
}

/**
 * A worker's config: every data field exactly as the main isolate has it
 * (CLI overrides and bound ports included), the callbacks from the config
 * module the worker imported. Throws a TypeError when the module's callbacks
 * are not the ones the main isolate runs (a worker without the validator
 * would allow what the main isolate denies).
 */
export function workerConfig(
  data: Record<string, unknown>,
  callbacks: string[],
  fromModule: ProxyConfig,
  moduleUrl: string,
): ProxyConfig {
  const mine = callbackNames(fromModule);
  const missing = callbacks.filter((name) => !mine.includes(name));
  const extra = mine.filter((name) => !callbacks.includes(name));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      ...(missing.length ? [`lacks ${missing.join(", ")}`] : []),
      ...(extra.length ? [`has ${extra.join(", ")} that the main isolate's config does not`] : []),
    ];
    throw new TypeError(
      `threads: the config module ${moduleUrl} ${
        parts.join(" and ")
      }: every isolate must run the same callbacks`,
    );
  }
  const out: Record<string, unknown> = { ...data };
  for (const [name, value] of Object.entries(fromModule)) {
    if (typeof value === "function") out[name] = value;
  }
  return out as unknown as ProxyConfig;
}
