// Earnings that cost the same however long the history (issue 16). The summary used to scan every
// successful job and payment of all time, and every charged job's payments, on every call: ~2 s
// at 100,000 jobs, once or twice per finished job. Now:
//   - all-time totals, per-model totals and what pay-after customers owe live in earnings_totals,
//     kept by triggers in the same transaction as the write that changes them (so they can't
//     drift from the rows, whoever writes: this process, a second one, a migration);
//   - the last 14 days / this week come from earnings_slots, successes and earnings per 15-minute
//     slot of unix time (every time zone's midnight falls on a slot boundary), kept by the same
//     triggers: at most ~2,000 rows read whatever the history and however busy the provider.
// Jobs and payments are never deleted by compute; if rows were, all-time totals would keep them
// (history earned stays earned). The migration that creates all this (migrations.ts) is a frozen
// copy of EARNINGS_TOTALS_SQL and the backfill as they were when it shipped.
import type { Database } from "bun:sqlite";
import type { EarningsInput } from "./earnings.ts";

/** Width of a counting slot, ms: local midnights are whole multiples of it in every time zone. */
export const SLOT_MS = 15 * 60 * 1000;

// paid(X): what the payments linked to job X add up to (through payments_by_job).
const paid = (job: string) => `(SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = ${job})`;
const upsert = "ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats";
const slotUpsert = "ON CONFLICT (slot) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats";
const slotOf = (t: string) => `(${t}) / ${15 * 60 * 1000}`;

/** What a pay-after job still owes (scope 2) moved from p0 paid to p1 paid, for the job row `j`. */
const owedDelta = (jobId: string, p0: string) => `
  INSERT INTO earnings_totals (scope, model, jobs, msats)
  SELECT 2, '', (a > p1) - (a > p0), MAX(a - p1, 0) - MAX(a - p0, 0) FROM (
    SELECT a, p1, ${p0} AS p0 FROM (
      SELECT j.amount_msats AS a, ${paid("j.id")} AS p1 FROM jobs j
      WHERE j.id = ${jobId} AND j.status = 'success' AND j.amount_msats > 0
    )
  ) WHERE true
  ${upsert};`;

