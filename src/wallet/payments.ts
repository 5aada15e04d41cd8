// Payment detection: connects the wallet's receives to the jobs that asked for them. A payment is
// matched by the exact bolt11 we issued or its payment hash, and credited exactly once (the
// ledger's unique payment id and payment hash), whether it arrives as an SDK event, through
// reconciliation (payments that landed while we were down produce no event), or as a zap (NIP-57)
// of one of a job's events.
//
// Reconciliation reads the wallet newest first, one page at a time, down to the payments it has
// already seen (with an hour of overlap for payments that complete out of order): its cost grows
// with the payments that are new, not with the history.
//
// Zaps: a kind 9735 receipt is only a claim; what one is worth against the wallet is decided in
// wallet/zaps.ts.
import type { Bus } from "../bus.ts";
import { AppError, errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { Ledger, JobRow } from "../ledger/ledger.ts";
import type { EnginePayments, ZapOutcome } from "../jobs/ports.ts";
import type { ZapClaim } from "../nostr/nip57.ts";
import { decodeBolt11 } from "../util/bolt11.ts";
import { withTimeout } from "../util/timeout.ts";
import { PaymentReceived } from "./events.ts";
import { isDeposit, type ReceivedPayment, type Wallet } from "./wallet.ts";
import { Zaps } from "./zaps.ts";

const log = createLogger("payments");

export const DEFAULT_RECONCILE_MS = 60_000;
/** Bound on every wallet call made here (PLATFORM.md: an offline SDK call can hang). */
export const DEFAULT_WALLET_CALL_MS = 15_000;
/**
 * A receive that matches none of our invoices may be a zap whose receipt is still on its way
 * (the LNURL server publishes it after the payment settles). While zaps are watched, such a
 * receive waits this long for its receipt before it is booked as a plain receive (no job).
 */
export const DEFAULT_ZAP_GRACE_MS = 30_000;
/** Reconciliation reads pages of this many receives, newest first. */
const PAGE = 100;
/** ...down to this far below the newest payment seen before: payments that complete out of order. */
export const RECONCILE_OVERLAP_MS = 60 * 60_000;

export type PaymentSourceIn = "invoice" | "zap";

/** Rejects with a sentence when the wallet doesn't answer in time. */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withTimeout(p, ms, () => new AppError("unavailable", `${what}: the wallet did not answer within ${Math.max(1, Math.round(ms / 1000))} s`));
}

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
  /** Bound on each wallet call (invoices, listings, the Lightning address). Default 15 s. */
  walletCallMs?: number;
  /** See DEFAULT_ZAP_GRACE_MS. */
  zapGraceMs?: number;
}

export class Payments implements EnginePayments {
  /** Jobs waiting for their payment (one waiter per job: the engine waits once). */
  private waiters = new Map<string, Waiter>();
  /** Receives with no job yet, held while a zap receipt may still name one (by payment id). */
  private deferred = new Map<string, { p: ReceivedPayment; timer: ReturnType<typeof setTimeout> }>();
  /** Newest receive time seen by a complete reconciliation; undefined until read from the ledger. */
  private highWater: number | null | undefined = undefined;
  private unsubs: Array<() => void> = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private reconciling: Promise<number> | null = null;
  private running = false;
  private readonly now: () => number;
  private readonly callMs: number;
  /** Zap receipts: the Lightning address, our LNURL server's key, pending claims (wallet/zaps.ts). */
  private readonly zaps: Zaps;

  constructor(private readonly opts: PaymentsOptions) {
    this.now = opts.now ?? Date.now;
    this.callMs = opts.walletCallMs ?? DEFAULT_WALLET_CALL_MS;
    this.zaps = new Zaps({
      wallet: opts.wallet,
      ledger: opts.ledger,
      bus: opts.bus,
      now: this.now,
      callMs: this.callMs,
      credit: (p, source, jobId) => this.credit(p, source, jobId),
      heldReceive: (hash) => [...this.deferred.values()].find((d) => paymentHashOf(d.p) === hash)?.p ?? null,
      reconcile: () => this.reconcile(),
      wake: (jobId) => this.wake(jobId),
    });
  }

  get wallet(): Wallet | null {
    return this.opts.wallet;
  }

