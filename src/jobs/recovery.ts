// A job's life across restarts and late money: jobs a crash left open are closed (or, if paid,
// run again), results signed but never confirmed are sent again, invoices nobody waits on any
// more expire once the wallet has booked what was paid, and a payment that lands for a job
// already over either runs it or is noted "paid late: not served". The engine holds the jobs;
// this file reads the ledger rows no one holds.
import type { Config } from "../config.ts";
import { PAID_LATE_NOT_SERVED, type JobRow } from "../ledger/ledger.ts";
import { createLogger } from "../log.ts";
import { parseJobRequest, type JobRequest, type ParseResult, type RequestRef } from "../nostr/nip90.ts";
import { decodeBolt11 } from "../util/bolt11.ts";
import { chooseModel } from "../inference/model-name.ts";
import type { JobStatus } from "./events.ts";
import type { HeldJobs } from "./held-jobs.ts";
import { CANCELLED_BY_CUSTOMER, FINAL_STATUSES } from "./job.ts";
import type { EngineInference, EngineLedger, EnginePayments } from "./ports.ts";
import { UNDELIVERED, type Replies } from "./replies.ts";

const log = createLogger("jobs");

/** Pending results older than this are given up on at start-up. */
const PENDING_RESULT_MAX_AGE_MS = 24 * 3600_000;
/** Statuses a crash can leave a job in; recover() closes them. */
const OPEN_STATUSES: JobStatus[] = ["received", "queued", "processing", "paid"];
/** How soon leftover invoices are looked at again when the wallet could not reconcile. */
const INVOICE_RETRY_MS = 15_000;
/** Final statuses a late payment can find a job in (a success is answered and paid for already). */
const LATE_STATUSES: readonly JobStatus[] = FINAL_STATUSES.filter((s) => s !== "success");

export interface RecoveryDeps {
  inference: Pick<EngineInference, "servedModels">;
  ledger: EngineLedger;
  payments: EnginePayments | null;
  secretKey: Uint8Array;
  pubkey: string;
  config: () => Config;
  now: () => number;
  replies: Replies;
  /** Whether the engine is working on the job (running, queued or waiting for its payment). */
  holds(id: string): boolean;
  isOnline(): boolean;
  isStopped(): boolean;
  track<T>(p: Promise<T>): Promise<T>;
  /** Moves a ledger row no one holds, if job.ts allows it, and tells the bus (held-jobs.ts). */
  moveRow: HeldJobs["moveRow"];
  /** Changes a ledger row no one holds, unchecked, and tells the bus (held-jobs.ts). */
  patchRow: HeldJobs["patchRow"];
  /** A paid row no one works on: the engine runs it, or fails it when `request` or `model` is null. */
  runPaid(row: JobRow, request: JobRequest | null, model: string | null): void;
}

export class Recovery {
  /** When the next look at invoices left by a restart is due (see expireLeftoverInvoices). */
  private invoiceTimer: ReturnType<typeof setTimeout> | null = null;
  private settlingLate: Promise<void> | null = null;
  /** Payments booked for a job already over, waiting for settleLatePayments. */
  private lateQueue: Array<{ paymentId: string; jobId: string }> = [];
  private lateAgain = false;

  constructor(private readonly deps: RecoveryDeps) {}

  /**
   * A payment was booked for a job nobody is working on: one that landed while we were down, or
   * after a restart, still buys the job (resumePaid); one for a job already over (expired,
   * cancelled) is never kept silently (settleLatePayments). A row the wallet moved to 'paid' is
   * shown on the bus at once, even while we are offline and it waits to run.
   */
  paymentBooked(paymentId: string, jobId: string): void {
    const row = this.deps.ledger.getJob(jobId);
    const status = row?.status;
    // Booked just now for a job that is already over: late, whatever the payment's own timestamp says.
    if (status && LATE_STATUSES.includes(status)) {
      this.lateQueue.push({ paymentId, jobId });
      this.deps.track(this.settleLatePayments());
    } else if (row && status === "paid") {
      // The wallet moved the row in the ledger (Payments.credit, Zaps.linkLate) and told only the
      // bus's PaymentReceived: an open dashboard hears of the row as it now is.
      this.deps.patchRow(row, { updatedAt: row.updatedAt });
      if (this.deps.isOnline()) this.resumePaid();
    }
  }