export const EARNINGS_TOTALS_SQL = `
  -- scope 0: all time, one row (model ''): successful jobs, payments that are earnings (not the
  --          owner's deposits, source 'other');
  -- scope 1: per model (COALESCE(jobs.model, 'unknown')): successful jobs, payments linked to a job;
  -- scope 2: one row (model ''): pay-after jobs answered and not fully paid, and what they owe.
  CREATE TABLE earnings_totals (
    scope  INTEGER NOT NULL CHECK (scope IN (0, 1, 2)),
    model  TEXT NOT NULL,
    jobs   INTEGER NOT NULL DEFAULT 0,
    msats  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, model)
  ) STRICT, WITHOUT ROWID;

  -- Per 15-minute slot (unix ms / 900,000): successful jobs by finish time, earnings by arrival.
  CREATE TABLE earnings_slots (
    slot   INTEGER PRIMARY KEY NOT NULL,
    jobs   INTEGER NOT NULL DEFAULT 0,
    msats  INTEGER NOT NULL DEFAULT 0
  ) STRICT;

  CREATE TRIGGER earnings_job_inserted AFTER INSERT ON jobs WHEN NEW.status = 'success' BEGIN
    INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES (0, '', 1, 0), (1, COALESCE(NEW.model, 'unknown'), 1, ${paid("NEW.id")}) ${upsert};
    INSERT INTO earnings_slots (slot, jobs, msats) SELECT ${slotOf("NEW.finished_at")}, 1, 0 WHERE NEW.finished_at IS NOT NULL ${slotUpsert};
    INSERT INTO earnings_totals (scope, model, jobs, msats)
    SELECT 2, '', 1, NEW.amount_msats - p FROM (SELECT ${paid("NEW.id")} AS p) WHERE COALESCE(NEW.amount_msats, 0) > p
    ${upsert};
  END;

  CREATE TRIGGER earnings_job_changed AFTER UPDATE OF status, model, amount_msats, finished_at ON jobs
  WHEN (OLD.status = 'success') <> (NEW.status = 'success') OR OLD.model IS NOT NEW.model OR OLD.amount_msats IS NOT NEW.amount_msats
    OR (NEW.status = 'success' AND OLD.finished_at IS NOT NEW.finished_at)
  BEGIN
    INSERT INTO earnings_slots (slot, jobs, msats) SELECT ${slotOf("OLD.finished_at")}, -1, 0 WHERE OLD.status = 'success' AND OLD.finished_at IS NOT NULL ${slotUpsert};
    INSERT INTO earnings_slots (slot, jobs, msats) SELECT ${slotOf("NEW.finished_at")}, 1, 0 WHERE NEW.status = 'success' AND NEW.finished_at IS NOT NULL ${slotUpsert};
    INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES
      (0, '', (NEW.status = 'success') - (OLD.status = 'success'), 0),
      (1, COALESCE(OLD.model, 'unknown'), -(OLD.status = 'success'), -${paid("OLD.id")}) ${upsert};
    INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES
      (1, COALESCE(NEW.model, 'unknown'), (NEW.status = 'success'), ${paid("NEW.id")}) ${upsert};
    INSERT INTO earnings_totals (scope, model, jobs, msats)
    SELECT 2, '', n1 - n0, m1 - m0 FROM (
      SELECT
        (NEW.status = 'success' AND COALESCE(NEW.amount_msats, 0) > p) AS n1,
        CASE WHEN NEW.status = 'success' AND COALESCE(NEW.amount_msats, 0) > p THEN NEW.amount_msats - p ELSE 0 END AS m1,
        (OLD.status = 'success' AND COALESCE(OLD.amount_msats, 0) > p) AS n0,
        CASE WHEN OLD.status = 'success' AND COALESCE(OLD.amount_msats, 0) > p THEN OLD.amount_msats - p ELSE 0 END AS m0
      FROM (SELECT ${paid("NEW.id")} AS p)
    ) WHERE true
    ${upsert};
  END;

  CREATE TRIGGER earnings_payment_inserted AFTER INSERT ON payments BEGIN
    INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES (0, '', 0, CASE WHEN NEW.source <> 'other' THEN NEW.amount_msats ELSE 0 END) ${upsert};
    INSERT INTO earnings_slots (slot, jobs, msats) SELECT ${slotOf("NEW.received_at")}, 0, NEW.amount_msats WHERE NEW.source <> 'other' ${slotUpsert};
    INSERT INTO earnings_totals (scope, model, jobs, msats)
    SELECT 1, COALESCE(j.model, 'unknown'), 0, NEW.amount_msats FROM jobs j WHERE j.id = NEW.job_id
    ${upsert};
    ${owedDelta("NEW.job_id", "p1 - NEW.amount_msats")}
  END;

  CREATE TRIGGER earnings_payment_changed AFTER UPDATE OF job_id, source, amount_msats, received_at ON payments BEGIN
    INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES
      (0, '', 0, (CASE WHEN NEW.source <> 'other' THEN NEW.amount_msats ELSE 0 END) - (CASE WHEN OLD.source <> 'other' THEN OLD.amount_msats ELSE 0 END)) ${upsert};
    INSERT INTO earnings_slots (slot, jobs, msats) SELECT ${slotOf("OLD.received_at")}, 0, -OLD.amount_msats WHERE OLD.source <> 'other' ${slotUpsert};
    INSERT INTO earnings_slots (slot, jobs, msats) SELECT ${slotOf("NEW.received_at")}, 0, NEW.amount_msats WHERE NEW.source <> 'other' ${slotUpsert};
    INSERT INTO earnings_totals (scope, model, jobs, msats)
    SELECT 1, COALESCE(j.model, 'unknown'), 0, -OLD.amount_msats FROM jobs j WHERE j.id = OLD.job_id
    ${upsert};
    INSERT INTO earnings_totals (scope, model, jobs, msats)
    SELECT 1, COALESCE(j.model, 'unknown'), 0, NEW.amount_msats FROM jobs j WHERE j.id = NEW.job_id
    ${upsert};
    ${owedDelta("OLD.job_id", "p1 + OLD.amount_msats - (CASE WHEN NEW.job_id IS OLD.job_id THEN NEW.amount_msats ELSE 0 END)")}
    ${owedDelta("(CASE WHEN NEW.job_id IS NOT OLD.job_id THEN NEW.job_id END)", "p1 - NEW.amount_msats")}
  END;

  CREATE TRIGGER earnings_payment_deleted AFTER DELETE ON payments BEGIN
    INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES (0, '', 0, -(CASE WHEN OLD.source <> 'other' THEN OLD.amount_msats ELSE 0 END)) ${upsert};
    INSERT INTO earnings_slots (slot, jobs, msats) SELECT ${slotOf("OLD.received_at")}, 0, -OLD.amount_msats WHERE OLD.source <> 'other' ${slotUpsert};
    INSERT INTO earnings_totals (scope, model, jobs, msats)
    SELECT 1, COALESCE(j.model, 'unknown'), 0, -OLD.amount_msats FROM jobs j WHERE j.id = OLD.job_id
    ${upsert};
    ${owedDelta("OLD.job_id", "p1 + OLD.amount_msats")}
  END;

  -- Payments paid late (a note) are counted from this index alone.
  CREATE INDEX payments_by_note ON payments (note) WHERE note IS NOT NULL;
`;