  /** Listens to the wallet and reconciles now, on every sync and on a timer. Idempotent. */
  start(): void {
    const w = this.opts.wallet;
    if (!w || this.running) return;
    this.running = true;
    this.unsubs.push(w.onPayment((p) => void this.credit(p, "invoice")));
    this.unsubs.push(w.onSynced(() => void this.reconcile()));
    this.timer = setInterval(() => void this.reconcile(), this.opts.reconcileMs ?? DEFAULT_RECONCILE_MS);
    // Learn whether zaps are on before the first pass: a zap paid while we were down must be held
    // for its receipt (replayed when the engine subscribes), not booked as a plain receive.
    void this.zapsEnabled().finally(() => {
      if (this.running) void this.reconcile();
    });
  }

  /** Idempotent. Receives still held for a zap receipt are booked by the next start's reconciliation. */
  stop(): void {
    this.running = false;
    for (const u of this.unsubs.splice(0)) u();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const d of this.deferred.values()) clearTimeout(d.timer);
    this.deferred.clear();
    // The next start reads down from what the ledger has booked (the held receives weren't).
    this.highWater = undefined;
    for (const w of [...this.waiters.values()]) w.reject(new AppError("unavailable", "payments stopped"));
    this.waiters.clear();
  }

  ready(): { ok: true } | { ok: false; reason: string } {
    const w = this.opts.wallet;
    if (!w) return { ok: false, reason: "no wallet is set up" };
    const view = w.view();
    if (view.state === "ready") return { ok: true };
    if (view.state === "connecting") return { ok: false, reason: "the wallet is not connected yet" };
    if (view.state === "locked") return { ok: false, reason: "the wallet is locked" };
    return { ok: false, reason: view.message ?? `the wallet is ${view.state.replace("_", " ")}` };
  }

  async createInvoice(job: { id: string; amountMsats: number; description: string; expirySecs: number }) {
    const w = this.opts.wallet;
    if (!w) throw new AppError("unavailable", "no wallet is set up");
    const invoice = await bounded(
      w.createInvoice({ amountMsats: job.amountMsats, description: job.description, expirySecs: job.expirySecs }),
      this.callMs,
      "creating the invoice",
    );
    return { bolt11: invoice.bolt11, paymentHash: invoice.paymentHash.toLowerCase(), expiresAt: invoice.expiresAt };
  }

  /** Whether the ledger says the job's payment arrived (credit() moves it to 'paid'). */
  private isPaid(jobId: string): boolean {
    return this.opts.ledger.getJob(jobId)?.status === "paid";
  }

  private wake(jobId: string): void {
    const w = this.waiters.get(jobId);
    if (w && this.isPaid(jobId)) w.resolve();
  }

  /**
   * Resolves once the job is paid (its invoice, or a zap of one of its events); rejects with
   * AppError("not_found") when the invoice expires unpaid, or with the signal's reason.
   */
  waitForPayment(job: { id: string; paymentHash: string; bolt11: string; expiresAt: number; signal: AbortSignal }): Promise<void> {
    if (this.isPaid(job.id)) return Promise.resolve();
    if (job.signal.aborted) return Promise.reject(job.signal.reason ?? new AppError("conflict", "cancelled"));
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        job.signal.removeEventListener("abort", onAbort);
        if (this.waiters.get(job.id) === waiter) this.waiters.delete(job.id);
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
      timer = setTimeout(
        () =>
          void this.reconcile().finally(() => {
            if (this.waiters.get(job.id) !== waiter) return;
            if (this.isPaid(job.id)) waiter.resolve();
            else waiter.reject(new AppError("not_found", "invoice expired unpaid", { reason: "invoice_expired" }));
          }),
        Math.max(0, job.expiresAt - this.now()),
      );
      job.signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.get(job.id)?.reject(new AppError("conflict", "a newer wait for this job replaced this one"));
      this.waiters.set(job.id, waiter);
    });
  }

  /**
   * Credits a received payment once; returns whether it was booked now. `jobHint` (a zap) names
   * the job; otherwise the job is the one whose invoice this is, or the one a zap receipt named.
   * The job counts as paid only if the payment covers its amount. Never throws (loop edge).
   */
  credit(p: ReceivedPayment, sourceIn: PaymentSourceIn, jobHint?: string, opts: { final?: boolean } = {}): boolean {
    let source: PaymentSourceIn | "other" = sourceIn;
    try {
      const ledger = this.opts.ledger;
      const hash = paymentHashOf(p);
      // Already booked (a duplicate SDK event, a reconciliation pass, a zap and its receive)?
      const booked = ledger.getPayment(p.id) ?? (hash ? ledger.findPaymentByHash(hash) : null);
      if (booked) {
        this.undefer(p.id);
        if (booked.jobId) this.wake(booked.jobId);
        return false;
      }
      let job: JobRow | null = null;
      if (jobHint) {
        job = ledger.getJob(jobHint);
      } else {
        job = ledger.findJobByInvoice({ bolt11: p.bolt11, paymentHash: hash });
        // A receipt came first: the job it names, if the wallet's own record commits to its zap request.
        const claimed = !job && hash ? this.zaps.claimedJob(hash, p) : undefined;
        if (claimed) {
          job = ledger.getJob(claimed);
          source = "zap";
        }
      }
      if (p.zapRequest) this.zaps.keepRequest(p.id, p.zapRequest);
      // The owner's own deposit (an invoice made by RECEIVE, or a Spark or on-chain transfer, which
      // no customer or zap uses) is booked as "other": money in, but not earnings.
      if (!job && isDeposit(p)) source = "other";
      if (!job && source === "invoice" && this.zaps.watching && !opts.final && this.running) {
        this.defer(p);
        return false;
      }
      const covers = job !== null && job.amountMsats !== null && p.amountMsats >= job.amountMsats;
      const fresh = ledger.creditPayment({
        id: p.id,
        jobId: job?.id ?? null,
        amountMsats: p.amountMsats,
        bolt11: p.bolt11,
        paymentHash: hash,
        source,
        receivedAt: p.receivedAt,
        markJobPaid: covers,
      });
      this.undefer(p.id);
      if (hash) this.zaps.forgetClaims(hash);
      if (fresh) {
        if (job && !covers && job.amountMsats !== null) {
          log.warn("a payment for a job was less than its price; booked, but the job is not paid", { paymentId: p.id, jobId: job.id, amountMsats: p.amountMsats, priceMsats: job.amountMsats });
        }
        log.info("payment credited", { paymentId: p.id, amountMsats: p.amountMsats, jobId: job?.id ?? null, source });
        // The app's earnings feed (unlocked-services.ts) follows PaymentReceived.
        this.opts.bus.publish(PaymentReceived, { paymentId: p.id, amountMsats: p.amountMsats, jobId: job?.id ?? null });
      }
      if (job) this.wake(job.id);
      return fresh;
    } catch (err) {
      log.error("could not credit a payment", { paymentId: p.id, err });
      return false;
    }
  }

  private defer(p: ReceivedPayment): void {
    if (this.deferred.has(p.id)) return;
    const timer = setTimeout(() => {
      this.deferred.delete(p.id);
      this.credit(p, "invoice", undefined, { final: true });
    }, this.opts.zapGraceMs ?? DEFAULT_ZAP_GRACE_MS);
    this.deferred.set(p.id, { p, timer });
    log.debug("holding a receive with no job while its zap receipt may still come", { paymentId: p.id });
  }

  private undefer(paymentId: string): void {
    const d = this.deferred.get(paymentId);
    if (!d) return;
    clearTimeout(d.timer);
    this.deferred.delete(paymentId);
  }

  /** Whether the last reconciliation read the wallet's payments (see reconciledNow). */
  private reconcileOk = false;

  /**
   * Reconciles now and says how it went: "reconciled" (every payment the wallet has is booked),
   * "no-wallet" (none is set up: no payment can come), "not-now" (not ready, or the listing
   * failed). The engine decides that an unpaid invoice expired only after one of the first two.
   */
  async reconciledNow(): Promise<"reconciled" | "no-wallet" | "not-now"> {
    const w = this.opts.wallet;
    if (!w) return "no-wallet";
    if (w.view().state !== "ready") return "not-now";
    // One already running may have listed before a payment landed: wait for it, then list again.
    if (this.reconciling) await this.reconciling;
    this.reconcileOk = false;
    await this.reconcile();
    return this.reconcileOk ? "reconciled" : "not-now";
  }

  /** Credits every completed receive the ledger doesn't know yet; returns how many were new. */
  reconcile(): Promise<number> {
    const w = this.opts.wallet;
    if (!w || w.view().state !== "ready") return Promise.resolve(0);
    this.reconciling ??= (async () => {
      try {
        const fresh = await this.pass(w);
        if (fresh) log.info("reconciled payments", { fresh });
        this.reconcileOk = true;
        return fresh;
      } catch (err) {
        log.warn("reconciliation failed", { err: errorMessage(err) });
        this.reconcileOk = false;
        return 0;
      } finally {
        this.reconciling = null;
      }
    })();
    return this.reconciling;
  }

  /**
   * One reconciliation pass: newest first, page by page, down to a page that reaches below the
   * newest payment the last complete pass saw (less RECONCILE_OVERLAP_MS), or the end of the
   * history. With nothing new that is one page however long the history; the first pass on an
   * empty ledger reads it all, once.
   */
  private async pass(w: Wallet): Promise<number> {
    let fresh = 0;
    // Never above our clock: a payment stamped in the future must not hide the ones below it.
    if (this.highWater === undefined) {
      const last = this.opts.ledger.payments({ limit: 1 })[0]?.receivedAt;
      this.highWater = last === undefined ? null : Math.min(last, this.now());
    }
    const floor = this.highWater === null ? -Infinity : this.highWater - RECONCILE_OVERLAP_MS;
    let newest = this.highWater ?? -Infinity;
    for (let offset = 0; ; offset += PAGE) {
      const page = await bounded(w.receivedPage({ offset, limit: PAGE }), this.callMs, "listing payments");
      let below = false;
      for (const p of page.payments) {
        if (this.credit(p, "invoice")) fresh++;
        if (p.receivedAt > newest) newest = p.receivedAt;
        if (p.receivedAt < floor) below = true;
      }
      if (page.end || below) break;
    }
    if (Number.isFinite(newest)) this.highWater = Math.min(newest, this.now());
    return fresh;
  }

  /**
   * NIP-57: zaps reach us only through a Lightning address. True when the wallet has one; while
   * true, receives that match no invoice wait briefly for their receipt (see DEFAULT_ZAP_GRACE_MS).
   */
  zapsEnabled(): Promise<boolean> {
    return this.zaps.enabled();
  }

  /** NIP-57: the key that signs our zap receipts (our LNURL-pay endpoint's nostrPubkey); see wallet/zaps.ts. */
  zapperPubkey(): Promise<string | null> {
    return this.zaps.zapperPubkey();
  }

  /** A checked zap claim naming one of `jobId`'s events: what it is worth against the wallet (wallet/zaps.ts). */
  zapReceived(claim: ZapClaim, jobId: string): Promise<ZapOutcome> {
    return this.zaps.received(claim, jobId);
  }
}