  stop(): void {
    if (this.invoiceTimer) clearTimeout(this.invoiceTimer);
    this.invoiceTimer = null;
  }

  /** The stored request of a row, parsed again; null when it isn't even JSON. */
  private parseRow(row: Pick<JobRow, "requestJson">): ParseResult | null {
    try {
      return parseJobRequest(JSON.parse(row.requestJson), { providerPubkey: this.deps.pubkey, providerSecretKey: this.deps.secretKey });
    } catch {
      return null;
    }
  }

  /**
   * Closes jobs a crash left open: each gets an error feedback and is marked `error` in the
   * ledger, so it is never answered twice (its request id stays in the seen table, and a second
   * insert of the same job is refused). Jobs the customer already paid for are not closed: they
   * are marked `paid` and run again when the provider goes online (resumePaid), since the money is
   * ours. Returns how many were closed.
   */
  async recover(): Promise<number> {
    let closed = 0;
    const sends: Promise<unknown>[] = [this.resendPendingResults()];
    // Each row is looked at once, so a row whose move is refused (a bug, logged) can't spin the loop.
    const done = new Set<string>();
    for (;;) {
      // Jobs this engine holds right now are alive, not left over: never close those.
      const open = this.deps.ledger.listJobs({ statuses: OPEN_STATUSES, limit: 1000 }).filter((r) => !this.deps.holds(r.id) && r.status !== "paid" && !done.has(r.id));
      if (open.length === 0) break;
      for (const row of open) {
        done.add(row.id);
        // Paid by its invoice or by a zap of any of its events (a zap has its own payment hash).
        if (this.paidInFull(row)) {
          this.deps.moveRow(row, "paid");
          continue;
        }
        const ref: RequestRef & { relays?: string[] } = { id: row.id, customer: row.customer, encrypted: null };
        // A damaged row still gets closed; the feedback just goes out unencrypted-unknown.
        const parsed = this.parseRow(row);
        if (parsed?.ok) {
          ref.encrypted = parsed.request.encrypted;
          ref.relays = parsed.request.relays;
        } else if (parsed?.ref) {
          ref.encrypted = parsed.ref.encrypted;
        }
        // Close the row first: the loop must make progress even if the feedback can't be sent.
        if (!this.deps.moveRow(row, "error", { error: "provider restarted" })) continue;
        closed++;
        sends.push(this.deps.replies.sendFeedback(ref, row.relay, "error", { extraInfo: "provider restarted; please send the job again" }).catch(() => {}));
      }
    }
    await Promise.all(sends);
    if (closed) log.info("closed jobs left open by a restart", { count: closed });
    // Invoices left open by the restart expire by their own expiry, once the wallet has booked what
    // was paid while we were down (in the background: the wallet may still be connecting).
    void this.deps.track(this.expireLeftoverInvoices());
    void this.deps.track(this.settleLatePayments());
    return closed;
  }

  /** Whether the ledger has payments for this job (by invoice or zap) that cover its amount. */
  paidInFull(row: Pick<JobRow, "id" | "amountMsats" | "paymentHash">): boolean {
    if (row.paymentHash && this.deps.ledger.findPaymentByHash(row.paymentHash)) return true;
    if (row.amountMsats === null) return false;
    const paid = this.deps.ledger.jobPaid(row.id);
    return paid.count > 0 && paid.msats >= row.amountMsats;
  }