/** The totals as the rows say now (the migration's backfill; tests compare the triggers' sums with it). */
export const EARNINGS_TOTALS_BACKFILL_SQL = `
  DELETE FROM earnings_totals;
  DELETE FROM earnings_slots;
  INSERT INTO earnings_slots (slot, jobs, msats)
  SELECT slot, SUM(jobs), SUM(msats) FROM (
    SELECT ${slotOf("finished_at")} AS slot, COUNT(*) AS jobs, 0 AS msats FROM jobs WHERE status = 'success' AND finished_at IS NOT NULL GROUP BY 1
    UNION ALL
    SELECT ${slotOf("received_at")} AS slot, 0 AS jobs, SUM(amount_msats) AS msats FROM payments WHERE source <> 'other' GROUP BY 1
  ) GROUP BY slot;
  INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES (0, '',
    (SELECT COUNT(*) FROM jobs WHERE status = 'success'),
    (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE source <> 'other'));
  INSERT INTO earnings_totals (scope, model, jobs, msats)
  SELECT 1, model, SUM(jobs), SUM(msats) FROM (
    SELECT COALESCE(model, 'unknown') AS model, COUNT(*) AS jobs, 0 AS msats FROM jobs WHERE status = 'success' GROUP BY 1
    UNION ALL
    SELECT COALESCE(j.model, 'unknown') AS model, 0 AS jobs, SUM(p.amount_msats) AS msats FROM payments p JOIN jobs j ON j.id = p.job_id GROUP BY 1
  ) GROUP BY model;
  INSERT INTO earnings_totals (scope, model, jobs, msats)
  SELECT 2, '', COUNT(*), COALESCE(SUM(owed), 0) FROM (
    SELECT j.amount_msats - ${paid("j.id")} AS owed FROM jobs j WHERE j.status = 'success' AND j.amount_msats > 0
  ) WHERE owed > 0;
`;

export interface EarningsRead {
  input: EarningsInput;
  unpaid: { jobs: number; msats: number };
  late: number;
}

/**
 * Everything the summary needs, from the totals and the window's slots. Call inside one read
 * transaction so the figures agree with each other. `late`: payments with `lateNote` as note.
 */
export function readEarnings(db: Database, window: { start: number; end: number }, lateNote: string): EarningsRead {
  // The window's bounds are local midnights: whole slots, so a slot's figures fall on one day.
  const from = Math.floor(window.start / SLOT_MS);
  const to = Math.ceil(window.end / SLOT_MS);
  const recentPayments: EarningsInput["recentPayments"] = [];
  const recentSuccessfulJobs: number[] = [];
  for (const r of db.query("SELECT slot, jobs, msats FROM earnings_slots WHERE slot >= $from AND slot < $to").all({ from, to }) as { slot: number; jobs: number; msats: number }[]) {
    const at = r.slot * SLOT_MS;
    if (r.msats !== 0) recentPayments.push({ receivedAt: at, amountMsats: r.msats });
    for (let i = 0; i < r.jobs; i++) recentSuccessfulJobs.push(at);
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
