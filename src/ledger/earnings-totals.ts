// Earnings read at the same cost however long the history:
//   - all-time totals, per-model totals and what pay-after customers owe live in earnings_totals,
//     kept by triggers in the same transaction as the write that changes them (so they can't
//     drift from the rows, whoever writes: this process, a second one, a migration);
//   - the last 14 days / this week come from earnings_slots, successes and earnings per 15-minute
//     slot of unix time (every time zone's midnight falls on a slot boundary), kept by the same
//     triggers: at most ~2,000 rows read whatever the history and however busy the provider.
// Jobs and payments are never deleted by compute; if rows were, all-time totals would keep them
// (history earned stays earned). Migration 5 (migrations.ts) creates the tables and triggers.
import type { Database } from "bun:sqlite";
import { calendarWindow, summarizeCalendar, type EarningsInput, type LocalCalendar } from "./earnings.ts";
import type { Earnings } from "./events.ts";

/** Width of a counting slot, ms: local midnights are whole multiples of it in every time zone. */
export const SLOT_MS = 15 * 60 * 1000;

export interface EarningsRead {
  input: EarningsInput;
  unpaid: { jobs: number; msats: number };
  late: number;
}

/** The note of a payment that landed for an expired or cancelled job which could not be run. */
export const PAID_LATE_NOT_SERVED = "paid late: not served";

/**
 * Everything the summary needs, from the totals and the window's slots. Call inside one read
 * transaction so the figures agree with each other. `late`: payments with `lateNote` as note.
 */
export function readEarnings(db: Database, window: { start: number; end: number }, lateNote: string): EarningsRead {
  // The window's bounds are local midnights: whole slots, so a slot's figures fall on one day.
  const from = Math.floor(window.start / SLOT_MS);
  const to = Math.ceil(window.end / SLOT_MS);
  const recentPayments: EarningsInput["recentPayments"] = [];
  const recentSuccessfulJobs: EarningsInput["recentSuccessfulJobs"] = [];
  for (const r of db.query("SELECT slot, jobs, msats FROM earnings_slots WHERE slot >= $from AND slot < $to").all({ from, to }) as { slot: number; jobs: number; msats: number }[]) {
    const at = r.slot * SLOT_MS;
    if (r.msats !== 0) recentPayments.push({ receivedAt: at, amountMsats: r.msats });
    // A slot's count, not an entry per job: the summary costs the same at 10 jobs a day or 10,000.
    if (r.jobs !== 0) recentSuccessfulJobs.push({ at, jobs: r.jobs });
  }
  const rows = db.query("SELECT scope, model, jobs, msats FROM earnings_totals").all() as { scope: number; model: string; jobs: number; msats: number }[];
  const all = rows.find((r) => r.scope === 0);
  const owed = rows.find((r) => r.scope === 2);
  const byModel = rows.filter((r) => r.scope === 1 && (r.jobs !== 0 || r.msats !== 0)).map((r) => ({ model: r.model, msats: r.msats, jobs: r.jobs }));
  const late = db.query("SELECT COUNT(*) AS n FROM payments WHERE note = $n").get({ n: lateNote }) as { n: number };
  return {
    input: { recentPayments, recentSuccessfulJobs, allMsats: all?.msats ?? 0, allJobs: all?.jobs ?? 0, byModel },
    unpaid: { jobs: owed?.jobs ?? 0, msats: owed?.msats ?? 0 },
    late: late.n,
  };
}

/**
 * The earnings summary on a local calendar (earnings.ts localCalendar, or SQLite's for the offline
 * `compute earnings`), read in one transaction so the figures agree even while a writer commits,
 * with what pay-after customers owe and the payments that came too late to be served.
 */
export function earningsOn(db: Database, cal: LocalCalendar): Earnings {
  const r = db.transaction(() => readEarnings(db, calendarWindow(cal), PAID_LATE_NOT_SERVED)).deferred();
  return { ...summarizeCalendar(r.input, cal), unpaidSats: r.unpaid.msats / 1000, unpaidJobs: r.unpaid.jobs, paidLateNotServed: r.late };
}
