// Migrations are frozen once shipped: what they call is copied into migrations.ts as it was, so a
// later change to the live code can't change how an old ledger is migrated. These tests check the
// copies against the code they were taken from (while it is still the same), and each migration
// from a ledger at the version before it.
import { afterAll, describe, expect, test } from "bun:test";
import { secp256k1 } from "@noble/curves/secp256k1";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { v2IsDeposit } from "../../src/ledger/migrations.ts";
import { bech32Encode } from "../../src/wallet/bolt11.ts";
import { DEPOSIT_DESCRIPTION, isDeposit } from "../../src/wallet/wallet.ts";
import { encodeBolt11 } from "../fixtures/bolt11-encode.ts";

const root = mkdtempSync(join(tmpdir(), "compute-migrations-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("migration 2's frozen deposit test", () => {
  const key = secp256k1.utils.randomPrivateKey();
  const signer = (digest: Uint8Array) => {
    const sig = secp256k1.sign(digest, key);
    return { signature: sig.toCompactRawBytes(), recovery: sig.recovery };
  };
  const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));

  test("says what isDeposit says for signed invoices of any description, case and prefix", () => {
    fc.assert(
      fc.property(
        fc.record({
          network: fc.constantFrom("mainnet" as const, "testnet" as const, "signet" as const, "regtest" as const),
          amountMsats: fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: null }),
          timestamp: fc.integer({ min: 0, max: 2 ** 35 - 1 }),
          paymentHash: hex32,
          paymentSecret: hex32,
          description: fc.oneof(fc.constant(DEPOSIT_DESCRIPTION), fc.constant(`${DEPOSIT_DESCRIPTION} `), fc.string({ maxLength: 40 })),
          expirySecs: fc.integer({ min: 0, max: 2 ** 31 }),
        }),
        fc.constantFrom((s: string) => s, (s: string) => s.toUpperCase(), (s: string) => `lightning:${s}`, (s: string) => `  LIGHTNING:${s.toUpperCase()} `),
        (f, dress) => {
          const inv = dress(encodeBolt11(f, signer));
          expect(v2IsDeposit(inv)).toBe(isDeposit({ bolt11: inv }));
        },
      ),
      { numRuns: 200 },
    );
    const deposit = encodeBolt11({ network: "regtest", amountMsats: 5000, timestamp: 1, paymentHash: "a".repeat(64), paymentSecret: "b".repeat(64), description: DEPOSIT_DESCRIPTION }, signer);
    expect(v2IsDeposit(deposit)).toBe(true);
    expect(v2IsDeposit(null)).toBe(true);
    expect(v2IsDeposit("")).toBe(true);
  });

  test("says what isDeposit says for any bech32 string with an invoice prefix, and for garbage", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("lnbc", "lntb", "lntbs", "lnbcrt", "lnbc10u", "lnbc025m", "lnbc1p", "lnsb", "bc"),
        fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 0, maxLength: 400 }),
        (hrp, data) => {
          const inv = bech32Encode(hrp, data);
          expect(v2IsDeposit(inv)).toBe(isDeposit({ bolt11: inv }));
        },
      ),
      { numRuns: 500 },
    );
    for (const junk of ["lnbcrt-not-decodable", "x", "lnbc1", "lightning:"]) expect(v2IsDeposit(junk)).toBe(isDeposit({ bolt11: junk }));
  });
});

