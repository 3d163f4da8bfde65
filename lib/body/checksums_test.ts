// Check values: the CRC catalogue's "123456789" checks; base64 forms for ""
// and "hello world" computed independently (Python zlib/hashlib and a
// bitwise CRC), not with this module.
import assert from "node:assert/strict";
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumBase64,
  checksumHeaderName,
  createChecksum,
  parseChecksumHeaderName,
} from "./checksums.ts";

const enc = new TextEncoder();

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("checksums: CRC catalogue check values of 123456789", () => {
  const data = enc.encode("123456789");
  const digest = (alg: ChecksumAlgorithm) => {
    const c = createChecksum(alg);
    c.update(data);
    return hex(c.digest());
  };
  assert.equal(digest("crc32"), "cbf43926");
  assert.equal(digest("crc32c"), "e3069283");
  assert.equal(digest("crc64nvme"), "ae8b14860a799888");
  assert.equal(digest("sha1"), "f7c3bc1d808e04732adf679965ccc34ca7ae3441");
  assert.equal(
    digest("sha256"),
    "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
  );
});

const VECTORS: Record<ChecksumAlgorithm, [string, string, string]> = {
  // [empty, "hello world", "123456789"]
  crc32: ["AAAAAA==", "DUoRhQ==", "y/Q5Jg=="],
  crc32c: ["AAAAAA==", "yZRlqg==", "4waSgw=="],
  crc64nvme: ["AAAAAAAAAAA=", "jSnVw/bqjr4=", "rosUhgp5mIg="],
  sha1: [
    "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
    "Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
    "98O8HYCOBHMq32eZZczDTKeuNEE=",
  ],
  sha256: [
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
    "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
  ],
};

Deno.test("checksums: S3 base64 forms of empty, hello world and 123456789", () => {
  for (const alg of CHECKSUM_ALGORITHMS) {
    const [empty, hello, digits] = VECTORS[alg];
    assert.equal(checksumBase64(alg, new Uint8Array()), empty, alg);
    assert.equal(createChecksum(alg).digestBase64(), empty, `${alg} with no update`);
    assert.equal(checksumBase64(alg, enc.encode("hello world")), hello, alg);
    assert.equal(checksumBase64(alg, enc.encode("123456789")), digits, alg);
  }
});

/** Bitwise reflected CRC, the textbook definition, for CRCs up to 64 bits. */
function referenceCrc(data: Uint8Array, poly: bigint, width: number): bigint {
  const mask = (1n << BigInt(width)) - 1n;
  let crc = mask;
  for (const b of data) {
    crc ^= BigInt(b);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ mask;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 255;
  }
  return out;
}

Deno.test("checksums: table CRCs equal the bitwise definition on random data of many lengths", () => {
  const cases: [ChecksumAlgorithm, bigint, number][] = [
    ["crc32", 0xedb88320n, 32],
    ["crc32c", 0x82f63b78n, 32],
    ["crc64nvme", 0x9a6c9329ac4bc9b5n, 64],
  ];
  for (const len of [1, 3, 7, 15, 16, 17, 31, 33, 100, 1000, 4099]) {
    const buf = randomBytes(len + 3, len);
    for (const offset of [0, 1, 2, 3]) {
      const data = buf.subarray(offset, offset + len);
      for (const [alg, poly, width] of cases) {
        const want = referenceCrc(data, poly, width).toString(16).padStart(width / 4, "0");
        const c = createChecksum(alg);
        c.update(data);
        assert.equal(hex(c.digest()), want, `${alg} len ${len} offset ${offset}`);
      }
    }
  }
});

Deno.test("checksums: incremental updates across odd splits equal one shot", () => {
  const data = randomBytes(100_003, 42);
  for (const alg of CHECKSUM_ALGORITHMS) {
    const oneShot = checksumBase64(alg, data);
    for (const sizes of [[1], [3, 5, 7], [13, 1, 4096], [65_537], [16, 1, 15]]) {
      const c = createChecksum(alg);
      let i = 0;
      let k = 0;
      while (i < data.length) {
        const n = sizes[k++ % sizes.length];
        c.update(data.subarray(i, i + n));
        i += n;
      }
      assert.equal(c.digestBase64(), oneShot, `${alg} split ${sizes}`);
    }
    // Empty updates change nothing; digest can be read twice.
    const c = createChecksum(alg);
    c.update(new Uint8Array());
    c.update(data);
    c.update(new Uint8Array());
    assert.equal(c.digestBase64(), oneShot);
    assert.equal(c.digestBase64(), oneShot);
  }
});

Deno.test("checksums: header names", () => {
  for (const alg of CHECKSUM_ALGORITHMS) {
    assert.equal(parseChecksumHeaderName(checksumHeaderName(alg)), alg);
    assert.equal(parseChecksumHeaderName(checksumHeaderName(alg).toUpperCase()), alg);
  }
  assert.equal(parseChecksumHeaderName("x-amz-checksum-crc32"), "crc32");
  assert.equal(parseChecksumHeaderName("X-Amz-Checksum-CRC64NVME"), "crc64nvme");
  assert.equal(parseChecksumHeaderName("x-amz-checksum-type"), undefined);
  assert.equal(parseChecksumHeaderName("x-amz-checksum-algorithm"), undefined);
  assert.equal(parseChecksumHeaderName("x-amz-checksum-md5"), undefined);
  assert.equal(parseChecksumHeaderName("x-amz-checksum-"), undefined);
  assert.equal(parseChecksumHeaderName("content-md5"), undefined);
  assert.equal(parseChecksumHeaderName("x-amz-trailer-signature"), undefined);
});

Deno.test("checksums: unknown algorithm throws", () => {
  assert.throws(() => createChecksum("md5" as ChecksumAlgorithm), TypeError);
});
