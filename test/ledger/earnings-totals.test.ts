// Earnings kept by triggers (issue 16): after any sequence of the ledger's own writes (jobs
// admitted and finished, models and amounts changed, payments credited, linked, noted), the
// summary read from earnings_totals / earnings_slots equals the one computed the old way, by
// scanning every job and payment; and reading it costs the same at 100 or 20,000 jobs.
import { Database } from "bun:sqlite";
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calendarWindow, localCalendar, summarizeCalendar, type EarningsInput } from "../../src/ledger/earnings.ts";
import { readEarnings } from "../../src/ledger/earnings-totals.ts";
import { Ledger, PAID_LATE_NOT_SERVED } from "../../src/ledger/ledger.ts";
import { migrate, MIGRATIONS } from "../../src/ledger/migrations.ts";

const summarize = (input: EarningsInput, now: Date) => summarizeCalendar(input, localCalendar(now));

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "compute-earnings-totals-"));
  path = join(dir, "ledger.sqlite");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The totals as the rows say now: migration 5's backfill, the sums the triggers must keep equal. */
const BACKFILL_SQL = `
  DELETE FROM earnings_totals;
  DELETE FROM earnings_slots;
  INSERT INTO earnings_slots (slot, jobs, msats)
  SELECT slot, SUM(jobs), SUM(msats) FROM (
    SELECT finished_at / 900000 AS slot, COUNT(*) AS jobs, 0 AS msats FROM jobs WHERE status = 'success' AND finished_at IS NOT NULL GROUP BY 1
    UNION ALL
    SELECT received_at / 900000 AS slot, 0 AS jobs, SUM(amount_msats) AS msats FROM payments WHERE source <> 'other' GROUP BY 1
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
    SELECT j.amount_msats - (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = j.id) AS owed FROM jobs j WHERE j.status = 'success' AND j.amount_msats > 0
  ) WHERE owed > 0;
`;

/** The ledger (its migrations put the totals in place) and a second connection to read it raw. */
function open(): { ledger: Ledger; db: Database } {
  const ledger = Ledger.open(path);
  return { ledger, db: new Database(path, { strict: true }) };
}

/** The summary as it was computed before the totals: every row scanned. */
function reference(db: Database, now: Date) {
  const { start, end } = calendarWindow(localCalendar(now));
  const recentPayments = (db.query("SELECT received_at, amount_msats FROM payments WHERE received_at >= $start AND received_at < $end AND source <> 'other'").all({ start, end }) as { received_at: number; amount_msats: number }[]).map((r) => ({ receivedAt: r.received_at, amountMsats: r.amount_msats }));
  const recentSuccessfulJobs = (db.query("SELECT finished_at FROM jobs WHERE status = 'success' AND finished_at >= $start AND finished_at < $end").all({ start, end }) as { finished_at: number }[]).map((r) => ({ at: r.finished_at, jobs: 1 }));
  const all = db.query("SELECT COALESCE(SUM(amount_msats), 0) AS msats FROM payments WHERE source <> 'other'").get() as { msats: number };
  const allJobs = db.query("SELECT COUNT(*) AS n FROM jobs WHERE status = 'success'").get() as { n: number };
  const models = new Map<string, { model: string; msats: number; jobs: number }>();
  const entry = (model: string) => models.get(model) ?? (models.set(model, { model, msats: 0, jobs: 0 }), models.get(model)!);
  for (const r of db.query("SELECT COALESCE(j.model, 'unknown') AS model, SUM(p.amount_msats) AS msats FROM payments p JOIN jobs j ON j.id = p.job_id GROUP BY 1").all() as { model: string; msats: number }[]) entry(r.model).msats += r.msats;
  for (const r of db.query("SELECT COALESCE(model, 'unknown') AS model, COUNT(*) AS n FROM jobs WHERE status = 'success' GROUP BY 1").all() as { model: string; n: number }[]) entry(r.model).jobs += r.n;
  const unpaid = db
    .query(
      `SELECT COUNT(*) AS n, COALESCE(SUM(owed), 0) AS msats FROM (
         SELECT j.amount_msats - COALESCE((SELECT SUM(p.amount_msats) FROM payments p WHERE p.job_id = j.id), 0) AS owed
         FROM jobs j WHERE j.finished_at >= 0 AND j.status = 'success' AND j.amount_msats > 0) WHERE owed > 0`,
    )
    .get() as { n: number; msats: number };
  const late = db.query("SELECT COUNT(*) AS n FROM payments WHERE note = $n").get({ n: PAID_LATE_NOT_SERVED }) as { n: number };
  const byModel = [...models.values()].filter((m) => m.jobs !== 0 || m.msats !== 0);
  return { ...summarize({ recentPayments, recentSuccessfulJobs, allMsats: all.msats, allJobs: allJobs.n, byModel }, now), unpaidSats: unpaid.msats / 1000, unpaidJobs: unpaid.n, paidLateNotServed: late.n };
}

