import assert from "node:assert/strict";
import { S3Error } from "../request/errors.ts";
import { parseRawQuery } from "../sigv4/sigv4.ts";
import { parseTagging, setsObjectTags, taggingHeaderValue } from "./tagging.ts";

const doc = (tags: string) => `<Tagging><TagSet>${tags}</TagSet></Tagging>`;
const tag = (k: string, v: string) => `<Tag><Key>${k}</Key><Value>${v}</Value></Tag>`;
const code = (expected: string) => (e: unknown) => e instanceof S3Error && e.code === expected;

Deno.test("tagging: a Tagging document gives its tags in order, references decoded", () => {
  const xml =
    `<?xml version="1.0" encoding="UTF-8"?>\r\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <TagSet>
    <Tag><Value>x &amp; y</Value><Key>b</Key></Tag>
    ${tag("a", "")}
    <Tag><Key>é/=+</Key><Value/></Tag>
  </TagSet>
</Tagging>`;
  assert.deepEqual(parseTagging(xml), [["b", "x & y"], ["a", ""], ["é/=+", ""]]);
  assert.deepEqual(parseTagging(doc("")), []);
});

Deno.test("tagging: anything but the strict grammar is MalformedXML", () => {
  for (
    const xml of [
      "",
      "not xml",
      "<Tagging/>",
      "<Tagging></Tagging>",
      "<Tagging><TagSet>",
      doc("<Tag><Key>a</Key></Tag>"), // no value
      doc("<Tag><Value>a</Value></Tag>"), // no key
      doc("<Tag><Key>a</Key><Key>b</Key><Value>v</Value></Tag>"),
      doc("<Tag><Key>a</Key><Value>v</Value><Other/></Tag>"),
      doc("<Tag><Key><![CDATA[a]]></Key><Value>v</Value></Tag>"),
      doc("<!-- c -->" + tag("a", "v")),
      doc(tag("a", "v") + "<Other/>"),
      doc("<Tag><Key><b>a</b></Key><Value>v</Value></Tag>"),
      doc(tag("a", "v")) + "<Tagging/>",
      doc(tag("a", "v\u0001")),
      `<Tagging><TagSet>${tag("a", "v")}</TagSet><TagSet></TagSet></Tagging>`,
      `<!DOCTYPE x [<!ENTITY e "a">]>${doc(tag("&e;", "v"))}`,
      doc(tag("a", "&#0;")),
    ]
  ) {
    assert.throws(() => parseTagging(xml), code("MalformedXML"), xml);
  }
});

Deno.test("tagging: S3's limits are InvalidTag", () => {
  const many = Array.from({ length: 11 }, (_, i) => tag(`k${i}`, "v")).join("");
  assert.equal(parseTagging(doc(many.slice(tag("k0", "v").length))).length, 10);
  for (
    const xml of [
      doc(many),
      doc(tag("a", "1") + tag("a", "2")),
      doc(tag("", "v")),
      doc(tag("k".repeat(129), "v")),
      doc(tag("k", "v".repeat(257))),
    ]
  ) {
    assert.throws(() => parseTagging(xml), code("InvalidTag"), xml.slice(0, 80));
  }
  // Lengths count characters, not bytes.
  assert.equal(parseTagging(doc(tag("é".repeat(128), "é".repeat(256))))[0][0].length, 128);
});

Deno.test("tagging: the x-amz-tagging value is URL-encoded k=v pairs", () => {
  assert.equal(
    taggingHeaderValue([["a b", "x&y=z"], ["é", ""], ["k", "+/"]]),
    "a%20b=x%26y%3Dz&%C3%A9=&k=%2B%2F",
  );
  assert.equal(taggingHeaderValue([]), "");
});

Deno.test("tagging: a request sets tags with the header or the header hoisted into the query", () => {
  const req = (headers: HeadersInit, query = "") => ({
    headers: new Headers(headers),
    target: { params: parseRawQuery(query) },
  });
  assert.equal(setsObjectTags(req({ "x-amz-tagging": "a=b" })), true);
  assert.equal(setsObjectTags(req({}, "X-Amz-Tagging=a%3Db")), true);
  assert.equal(setsObjectTags(req({ "x-amz-meta-tagging": "a" }, "tagging")), false);
});