/** The wallet's newest `limit` receives, newest first, reading only the pages they fill (for history). */
export async function newestReceived(w: Wallet, limit: number): Promise<ReceivedPayment[]> {
  const n = Math.max(0, Math.floor(limit));
  if (n === 0) return [];
  const out: ReceivedPayment[] = [];
  for (let offset = 0; out.length < n; offset += PAGE) {
    const page = await w.receivedPage({ offset, limit: PAGE });
    out.push(...page.payments);
    if (page.end) break;
  }
  return out.slice(0, n);
}

/**
 * Refuses, before the wallet is asked, a destination that is none of the kinds a wallet can pay:
 * the SDK's own answer for those is a bare "invalid input". The wallet module is loaded lazily.
 */
export async function checkDestination(destination: string): Promise<void> {
  const { parseLocally } = await import("./spark-records.ts");
  try {
    parseLocally(destination);
  } catch (err) {
    const shown = destination.trim().length > 40 ? `${destination.trim().slice(0, 37)}...` : destination.trim();
    const why = errorMessage(err).replace(/\.$/, "");
    throw new AppError("invalid_input", `Can't pay '${shown}': ${why.charAt(0).toLowerCase()}${why.slice(1)}.`);
  }
}

/** The payment hash of a receive: as reported, else read from its bolt11. */
function paymentHashOf(p: ReceivedPayment): string | null {
  if (p.paymentHash) return p.paymentHash.toLowerCase();
  if (!p.bolt11) return null;
  try {
    return decodeBolt11(p.bolt11).paymentHash;
  } catch {
    return null;
  }
}
