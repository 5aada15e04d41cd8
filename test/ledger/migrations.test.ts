// Migrations are frozen once shipped: what they call is copied into migrations.ts as it was, so a
// later change to the live code can't change how an old ledger is migrated. These tests check the
// copies against the code they were taken from (while it is still the same), and each migration
// from a ledger at the version before it.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger } from "../../src/ledger/ledger.ts";
import { MIGRATIONS, migrate, v2IsDeposit } from "../../src/ledger/migrations.ts";
import { bech32Encode } from "../../src/util/bolt11.ts";
import { DEPOSIT_DESCRIPTION, isDeposit } from "../../src/wallet/wallet.ts";
import { bolt11Fields, randomSigner } from "../fixtures/bolt11-arb.ts";
import { encodeBolt11 } from "../fixtures/bolt11-encode.ts";

const root = mkdtempSync(join(tmpdir(), "compute-migrations-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("migration 2's frozen deposit test", () => {
  const signer = randomSigner();

  test("says what isDeposit says for signed invoices of any description, case and prefix", () => {
    fc.assert(
      fc.property(
        bolt11Fields(fc.oneof(fc.constant(DEPOSIT_DESCRIPTION), fc.constant(`${DEPOSIT_DESCRIPTION} `), fc.string({ maxLength: 40 }))),
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


describe("migration 4: key/value business state into tables", () => {
  const jobId = (i: number) => i.toString(16).padStart(64, "0");
  const event = (i: number) => ({
    id: jobId(100 + i),
    pubkey: "p".repeat(64),
    created_at: 1_780_000_000 + i,
    kind: 6050,
    tags: [["e", jobId(i)], ["p", "c".repeat(64)], ["amount", "21000"]],
    content: `answer ${i} with "quotes", \\ and ünïcödé ✓`,
    sig: "s".repeat(128),
  });

  test("a version-3 ledger's kv rows of each kind come out of the named methods unchanged; other keys stay in kv", () => {
    const file = join(root, "v3.sqlite");
    const raw = new Database(file, { create: true, strict: true });
    const kv = {
      [`result.pending.${jobId(1)}`]: JSON.stringify({ event: event(1), relays: ["wss://a.example", "wss://b.example"] }),
      [`result.pending.${jobId(2)}`]: JSON.stringify({ event: event(2) }), // a request naming no relays
      [`result.pending.${jobId(3)}`]: "{not json", // the engine dropped these on start
      [`zap.event.${jobId(101)}`]: jobId(1),
      [`zap.event.${jobId(102)}`]: jobId(1),
      [`zap.event.${jobId(103)}`]: jobId(2),
      [`zap.event.${jobId(104)}`]: "", // names no job
      [`free.used.${"a".repeat(64)}`]: "3",
      [`free.used.${"b".repeat(64)}`]: "1",
      [`free.used.${"c".repeat(64)}`]: "-2", // read as 0 by the engine
      "nip89.d": "0123456789abcdef",
      "nip89.created_at": "1780000123",
      "usage.gpu_ms.2026-03-10": "5400000",
      "usage.gpu_ms.2026-03-11": "12.5",
      "announce.d": "kept", // not business state of this migration: stays
      "some.other": "x",
    };
    try {
      expect(migrate(raw, MIGRATIONS.slice(0, 3))).toBe(3);
      const put = raw.query("INSERT INTO kv (key, value) VALUES ($k, $v)");
      for (const [k, v] of Object.entries(kv)) put.run({ k, v });
      const now = Date.now();
      for (const i of [1, 2]) {
        raw.run(`INSERT INTO jobs (id, kind, customer, request_json, status, created_at, updated_at, finished_at) VALUES ('${jobId(i)}', 5050, 'c', '{}', 'success', ${now}, ${now}, ${now})`);
      }
    } finally {
      raw.close();
    }

    const l = Ledger.open(file);
    try {
      expect(l.pendingResults()).toEqual([
        { jobId: jobId(1), event: event(1), relays: ["wss://a.example", "wss://b.example"] },
        { jobId: jobId(2), event: event(2), relays: [] },
      ]);
      // Byte for byte: what was signed is what will be sent again.
      expect(JSON.stringify(l.pendingResults()[0]!.event)).toBe(JSON.stringify(event(1)));
      expect([101, 102, 103, 104, 105].map((i) => l.zapTarget(jobId(i)))).toEqual([jobId(1), jobId(1), jobId(2), null, null]);
      expect(["a", "b", "c", "d"].map((c) => l.freeJobsUsed(c.repeat(64)))).toEqual([3, 1, 0, 0]);
      expect(l.announcementTag()).toBe("0123456789abcdef");
      expect(l.lastAnnouncementAt()).toBe(1_780_000_123);
      expect([l.gpuMs("2026-03-10"), l.gpuMs("2026-03-11"), l.gpuMs("2026-03-12")]).toEqual([5_400_000, 12.5, 0]);
    } finally {
      l.close();
    }
    const check = new Database(file, { readonly: true });
    try {
      expect((check.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(MIGRATIONS.length);
      expect(check.query("SELECT key, value FROM kv ORDER BY key").all()).toEqual([{ key: "announce.d", value: "kept" }, { key: "some.other", value: "x" }]);
    } finally {
      check.close();
    }
  });

  test("a version-3 ledger with no such state: empty tables, no announcement row", () => {
    const file = join(root, "v3-empty.sqlite");
    const raw = new Database(file, { create: true, strict: true });
    migrate(raw, MIGRATIONS.slice(0, 3));
    raw.close();
    const l = Ledger.open(file);
    try {
      expect(l.pendingResults()).toEqual([]);
      expect([l.announcementTag(), l.lastAnnouncementAt(), l.freeJobsUsed("x"), l.gpuMs("2026-01-01")]).toEqual([null, null, 0, 0]);
    } finally {
      l.close();
    }
  });
});
