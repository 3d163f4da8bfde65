import assert from "node:assert/strict";
import { S3Error, xmlUnescape } from "../request/errors.ts";
import {
  deleteRequestXml,
  deniedResultXml,
  mergeDeleteResult,
  parseDeleteRequest,
} from "./delete_objects.ts";

const BODY = `<?xml version="1.0" encoding="UTF-8"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Object><Key>a &amp; b</Key></Object>
  <Object><Key>v</Key><VersionId>3</VersionId></Object>
  <Quiet>true</Quiet>
</Delete>`;

Deno.test("delete_objects: parses keys, versions, entities and Quiet", () => {
  const r = parseDeleteRequest(BODY);
  assert.equal(r.quiet, true);
  assert.deepEqual(r.objects.map((o) => [o.key, o.versionId]), [["a & b", undefined], ["v", "3"]]);
  assert.equal(xmlUnescape("&#x41;&#66;&lt;&apos;"), "AB<'");
});

Deno.test("delete_objects: rebuilds the request with kept objects only", () => {
  const r = parseDeleteRequest(BODY);
  const xml = deleteRequestXml({ ...r, objects: [r.objects[1]] });
  const again = parseDeleteRequest(xml);
  assert.deepEqual(again.objects.map((o) => o.key), ["v"]);
  assert.equal(again.quiet, true);
});

Deno.test("delete_objects: malformed or oversized bodies are MalformedXML", () => {
  for (
    const bad of [
      "",
      "<Delete>",
      "<Other></Other>",
      "<Delete><Object></Object></Delete>",
      "<Delete></Delete>",
      "<Delete><Object><Key>a</Key></Object>junk</Delete>",
    ]
  ) {
    assert.throws(
      () => parseDeleteRequest(bad),
      (e) => e instanceof S3Error && e.code === "MalformedXML",
      bad,
    );
  }
  const many = `<Delete>${"<Object><Key>k</Key></Object>".repeat(1001)}</Delete>`;
  assert.throws(
    () => parseDeleteRequest(many),
    (e) => e instanceof S3Error && e.code === "MalformedXML",
  );
});

Deno.test("delete_objects: denied entries merge into the backend's result", () => {
  const denied = parseDeleteRequest(BODY).objects.slice(0, 1);
  const merged = mergeDeleteResult(
    "<DeleteResult><Deleted><Key>v</Key></Deleted></DeleteResult>",
    denied,
  );
  assert.equal(
    merged,
    "<DeleteResult><Deleted><Key>v</Key></Deleted><Error><Key>a &amp; b</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>",
  );
  assert.match(
    mergeDeleteResult('<DeleteResult xmlns="x"/>', denied),
    /<DeleteResult xmlns="x"><Error>/,
  );
  assert.match(deniedResultXml(denied), /<DeleteResult[^>]*><Error><Key>a &amp; b<\/Key>/);
});

Deno.test("delete_objects: markup that could hide a key is MalformedXML", () => {
  const bypasses = [
    "<Delete><Object><Key><![CDATA[secret]]></Key></Object></Delete>",
    "<Delete><Object><Key>sec<!-- -->ret</Key></Object></Delete>",
    "<Delete><Object><Key>public</Key><Key>secret</Key></Object></Delete>",
    "<Delete><Object><Key>public</Key><Key >secret</Key ></Object></Delete>",
    '<Delete><Object><s3:Key xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">secret</s3:Key></Object></Delete>',
    "<Delete><Object><VersionId><Key>public</Key></VersionId><Key>secret</Key></Object></Delete>",
    '<!DOCTYPE d [<!ENTITY s "secret">]><Delete><Object><Key>&s;</Key></Object></Delete>',
  ];
  for (const xml of bypasses) {
    assert.throws(
      () => parseDeleteRequest(xml),
      (e) => e instanceof S3Error && e.code === "MalformedXML",
      xml,
    );
  }
});

Deno.test("delete_objects: the forwarded document is rebuilt from parsed values", () => {
  const xml = deleteRequestXml(
    parseDeleteRequest(
      "<Delete><Object><Key>a&lt;b &amp; c</Key><VersionId>v1</VersionId></Object></Delete>",
    ),
  );
  assert.equal(
    xml,
    '<?xml version="1.0" encoding="UTF-8"?>\n<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&lt;b &amp; c</Key><VersionId>v1</VersionId></Object></Delete>',
  );
});

Deno.test("delete_objects: CR, LF and TAB in keys survive the rebuild as character references", () => {
  const keys = ["a\rb", "a\nb", "a\tb", "a\r\nb", " lead", "trail "];
  const xml = deleteRequestXml({ objects: keys.map((key) => ({ key })), quiet: false });
  // No raw CR, LF or TAB: an XML parser would turn a raw CR into LF.
  assert.doesNotMatch(xml.slice(xml.indexOf("<Delete")), /[\r\n\t]/);
  assert.match(xml, /<Key>a&#13;b<\/Key>/);
  assert.deepEqual(parseDeleteRequest(xml).objects.map((o) => o.key), keys);
});

Deno.test("delete_objects: a raw CR or CRLF in the client's document is read as LF, as XML parsers do", () => {
  const r = parseDeleteRequest(
    "<Delete><Object><Key>a\rb</Key></Object><Object><Key>c\r\nd</Key></Object></Delete>",
  );
  assert.deepEqual(r.objects.map((o) => o.key), ["a\nb", "c\nd"]);
  // A character reference is not normalised: it is the character.
  assert.deepEqual(
    parseDeleteRequest("<Delete><Object><Key>a&#13;b</Key></Object></Delete>").objects[0].key,
    "a\rb",
  );
});

Deno.test("delete_objects: characters XML does not allow are MalformedXML, raw or referenced", () => {
  for (const key of ["a&#1;b", "a&#x0;b", "a&#xFFFE;b", "a\x01b", "a\x0bb"]) {
    assert.throws(
      () => parseDeleteRequest(`<Delete><Object><Key>${key}</Key></Object></Delete>`),
      (err: unknown) => err instanceof S3Error && err.code === "MalformedXML",
      JSON.stringify(key),
    );
  }
});
