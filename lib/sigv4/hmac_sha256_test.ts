// HMAC-SHA256 against the RFC 4231 test vectors, and both HMAC and SHA-256
// against node:crypto over every length around the 64-byte block edges.
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { HmacSha256, sha256Hex } from "./hmac_sha256.ts";

function bytes(hex: string): Uint8Array {
  return new Uint8Array(hex.match(/../g)!.map((b) => parseInt(b, 16)));
}
const text = (s: string) => new TextEncoder().encode(s);

Deno.test("HmacSha256 gives the RFC 4231 results", () => {
  const cases: [key: Uint8Array, data: Uint8Array, mac: string][] = [
    [
      new Uint8Array(20).fill(0x0b),
      text("Hi There"),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ],
    [
      text("Jefe"),
      text("what do ya want for nothing?"),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ],
    [
      new Uint8Array(20).fill(0xaa),
      new Uint8Array(50).fill(0xdd),
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ],
    [
      bytes("0102030405060708090a0b0c0d0e0f10111213141516171819"),
      new Uint8Array(50).fill(0xcd),
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ],
    [
      new Uint8Array(131).fill(0xaa),
      text("Test Using Larger Than Block-Size Key - Hash Key First"),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ],
    [
      new Uint8Array(131).fill(0xaa),
      text(
        "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
      ),
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ],
  ];
  for (const [key, data, mac] of cases) {
    const hmac = new HmacSha256(key);
    assert.equal(hmac.hex(data), mac);
    // The same keyed object again, and ASCII data as text.
    if (data.every((b) => b < 0x80)) assert.equal(hmac.hex(new TextDecoder().decode(data)), mac);
    assert.deepEqual(hmac.bytes(data), bytes(mac));
  }
});

Deno.test("sha256Hex matches node:crypto at every length from 0 to 300 bytes and for long text", () => {
  const data = crypto.getRandomValues(new Uint8Array(300));
  for (let n = 0; n <= 300; n++) {
    const part = data.subarray(0, n);
    assert.equal(sha256Hex(part), createHash("sha256").update(part).digest("hex"), `${n} bytes`);
  }
  for (const s of ["", "abc", "é€😀".repeat(200), "x".repeat(5000)]) {
    assert.equal(sha256Hex(s), createHash("sha256").update(s).digest("hex"), `${s.length} units`);
  }
});

Deno.test("HmacSha256 matches node:crypto for keys and messages around the block size", () => {
  const pool = crypto.getRandomValues(new Uint8Array(400));
  for (const keyLength of [0, 1, 32, 63, 64, 65, 200]) {
    const key = pool.subarray(0, keyLength);
    const hmac = new HmacSha256(key);
    for (let n = 0; n <= 260; n++) {
      const msg = pool.subarray(100, 100 + n);
      assert.equal(
        hmac.hex(msg),
        createHmac("sha256", key).update(msg).digest("hex"),
        `key ${keyLength}, message ${n}`,
      );
    }
    const utf8 = "chunk-signature=é€😀\n".repeat(30);
    assert.equal(hmac.hex(utf8), createHmac("sha256", key).update(utf8).digest("hex"));
  }
});

Deno.test("two HmacSha256 keys in turn do not disturb each other", () => {
  const a = new HmacSha256(text("key-a"));
  const b = new HmacSha256(text("key-b"));
  for (let i = 0; i < 3; i++) {
    assert.equal(a.hex("m"), createHmac("sha256", "key-a").update("m").digest("hex"));
    assert.equal(b.hex("m"), createHmac("sha256", "key-b").update("m").digest("hex"));
  }
});