  /**
   * Results signed and kept before a crash or stop but never confirmed on a relay: the job is
   * marked done if the crash came first, and the same event is sent again. Never throws.
   */
  private resendPendingResults(): Promise<unknown> {
    const sends: Promise<unknown>[] = [];
    try {
      // A signed result is kept in the ledger BEFORE its job is marked done, so a crash between
      // recording and sending never loses the answer: it is sent again here (the same event id,
      // so relays and customers see it once).
      for (const stored of this.deps.ledger.pendingResults()) {
        const id = stored.jobId;
        const row = this.deps.ledger.getJob(id);
        if (!row || stored.event.created_at * 1000 < this.deps.now() - PENDING_RESULT_MAX_AGE_MS) {
          this.deps.ledger.dropPendingResult(id);
          continue;
        }
        if (row.status !== "success") this.deps.moveRow(row, "success", { resultEventId: stored.event.id });
        log.info("sending a result left unsent by a restart", { id });
        sends.push(
          this.deps.replies
            .publishResult(id, stored.event, stored.relays, null)
            .then(({ outcomes }) => {
              const ok = outcomes.find((o) => o.ok);
              if (ok) this.deps.replies.resultDelivered(id, ok.relay, null);
              else this.deps.replies.noteRow(id, UNDELIVERED);
            })
            .catch((err) => log.warn("resending a result failed", { id, err })),
        );
      }
    } catch (err) {
      log.warn("looking for unsent results failed", { err });
    }
    return Promise.all(sends);
  }

  /**
   * Jobs whose invoice nobody waits on any more (left by a restart) are marked expired once the
   * invoice's own expiry (its bolt11's, else the configured one from when it was made) has passed
   * AND the wallet has booked every payment it has (or has no wallet at all): a customer who paid
   * while we were down is paid, not expired. Unexpired ones stay (a payment still runs them) and are
   * looked at again when the next one is due. Never throws.
   */
  async expireLeftoverInvoices(): Promise<void> {
    try {
      if (this.invoiceTimer) clearTimeout(this.invoiceTimer);
      this.invoiceTimer = null;
      if (this.deps.isStopped()) return;
      const expirySecs = this.deps.config().pricing.invoiceExpirySecs;
      const rows = this.deps.ledger.listJobs({ statuses: ["payment-required"], limit: 1000 }).filter((r) => !this.deps.holds(r.id));
      if (rows.length === 0) return;
      const expiresAt = (r: JobRow) => {
        try {
          if (r.bolt11) return decodeBolt11(r.bolt11).expiresAt;
        } catch {}
        return r.updatedAt + expirySecs * 1000;
      };
      const now = this.deps.now();
      const due = rows.filter((r) => expiresAt(r) <= now);
      let next = Math.min(...rows.filter((r) => expiresAt(r) > now).map(expiresAt));
      if (due.length) {
        const state = (await this.deps.payments?.reconciledNow()) ?? "no-wallet";
        if (this.deps.isStopped()) return;
        if (state === "not-now") {
          next = Math.min(next, this.deps.now() + INVOICE_RETRY_MS);
        } else {
          for (const r of due) {
            // Reread: reconciliation may just have booked its payment (the row is 'paid' then).
            const row = this.deps.ledger.getJob(r.id);
            if (!row || row.status !== "payment-required" || this.deps.holds(row.id)) continue;
            if (this.paidInFull(row)) {
              this.deps.moveRow(row, "paid");
              if (this.deps.isOnline()) this.resumePaid();
              continue;
            }
            this.deps.moveRow(row, "expired", { error: "invoice expired unpaid" });
          }
        }
      }
      if (Number.isFinite(next)) {
        this.invoiceTimer = setTimeout(() => void this.deps.track(this.expireLeftoverInvoices()), Math.min(Math.max(0, next - this.deps.now()) + 1000, 3600_000));
        this.invoiceTimer.unref?.();
      }
    } catch (err) {
      log.warn("expiring old invoices failed", { err });
    }
  }

