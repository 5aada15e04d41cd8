// Charging for a job: pay first (an invoice and a payment-required feedback, then the wait for the
// payment or a zap of that feedback) and pay after (the invoice for the tokens made, carried by
// the result). The engine does the rest of the job's life.
import type { Config } from "../config.ts";
import { AppError, errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { ZapWatch } from "./zap-watch.ts";
import type { CancelWatch } from "./cancel-watch.ts";
import type { HeldJobs, Running } from "./held-jobs.ts";
import type { EngineLedger, EnginePayments, EnginePool } from "./ports.ts";
import { finalAmount } from "./pricing.ts";
import type { Recovery } from "./recovery.ts";
import type { Replies } from "./replies.ts";

const log = createLogger("jobs");

/** What charging needs from the engine. */
export interface ChargeHost {
  pool: Pick<EnginePool, "publish">;
  ledger: Pick<EngineLedger, "getJob" | "patchJob">;
  payments: EnginePayments | null;
  config: () => Config;
  now: () => number;
  track<T>(p: Promise<T>): Promise<T>;
  held: HeldJobs;
  cancels: CancelWatch;
  replies: Replies;
  zaps: ZapWatch;
  recovery: Pick<Recovery, "paidInFull">;
  /** Queues a paid job (or runs it at once when a slot is free). */
  enqueue(job: Running): void;
  fail(job: Running, reason: string): Promise<void>;
  endStopped(job: Running): Promise<void>;
}

export class Charge {
  constructor(private readonly h: ChargeHost) {}

  /**
   * Upfront (or pay-after refused credit): an invoice, a payment-required feedback naming it (the
   * customer may also zap that feedback), then the wait. Paid → the job is queued; expired unpaid,
   * stopped or failed → it ends as such.
   */
  async chargeFirst(job: Running, price: number): Promise<void> {
    const payments = this.h.payments;
    const cfg = this.h.config();
    const ready = payments?.ready() ?? { ok: false as const, reason: "no wallet" };
    if (!payments || !ready.ok) {
      log.warn("an upfront job came while payments can't be taken", { id: job.request.id, reason: ready.ok ? "" : ready.reason });
      return this.h.fail(job, "this provider can't take payments right now; please try again later");
    }
    this.h.held.active.set(job.request.id, job);
    this.h.cancels.schedule();
    let invoice: { bolt11: string; paymentHash: string; expiresAt?: number };
    const expirySecs = cfg.pricing.invoiceExpirySecs;
    try {
      invoice = await payments.createInvoice({ id: job.request.id, amountMsats: price, description: `compute job ${job.request.id.slice(0, 12)}`, expirySecs });
    } catch (err) {
      this.h.held.active.delete(job.request.id);
      this.h.cancels.schedule();
      if (job.controller.signal.aborted) return job.parked ? undefined : this.h.endStopped(job);
      // The operator reads the wallet's reason in the log; the customer gets one they can act on.
      log.warn("could not create an invoice", { id: job.request.id, err: errorMessage(err) });
      return this.h.fail(job, "this provider's wallet could not create an invoice just now; please try again later");
    }
    try {
      job.amountMsats = price;
      job.bolt11 = invoice.bolt11;
      this.h.held.setStatus(job, "payment-required", { paymentHash: invoice.paymentHash });
      const feedback = this.h.replies.feedbackEvent(job.request, job.sourceRelay, "payment-required", {
        extraInfo: `pay ${Math.ceil(price / 1000)} sats to run this job`,
        amount: { msats: price, bolt11: invoice.bolt11 },
      });
      // NIP-90: the customer may zap this feedback instead of paying the invoice.
      this.h.zaps.noteTarget(feedback.id, job.request.id);
      const expiresAt = invoice.expiresAt ?? this.h.now() + expirySecs * 1000;
      // The waiter is registered before the feedback leaves (a quick payer may pay before our
      // publish returns), and the publish is not awaited: a relay that takes the event and never
      // answers would otherwise hold a paid job until the publish deadline. stop() drains it.
      const paid = payments.waitForPayment({ id: job.id, paymentHash: invoice.paymentHash, bolt11: invoice.bolt11, expiresAt, signal: job.controller.signal });
      paid.catch(() => {});
      this.h.track(
        this.h.pool.publish(feedback, { extraRelays: job.request.relays }).then(
          (outcomes) => {
            if (!outcomes.some((o) => o.ok)) log.warn("no relay took the payment-required feedback", { id: job.id });
          },
          (err) => log.warn("publishing the payment-required feedback failed", { id: job.id, err }),
        ),
      );
      await paid;
      job.prepaid = true;
      this.h.held.setStatus(job, "paid");
      this.h.held.active.delete(job.request.id);
      this.h.enqueue(job);
    } catch (err) {
      this.h.held.active.delete(job.request.id);
      this.h.cancels.schedule();
      if (job.parked) return;
      if (job.controller.signal.aborted) return this.h.endStopped(job);
      if (err instanceof AppError && err.code === "not_found") {
        // A payment booked in the same moment the invoice ran out still pays for the job.
        if (this.h.ledger.getJob(job.id)?.status === "paid" || this.h.recovery.paidInFull(job)) {
          job.prepaid = true;
          if (this.h.held.setStatus(job, "paid")) this.h.enqueue(job);
          return;
        }
        if (!this.h.held.setStatus(job, "expired", { error: "invoice expired unpaid" })) return;
        this.h.held.finish(job);
        await this.h.replies.sendFeedback(job.request, job.sourceRelay, "error", { extraInfo: "the invoice expired unpaid; send the job again for a new one" }).catch(() => {});
        return;
      }
      await this.h.fail(job, `could not charge for the job: ${errorMessage(err)}`);
    }
  }

  /**
   * Pay-after: the amount for the tokens made and an invoice for it. A wallet that can't make the
   * invoice doesn't cost the customer the answer: the result still goes out with the amount (and
   * no bolt11), which they can pay by zapping the result.
   */
  async invoiceAfter(job: Running, tokens: number): Promise<{ msats: number; bolt11?: string } | undefined> {
    const cfg = this.h.config();
    const msats = finalAmount(job.model, cfg.pricing, tokens);
    if (msats <= 0 || !this.h.payments) return undefined;
    job.amountMsats = msats;
    let invoice: { bolt11: string; paymentHash: string };
    try {
      invoice = await this.h.payments.createInvoice({ id: job.request.id, amountMsats: msats, description: `compute job ${job.request.id.slice(0, 12)}`, expirySecs: cfg.pricing.invoiceExpirySecs });
    } catch (err) {
      log.warn("could not create the pay-after invoice; the result goes out with the amount only", { id: job.request.id, err: errorMessage(err) });
      this.h.ledger.patchJob(job.id, { amountMsats: msats, updatedAt: this.h.now() });
      return { msats };
    }
    job.bolt11 = invoice.bolt11;
    job.paymentHash = invoice.paymentHash;
    this.h.ledger.patchJob(job.id, { amountMsats: msats, bolt11: invoice.bolt11, paymentHash: invoice.paymentHash, updatedAt: this.h.now() });
    return { msats, bolt11: invoice.bolt11 };
  }
}
