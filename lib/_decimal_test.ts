import { strictEqual } from "node:assert/strict";
import { decimalLength } from "./_decimal.ts";

Deno.test("decimalLength reads 1 to 15 ASCII digits, leading zeros included", () => {
  strictEqual(decimalLength("0"), 0);
  strictEqual(decimalLength("007"), 7);
  strictEqual(decimalLength("999999999999999"), 999_999_999_999_999);
});

Deno.test("decimalLength refuses what Number would read but a backend might not", () => {
  for (
    const text of [
      "",
      " 1",
      "1 ",
      "+1",
      "-1",
      "1e3",
      "0x10",
      "1.0",
      "1,2",
      "1_000",
      "Infinity",
      "1000000000000000", // 16 digits
      "\u0661", // ARABIC-INDIC DIGIT ONE: a digit, but not an ASCII one
    ]
  ) {
    strictEqual(decimalLength(text), undefined, JSON.stringify(text));
  }
  strictEqual(decimalLength(null), undefined);
  strictEqual(decimalLength(undefined), undefined);
});
