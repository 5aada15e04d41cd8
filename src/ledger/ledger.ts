// The provider's books on bun:sqlite: jobs, payments received, event ids already seen, and small
// persisted state. Synchronous like bun:sqlite itself; every multi-step write is one transaction,
// so a failure leaves the file as it was. Rows read back are checked with zod (rows.ts): a damaged
// row is reported by id instead of crashing the caller.
import { Database } from "bun:sqlite";
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { AppError } from "../errors.ts";
import { JobStatus } from "../jobs/events.ts";
import { createLogger } from "../log.ts";
import { localCalendar, localDayStart } from "./earnings.ts";
import { earningsOn, SLOT_MS } from "./earnings-totals.ts";
import type { Earnings } from "./events.ts";
import { migrate } from "./migrations.ts";
import {
  checkSeen,
  CreditInput,
  invalid,
  jobFromDb,
  lower,
  PAID_LATE_NOT_SERVED,
  parseEach,
  parseInsert,
  paymentFromDb,
  TERMINAL_STATUSES,
  updateStatement,
  type DbJobRow,
  type DbPaymentRow,
  type JobInsert,
  type JobPatch,
  type JobRow,
  type PaymentRow,
} from "./rows.ts";
import { storageError } from "./storage-errors.ts";
import { LedgerState } from "./state.ts";

export { JobInsert, JobPatch, JobRow, jobRowToView, PAID_LATE_NOT_SERVED } from "./rows.ts";

const log = createLogger("ledger");

/** Payment rows with their job's customer (a payment's row as PaymentRow reads it), then `rest`. */
const paymentsQuery = (rest: string) => `SELECT p.*, j.customer AS customer FROM payments p LEFT JOIN jobs j ON j.id = p.job_id ${rest}`;

export interface LedgerOptions {
  /** How long a write waits for another connection's lock before failing. */
  busyTimeoutMs?: number;
}

/**
 * Checkpoints (copying the WAL's pages into the database file, with two fsyncs) are the costly
 * part of the ledger's writes, and SQLite runs them inside a commit (every 1000 WAL pages by
 * default): a job in a burst would wait for one every few dozen jobs. The ledger checkpoints when
 * it has been quiet for a moment instead (QUIET_MS without a write, once enough was written or
 * a while passed); a commit checkpoints by itself only past WAL_AUTOCHECKPOINT_PAGES, under
 * writes that never pause. Durability is SQLite's WAL + synchronous=NORMAL either way.
 */
const QUIET_MS = 250;
const QUIET_MIN_CHANGES = 64;
const QUIET_MAX_AGE_MS = 60_000;
const WAL_AUTOCHECKPOINT_PAGES = 16_000;
/** After a checkpoint the WAL file is cut back to this (SQLite otherwise keeps its largest size). */
const WAL_KEEP_BYTES = 16 * 1024 * 1024;

/** The books. The small business state's methods (pending results, zap targets, …) are LedgerState's. */
export class Ledger extends LedgerState {
  #db: Database | null;
  readonly path: string;
  /** The quiet-moment checkpointer's state (file ledgers only); its timer runs only while there is something to checkpoint. */
  #quiet: { timer: ReturnType<typeof setTimeout> | null; changes: number; atCheckpoint: number; checkpointAt: number } | null = null;

  private constructor(db: Database, path: string) {
    super();
    this.#db = db;
    this.path = path;
    if (path !== ":memory:") this.#quiet = { timer: null, changes: 0, atCheckpoint: 0, checkpointAt: Date.now() };
  }

