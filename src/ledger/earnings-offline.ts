// `compute earnings` when nothing runs on the data dir: the summary read straight from the ledger
// file with a few small queries. Two things make the full path (Ledger.open, then Ledger.earnings)
// slow to start, and are avoided here:
//   - the JS engine loads its time-zone data on the first local-time Date method (~10-20 ms, even
//     with TZ=UTC). Here SQLite's 'localtime' and 'utc' modifiers (the C library's zone, cheap to
//     load) give the local calendar: the last 14 dates and the instant each day starts, and this
//     week's Monday. Every start is checked (its local date is that day, the second before it is
//     on an earlier date), so it is the first instant of the day, which is what
//     Ledger.earnings' new Date(y, m, d) gives too; a start that fails the check (a zone whose
//     clocks skip midnight, where SQLite's 'utc' may pick the wrong side) sends the caller to the
//     full path. The summary itself is the same code (earningsOn);
//   - opening the ledger for writing: no migration module, no PRAGMA beyond the busy timeout, a
//     read-only connection that changes nothing in the file.
// Anything unexpected (a schema version other than this build's, a file that is not a ledger, a
// read that fails) returns null: the caller takes the full path, which migrates an older ledger
// and words every error as before.
import { Database } from "bun:sqlite";
import { EARNINGS_DAYS, type LocalCalendar } from "./earnings.ts";
import { earningsOn } from "./earnings-totals.ts";
import type { Earnings } from "./events.ts";

/** The schema version this reader knows: MIGRATIONS.length (a test checks they agree). */
export const LEDGER_SCHEMA_VERSION = 5;

/**
 * The earnings summary, as Ledger.earnings(new Date(nowMs)) computes it, from the ledger at `path`
 * opened read-only; null when this path can't answer (see above).
 */
export function readEarningsOffline(path: string, nowMs = Date.now()): Earnings | null {
  let db: Database;
  try {
    db = new Database(path, { readonly: true, strict: true });
  } catch {
    return null;
  }
  try {
    db.run("PRAGMA busy_timeout = 5000");
    const version = db.query("PRAGMA user_version").get() as { user_version: number } | null;
    if (version?.user_version !== LEDGER_SCHEMA_VERSION) return null;
    const cal = sqliteCalendar(db, nowMs);
    if (!cal) return null;
    return earningsOn(db, cal);
  } catch {
    return null;
  } finally {
    db.close();
  }
}

/**
 * localCalendar(new Date(nowMs)), computed by SQLite in the C library's local time zone; null if a
 * day's start fails the check above. Each 'localtime' costs a stat of /etc/localtime when TZ is
 * unset (glibc), so this asks for a few dozen conversions, never one per record.
 */
export function sqliteCalendar(db: Database, nowMs: number): LocalCalendar | null {
  // n = 13 … 0: the days, oldest first; n = -1: tomorrow, whose start ends today.
  const rows = db
    .query(
      `WITH RECURSIVE k(n) AS (SELECT ${EARNINGS_DAYS - 1} UNION ALL SELECT n - 1 FROM k WHERE n > -1),
       d AS (SELECT n, date($now, 'unixepoch', 'localtime', (-n) || ' days') AS day FROM k),
       b AS (SELECT n, day, CAST(strftime('%s', day, 'utc') AS INTEGER) AS start FROM d)
       SELECT day, start,
              date(start, 'unixepoch', 'localtime') AS onDay,
              date(start - 1, 'unixepoch', 'localtime') AS dayBefore,
              date($now, 'unixepoch', 'localtime', '-6 days', 'weekday 1') AS monday
       FROM b ORDER BY n DESC`,
    )
    .all({ now: nowMs / 1000 }) as { day: string; start: number; onDay: string; dayBefore: string; monday: string }[];
  if (rows.length !== EARNINGS_DAYS + 1) return null;
  for (const r of rows) if (r.onDay !== r.day || !(r.dayBefore < r.day)) return null;
  const days = rows.slice(0, -1).map((r) => r.day);
  const starts = rows.map((r) => r.start * 1000);
  const monday = days.indexOf(rows[0]!.monday);
  if (monday < 0) return null;
  return { days, starts, weekStart: starts[monday]! };
}
