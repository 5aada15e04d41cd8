// Run by earnings-offline.test.ts in a child process whose TZ is the zone to check (SQLite reads the
// C library's zone once, at start: it can't be switched inside one process). Prints JSON:
//   - the calendar SQLite gives (sqliteCalendar) against the JS one (localCalendar) at every local
//     midnight of 2026, the millisecond before it (so every Sunday 23:59:59.999 / Monday 00:00 and
//     every DST change) and every 7 h 13 min;
//   - the whole summary readEarningsOffline gives against Ledger.earnings, on a ledger with jobs
//     and payments on both sides of each recent local midnight, at several moments of a week.
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localCalendar } from "../../src/ledger/earnings.ts";
import { readEarningsOffline, sqliteCalendar } from "../../src/ledger/earnings-offline.ts";
import { Ledger } from "../../src/ledger/ledger.ts";

const result = { zone: process.env.TZ ?? "", checked: 0, fallbacks: 0, mismatches: [] as string[], summaries: 0, summaryFallbacks: 0 };
const db = new Database(":memory:");
const instants: number[] = [];
for (let d = 0; d < 366; d++) {
  const midnight = new Date(2026, 0, 1 + d).getTime();
  instants.push(midnight, midnight - 1);
}
for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 7 * 3600_000 + 13 * 60_000) instants.push(t);
for (const t of instants) {
  result.checked++;
  const fromSqlite = sqliteCalendar(db, t);
  if (!fromSqlite) {
    result.fallbacks++;
    continue;
  }
  const fromJs = localCalendar(new Date(t));
  if (JSON.stringify(fromSqlite) !== JSON.stringify(fromJs) && result.mismatches.length < 5) {
    result.mismatches.push(`${new Date(t).toISOString()}: ${JSON.stringify(fromSqlite)} vs ${JSON.stringify(fromJs)}`);
  }
}
db.close();

const dir = mkdtempSync(join(tmpdir(), "compute-earnings-zone-"));
try {
  const path = join(dir, "ledger.sqlite");
  const ledger = Ledger.open(path);
  const end = new Date(2026, 9, 28); // Wednesday after the European DST change (25 October)
  let n = 0;
  const hex = (i: number) => i.toString(16).padStart(64, "0");
  for (let d = -20; d <= 1; d++) {
    const midnight = new Date(end.getFullYear(), end.getMonth(), end.getDate() + d).getTime();
    for (const at of [midnight - 900_000, midnight - 1, midnight, midnight + 1, midnight + 900_000]) {
      const id = hex(++n);
      ledger.admitJob({ id, kind: 5050, customer: hex(1), requestJson: "{}", status: "success", model: n % 3 ? "llama3.2:latest" : "qwen2.5:7b", createdAt: at - 1000, finishedAt: at, amountMsats: 1000 * n }, 5050, at);
      ledger.creditPayment({ id: `p${n}`, jobId: id, amountMsats: 1000 * n + (n % 7), source: "invoice", receivedAt: at, paymentHash: hex(100_000 + n) });
    }
  }
  for (let h = -7 * 24; h <= 24; h += 5) {
    const now = end.getTime() + h * 3600_000 + 1234;
    const quick = readEarningsOffline(path, now);
    result.summaries++;
    if (!quick) {
      result.summaryFallbacks++;
      continue;
    }
    const full = ledger.earnings(new Date(now));
    if (JSON.stringify(quick) !== JSON.stringify(full) && result.mismatches.length < 10) {
      result.mismatches.push(`summary at ${new Date(now).toISOString()}: ${JSON.stringify(quick)} vs ${JSON.stringify(full)}`);
    }
  }
  ledger.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + "\n");