function fromTotals(db: Database, now: Date) {
  const r = db.transaction(() => readEarnings(db, calendarWindow(localCalendar(now)), PAID_LATE_NOT_SERVED)).deferred();
  return { ...summarize(r.input, now), unpaidSats: r.unpaid.msats / 1000, unpaidJobs: r.unpaid.jobs, paidLateNotServed: r.late };
}

/** A small deterministic PRNG (mulberry32): the same sequence every run, different per seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]! };
}

const hex = (n: number, r: ReturnType<typeof rng>) => Array.from({ length: n }, () => "0123456789abcdef"[r.int(16)]).join("");

for (const seed of [1, 2, 3, 4, 5, 6]) {
  test(`seed ${seed}: after random ledger writes the totals say what a full scan says`, () => {
    const r = rng(seed);
    const { ledger, db } = open();
    const now = new Date(2026, 10, 25, 14, 7); // a Wednesday afternoon, local time
    const day = 86_400_000;
    const at = () => now.getTime() - r.int(30 * day) + r.int(day / 2);
    const models = ["llama3.2:latest", "qwen2.5:7b", null] as const;
    const jobs: string[] = [];
    const payments: string[] = [];
    try {
      for (let step = 0; step < 400; step++) {
        const op = r.int(10);
        if (op <= 2 || jobs.length === 0) {
          const id = hex(64, r);
          const created = at();
          const status = r.pick(["received", "processing", "success", "error"] as const);
          ledger.admitJob({ id, kind: 5050, customer: hex(64, r), requestJson: "{}", status, model: r.pick(models), createdAt: created, amountMsats: r.next() < 0.5 ? r.int(50) * 1000 : null, finishedAt: status === "success" || status === "error" ? created + r.int(60_000) : null }, 5050, created);
          jobs.push(id);
        } else if (op <= 4) {
          const id = r.pick(jobs);
          const status = r.pick(["processing", "success", "success", "error", "cancelled"] as const);
          ledger.patchJob(id, { status, updatedAt: at(), ...(r.next() < 0.3 ? { amountMsats: r.int(40) * 1000 } : {}), ...(r.next() < 0.2 ? { finishedAt: at() } : {}) });
        } else if (op === 5) {
          ledger.patchJob(r.pick(jobs), { model: r.pick(models), updatedAt: at() });
        } else if (op <= 7) {
          const id = `pay-${step}`;
          const source = r.pick(["invoice", "zap", "other"] as const);
          ledger.creditPayment({ id, jobId: source !== "other" && r.next() < 0.8 ? r.pick(jobs) : null, amountMsats: r.int(30) * 1000, source, receivedAt: at(), paymentHash: hex(64, r) });
          payments.push(id);
        } else if (op === 8 && payments.length) {
          ledger.linkPayment(r.pick(payments), r.pick(jobs), r.pick(["invoice", "zap"] as const));
        } else if (payments.length) {
          ledger.notePayment(r.pick(payments), r.next() < 0.7 ? PAID_LATE_NOT_SERVED : null);
        }
        if (step % 40 === 39) expect(fromTotals(db, now)).toEqual(reference(db, now));
      }
      expect(fromTotals(db, now)).toEqual(reference(db, now));
      // The triggers' sums are the backfill's (what the migration writes for a ledger with history).
      const before = db.query("SELECT * FROM earnings_totals ORDER BY scope, model").all();
      const slots = db.query("SELECT * FROM earnings_slots WHERE jobs <> 0 OR msats <> 0 ORDER BY slot").all();
      db.run(BACKFILL_SQL);
      expect(db.query("SELECT * FROM earnings_totals WHERE jobs <> 0 OR msats <> 0 ORDER BY scope, model").all()).toEqual(before.filter((x) => (x as { jobs: number }).jobs !== 0 || (x as { msats: number }).msats !== 0));
      expect(db.query("SELECT * FROM earnings_slots WHERE jobs <> 0 OR msats <> 0 ORDER BY slot").all()).toEqual(slots);
    } finally {
      db.close();
      ledger.close();
    }
  });
}

test("a ledger with history from before the totals gets them at its upgrade, equal to a scan", () => {
  const v = MIGRATIONS.findIndex((m) => m.name.startsWith("earnings kept by triggers"));
  expect(v).toBeGreaterThan(0);
  const old = new Database(path, { create: true, strict: true });
  migrate(old, MIGRATIONS.slice(0, v));
  const now = new Date();
  const r = rng(42);
  const insert = old.prepare(
    `INSERT INTO jobs (id, kind, customer, request_json, model, status, created_at, updated_at, finished_at, amount_msats)
     VALUES (?, 5050, 'c', '{}', ?, ?, ?, ?, ?, ?)`,
  );
  const pay = old.prepare("INSERT INTO payments (id, job_id, amount_msats, source, received_at, note) VALUES (?, ?, ?, ?, ?, ?)");
  for (let i = 0; i < 500; i++) {
    const t = now.getTime() - r.int(40 * 86_400_000);
    const status = r.pick(["success", "success", "error", "processing"] as const);
    insert.run(`job-${i}`, r.pick(["a", "b", null]), status, t, t, status === "processing" ? null : t, r.next() < 0.5 ? r.int(20) * 1000 : null);
    if (r.next() < 0.4) pay.run(`p-${i}`, r.next() < 0.8 ? `job-${i}` : null, r.int(20) * 1000, r.pick(["invoice", "zap", "other"] as const), t + 1000, r.next() < 0.1 ? PAID_LATE_NOT_SERVED : null);
  }
  old.close();
  const { ledger, db } = open();
  try {
    expect(fromTotals(db, now)).toEqual(reference(db, now));
    expect(ledger.earnings(now)).toEqual(reference(db, now));
  } finally {
    db.close();
    ledger.close();
  }
});

test("reading the summary costs the same with 20,000 jobs as with 200 (no scan of the history)", () => {
  const { ledger, db } = open();
  const now = new Date();
  const fill = (n: number, offset: number) => {
    const insert = db.prepare(
      `INSERT INTO jobs (id, kind, customer, request_json, model, status, created_at, updated_at, finished_at, amount_msats)
       VALUES (?, 5050, 'c', '{}', 'm', 'success', ?, ?, ?, 1000)`,
    );
    const pay = db.prepare("INSERT INTO payments (id, job_id, amount_msats, source, received_at) VALUES (?, ?, 1000, 'invoice', ?)");
    db.transaction(() => {
      for (let i = 0; i < n; i++) {
        // Old history: a year back, outside the 14-day window.
        const t = now.getTime() - 365 * 86_400_000 - (offset + i) * 1000;
        insert.run(`job-${offset + i}`, t, t, t);
        if (i % 5 === 0) pay.run(`p-${offset + i}`, `job-${offset + i}`, t);
      }
    })();
  };
  // The fastest of several runs: what the work costs, without the busy machine's pauses.
  const time = (f: () => unknown, n = 15) => {
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      f();
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  try {
    fill(200, 0);
    const small = time(() => fromTotals(db, now));
    const before = reference(db, now);
    fill(19_800, 200);
    const large = time(() => fromTotals(db, now));
    const scan = time(() => reference(db, now), 3);
    expect(fromTotals(db, now)).toEqual(reference(db, now));
    expect(fromTotals(db, now).allJobs).toBe(before.allJobs + 19_800);
    // The same order of cost as at 200 jobs, and far below a scan of the history.
    expect(large).toBeLessThan(small * 4 + 1);
    expect(large).toBeLessThan(scan / 4);
  } finally {
    db.close();
    ledger.close();
  }
});
