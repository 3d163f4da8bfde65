import assert from "node:assert/strict";
import { signaturesEqual } from "./authenticate.ts";

const SIG = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

Deno.test("authenticate: signatures compare equal only when identical", () => {
  assert.equal(signaturesEqual(SIG, SIG), true);
  assert.equal(signaturesEqual(SIG, SIG.slice(0, 63) + "0"), false);
  assert.equal(
    signaturesEqual(SIG, SIG.toUpperCase()),
    false,
    "upper-case hex is a different signature",
  );
  assert.equal(signaturesEqual(SIG, SIG.slice(1)), false, "shorter");
  assert.equal(signaturesEqual(SIG, SIG + "0"), false, "longer");
  assert.equal(signaturesEqual(SIG, ""), false);
  assert.equal(
    signaturesEqual(SIG, SIG.slice(0, 62) + "é"),
    false,
    "non-ASCII never truncates into a match",
  );
  assert.equal(
    signaturesEqual(SIG, SIG.slice(0, 63) + "ā".replace("ā", String.fromCharCode(0x131))),
    false,
  );
});
