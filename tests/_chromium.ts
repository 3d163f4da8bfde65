// Debian's Chromium for the tests that drive a real browser (puppeteer-core):
// where it is, whether it is installed, the visible SKIP outside CI, and a
// headless launch.
import assert from "node:assert/strict";
import puppeteer, { type Browser } from "puppeteer-core";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** True when {@linkcode CHROMIUM} is installed. */
export const chromiumInstalled: boolean = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();

/**
 * True when a browser test must be skipped (Chromium missing, not in CI);
 * then prints a visible SKIP line naming `what`. With CI=true it is never
 * skipped, and {@linkcode requireChromium} fails it.
 */
export function skipWithoutChromium(what: string): boolean {
  const skip = !chromiumInstalled && Deno.env.get("CI") !== "true";
  if (skip) {
    console.log(
      `%cSKIP: ${what} — ${CHROMIUM} is not installed ` +
        "(apt-get install -y --no-install-recommends chromium). With CI=true this is a failure.",
      "color: yellow; font-weight: bold",
    );
  }
  return skip;
}

/** Fails the test when Chromium is missing (a browser test that runs in CI). */
export function requireChromium(): void {
  if (!chromiumInstalled) {
    assert.fail(
      `${CHROMIUM} is missing (CI=true): apt-get install -y --no-install-recommends chromium`,
    );
  }
}

/** Chromium, headless. */
export async function launchChromium(): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox"],
  });
}
