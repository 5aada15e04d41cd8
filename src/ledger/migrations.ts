// Numbered schema migrations. PRAGMA user_version holds how many have been applied; each one runs
// in its own transaction together with the version bump, so a crash never leaves half a step.
// Append only: never edit a migration that has shipped, add the next one.
import type { Database } from "bun:sqlite";
import { AppError } from "../errors.ts";
import { isDeposit } from "../wallet/wallet.ts";

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
      for (const r of rows) if (isDeposit({ bolt11: typeof r.bolt11 === "string" ? r.bolt11 : null })) mark.run({ id: r.id });
    },
  },
  {
    version: 3,
    name: "a note on a payment (paid late: not served)",
    // A payment that landed for a job already expired or cancelled, which could not be run: the
    // owner sees it in the wallet history with the customer who paid (see Ledger.notePayment).
    up: "ALTER TABLE payments ADD COLUMN note TEXT;",
  },
];

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
