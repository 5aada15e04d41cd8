// Payment detection: connects the wallet's receives to the jobs that asked for them. A payment is
// matched by the exact bolt11 we issued or its payment hash, and credited exactly once (the
// ledger's unique keys), whether it arrives as an SDK event, through reconciliation with
// listPayments (payments that landed while we were down produce no event), or as a zap receipt.
import type { Bus } from "../bus.ts";
import { AppError, errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { Ledger } from "../ledger/ledger.ts";
import { EarningsChanged } from "../ledger/events.ts";
import type { EnginePayments } from "../jobs/engine.ts";
import { PaymentReceived } from "./events.ts";
import type { ReceivedPayment, Wallet } from "./wallet.ts";

const log = createLogger("payments");

export const DEFAULT_RECONCILE_MS = 60_000;

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export interface PaymentsOptions {
  wallet: Wallet | null;
  ledger: Ledger;
  bus: Bus;
  reconcileMs?: number;
  now?: () => number;
}

export class Payments implements EnginePayments {
  private waiters = new Map<string, Set<Waiter>>(); // by payment hash
  private unsubs: Array<() => void> = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private reconciling: Promise<number> | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: PaymentsOptions) {
    this.now = opts.now ?? Date.now;
  }

  get wallet(): Wallet | null {
    return this.opts.wallet;
  }

  start(): void {
    const w = this.opts.wallet;
    if (!w || this.timer) return;
    this.unsubs.push(w.onPayment((p) => this.credit(p, "invoice")));
    this.unsubs.push(w.onSynced(() => void this.reconcile()));
    this.timer = setInterval(() => void this.reconcile(), this.opts.reconcileMs ?? DEFAULT_RECONCILE_MS);
    void this.reconcile();
  }

  stop(): void {
    for (const u of this.unsubs.splice(0)) u();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const set of this.waiters.values()) for (const w of set) w.reject(new AppError("unavailable", "payments stopped"));
    this.waiters.clear();
  }

  ready(): { ok: true } | { ok: false; reason: string } {
    const w = this.opts.wallet;
    if (!w) return { ok: false, reason: "no wallet is set up" };
    const view = w.view();
    if (view.state === "ready") return { ok: true };
    return { ok: false, reason: view.message ?? `the wallet is ${view.state.replace("_", " ")}` };
  }

  async createInvoice(job: { id: string; amountMsats: number; description: string; expirySecs: number }) {
    const w = this.opts.wallet;
    if (!w) throw new AppError("unavailable", "no wallet is set up");
    const invoice = await w.createInvoice({ amountMsats: job.amountMsats, description: job.description, expirySecs: job.expirySecs });
    return { bolt11: invoice.bolt11, paymentHash: invoice.paymentHash };
  }

  /** Resolves once the invoice is credited; rejects when it expires unpaid or the job is aborted. */
  waitForPayment(job: { id: string; paymentHash: string; bolt11: string; expiresAt: number; signal: AbortSignal }): Promise<void> {
    const hash = job.paymentHash.toLowerCase();
    // Already credited (reconciliation ran first, or a duplicate event)?
    if (this.opts.ledger.findPaymentByHash(hash)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const set = this.waiters.get(hash) ?? new Set();
      const done = () => {
        clearTimeout(timer);
        job.signal.removeEventListener("abort", onAbort);
        set.delete(waiter);
        if (!set.size) this.waiters.delete(hash);
      };
      const waiter: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      const onAbort = () => waiter.reject(job.signal.reason ?? new AppError("conflict", "cancelled"));
      // Unpaid invoices just expire: no event comes (PLATFORM.md). One last reconcile, then give up.
      const timer = setTimeout(
        () =>
          void this.reconcile().finally(() => {
            if (set.has(waiter)) waiter.reject(new AppError("not_found", "invoice expired unpaid", { reason: "invoice_expired" }));
          }),
        Math.max(0, job.expiresAt - this.now()),
      );
      if (job.signal.aborted) return onAbort();
      job.signal.addEventListener("abort", onAbort, { once: true });
      set.add(waiter);
      this.waiters.set(hash, set);
    });
  }

  /** Credits a received payment once; returns whether it was new. Never throws (loop edge). */
  credit(p: ReceivedPayment, source: "invoice" | "zap", jobHint?: string): boolean {
    try {
      const ledger = this.opts.ledger;
      const job = jobHint ? ledger.getJob(jobHint) : ledger.findJobByInvoice({ bolt11: p.bolt11, paymentHash: p.paymentHash });
      const fresh = ledger.creditPayment({
        id: p.id,
        jobId: job?.id ?? null,
        amountMsats: p.amountMsats,
        bolt11: p.bolt11,
        paymentHash: p.paymentHash,
        source,
        receivedAt: p.receivedAt,
        markJobPaid: true,
      });
      if (fresh) {
        log.info("payment credited", { paymentId: p.id, amountMsats: p.amountMsats, jobId: job?.id ?? null, source });
        this.opts.bus.publish(PaymentReceived, { paymentId: p.id, amountMsats: p.amountMsats, jobId: job?.id ?? null });
        this.opts.bus.publish(EarningsChanged, { earnings: ledger.earnings() });
      }
      if (p.paymentHash) {
        for (const w of [...(this.waiters.get(p.paymentHash.toLowerCase()) ?? [])]) w.resolve();
      }
      return fresh;
    } catch (err) {
      log.error("could not credit a payment", { paymentId: p.id, err });
      return false;
    }
  }

  /** Credits every completed receive the ledger doesn't know yet; returns how many were new. */
  reconcile(): Promise<number> {
    const w = this.opts.wallet;
    if (!w || w.view().state !== "ready") return Promise.resolve(0);
    this.reconciling ??= (async () => {
      try {
        const list = await w.listPayments();
        let fresh = 0;
        for (const p of list) if (this.credit(p, "invoice")) fresh++;
        if (fresh) log.info("reconciled payments", { fresh });
        return fresh;
      } catch (err) {
        log.warn("reconciliation failed", { err: errorMessage(err) });
        return 0;
      } finally {
        this.reconciling = null;
      }
    })();
    return this.reconciling;
  }
}
