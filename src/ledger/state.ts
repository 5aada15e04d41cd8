// The provider's small business state, one table each (migration 4 moved it out of key/value
// strings): signed results waiting for a relay, which job each of our events belongs to (zaps),
// free jobs used per customer, our NIP-89 announcement's d tag and last created_at, and GPU time
// per day. Ledger extends LedgerState, so these are Ledger's methods, each one statement on its
// connection. Migration 1's kv table is no longer read or written (migration 4 left in it only keys
// of no known kind).
import type { Database } from "bun:sqlite";
import { z } from "zod";
import { AppError } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { NostrEvent } from "../nostr/nip90.ts";

const log = createLogger("ledger");

/** A signed result kept until a relay confirms it (see Ledger.keepPendingResult). */
export interface PendingResult {
  jobId: string;
  event: NostrEvent;
  /** Relays the request asked for, besides ours. */
  relays: string[];
}

// Read back as stored: loose, so nothing of the signed event is dropped.
const StoredEvent = z.looseObject({
  id: z.string(),
  pubkey: z.string(),
  created_at: z.number(),
  kind: z.number(),
  tags: z.array(z.array(z.string())),
  content: z.string(),
  sig: z.string(),
});
const StoredRelays = z.array(z.string());

function need(what: string, ...values: unknown[]): void {
  for (const v of values) if (typeof v !== "string" || !v) throw new AppError("invalid_input", `${what} needs a non-empty string.`);
}

/** The small-state tables as methods; Ledger supplies the connection (and the storage-error wrapping). */
export abstract class LedgerState {
  protected abstract get db(): Database;

  // ── pending results ────────────────────────────────────────────────────────────────────────

  /**
   * Keeps a signed result until a relay confirms it: written BEFORE the job is marked done, so a
   * crash before the send never loses the answer (the engine sends the same event again).
   */
  keepPendingResult(jobId: string, event: NostrEvent, relays: readonly string[] = []): void {
    need("keepPendingResult", jobId);
    this.db
      .query(
        `INSERT INTO pending_results (job_id, event_json, relays_json) VALUES ($j, $e, $r)
         ON CONFLICT (job_id) DO UPDATE SET event_json = excluded.event_json, relays_json = excluded.relays_json`,
      )
      .run({ j: jobId, e: JSON.stringify(event), r: JSON.stringify(relays) });
  }

  /**
   * Results kept and not yet confirmed on a relay, in job id order. A row that can't be read (a
   * damaged file) is logged and removed: it could never be sent.
   */
  pendingResults(): PendingResult[] {
    const rows = this.db.query("SELECT job_id, event_json, relays_json FROM pending_results ORDER BY job_id").all() as Array<{ job_id: string; event_json: unknown; relays_json: unknown }>;
    const out: PendingResult[] = [];
    for (const r of rows) {
      let event: NostrEvent | null = null;
      let relays: string[] | null = null;
      try {
        const e = StoredEvent.safeParse(JSON.parse(String(r.event_json)));
        const rl = StoredRelays.safeParse(JSON.parse(String(r.relays_json)));
        if (e.success && rl.success) [event, relays] = [e.data as NostrEvent, rl.data];
      } catch {}
      if (event && relays) out.push({ jobId: r.job_id, event, relays });
      else {
        log.error("dropping a damaged pending result", { jobId: r.job_id });
        this.dropPendingResult(r.job_id);
      }
    }
    return out;
  }

  /** A relay took the job's result (or it was given up on). */
  dropPendingResult(jobId: string): void {
    this.db.query("DELETE FROM pending_results WHERE job_id = $j").run({ j: jobId });
  }

  // ── zap targets ────────────────────────────────────────────────────────────────────────────

  /** Remembers which job one of our events belongs to, so a zap of it can pay for that job. */
  setZapTarget(eventId: string, jobId: string): void {
    need("setZapTarget", eventId, jobId);
    this.db.query("INSERT INTO zap_targets (event_id, job_id) VALUES ($e, $j) ON CONFLICT (event_id) DO UPDATE SET job_id = excluded.job_id").run({ e: eventId, j: jobId });
  }

