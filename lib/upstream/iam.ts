/**
 * IBM Cloud IAM: exchanges an IBM COS API key for a bearer token, caches it
 * until 5 minutes before it expires, and shares one exchange between
 * concurrent requests. Failures are ServiceUnavailable; the API key never
 * appears in an error or a log line.
 *
 * @module
 */
import { S3Error } from "../request/errors.ts";
import type { Logger } from "../observe/log.ts";
import { DEFAULT_IAM_ENDPOINT } from "../config/config.ts";

export { DEFAULT_IAM_ENDPOINT };

/** Tokens are refreshed this long before they expire. */
const REFRESH_MARGIN_MS = 5 * 60_000;

interface CachedToken {
  token: string;
  refreshAt: number;
}

/** Options for {@linkcode IamTokens}. */
export interface IamTokensOptions {
  /** The token endpoint (a local server in tests). */
  endpoint: string;
  /** The fetch to use. */
  fetch?: typeof fetch;
  /** Time source in epoch ms. */
  clock?: () => number;
  /** Where failures are logged (without the key). */
  logger?: Logger;
  /** Abort an exchange after this long; default 10 s. */
  timeoutMs?: number;
}

/** A cache of IAM bearer tokens by API key. */
export class IamTokens {
  #tokens = new Map<string, CachedToken>();
  #inflight = new Map<string, Promise<string>>();
  #options: IamTokensOptions;
  #clock: () => number;
  /** Number of exchanges made (for metrics and tests). */
  exchanges = 0;

  /** Creates an empty cache. */
  constructor(options: IamTokensOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** A valid bearer token for `apiKey`, exchanging it when needed. */
  async tokenFor(apiKey: string): Promise<string> {
    const cached = this.#tokens.get(apiKey);
    if (cached !== undefined && this.#clock() < cached.refreshAt) return cached.token;
    let pending = this.#inflight.get(apiKey);
    if (pending === undefined) {
      pending = this.#exchange(apiKey).finally(() => this.#inflight.delete(apiKey));
      this.#inflight.set(apiKey, pending);
    }
    return await pending;
  }

  /** Forgets the token of `apiKey` if it is still `token` (a backend refused it). */
  evict(apiKey: string, token: string): void {
    if (this.#tokens.get(apiKey)?.token === token) this.#tokens.delete(apiKey);
  }

  async #exchange(apiKey: string): Promise<string> {
    this.exchanges++;
    const fail = (reason: string, cause?: unknown) => {
      this.#options.logger?.log("error", "IAM token exchange failed", {
        endpoint: this.#options.endpoint,
        reason,
      });
      return new S3Error(
        "ServiceUnavailable",
        "The backend credentials could not be obtained from IBM IAM; please retry",
        { cause },
      );
    };
    let response: Response;
    try {
      response = await (this.#options.fetch ?? fetch)(this.#options.endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: new URLSearchParams({
          grant_type: "urn:ibm:params:oauth:grant-type:apikey",
          apikey: apiKey,
        }),
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw fail(`unreachable: ${(err as Error).message}`, err);
    }
    const text = await response.text().catch(() => "");
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch { /* reported below */ }
    if (!response.ok) {
      // IAM's error answers carry errorCode/errorMessage; never echo the request.
      const code = typeof json.errorCode === "string" ? json.errorCode : "";
      const message = typeof json.errorMessage === "string" ? json.errorMessage : "";
      throw fail(`HTTP ${response.status} ${code} ${message}`.trim());
    }
    const token = json.access_token;
    const expiration = json.expiration;
    const expiresIn = json.expires_in;
    if (typeof token !== "string" || token === "") throw fail("no access_token in the answer");
    const now = this.#clock();
    const expiresAt = typeof expiration === "number"
      ? expiration * 1000
      : typeof expiresIn === "number"
      ? now + expiresIn * 1000
      : now;
    // Refresh 5 minutes early; a token shorter than that is used for half its life.
    const margin = Math.min(REFRESH_MARGIN_MS, Math.max(0, (expiresAt - now) / 2));
    this.#tokens.set(apiKey, { token, refreshAt: expiresAt - margin });
    return token;
  }
}
