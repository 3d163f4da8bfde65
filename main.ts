/**
 * The osp command line: loads a TypeScript config module and serves it.
 *
 *   deno run --allow-net --allow-read --allow-env main.ts --config ./osp.config.ts
 *
 * @module
 */
import { parseArgs } from "node:util";
import { toFileUrl } from "./lib/serve/file_url.ts";
import { checkConfig, type LogLevel, type ProxyConfig } from "./mod.ts";
import { startServer } from "./lib/serve/server.ts";
import { loadConfigModule } from "./lib/config/config_module.ts";
import { inWorkerScope } from "./lib/serve/threads.ts";
import { bufferLogOutput, flushLogs } from "./lib/observe/log.ts";
import { runWorker } from "./lib/serve/worker.ts";
import denoJson from "./deno.json" with { type: "json" };

const HELP = `osp ${denoJson.version}: an S3 reverse proxy

Usage: deno run --allow-net --allow-read --allow-env main.ts --config <file> [options]

The config module default-exports a ProxyConfig, or an (async) function returning one.

Options:
  -c, --config <file>     config module (required)
      --http-port <n>     override httpPort
      --https-port <n>    override httpsPort
      --tls-cert <pem>    override tls.cert (file path or PEM text)
      --tls-key <pem>     override tls.key (file path or PEM text)
      --hostname <addr>   override hostname
      --metrics-port <n>  override metricsPort
      --log-level <lvl>   debug | info | warn | error
      --access-log-sample <share>
                          override accessLogSample: the share (0 to 1) of
                          successful requests logged; errors always are
      --threads <n|auto>  override threads (isolates sharing the ports; > 1 needs
                          deno run --unstable-net; auto: one per core from 4 cores)
      --check             validate the config, print every problem, exit 1 if any
  -h, --help              this text
  -V, --version           the version
`;

function port(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new TypeError(`--${name} must be a port number, not ${value}`);
  return Number(value);
}

/** Loads the config module and applies flag overrides. */
export async function loadConfig(
  args: string[],
  options: { reload?: number } = {},
): Promise<
  { config: ProxyConfig; check: boolean; configModule: string } | { exit: number; text: string }
> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string", short: "c" },
      "http-port": { type: "string" },
      "https-port": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      hostname: { type: "string" },
      "metrics-port": { type: "string" },
      "log-level": { type: "string" },
      "access-log-sample": { type: "string" },
      threads: { type: "string" },
      check: { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "V" },
    },
    strict: true,
  });
  if (values.help) return { exit: 0, text: HELP };
  if (values.version) return { exit: 0, text: `osp ${denoJson.version}` };
  if (values.config === undefined) return { exit: 2, text: `--config is required\n\n${HELP}` };
  const configModule = toFileUrl(values.config);
  let config: ProxyConfig;
  try {
    // On reload a query string makes Deno import the module afresh.
    config = await loadConfigModule(configModule, { reload: options.reload });
  } catch (err) {
    if (!(err instanceof TypeError && /must default-export/.test(err.message))) throw err;
    return {
      exit: 1,
      text: `${values.config} must default-export a config object or a function returning one`,
    };
  }
  const httpPort = port("http-port", values["http-port"]);
  const httpsPort = port("https-port", values["https-port"]);
  const metricsPort = port("metrics-port", values["metrics-port"]);
  if (httpPort !== undefined) config.httpPort = httpPort;
  if (httpsPort !== undefined) config.httpsPort = httpsPort;
  if (metricsPort !== undefined) config.metricsPort = metricsPort;
  if (values.hostname !== undefined) config.hostname = values.hostname;
  if (values["log-level"] !== undefined) config.logLevel = values["log-level"] as LogLevel;
  const sample = values["access-log-sample"];
  if (sample !== undefined) {
    // A number here; its range is the config's to check.
    if (!/^(\d+\.?\d*|\.\d+)$/.test(sample)) {
      throw new TypeError(`--access-log-sample must be a number from 0 to 1, not ${sample}`);
    }
    config.accessLogSample = Number(sample);
  }
  if (values.threads !== undefined) {
    if (values.threads !== "auto" && !/^[1-9]\d*$/.test(values.threads)) {
      throw new TypeError(`--threads must be a positive integer or auto, not ${values.threads}`);
    }
    config.threads = values.threads === "auto" ? "auto" : Number(values.threads);
  }
  if (values["tls-cert"] !== undefined || values["tls-key"] !== undefined) {
    config.tls = {
      cert: values["tls-cert"] ?? config.tls?.cert ?? "",
      key: values["tls-key"] ?? config.tls?.key ?? "",
    };
  }
  return { config, check: values.check ?? false, configModule };
}

async function main(): Promise<number> {
  let loaded;
  try {
    loaded = await loadConfig(Deno.args);
  } catch (err) {
    console.error(`osp: ${(err as Error).message}`);
    return 2;
  }
  if ("exit" in loaded) {
    (loaded.exit === 0 ? console.log : console.error)(loaded.text);
    return loaded.exit;
  }
  const problems = checkConfig(loaded.config);
  if (loaded.check || problems.length > 0) {
    if (problems.length === 0) {
      console.log("config OK");
      return 0;
    }
    console.error(`osp: invalid config:\n  - ${problems.join("\n  - ")}`);
    return 1;
  }
  let server;
  try {
    // Worker isolates (threads > 1) run this very module (or the bundle made
    // of it), which turns into lib/serve/worker.ts there: see the end of the file.
    server = startServer(loaded.config, {
      configModule: loaded.configModule,
      workerEntry: import.meta.url,
    });
  } catch (err) {
    console.error(`osp: ${(err as Error).message}`);
    return 1;
  }
  // Exit once shutdown resolves: in-flight requests finished, or the grace
  // period is over and whatever still runs is cut off with the process.
  const stop = () => {
    server.shutdown().then(() => {
      flushLogs();
      Deno.exit(0);
    });
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  let reloads = 0;
  Deno.addSignalListener("SIGHUP", async () => {
    try {
      const next = await loadConfig(Deno.args, { reload: ++reloads });
      if ("config" in next) server.reload(next.config);
    } catch (err) {
      // server.reload logs an invalid config itself; this covers a module that fails to load.
      console.error(JSON.stringify({
        time: new Date().toISOString(),
        level: "error",
        msg: "reload failed; the old config stays",
        reason: (err as Error).message,
      }));
    }
  });
  try {
    await server.finished;
  } catch (err) {
    // A worker isolate failed (logged, everything shut down).
    console.error(`osp: ${(err as Error).message}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  // Access log lines go out in buffered writes, not one console.log each.
  bufferLogOutput();
  if (inWorkerScope()) runWorker();
  else {
    const code = await main();
    flushLogs();
    Deno.exit(code);
  }
}
