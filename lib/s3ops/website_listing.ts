/**
 * A static website's HTML listing of a prefix, rendered by osp from one
 * ListObjectsV2 page (`delimiter=/`): the parent, the sub-"directories"
 * (CommonPrefixes), then the objects, in the order the backend listed them,
 * every name HTML-escaped and every link an absolute path whose key is
 * percent-encoded segment by segment, and a link to the next page when the
 * backend says the listing is truncated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listingHtml } from "./website_listing.ts";
 * const html = listingHtml(
 *   { prefixes: ["docs/a/"], objects: [{ key: "docs/<b>.txt", size: 3, lastModified: "2025-01-01T00:00:00.000Z" }] },
 *   { prefix: "docs/", title: "site/docs/", href: (key) => `/site/${encodeURIComponent(key)}` },
 * );
 * assert.match(html, /<a href="\/site\/docs%2F%3Cb%3E.txt">&lt;b&gt;.txt<\/a>/);
 * ```
 *
 * @module
 */
import { xmlEscape, xmlUnescape } from "../request/errors.ts";

/** The query parameter that carries a listing page's continuation token. */
export const PAGE_PARAM = "continuation-token";

/** An object in a listing page. */
export interface ListedObject {
  /** The full key. */
  key: string;
  /** Bytes. */
  size: number;
  /** As the backend wrote it (ISO 8601). */
  lastModified: string;
}

/** One ListObjectsV2 page, as a listing shows it. */
export interface ListingPage {
  /** The CommonPrefixes (full, ending in the delimiter). */
  prefixes: string[];
  /** The objects directly under the prefix. */
  objects: ListedObject[];
  /** The token of the next page, when the listing is truncated. */
  nextToken?: string;
}

/** The text of `<tag>…</tag>` in `xml`, unescaped; undefined when absent. */
function element(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  return m === null ? undefined : xmlUnescape(m[1]);
}

/**
 * Reads a ListObjectsV2 result. Keys and prefixes are XML text (their `<`
 * escaped), so a tag can be found by its name; every value is unescaped.
 */
export function parseListingPage(xml: string): ListingPage {
  const prefixes: string[] = [];
  for (const m of xml.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g)) {
    const prefix = element(m[1], "Prefix");
    if (prefix !== undefined) prefixes.push(prefix);
  }
  const objects: ListedObject[] = [];
  for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const key = element(m[1], "Key");
    if (key === undefined) continue;
    const size = Number(element(m[1], "Size") ?? "0");
    objects.push({ key, size, lastModified: element(m[1], "LastModified") ?? "" });
  }
  const outside = xml.replace(/<(Contents|CommonPrefixes)>[\s\S]*?<\/\1>/g, "");
  const truncated = element(outside, "IsTruncated") === "true";
  const nextToken = truncated ? element(outside, "NextContinuationToken") : undefined;
  return { prefixes, objects, nextToken };
}

/** How a listing names and links keys. */
export interface ListingOptions {
  /** The listed prefix: "" (the bucket root) or ending in `/`. */
  prefix: string;
  /** What the page calls the listed place, e.g. `bucket/docs/`. */
  title: string;
  /** The link (an absolute path, already percent-encoded) to a key or prefix. */
  href: (key: string) => string;
}

/** The prefix one level up: `a/b/` → `a/`, `a/` → "". */
export function parentPrefix(prefix: string): string {
  // Searched before the last `/`; a one-character prefix has no parent but the root.
  const cut = prefix.length < 2 ? -1 : prefix.lastIndexOf("/", prefix.length - 2);
  return cut < 0 ? "" : prefix.slice(0, cut + 1);
}

function row(cells: { href: string; name: string; size: string; modified: string }): string {
  return `<tr><td><a href="${xmlEscape(cells.href)}">${xmlEscape(cells.name)}</a></td><td>${
    xmlEscape(cells.size)
  }</td><td>${xmlEscape(cells.modified)}</td></tr>`;
}

/** The HTML page of one listing page. */
export function listingHtml(page: ListingPage, options: ListingOptions): string {
  const { prefix, href } = options;
  const rows: string[] = [];
  if (prefix !== "") {
    rows.push(row({ href: href(parentPrefix(prefix)), name: "../", size: "", modified: "" }));
  }
  for (const p of page.prefixes) {
    rows.push(row({ href: href(p), name: p.slice(prefix.length), size: "-", modified: "" }));
  }
  for (const o of page.objects) {
    // A "directory marker" (an object named like the prefix) is the listed place itself.
    if (o.key === prefix) continue;
    const name = o.key.slice(prefix.length);
    rows.push(row({ href: href(o.key), name, size: String(o.size), modified: o.lastModified }));
  }
  const title = xmlEscape(`Index of ${options.title}`);
  const next = page.nextToken === undefined
    ? ""
    : `<p><a rel="next" href="${
      xmlEscape(`${href(prefix)}?${PAGE_PARAM}=${encodeURIComponent(page.nextToken)}`)
    }">Next page</a></p>\n`;
  return `<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"><title>${title}</title></head>\n<body>\n<h1>${title}</h1>\n<table>\n<thead><tr><th>Name</th><th>Size</th><th>Last modified</th></tr></thead>\n<tbody>\n${
    rows.join("\n")
  }\n</tbody>\n</table>\n${next}</body>\n</html>\n`;
}
