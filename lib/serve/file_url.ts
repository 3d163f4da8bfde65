/**
 * Turns a path (relative to the working directory) into a `file:` URL for
 * dynamic import, leaving URLs as they are.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

/** A `file:` URL for a path, or the input when it already is a URL. */
export function toFileUrl(pathOrUrl: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrUrl)) return pathOrUrl;
  return pathToFileURL(resolve(pathOrUrl)).href;
}