  /** The job one of our events belongs to, if remembered. */
  zapTarget(eventId: string): string | null {
    const row = this.db.query("SELECT job_id FROM zap_targets WHERE event_id = $e").get({ e: eventId }) as { job_id: unknown } | null;
    return typeof row?.job_id === "string" ? row.job_id : null;
  }

  /** Forgets the zap targets of jobs finished before the unix-ms `finishedBefore`; returns how many. */
  pruneZapTargets(finishedBefore: number): number {
    if (!Number.isFinite(finishedBefore)) throw new AppError("invalid_input", "pruneZapTargets needs a unix-ms timestamp.");
    return this.db
      // Driven by zap_targets (recent jobs only) with a key lookup per row, not by every old job in
      // the history: the same cost at 1,000 jobs or 100,000.
      .query("DELETE FROM zap_targets WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.id = zap_targets.job_id AND j.finished_at IS NOT NULL AND j.finished_at < $t)")
      .run({ t: Math.floor(finishedBefore) }).changes;
  }

  // ── free jobs per customer ─────────────────────────────────────────────────────────────────

  /** How many free jobs `customer` has had (pricing.freeJobsPerCustomer). */
  freeJobsUsed(customer: string): number {
    const row = this.db.query("SELECT used FROM free_jobs_used WHERE customer = $c").get({ c: customer }) as { used: unknown } | null;
    const n = row?.used;
    return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : 0;
  }

  /** Counts one more free job for `customer` (one statement: two writers can't lose a count). */
  countFreeJob(customer: string): void {
    need("countFreeJob", customer);
    this.db.query("INSERT INTO free_jobs_used (customer, used) VALUES ($c, 1) ON CONFLICT (customer) DO UPDATE SET used = used + 1").run({ c: customer });
  }

  // ── announcement ───────────────────────────────────────────────────────────────────────────

  /** The d tag of our NIP-89 announcement, once chosen. */
  announcementTag(): string | null {
    const row = this.db.query("SELECT d FROM announcement WHERE id = 1").get() as { d: unknown } | null;
    return typeof row?.d === "string" && row.d ? row.d : null;
  }

  setAnnouncementTag(d: string): void {
    need("setAnnouncementTag", d);
    this.db.query("INSERT INTO announcement (id, d) VALUES (1, $d) ON CONFLICT (id) DO UPDATE SET d = excluded.d").run({ d });
  }

  /** created_at (unix s) of our last NIP-89 announcement or withdrawal, if any. */
  lastAnnouncementAt(): number | null {
    const row = this.db.query("SELECT last_created_at AS t FROM announcement WHERE id = 1").get() as { t: unknown } | null;
    const t = row?.t;
    return typeof t === "number" && Number.isSafeInteger(t) && t > 0 ? t : null;
  }

  setLastAnnouncementAt(createdAtSecs: number): void {
    if (!Number.isSafeInteger(createdAtSecs) || createdAtSecs < 0) throw new AppError("invalid_input", "setLastAnnouncementAt needs a whole number of seconds.");
    this.db.query("INSERT INTO announcement (id, last_created_at) VALUES (1, $t) ON CONFLICT (id) DO UPDATE SET last_created_at = excluded.last_created_at").run({ t: createdAtSecs });
  }

  // ── GPU time per day ───────────────────────────────────────────────────────────────────────

  /** GPU time (ms) spent on jobs on a local day (YYYY-MM-DD). */
  gpuMs(day: string): number {
    const row = this.db.query("SELECT ms FROM gpu_usage WHERE day = $d").get({ d: day }) as { ms: unknown } | null;
    return typeof row?.ms === "number" && Number.isFinite(row.ms) ? row.ms : 0;
  }

  /** Adds `ms` (≥ 0) to the GPU time of `day` (local YYYY-MM-DD), in one statement. */
  addGpuMs(day: string, ms: number): void {
    need("addGpuMs", day);
    if (!Number.isFinite(ms) || ms < 0) throw new AppError("invalid_input", "addGpuMs needs a non-negative number of ms.");
    this.db.query("INSERT INTO gpu_usage (day, ms) VALUES ($d, $ms) ON CONFLICT (day) DO UPDATE SET ms = ms + excluded.ms").run({ d: day, ms });
  }
}
