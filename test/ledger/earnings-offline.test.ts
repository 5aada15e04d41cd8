// The offline `compute earnings` read (issue 16): the same summary as Ledger.earnings, with the
// local calendar from SQLite instead of the JS engine's time-zone data, from a read-only
// connection; null (so the CLI takes the full path) for a ledger it does not know.
import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { localCalendar } from "../../src/ledger/earnings.ts";
import { LEDGER_SCHEMA_VERSION, readEarningsOffline, sqliteCalendar } from "../../src/ledger/earnings-offline.ts";
import { Ledger, PAID_LATE_NOT_SERVED } from "../../src/ledger/ledger.ts";
import { MIGRATIONS } from "../../src/ledger/migrations.ts";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "compute-earnings-offline-"));
  path = join(dir, "ledger.sqlite");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const hex = (i: number) => i.toString(16).padStart(64, "0");

/** A ledger with successes, payments (one paid late), an unpaid pay-after charge and two models. */
function fill(ledger: Ledger, now: number): void {
  const hour = 3600_000;
  let n = 0;
  for (let h = -24 * 20; h <= 0; h += 7) {
    const at = now + h * hour;
    const id = hex(++n);
    ledger.admitJob({ id, kind: 5050, customer: hex(1), requestJson: "{}", status: "success", model: n % 3 ? "llama3.2:latest" : "qwen2.5:7b", createdAt: at - 1000, finishedAt: at, amountMsats: 2000 }, 5050, at);
    // Every fifth job stays unpaid: owed.
    if (n % 5) ledger.creditPayment({ id: `p${n}`, jobId: id, amountMsats: 2000, source: "invoice", receivedAt: at, paymentHash: hex(10_000 + n) });
  }
  ledger.creditPayment({ id: "zap", jobId: null, amountMsats: 21_000, source: "zap", receivedAt: now - hour, paymentHash: hex(99_999) });
  expect(ledger.notePayment("p1", PAID_LATE_NOT_SERVED)).toBe(true);
}

describe("readEarningsOffline", () => {
  test("knows the schema version this build's migrations give", () => {
    expect(LEDGER_SCHEMA_VERSION).toBe(MIGRATIONS.length);
  });

  test("gives what Ledger.earnings gives, and leaves the file as it was", () => {
    const now = new Date(2026, 10, 25, 14, 7).getTime(); // a Wednesday afternoon, local time
    const ledger = Ledger.open(path);
    fill(ledger, now);
    const full = ledger.earnings(new Date(now));
    ledger.close();
    expect(full.todayJobs).toBeGreaterThan(0);
    expect(full.weekSats).toBeGreaterThan(full.todaySats);
    expect(full.paidLateNotServed).toBe(1);
    expect(full.unpaidJobs).toBeGreaterThan(0);
    const before = readFileSync(path);
    const quick = readEarningsOffline(path, now);
    // The same object, keys in the same order: `compute earnings --json` prints the same bytes.
    expect(JSON.stringify(quick)).toBe(JSON.stringify(full));
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test("also while the app holds the ledger open and writes to it", () => {
    const now = Date.now();
    const ledger = Ledger.open(path);
    try {
      fill(ledger, now);
      expect(JSON.stringify(readEarningsOffline(path, now))).toBe(JSON.stringify(ledger.earnings(new Date(now))));
      ledger.creditPayment({ id: "later", jobId: null, amountMsats: 5000, source: "zap", receivedAt: now, paymentHash: hex(77_777) });
      expect(readEarningsOffline(path, now)!.todaySats).toBe(ledger.earnings(new Date(now)).todaySats);
    } finally {
      ledger.close();
    }
  });

  test("null for an older or newer schema and for a file that is not a ledger; none of them changed", () => {
    Ledger.open(path).close();
    const db = new Database(path);
    db.run(`PRAGMA user_version = ${LEDGER_SCHEMA_VERSION - 1}`);
    db.close();
    const older = readFileSync(path);
    expect(readEarningsOffline(path)).toBeNull();
    expect(readFileSync(path).equals(older)).toBe(true);

    const db2 = new Database(path);
    db2.run(`PRAGMA user_version = ${LEDGER_SCHEMA_VERSION + 1}`);
    db2.close();
    expect(readEarningsOffline(path)).toBeNull();

    const junk = join(dir, "junk.sqlite");
    writeFileSync(junk, "not a database, just text ".repeat(100));
    expect(readEarningsOffline(junk)).toBeNull();
    expect(readFileSync(junk, "utf8")).toBe("not a database, just text ".repeat(100));
    expect(readEarningsOffline(join(dir, "missing.sqlite"))).toBeNull();
  });
});

describe("the local calendar from SQLite", () => {
  test("equals the JS one here, in this process's zone", () => {
    const db = new Database(":memory:");
    try {
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2026, 2, 1); t += 5 * 3600_000 + 11 * 60_000) {
        expect(sqliteCalendar(db, t)).toEqual(localCalendar(new Date(t)));
      }
    } finally {
      db.close();
    }
  });

  // DST changes at 01:00 UTC / 02:00 local / midnight; quarter-hour offsets; a 30-minute DST
  // change; the day's boundaries in the southern hemisphere. Asia/Beirut's clocks skip from
  // 00:00 to 01:00 once a year: SQLite's 'utc' may land before that day there, which the check
  // catches (fallbacks, never a wrong figure). Unset TZ: the machine's own zone.
  const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "America/Havana", "Asia/Kathmandu", "Pacific/Chatham", "Australia/Lord_Howe", "Asia/Beirut", null];
  const SKIPS_MIDNIGHT = new Set(["Asia/Beirut"]);
  test("equals the JS one in every zone tried, DST changes and Sunday/Monday edges included, and so does the whole summary", async () => {
    const script = resolve(import.meta.dir, "earnings-zone-check.ts");
    const results = await Promise.all(
      ZONES.map(async (zone) => {
        const env: Record<string, string | undefined> = { ...process.env, TZ: zone ?? undefined };
        if (zone === null) delete env.TZ;
        const p = Bun.spawn(["bun", script], { cwd: dirname(script), env, stdout: "pipe", stderr: "pipe" });
        const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
        if (code !== 0) throw new Error(`${zone}: ${err}`);
        return { zone, ...(JSON.parse(out) as { checked: number; fallbacks: number; mismatches: string[]; summaries: number; summaryFallbacks: number }) };
      }),
    );
    for (const r of results) {
      expect({ zone: r.zone, mismatches: r.mismatches }).toEqual({ zone: r.zone, mismatches: [] });
      expect(r.checked).toBeGreaterThan(1900);
      expect(r.summaries).toBeGreaterThan(30);
      if (r.zone === null || !SKIPS_MIDNIGHT.has(r.zone)) expect({ zone: r.zone, fallbacks: r.fallbacks + r.summaryFallbacks }).toEqual({ zone: r.zone, fallbacks: 0 });
      // Only the days after the skipped midnight, while it is one of the last 14 days.
      else expect(r.fallbacks).toBeLessThan(r.checked / 10);
    }
  }, 60_000);
});
