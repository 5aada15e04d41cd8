// Numbered schema migrations. PRAGMA user_version holds how many have been applied; each one runs
// in its own transaction together with the version bump, so a crash never leaves half a step.
// Append only: never edit a migration that has shipped, add the next one.
import type { Database } from "bun:sqlite";
import { AppError } from "../errors.ts";
import { bech32 } from "@scure/base";
import { decode as decodeInvoiceSections } from "light-bolt11-decoder";

export interface Migration {
  /** 1-based and consecutive: migration n moves user_version from n-1 to n. */
  version: number;
  name: string;
  up: string | ((db: Database) => void);
}

const JOB_STATUSES = "'received','payment-required','paid','queued','processing','success','error','cancelled','expired'";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "jobs, payments, seen events, key-value state",
    up: `
      -- One row per NIP-90 request we accepted; id is the request event id (hex).
      CREATE TABLE jobs (
        id              TEXT PRIMARY KEY NOT NULL,
        kind            INTEGER NOT NULL,
        customer        TEXT NOT NULL,
        request_json    TEXT NOT NULL,
        relay           TEXT,
        model           TEXT,
        status          TEXT NOT NULL CHECK (status IN (${JOB_STATUSES})),
        prompt_preview  TEXT NOT NULL DEFAULT '',
        tokens          INTEGER NOT NULL DEFAULT 0 CHECK (tokens >= 0),
        tokens_per_sec  REAL CHECK (tokens_per_sec IS NULL OR tokens_per_sec >= 0),
        amount_msats    INTEGER CHECK (amount_msats IS NULL OR amount_msats >= 0),
        bolt11          TEXT,
        payment_hash    TEXT,
        error           TEXT,
        encrypted       INTEGER NOT NULL DEFAULT 0 CHECK (encrypted IN (0, 1)),
        result_event_id TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        finished_at     INTEGER
      ) STRICT;
      CREATE INDEX jobs_by_created ON jobs (created_at DESC);
      CREATE INDEX jobs_by_status ON jobs (status, created_at DESC);
      CREATE INDEX jobs_by_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
      CREATE INDEX jobs_by_bolt11 ON jobs (bolt11) WHERE bolt11 IS NOT NULL;
      CREATE INDEX jobs_by_payment_hash ON jobs (payment_hash) WHERE payment_hash IS NOT NULL;

      -- Money received. id is the wallet's payment id; the partial unique index on payment_hash
      -- makes a Lightning payment count once even if the wallet reports it under two ids.
      CREATE TABLE payments (
        id            TEXT PRIMARY KEY NOT NULL,
        job_id        TEXT REFERENCES jobs (id) ON DELETE SET NULL,
        amount_msats  INTEGER NOT NULL CHECK (amount_msats >= 0),
        bolt11        TEXT,
        payment_hash  TEXT,
        source        TEXT NOT NULL CHECK (source IN ('invoice', 'zap', 'other')),
        received_at   INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX payments_unique_hash ON payments (payment_hash) WHERE payment_hash IS NOT NULL;
      CREATE INDEX payments_by_received ON payments (received_at);
      CREATE INDEX payments_by_job ON payments (job_id) WHERE job_id IS NOT NULL;

      -- Event ids already handled: the same request arrives from several relays and again after
      -- a restart (relays replay stored events on subscribe).
      CREATE TABLE seen_events (
        event_id  TEXT PRIMARY KEY NOT NULL,
        kind      INTEGER NOT NULL,
        seen_at   INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX seen_events_by_time ON seen_events (seen_at);

      CREATE TABLE kv (
        key    TEXT PRIMARY KEY NOT NULL,
        value  TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: "the owner's deposits booked as 'other', not earnings",
    // Until now a deposit (an invoice from RECEIVE, a Spark or on-chain transfer) was booked like
    // a payment and counted as earnings. Only rows with no job can be deposits.
    up: (db) => {
      const rows = db.query("SELECT id, bolt11 FROM payments WHERE job_id IS NULL AND source = 'invoice'").all() as { id: string; bolt11: string | null }[];
      const mark = db.query("UPDATE payments SET source = 'other' WHERE id = $id");
      for (const r of rows) if (v2IsDeposit(typeof r.bolt11 === "string" ? r.bolt11 : null)) mark.run({ id: r.id });
    },
  },
  {
    version: 3,
    name: "a note on a payment (paid late: not served)",
    // A payment that landed for a job already expired or cancelled, which could not be run: the
    // owner sees it in the wallet history with the customer who paid (see Ledger.notePayment).
    up: "ALTER TABLE payments ADD COLUMN note TEXT;",
  },
  {
    version: 4,
    name: "business state in tables instead of key/value strings",
    // Until now kept in kv under key prefixes, each value a string: result.pending.<job> (JSON
    // {event, relays}), zap.event.<event> (a job id), free.used.<customer> (a count), nip89.d and
    // nip89.created_at (unix s), usage.gpu_ms.<local day> (ms). Values the app read as nothing
    // (unreadable JSON, a count that isn't a positive integer, an empty id) are not carried over;
    // the rest moves unchanged and leaves kv. Other kv keys stay.
    up: (db) => {
      db.run(`
        -- A signed result kept until a relay confirms it (a crash before the send: sent again).
        CREATE TABLE pending_results (
          job_id      TEXT PRIMARY KEY NOT NULL,
          event_json  TEXT NOT NULL,
          relays_json TEXT NOT NULL DEFAULT '[]'
        ) STRICT;

        -- Which job one of our feedback/result events belongs to: a zap of it pays for that job.
        CREATE TABLE zap_targets (
          event_id TEXT PRIMARY KEY NOT NULL,
          job_id   TEXT NOT NULL
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX zap_targets_by_job ON zap_targets (job_id);

        -- Free jobs each customer has had (pricing.freeJobsPerCustomer).
        CREATE TABLE free_jobs_used (
          customer TEXT PRIMARY KEY NOT NULL,
          used     INTEGER NOT NULL CHECK (used >= 0)
        ) STRICT, WITHOUT ROWID;

        -- Our NIP-89 announcement (one row): its d tag, and the created_at (unix s) of our last
        -- announcement or withdrawal, so the next one is strictly later even after a restart.
        CREATE TABLE announcement (
          id              INTEGER PRIMARY KEY CHECK (id = 1),
          d               TEXT,
          last_created_at INTEGER CHECK (last_created_at IS NULL OR last_created_at >= 0)
        ) STRICT;

        -- GPU time spent on jobs per local day (YYYY-MM-DD), ms: the daily GPU-hours limit.
        CREATE TABLE gpu_usage (
          day TEXT PRIMARY KEY NOT NULL,
          ms  REAL NOT NULL CHECK (ms >= 0)
        ) STRICT, WITHOUT ROWID;
      `);
      const under = (prefix: string) =>
        (db.query("SELECT key, value FROM kv WHERE substr(key, 1, length($p)) = $p ORDER BY key").all({ p: prefix }) as Array<{ key: string; value: unknown }>).map((r) => ({
          rest: r.key.slice(prefix.length),
          value: typeof r.value === "string" ? r.value : "",
        }));
      const drop = db.query("DELETE FROM kv WHERE substr(key, 1, length($p)) = $p");
      const count = (v: string) => {
        const n = Number(v);
        return Number.isSafeInteger(n) && n > 0 ? n : null;
      };

      const pending = db.query("INSERT INTO pending_results (job_id, event_json, relays_json) VALUES ($j, $e, $r)");
      for (const { rest, value } of under("result.pending.")) {
        let stored: unknown;
        try {
          stored = JSON.parse(value);
        } catch {
          continue;
        }
        const { event, relays } = (stored ?? {}) as { event?: unknown; relays?: unknown };
        if (!rest || typeof event !== "object" || event === null || Array.isArray(event)) continue;
        const relayList = Array.isArray(relays) && relays.every((r) => typeof r === "string") ? relays : [];
        pending.run({ j: rest, e: JSON.stringify(event), r: JSON.stringify(relayList) });
      }
      drop.run({ p: "result.pending." });

      const zap = db.query("INSERT INTO zap_targets (event_id, job_id) VALUES ($e, $j)");
      for (const { rest, value } of under("zap.event.")) if (rest && value) zap.run({ e: rest, j: value });
      drop.run({ p: "zap.event." });

      const free = db.query("INSERT INTO free_jobs_used (customer, used) VALUES ($c, $n)");
      for (const { rest, value } of under("free.used.")) {
        const n = count(value);
        if (rest && n !== null) free.run({ c: rest, n });
      }
      drop.run({ p: "free.used." });

      const kv = (key: string) => {
        const row = db.query("SELECT value FROM kv WHERE key = $k").get({ k: key }) as { value: unknown } | null;
        return typeof row?.value === "string" ? row.value : null;
      };
      const d = kv("nip89.d") || null;
      const last = count(kv("nip89.created_at") ?? "");
      if (d !== null || last !== null) db.query("INSERT INTO announcement (id, d, last_created_at) VALUES (1, $d, $t)").run({ d, t: last });
      db.run("DELETE FROM kv WHERE key IN ('nip89.d', 'nip89.created_at')");

      const gpu = db.query("INSERT INTO gpu_usage (day, ms) VALUES ($d, $ms)");
      for (const { rest, value } of under("usage.gpu_ms.")) {
        const ms = Number(value);
        if (rest && value.trim() !== "" && Number.isFinite(ms) && ms >= 0) gpu.run({ d: rest, ms });
      }
      drop.run({ p: "usage.gpu_ms." });
    },
  },
  {
    version: 5,
    name: "earnings kept by triggers (totals, per model, owed, 15-minute slots)",
    // So the earnings summary costs the same whatever the history: totals and slots kept by
    // triggers in the writer's transaction, filled here from the rows already there.
    // Inline and frozen, like every shipped migration: earnings-totals.ts reads what this makes.
    up: `
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
          INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES (0, '', 1, 0), (1, COALESCE(NEW.model, 'unknown'), 1, (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = NEW.id)) ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_slots (slot, jobs, msats) SELECT (NEW.finished_at) / 900000, 1, 0 WHERE NEW.finished_at IS NOT NULL ON CONFLICT (slot) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_totals (scope, model, jobs, msats)
          SELECT 2, '', 1, NEW.amount_msats - p FROM (SELECT (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = NEW.id) AS p) WHERE COALESCE(NEW.amount_msats, 0) > p
          ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
        END;
        CREATE TRIGGER earnings_job_changed AFTER UPDATE OF status, model, amount_msats, finished_at ON jobs
        WHEN (OLD.status = 'success') <> (NEW.status = 'success') OR OLD.model IS NOT NEW.model OR OLD.amount_msats IS NOT NEW.amount_msats
          OR (NEW.status = 'success' AND OLD.finished_at IS NOT NEW.finished_at)
        BEGIN
          INSERT INTO earnings_slots (slot, jobs, msats) SELECT (OLD.finished_at) / 900000, -1, 0 WHERE OLD.status = 'success' AND OLD.finished_at IS NOT NULL ON CONFLICT (slot) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_slots (slot, jobs, msats) SELECT (NEW.finished_at) / 900000, 1, 0 WHERE NEW.status = 'success' AND NEW.finished_at IS NOT NULL ON CONFLICT (slot) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES
            (0, '', (NEW.status = 'success') - (OLD.status = 'success'), 0),
            (1, COALESCE(OLD.model, 'unknown'), -(OLD.status = 'success'), -(SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = OLD.id)) ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES
            (1, COALESCE(NEW.model, 'unknown'), (NEW.status = 'success'), (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = NEW.id)) ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_totals (scope, model, jobs, msats)
          SELECT 2, '', n1 - n0, m1 - m0 FROM (
            SELECT
              (NEW.status = 'success' AND COALESCE(NEW.amount_msats, 0) > p) AS n1,
              CASE WHEN NEW.status = 'success' AND COALESCE(NEW.amount_msats, 0) > p THEN NEW.amount_msats - p ELSE 0 END AS m1,
              (OLD.status = 'success' AND COALESCE(OLD.amount_msats, 0) > p) AS n0,
              CASE WHEN OLD.status = 'success' AND COALESCE(OLD.amount_msats, 0) > p THEN OLD.amount_msats - p ELSE 0 END AS m0
            FROM (SELECT (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = NEW.id) AS p)
          ) WHERE true
          ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
        END;
        CREATE TRIGGER earnings_payment_inserted AFTER INSERT ON payments BEGIN
          INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES (0, '', 0, CASE WHEN NEW.source <> 'other' THEN NEW.amount_msats ELSE 0 END) ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_slots (slot, jobs, msats) SELECT (NEW.received_at) / 900000, 0, NEW.amount_msats WHERE NEW.source <> 'other' ON CONFLICT (slot) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_totals (scope, model, jobs, msats)
          SELECT 1, COALESCE(j.model, 'unknown'), 0, NEW.amount_msats FROM jobs j WHERE j.id = NEW.job_id
          ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
        INSERT INTO earnings_totals (scope, model, jobs, msats)
        SELECT 2, '', (a > p1) - (a > p0), MAX(a - p1, 0) - MAX(a - p0, 0) FROM (
          SELECT a, p1, p1 - NEW.amount_msats AS p0 FROM (
            SELECT j.amount_msats AS a, (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = j.id) AS p1 FROM jobs j
            WHERE j.id = NEW.job_id AND j.status = 'success' AND j.amount_msats > 0
          )
        ) WHERE true
        ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
        END;
        CREATE TRIGGER earnings_payment_changed AFTER UPDATE OF job_id, source, amount_msats, received_at ON payments BEGIN
          INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES
            (0, '', 0, (CASE WHEN NEW.source <> 'other' THEN NEW.amount_msats ELSE 0 END) - (CASE WHEN OLD.source <> 'other' THEN OLD.amount_msats ELSE 0 END)) ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_slots (slot, jobs, msats) SELECT (OLD.received_at) / 900000, 0, -OLD.amount_msats WHERE OLD.source <> 'other' ON CONFLICT (slot) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_slots (slot, jobs, msats) SELECT (NEW.received_at) / 900000, 0, NEW.amount_msats WHERE NEW.source <> 'other' ON CONFLICT (slot) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_totals (scope, model, jobs, msats)
          SELECT 1, COALESCE(j.model, 'unknown'), 0, -OLD.amount_msats FROM jobs j WHERE j.id = OLD.job_id
          ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_totals (scope, model, jobs, msats)
          SELECT 1, COALESCE(j.model, 'unknown'), 0, NEW.amount_msats FROM jobs j WHERE j.id = NEW.job_id
          ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
        INSERT INTO earnings_totals (scope, model, jobs, msats)
        SELECT 2, '', (a > p1) - (a > p0), MAX(a - p1, 0) - MAX(a - p0, 0) FROM (
          SELECT a, p1, p1 + OLD.amount_msats - (CASE WHEN NEW.job_id IS OLD.job_id THEN NEW.amount_msats ELSE 0 END) AS p0 FROM (
            SELECT j.amount_msats AS a, (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = j.id) AS p1 FROM jobs j
            WHERE j.id = OLD.job_id AND j.status = 'success' AND j.amount_msats > 0
          )
        ) WHERE true
        ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
        INSERT INTO earnings_totals (scope, model, jobs, msats)
        SELECT 2, '', (a > p1) - (a > p0), MAX(a - p1, 0) - MAX(a - p0, 0) FROM (
          SELECT a, p1, p1 - NEW.amount_msats AS p0 FROM (
            SELECT j.amount_msats AS a, (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = j.id) AS p1 FROM jobs j
            WHERE j.id = (CASE WHEN NEW.job_id IS NOT OLD.job_id THEN NEW.job_id END) AND j.status = 'success' AND j.amount_msats > 0
          )
        ) WHERE true
        ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
        END;
        CREATE TRIGGER earnings_payment_deleted AFTER DELETE ON payments BEGIN
          INSERT INTO earnings_totals (scope, model, jobs, msats) VALUES (0, '', 0, -(CASE WHEN OLD.source <> 'other' THEN OLD.amount_msats ELSE 0 END)) ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_slots (slot, jobs, msats) SELECT (OLD.received_at) / 900000, 0, -OLD.amount_msats WHERE OLD.source <> 'other' ON CONFLICT (slot) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
          INSERT INTO earnings_totals (scope, model, jobs, msats)
          SELECT 1, COALESCE(j.model, 'unknown'), 0, -OLD.amount_msats FROM jobs j WHERE j.id = OLD.job_id
          ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
        INSERT INTO earnings_totals (scope, model, jobs, msats)
        SELECT 2, '', (a > p1) - (a > p0), MAX(a - p1, 0) - MAX(a - p0, 0) FROM (
          SELECT a, p1, p1 + OLD.amount_msats AS p0 FROM (
            SELECT j.amount_msats AS a, (SELECT COALESCE(SUM(amount_msats), 0) FROM payments WHERE job_id = j.id) AS p1 FROM jobs j
            WHERE j.id = OLD.job_id AND j.status = 'success' AND j.amount_msats > 0
          )
        ) WHERE true
        ON CONFLICT (scope, model) DO UPDATE SET jobs = jobs + excluded.jobs, msats = msats + excluded.msats;
        END;
        -- Payments paid late (a note) are counted from this index alone.
        CREATE INDEX payments_by_note ON payments (note) WHERE note IS NOT NULL;
        DELETE FROM earnings_totals;
        DELETE FROM earnings_slots;
        INSERT INTO earnings_slots (slot, jobs, msats)
        SELECT slot, SUM(jobs), SUM(msats) FROM (
          SELECT (finished_at) / 900000 AS slot, COUNT(*) AS jobs, 0 AS msats FROM jobs WHERE status = 'success' AND finished_at IS NOT NULL GROUP BY 1
          UNION ALL
          SELECT (received_at) / 900000 AS slot, 0 AS jobs, SUM(amount_msats) AS msats FROM payments WHERE source <> 'other' GROUP BY 1
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
    `,
  },
];

// ── frozen helpers ──────────────────────────────────────────────────────────────────────────────
// What a migration needs from the rest of the app is copied here as it was when the migration
// shipped, so a later change to that code can't change what an old ledger is migrated into.
// Never edit these; a migration that needs other logic gets its own copy.

/**
 * Migration 2's deposit test, frozen from wallet.ts isDeposit + bolt11.ts decodeBolt11 as shipped:
 * no invoice (a Spark or on-chain transfer) is a deposit; an invoice is one if it decodes and its
 * first description is "compute: deposit"; an invoice that doesn't decode is not.
 */
export function v2IsDeposit(bolt11: string | null): boolean {
  if (!bolt11) return true;
  try {
    return v2Description(bolt11) === "compute: deposit";
  } catch {
    return false;
  }
}

function v2Description(input: string): string | null {
  const trimmed = input.trim();
  const invoice = trimmed.toLowerCase().startsWith("lightning:") ? trimmed.slice("lightning:".length) : trimmed;
  const { prefix: hrp, words } = bech32.decode(invoice as `${string}1${string}`, false);
  const amountPart = /^ln(bcrt|bc|tbs|tb)(\d*[munp]?)$/.exec(hrp);
  if (!amountPart || amountPart[2]!.startsWith("0") || words.length < 7 + 104) throw new Error("not an invoice");
  const data = words.slice(0, -104);
  // BOLT #11: p, s, h, n fields of the wrong length are skipped (light-bolt11-decoder doesn't).
  const fixed: Record<number, number> = { 1: 52, 16: 52, 23: 52, 19: 53 };
  const kept = data.slice(0, 7);
  for (let i = 7; i < data.length; ) {
    const end = i + 3 + (data[i + 1] ?? 0) * 32 + (data[i + 2] ?? 0);
    if (i + 3 > data.length || end > data.length) throw new Error("truncated field");
    const len = fixed[data[i]!];
    if (len === undefined || end - i - 3 === len) kept.push(...data.slice(i, end));
    i = end;
  }
  const readable = kept.length === data.length ? invoice : bech32.encode(hrp, [...kept, ...words.slice(-104)], false);
  const first = new Map<string, unknown>();
  for (const s of decodeInvoiceSections(readable).sections as Array<{ name: string; value?: unknown }>) {
    if (!first.has(s.name)) first.set(s.name, s.value);
  }
  const amount = first.get("amount");
  if (typeof amount === "string" && BigInt(amount) > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("amount too large");
  if (typeof first.get("payment_hash") !== "string") throw new Error("no payment hash");
  const description = first.get("description");
  return typeof description === "string" ? description : null;
}

function userVersion(db: Database): number {
  const row = db.query("PRAGMA user_version").get() as { user_version: number } | null;
  return row?.user_version ?? 0;
}

/**
 * Applies every migration newer than the file's user_version. Safe to call on every open and from
 * two processes at once: BEGIN IMMEDIATE takes the write lock before the version is re-read.
 * Returns the number of migrations applied.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS, label = "the ledger"): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new AppError("internal", `Migration list is out of order at ${m.name}.`);
  });
  const latest = migrations.length;
  const current = userVersion(db);
  if (current > latest) {
    throw new AppError(
      "conflict",
      `${label} has schema version ${current}, newer than this build knows (${latest}); update compute or use another data dir.`,
    );
  }
  let applied = 0;
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.run("BEGIN IMMEDIATE");
    try {
      // Another process may have migrated while we waited for the lock.
      if (userVersion(db) >= m.version) {
        db.run("COMMIT");
        continue;
      }
      if (typeof m.up === "string") db.run(m.up);
      else m.up(db);
      db.run(`PRAGMA user_version = ${m.version}`);
      db.run("COMMIT");
      applied++;
    } catch (err) {
      db.run("ROLLBACK");
      throw new AppError("internal", `Migration ${m.version} (${m.name}) of ${label} failed: ${(err as Error).message}`);
    }
  }
  return applied;
}
