/**
 * Config checking without starting anything, for `main.ts --check` and tests.
 *
 * @module
 */
import { resolveConfigProblems } from "./config.ts";

/**
 * Returns every problem in a config (empty when it is valid), each naming its
 * field path, e.g. `cosMap["logs"].port must be an integer 1–65535`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkConfig } from "@osp/osp";
 * const problems = checkConfig({ cosMap: { logs: { host: "rgw", port: 0 } }, httpPort: 8080 });
 * assert.ok(problems.includes('cosMap["logs"].port must be an integer 1–65535'));
 * ```
 */
export function checkConfig(config: unknown): string[] {
  const result = resolveConfigProblems(config);
  return "problems" in result ? result.problems : [];
}
