/**
 * ListBuckets (`GET /`) answered by osp: the `cosMap` buckets the validator
 * allows this token, plus, with a default route, the backend's own list for
 * the caller's backend identity.
 *
 * @module
 */
import { xmlEscape } from "../request/errors.ts";
import { xmlUnescape } from "./delete_objects.ts";

/** A bucket as ListBuckets shows it. */
export interface ListedBucket {
  /** The bucket name. */
  name: string;
  /** ISO 8601 creation date. */
  creationDate: string;
}

/** Renders a ListAllMyBucketsResult document. */
export function listBucketsXml(
  buckets: readonly ListedBucket[],
  options: { owner: string },
): string {
  const owner = xmlEscape(options.owner);
  const items = buckets.map((b) =>
    `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${
      xmlEscape(b.creationDate)
    }</CreationDate></Bucket>`
  ).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${owner}</ID><DisplayName>${owner}</DisplayName></Owner><Buckets>${items}</Buckets></ListAllMyBucketsResult>`;
}

/** Reads the buckets of a backend's ListAllMyBucketsResult. */
export function parseListBuckets(xml: string): ListedBucket[] {
  const out: ListedBucket[] = [];
  for (const m of xml.matchAll(/<Bucket>([\s\S]*?)<\/Bucket>/g)) {
    const name = /<Name>([\s\S]*?)<\/Name>/.exec(m[1])?.[1];
    const date = /<CreationDate>([\s\S]*?)<\/CreationDate>/.exec(m[1])?.[1];
    if (name !== undefined) {
      out.push({ name: xmlUnescape(name), creationDate: xmlUnescape(date ?? "") });
    }
  }
  return out;
}