  /**
   * Payments that landed for a job already over (expired unpaid, cancelled, failed) — paid late,
   * in flight at expiry, or found by reconciliation after a restart. The job runs if it still can
   * (paid in full, the request readable, its model served, not cancelled by the customer, not past
   * its NIP-40 expiration): the row goes back to 'paid' and resumePaid runs it. Otherwise the payment
   * is noted "paid late: not served" (the owner sees it with the customer's pubkey) and the
   * customer gets an error feedback saying so. Runs one pass at a time; never throws.
   */
  settleLatePayments(): Promise<void> {
    if (this.settlingLate) {
      this.lateAgain = true;
      return this.settlingLate;
    }
    this.settlingLate = (async () => {
      do {
        this.lateAgain = false;
        try {
          // Those booked while we ran, then any the ledger shows (booked before a crash let us see them).
          const todo = [...this.lateQueue.splice(0), ...this.deps.ledger.latePayments()];
          const done = new Set<string>();
          for (const { paymentId, jobId } of todo) {
            if (done.has(paymentId)) continue;
            done.add(paymentId);
            await this.settleLate(paymentId, jobId);
          }
        } catch (err) {
          log.warn("settling late payments failed", { err });
        }
      } while (this.lateAgain && !this.deps.isStopped());
    })().finally(() => (this.settlingLate = null));
    return this.settlingLate;
  }

  private async settleLate(paymentId: string, jobId: string): Promise<void> {
    const row = this.deps.ledger.getJob(jobId);
    if (!row || !LATE_STATUSES.includes(row.status) || this.deps.holds(jobId)) return;
    const paid = this.deps.ledger.jobPaid(jobId);
    const parsed = this.parseRow(row);
    const request = parsed?.ok ? parsed.request : null;
    const cfg = this.deps.config();
    let why: string | null = null;
    if (row.amountMsats === null || paid.msats < row.amountMsats) why = `the payment of ${paid.msats} msats is less than the ${row.amountMsats ?? 0} msats asked`;
    else if (row.status === "cancelled" && row.error === CANCELLED_BY_CUSTOMER) why = "you had cancelled it";
    else if (!request) why = "the request can no longer be read";
    else if (request.expiration !== null && request.expiration * 1000 <= this.deps.now()) why = "the request's expiration has passed";
    else if (!chooseModel(request.params, this.deps.inference.servedModels(), cfg.provider.defaultModel)) why = `model ${request.params.model ?? row.model} is not offered now`;
    if (why === null) {
      // The one way out of a final status (so not moveRow): the customer paid in full for a job that ended unpaid.
      this.deps.patchRow(row, { status: "paid", finishedAt: null, error: null });
      log.info("a payment came after the job ended; running it", { id: jobId, was: row.status, paymentId });
      if (this.deps.isOnline()) this.resumePaid();
      return;
    }
    const note = `${PAID_LATE_NOT_SERVED}: ${why}`;
    if (!this.deps.ledger.notePayment(paymentId, PAID_LATE_NOT_SERVED)) return;
    // The EARNINGS panel counts payments paid late and not served: the app's earnings feed hears
    // it from this job's event.
    this.deps.patchRow(row, { error: note });
    log.warn("a payment came after the job ended and it can't be run: paid late, not served", { id: jobId, paymentId, customer: row.customer, why });
    const ref: RequestRef & { relays?: string[] } = request ?? { id: row.id, customer: row.customer, encrypted: null };
    const was = row.status === "expired" ? "its invoice had expired" : row.status === "cancelled" ? "it was cancelled" : "it had failed";
    const sats = Math.floor(paid.msats / 1000);
    await this.deps.replies.sendFeedback(ref, row.relay, "error", {
      extraInfo: `paid late: your ${sats} sats arrived after ${was}, so the job was not run (${why}); contact the provider about your payment`,
    }).catch((err) => log.warn("could not tell the customer about their late payment", { id: jobId, err }));
  }

  /**
   * Runs the jobs the ledger says are paid but that nobody is working on: paid while we were down
   * or before a restart. They skip admission (the customer paid for them) and go to the queue.
   */
  resumePaid(): void {
    if (!this.deps.isOnline()) return;
    const rows = this.deps.ledger.listJobs({ statuses: ["paid"], limit: 1000 }).filter((r) => !this.deps.holds(r.id));
    for (const row of rows) {
      const parsed = this.parseRow(row);
      const request = parsed?.ok ? parsed.request : null;
      const cfg = this.deps.config();
      const model = request ? chooseModel(request.params, this.deps.inference.servedModels(), cfg.provider.defaultModel) : null;
      this.deps.runPaid(row, request, model);
    }
  }
}
