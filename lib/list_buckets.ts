/**
 * ListBuckets (`GET /`) answered from `cosMap`: only the buckets the
 * validator allows this token.
 *
 * @module
 */
import { xmlEscape } from "./errors.ts";

/** Renders a ListAllMyBucketsResult document. */
export function listBucketsXml(
  buckets: readonly string[],
  options: { owner: string; creationDate: Date },
): string {
  const date = options.creationDate.toISOString();
  const owner = xmlEscape(options.owner);
  const items = buckets.map((name) =>
    `<Bucket><Name>${xmlEscape(name)}</Name><CreationDate>${date}</CreationDate></Bucket>`
  ).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${owner}</ID><DisplayName>${owner}</DisplayName></Owner><Buckets>${items}</Buckets></ListAllMyBucketsResult>`;
}