  /** Looks again in `ms` (every use of the ledger arms it; an idle ledger has no timer). */
  #armQuiet(ms = QUIET_MS): void {
    const q = this.#quiet;
    if (!q || q.timer) return;
    q.timer = setTimeout(() => {
      q.timer = null;
      this.#checkpointIfQuiet();
    }, ms);
    (q.timer as { unref?: () => void }).unref?.();
  }

  /** The quiet-moment checkpoint (see QUIET_MS); never throws. */
  #checkpointIfQuiet(): void {
    const db = this.#db;
    const q = this.#quiet;
    if (!db || !q) return;
    try {
      const n = (db.query("SELECT total_changes() AS n").get() as { n: number }).n;
      if (n !== q.changes) {
        q.changes = n; // written since the last look: not quiet yet
        this.#armQuiet();
        return;
      }
      const written = n - q.atCheckpoint;
      if (written === 0) return;
      const age = Date.now() - q.checkpointAt;
      if (written < QUIET_MIN_CHANGES && age < QUIET_MAX_AGE_MS) {
        // A few writes: they wait for more, or for their age.
        this.#armQuiet(QUIET_MAX_AGE_MS - age);
        return;
      }
      db.run("PRAGMA wal_checkpoint(PASSIVE)");
      q.atCheckpoint = n;
      q.checkpointAt = Date.now();
    } catch (err) {
      log.debug("ledger checkpoint skipped", { err: (err as Error).message });
    }
  }

  /**
   * Opens (creating if needed) the ledger file, applies pending migrations and returns it.
   * A file that is not a SQLite database → AppError("invalid_input") naming it, file untouched.
   */
  static open(path: string, opts: LedgerOptions = {}): Ledger {
    const inMemory = path === ":memory:";
    if (!inMemory) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    let db: Database;
    try {
      db = new Database(path, { create: true, strict: true });
    } catch (err) {
      throw new AppError("unavailable", `The ledger file ${path} can't be opened (${(err as Error).message}).`, { path });
    }
    try {
      // Jobs hold customers' prompts: owner-only, like the vault. SQLite gives the -wal and -shm
      // files the database file's mode.
      if (!inMemory && process.platform !== "win32") chmodSync(path, 0o600);
      db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
      // WAL: readers (the API, a second process) never block the writer and vice versa.
      const mode = db.query("PRAGMA journal_mode = WAL").get() as { journal_mode: string } | null;
      if (!inMemory && mode?.journal_mode !== "wal") log.warn("ledger is not in WAL mode", { mode: mode?.journal_mode });
      // NORMAL is durable across process crashes in WAL mode; after a power cut the last commits
      // may roll back, and the wallet's startup reconciliation credits those payments again (once).
      db.run("PRAGMA synchronous = NORMAL");
      db.run(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      db.run(`PRAGMA journal_size_limit = ${WAL_KEEP_BYTES}`);
      db.run("PRAGMA foreign_keys = ON");
      migrate(db, undefined, `The ledger ${path}`);
    } catch (err) {
      db.close();
      if (err instanceof AppError) throw err;
      const msg = (err as Error).message;
      if (/not a database|malformed|file is encrypted/i.test(msg)) {
        throw new AppError(
          "invalid_input",
          `The ledger file ${path} is not a readable SQLite database (${msg}); move it aside to start a new one.`,
          { path },
        );
      }
      throw new AppError("unavailable", `The ledger file ${path} can't be opened (${msg}).`, { path });
    }
    log.debug("ledger opened", { path });
    return new Ledger(db, path);
  }

  get isOpen(): boolean {
    return this.#db !== null;
  }

  /** Idempotent. SQLite checkpoints the WAL into the main file when the last connection closes. */
  close(): void {
    const db = this.#db;
    if (!db) return;
    this.#db = null;
    if (this.#quiet?.timer) clearTimeout(this.#quiet.timer);
    this.#quiet = null;
    try {
      db.run("PRAGMA optimize");
    } catch {}
    db.close();
  }

  protected get db(): Database {
    if (!this.#db) throw new AppError("unavailable", "The ledger is closed.");
    this.#armQuiet();
    return this.#db;
  }

  // ── seen events ──────────────────────────────────────────────────────────────────────────────

  /** Records an event id; true if it was not seen before (the caller should handle it). */
  markSeen(eventId: string, kind: number, now = Date.now()): boolean {
    checkSeen(eventId, kind);
    return this.insertSeen(eventId, kind, now);
  }

  private insertSeen(eventId: string, kind: number, now: number): boolean {
    return this.db.query("INSERT INTO seen_events (event_id, kind, seen_at) VALUES ($id, $kind, $now) ON CONFLICT DO NOTHING").run({ id: eventId, kind, now: Math.floor(now) }).changes === 1;
  }

  /** Whether markSeen (or admitJob) recorded this event id; writes nothing. */
  isSeen(eventId: string): boolean {
    return this.db.query("SELECT 1 FROM seen_events WHERE event_id = $id").get({ id: eventId }) !== null;
  }

  /** Forgets ids seen before the unix-ms timestamp `olderThanMs`; returns how many were removed. */
  pruneSeen(olderThanMs: number): number {
    if (!Number.isFinite(olderThanMs)) throw new AppError("invalid_input", "pruneSeen needs a unix-ms timestamp.");
    return this.db.query("DELETE FROM seen_events WHERE seen_at < $t").run({ t: Math.floor(olderThanMs) }).changes;
  }

  // ── jobs ─────────────────────────────────────────────────────────────────────────────────────

  /** Records a new job; false if a job with this id already exists (nothing is changed then). */
  insertJob(row: JobInsert): boolean {
    return this.insertParsed(parseInsert(row));
  }

  /**
   * A request taken on: records the job (as insertJob) and marks its event id seen (as markSeen,
   * for `kind`; already seen is fine), in one transaction. With isSeen instead of markSeen up
   * front, a job costs one commit instead of two. False (nothing changed) if the job exists.
   */
  admitJob(row: JobInsert, kind: number, now = Date.now()): boolean {
    const j = parseInsert(row);
    checkSeen(j.id, kind);
    const db = this.db;
    return db.transaction((): boolean => {
      if (!this.insertParsed(j)) return false;
      this.insertSeen(j.id, kind, now);
      return true;
    })();
  }

  private insertParsed(j: z.output<typeof JobInsert>): boolean {
    const updatedAt = j.updatedAt ?? j.createdAt;
    const finishedAt = j.finishedAt ?? (TERMINAL_STATUSES.includes(j.status) ? updatedAt : null);
    // ON CONFLICT(id) DO NOTHING only absorbs the duplicate id; unlike INSERT OR IGNORE it still
    // raises CHECK and NOT NULL violations.
    const r = this.db
      .query(
        `INSERT INTO jobs (id, kind, customer, request_json, relay, model, status, prompt_preview, tokens,
           tokens_per_sec, amount_msats, bolt11, payment_hash, error, encrypted, result_event_id,
           created_at, updated_at, finished_at)
         VALUES ($id, $kind, $customer, $requestJson, $relay, $model, $status, $promptPreview, $tokens,
           $tokensPerSec, $amountMsats, $bolt11, $paymentHash, $error, $encrypted, $resultEventId,
           $createdAt, $updatedAt, $finishedAt)
         ON CONFLICT (id) DO NOTHING`,
      )
      .run({
        id: j.id,
        kind: j.kind,
        customer: j.customer,
        requestJson: j.requestJson,
        relay: j.relay ?? null,
        model: j.model ?? null,
        status: j.status,
        promptPreview: j.promptPreview ?? "",
        tokens: j.tokens ?? 0,
        tokensPerSec: j.tokensPerSec ?? null,
        amountMsats: j.amountMsats ?? null,
        bolt11: lower(j.bolt11),
        paymentHash: lower(j.paymentHash),
        error: j.error ?? null,
        encrypted: j.encrypted ? 1 : 0,
        resultEventId: j.resultEventId ?? null,
        createdAt: j.createdAt,
        updatedAt,
        finishedAt,
      });
    return r.changes === 1;
  }

  /**
   * Changes the given fields (undefined = leave, null = clear) and returns the updated row.
   * updatedAt defaults to now; moving to a terminal status stamps finishedAt (if not yet set)
   * unless the patch sets it. Unknown id → AppError("not_found").
   */
  updateJob(id: string, patch: JobPatch): JobRow {
    const { sql, params } = updateStatement(id, patch);
    const row = this.db.query(`${sql} RETURNING *`).get(params) as DbJobRow | null;
    if (!row) throw new AppError("not_found", `No job ${id} in the ledger.`, { id });
    return jobFromDb(row);
  }

  /**
   * updateJob for the hot path (the engine's status changes, whose callers drop the row): the same
   * checks and rules, without reading the row back and converting it. Unknown id → not_found.
   */
  patchJob(id: string, patch: JobPatch): void {
    const { sql, params } = updateStatement(id, patch);
    if (this.db.query(sql).run(params).changes !== 1) throw new AppError("not_found", `No job ${id} in the ledger.`, { id });
  }

  getJob(id: string): JobRow | null {

    const row = this.db.query("SELECT * FROM jobs WHERE id = $id").get({ id }) as DbJobRow | null;
    return row ? jobFromDb(row) : null;
  }

  /** Newest first. `limit` defaults to 50 (at most 1000). Damaged rows are logged and skipped. */
  listJobs(opts: { statuses?: readonly JobStatus[]; limit?: number; before?: number } = {}): JobRow[] {
    const limit = Math.min(Math.max(Math.floor(opts.limit ?? 50), 0), 1000);
    const where: string[] = [];
    const params: Record<string, string | number> = { limit };
    if (opts.statuses) {
      if (opts.statuses.length === 0) return [];
      const statuses = z.array(JobStatus).safeParse(opts.statuses);
      if (!statuses.success) throw invalid("Invalid job status filter", statuses.error);
      where.push(`status IN (${statuses.data.map((_, i) => `$s${i}`).join(", ")})`);
      statuses.data.forEach((s, i) => (params[`s${i}`] = s));
    }
    if (opts.before !== undefined) {
      where.push("created_at < $before");
      params.before = opts.before;
    }
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
                 ORDER BY created_at DESC, rowid DESC LIMIT $limit`;
    return parseEach(this.db.query(sql).all(params) as DbJobRow[], jobFromDb);
  }

  /** The job an invoice was issued for, by exact bolt11 or payment hash (newest if several). */
  findJobByInvoice(q: { bolt11?: string | null; paymentHash?: string | null }): JobRow | null {
    const bolt11 = lower(q.bolt11) || null;
    const paymentHash = lower(q.paymentHash) || null;
    if (!bolt11 && !paymentHash) return null;
    const row = this.db
      .query(
        `SELECT * FROM jobs WHERE ($bolt11 IS NOT NULL AND bolt11 = $bolt11)
           OR ($hash IS NOT NULL AND payment_hash = $hash)
         ORDER BY created_at DESC LIMIT 1`,
      )
      .get({ bolt11, hash: paymentHash }) as DbJobRow | null;
    return row ? jobFromDb(row) : null;
  }

  // ── payments ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Records money received, exactly once: false (and nothing changed) if this payment id or this
   * payment hash is already credited. With markJobPaid, the job moves from received /
   * payment-required to 'paid' in the same transaction. A jobId the ledger doesn't know is stored
   * as null (the money still counts) and logged.
   */
  creditPayment(input: CreditInput): boolean {
    const parsed = CreditInput.safeParse(input);
    if (!parsed.success) throw invalid("Invalid payment", parsed.error);
    const p = parsed.data;
    const receivedAt = p.receivedAt ?? Date.now();
    const db = this.db;
    const credit = db.transaction((): boolean => {
      let jobId = p.jobId ?? null;
      if (jobId && !db.query("SELECT 1 FROM jobs WHERE id = $id").get({ id: jobId })) {
        log.warn("payment names a job the ledger doesn't know; recording it without one", { paymentId: p.id, jobId });
        jobId = null;
      }
      const r = db
        .query(
          `INSERT INTO payments (id, job_id, amount_msats, bolt11, payment_hash, source, received_at)
           VALUES ($id, $jobId, $amountMsats, $bolt11, $paymentHash, $source, $receivedAt)
           ON CONFLICT DO NOTHING`,
        )
        .run({
          id: p.id,
          jobId,
          amountMsats: p.amountMsats,
          bolt11: lower(p.bolt11),
          paymentHash: lower(p.paymentHash),
          source: p.source,
          receivedAt,
        });
      if (r.changes !== 1) return false;
      if (p.markJobPaid && jobId) {
        db.query(
          `UPDATE jobs SET status = 'paid', updated_at = $now
           WHERE id = $id AND status IN ('received', 'payment-required')`,
        ).run({ id: jobId, now: Date.now() });
      }
      return true;
    });
    // IMMEDIATE takes the write lock up front, so a concurrent writer waits (busy_timeout)
    // instead of failing half way through a read-then-write.
    return credit.immediate();
  }

  /** Newest first; `limit` defaults to 50 (at most 1000). */
  payments(opts: { limit?: number } = {}): PaymentRow[] {
    const limit = Math.min(Math.max(Math.floor(opts.limit ?? 50), 0), 1000);
    const rows = this.db.query(paymentsQuery("ORDER BY p.received_at DESC, p.rowid DESC LIMIT $limit")).all({ limit }) as DbPaymentRow[];
    return parseEach(rows, paymentFromDb);
  }

  /** The payment credited for an invoice's payment hash, if any. */
  findPaymentByHash(paymentHash: string): PaymentRow | null {
    const row = this.db.query(paymentsQuery("WHERE p.payment_hash = $h")).get({ h: paymentHash.toLowerCase() }) as DbPaymentRow | null;
    return row ? paymentFromDb(row) : null;
  }

  /**
   * Says which job a payment booked without one paid for (a zap whose receipt came after the
   * payment was booked as a plain receive), and with what. Only a payment with no job yet, and
   * only to a job that exists; returns whether it changed. The amount is never touched.
   */
  linkPayment(paymentId: string, jobId: string, source: PaymentRow["source"]): boolean {
    const db = this.db;
    return db.transaction(() => {
      if (!db.query("SELECT 1 FROM jobs WHERE id = $j").get({ j: jobId })) return false;
      return db.query("UPDATE payments SET job_id = $j, source = $s WHERE id = $id AND job_id IS NULL AND source <> 'other'").run({ j: jobId, s: source, id: paymentId }).changes === 1;
    }).immediate();
  }

  /** What was booked for a job, by job (an invoice, a zap of any of its events): total and count. */
  jobPaid(jobId: string): { msats: number; count: number } {
    const r = this.db.query("SELECT COALESCE(SUM(amount_msats), 0) AS msats, COUNT(*) AS n FROM payments WHERE job_id = $j").get({ j: jobId }) as { msats: number; n: number };
    return { msats: r.msats, count: r.n };
  }

  /** Sets (or clears) the note of a booked payment (PAID_LATE_NOT_SERVED); returns whether it changed. */
  notePayment(paymentId: string, note: string | null): boolean {
    return this.db.query("UPDATE payments SET note = $n WHERE id = $id AND note IS NOT $n").run({ n: note, id: paymentId }).changes === 1;
  }

  /** Payments up to this rowid were looked at by latePayments (this process): none of them is late. */
  private lateCheckedUpTo = 0;

  /**
   * Payments with no note booked for a job that was expired, cancelled or failed before they came
   * (received after the job finished): paid late, not handled yet. Oldest first, at most `limit`.
   * Each payment is looked at once per process: one that was not late when it was looked at (its
   * job still open) never becomes late, so later calls read only the payments booked since, not
   * the whole history.
   */
  latePayments(limit = 100): Array<{ paymentId: string; jobId: string }> {
    const upTo = (this.db.query("SELECT COALESCE(MAX(rowid), 0) AS n FROM payments").get() as { n: number }).n;
    // The first look goes from the jobs that ended without a result (a share of the history, by
    // index); later ones from the payments booked since (a handful, by rowid).
    const from = this.lateCheckedUpTo === 0 ? "jobs j CROSS JOIN payments p ON p.job_id = j.id" : "payments p JOIN jobs j ON j.id = p.job_id";
    const rows = (
      this.db
        .query(
          `SELECT p.id AS paymentId, p.job_id AS jobId FROM ${from}
           WHERE p.rowid > $after AND p.rowid <= $upTo AND p.note IS NULL
             AND j.status IN ('expired', 'cancelled', 'error') AND j.finished_at IS NOT NULL
             AND p.received_at >= j.finished_at
           ORDER BY p.received_at LIMIT $limit`,
        )
        .all({ after: this.lateCheckedUpTo, upTo, limit }) as Array<{ paymentId: string; jobId: string }>
    ).filter((r) => typeof r.paymentId === "string" && typeof r.jobId === "string");
    // A full page may leave some unread: look at them again next time.
    if (rows.length < limit) this.lateCheckedUpTo = upTo;
    return rows;
  }

  /**
   * Pay-after charges not (fully) paid: jobs answered with an amount whose payments don't cover it,
   * finished at or after `since` (unix ms), of one customer when given. Jobs paid up front are paid
   * before they run, and free ones carry no amount, so these are the unpaid pay-after jobs.
   */
  unpaidAfter(opts: { since?: number; customer?: string } = {}): { jobs: number; msats: number } {
    const r = this.db
      .query(
        // Per job, its payments through payments_by_job: the cost follows the recent jobs, not the
        // whole payment history (this runs for every pay-after request).
        `SELECT COUNT(*) AS n, COALESCE(SUM(owed), 0) AS msats FROM (
           SELECT j.amount_msats - COALESCE((SELECT SUM(p.amount_msats) FROM payments p WHERE p.job_id = j.id), 0) AS owed
           FROM jobs j
           WHERE j.finished_at >= $since AND j.status = 'success' AND j.amount_msats > 0 AND ($c IS NULL OR j.customer = $c)
         ) WHERE owed > 0`,
      )
      .get({ since: Math.floor(opts.since ?? 0), c: opts.customer ?? null }) as { n: number; msats: number };
    return { jobs: r.n, msats: r.msats };
  }

  getPayment(id: string): PaymentRow | null {
    const row = this.db.query(paymentsQuery("WHERE p.id = $id")).get({ id }) as DbPaymentRow | null;
    return row ? paymentFromDb(row) : null;
  }

  // ── earnings ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Totals for today, this week (Monday start) and all time, the last 14 local days and per model.
   * Sats are msats/1000 and may be fractional. Jobs count successes by when they finished. byModel
   * covers payments linked to a job; payments without one (zaps, tips) count only in the totals.
   */
  earnings(now: Date = new Date()): Earnings {
    // The totals and the 15-minute slots are kept by triggers (earnings-totals.ts): no scan of the
    // history, the same cost at 100 jobs or 100,000.
    return earningsOn(this.db, localCalendar(now));
  }

  /** Today's (local) successful jobs and earnings, from the slots: what the daily limits need, cheaply. */
  earnedToday(now: Date = new Date()): { jobs: number; sats: number } {
    const from = Math.floor(localDayStart(now).getTime() / SLOT_MS);
    const to = Math.ceil(localDayStart(now, 1).getTime() / SLOT_MS);
    const r = this.db.query("SELECT COALESCE(SUM(jobs), 0) AS jobs, COALESCE(SUM(msats), 0) AS msats FROM earnings_slots WHERE slot >= $from AND slot < $to").get({ from, to }) as { jobs: number; msats: number };
    return { jobs: r.jobs, sats: r.msats / 1000 };
  }

  /**
   * Runs `fn` as one write transaction (nested ledger transactions become savepoints): several
   * writes share one commit, all or nothing. `fn` must be synchronous.
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}

// Every public method, LedgerState's included, turns a storage failure into a sentence (storage-errors.ts).
for (const proto of [LedgerState.prototype, Ledger.prototype]) {
  for (const name of Object.getOwnPropertyNames(proto)) {
    if (name === "constructor" || name === "close") continue;
    const desc = Object.getOwnPropertyDescriptor(proto, name);
    if (!desc || typeof desc.value !== "function") continue;
    const method = desc.value as (this: Ledger, ...args: unknown[]) => unknown;
    Object.defineProperty(proto, name, {
      ...desc,
      value: function (this: Ledger, ...args: unknown[]) {
        try {
          return method.apply(this, args);
        } catch (err) {
          throw storageError(this.path, err);
        }
      },
    });
  }
}
