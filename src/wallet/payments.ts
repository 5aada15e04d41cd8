// Payment detection: connects the wallet's receives to the jobs that asked for them. A payment is
// matched by the exact bolt11 we issued or its payment hash, and credited exactly once (the
// ledger's unique payment id and payment hash), whether it arrives as an SDK event, through
// reconciliation with listPayments (payments that landed while we were down produce no event),
// or as a zap (NIP-57) of one of a job's events.
//
// Zaps: a kind 9735 receipt is only a claim — anyone can sign one. It counts for a job only when
// (1) its invoice is bound to the zap request (the invoice's description hash is the sha256 of the
// zap request, NIP-57 appendix F), (2) the zap request (signed by the payer) names one of our
// events for that job and p-tags us, and (3) our own wallet received a payment for that invoice.
// The wallet is the only source of truth about money; the receipt only says which job it was for.
import { createHash } from "node:crypto";
import type { Bus } from "../bus.ts";
import { AppError, errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { Ledger, JobRow } from "../ledger/ledger.ts";
import { EarningsChanged } from "../ledger/events.ts";
import type { EnginePayments } from "../jobs/engine.ts";
import { parseZapReceipt, NostrEvent, Hex64 } from "../nostr/nip90.ts";
import { decodeBolt11 } from "./bolt11.ts";
import { PaymentReceived } from "./events.ts";
import { isDeposit, type ReceivedPayment, type Wallet } from "./wallet.ts";

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
/** Zap claims remembered while their payment hasn't shown up in the wallet yet. */
const MAX_CLAIMS = 10_000;
/** One wallet listing serves all zap receipts arriving in a burst. */
const LIST_CACHE_MS = 1_000;

export type PaymentSourceIn = "invoice" | "zap";

/** What a zap receipt claims, once read and checked (readZapClaim). */
export interface ZapClaim {
  /** The receipt's own id. */
  receiptId: string;
  /** The event the zap request names (e tag): one of our feedback/result events. */
  eventId: string;
  bolt11: string;
  paymentHash: string;
  amountMsats: number;
  /** The zapper (the zap request's author). */
  sender: string;
}

/** What became of a zap receipt. */
export type ZapOutcome =
  | "credited" // the wallet had the payment: booked for the job now
  | "linked" // the payment was already booked as a plain receive: the job is now known to be paid
  | "waiting" // the wallet hasn't seen the payment yet: it is booked for the job when it arrives
  | "already" // this payment was already booked for this job
  | "rejected"; // the receipt names a payment that belongs to something else

/**
 * Reads a kind 9735 zap receipt addressed to `ourPubkey` and checks what can be checked without
 * the wallet: a validly signed zap request (kind 9734) inside, which p-tags us and e-tags the
 * zapped event, and an invoice that is bound to that zap request. Pure; a reason on failure.
 */
export function readZapClaim(event: unknown, ourPubkey: string): { ok: true; claim: ZapClaim } | { ok: false; reason: string } {
  const receipt = parseZapReceipt(event);
  if (!receipt) return { ok: false, reason: "not a well-formed zap receipt" };
  const shape = NostrEvent.parse(event);
  const description = shape.tags.find((t) => t[0] === "description")?.[1] ?? "";
  let zapRequest: NostrEvent;
  try {
    zapRequest = NostrEvent.parse(JSON.parse(description));
  } catch {
    return { ok: false, reason: "the zap request inside is unreadable" };
  }
  const reqTag = (name: string) => zapRequest.tags.filter((t) => t[0] === name).map((t) => (t[1] ?? "").toLowerCase());
  // NIP-57: the zap request has exactly one p tag, the recipient.
  const ps = reqTag("p");
  if (ps.length !== 1 || ps[0] !== ourPubkey) return { ok: false, reason: "the zap request is not addressed to us" };
  // The zapped event as the payer signed it (the receipt's own e tag is only the server's copy).
  const es = reqTag("e");
  if (es.length !== 1 || !Hex64.safeParse(es[0]).success) return { ok: false, reason: "the zap request names no single event" };
  if (receipt.recipient !== null && receipt.recipient.toLowerCase() !== ourPubkey) return { ok: false, reason: "the receipt is for someone else" };
  let invoice;
  try {
    invoice = decodeBolt11(receipt.bolt11);
  } catch (err) {
    return { ok: false, reason: `the receipt's invoice is unreadable (${errorMessage(err)})` };
  }
  // NIP-57 appendix F: the invoice commits to the zap request. Without this a receipt could pair
  // any payment we received (say another customer's invoice) with any event it likes.
  const sha = createHash("sha256").update(description, "utf8").digest("hex");
  const bound = invoice.descriptionHash !== null ? invoice.descriptionHash === sha : invoice.description === description;
  if (!bound) return { ok: false, reason: "the invoice is not bound to the zap request" };
  if (invoice.amountMsats === null) return { ok: false, reason: "the zap invoice has no amount" };
  return {
    ok: true,
    claim: { receiptId: shape.id, eventId: es[0]!, bolt11: receipt.bolt11, paymentHash: invoice.paymentHash, amountMsats: invoice.amountMsats, sender: receipt.sender },
  };
}

/** Rejects with a sentence when the wallet doesn't answer in time. */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError("unavailable", `${what}: the wallet did not answer within ${Math.max(1, Math.round(ms / 1000))} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
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
  /** Zap receipts whose payment the wallet hasn't shown yet: payment hash → job id. */
  private claims = new Map<string, string>();
  private unsubs: Array<() => void> = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private reconciling: Promise<number> | null = null;
  private listing: { at: number; list: Promise<ReceivedPayment[]> } | null = null;
  private zapWatch = false;
  private running = false;
  private readonly now: () => number;
  private readonly callMs: number;

  constructor(private readonly opts: PaymentsOptions) {
    this.now = opts.now ?? Date.now;
    this.callMs = opts.walletCallMs ?? DEFAULT_WALLET_CALL_MS;
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
        const claimed = !job && hash ? this.claims.get(hash) : undefined;
        if (claimed) {
          job = ledger.getJob(claimed);
          source = "zap";
        }
      }
      // The owner's own deposit (an invoice made by RECEIVE, or a Spark or on-chain transfer, which
      // no customer or zap uses) is booked as "other": money in, but not earnings.
      if (!job && isDeposit(p)) source = "other";
      if (!job && source === "invoice" && this.zapWatch && !opts.final && this.running) {
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
      if (hash) this.claims.delete(hash);
      if (fresh) {
        if (job && !covers && job.amountMsats !== null) {
          log.warn("a payment for a job was less than its price; booked, but the job is not paid", { paymentId: p.id, jobId: job.id, amountMsats: p.amountMsats, priceMsats: job.amountMsats });
        }
        log.info("payment credited", { paymentId: p.id, amountMsats: p.amountMsats, jobId: job?.id ?? null, source });
        this.opts.bus.publish(PaymentReceived, { paymentId: p.id, amountMsats: p.amountMsats, jobId: job?.id ?? null });
        this.opts.bus.publish(EarningsChanged, { earnings: ledger.earnings() });
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

  /** Credits every completed receive the ledger doesn't know yet; returns how many were new. */
  reconcile(): Promise<number> {
    const w = this.opts.wallet;
    if (!w || w.view().state !== "ready") return Promise.resolve(0);
    this.reconciling ??= (async () => {
      try {
        const list = await bounded(w.listPayments(), this.callMs, "listing payments");
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

  /**
   * NIP-57: zaps reach us only through a Lightning address. True when the wallet has one; while
   * true, receives that match no invoice wait briefly for their receipt (see DEFAULT_ZAP_GRACE_MS).
   */
  async zapsEnabled(): Promise<boolean> {
    const w = this.opts.wallet;
    let on = false;
    if (w && w.view().state === "ready") {
      if (w.view().lightningAddress) on = true;
      else on = (await bounded(w.getLightningAddress(), this.callMs, "reading the Lightning address").catch(() => null)) !== null;
    }
    this.zapWatch = on;
    return on;
  }

  /**
   * A checked zap claim (readZapClaim) naming one of `jobId`'s events. Credits the job only when
   * the wallet received the claimed invoice; otherwise remembers the claim so that the payment,
   * if it ever arrives, is booked for the job. A forged receipt therefore never moves money.
   */
  async zapReceived(claim: ZapClaim, jobId: string): Promise<ZapOutcome> {
    const ledger = this.opts.ledger;
    const hash = claim.paymentHash.toLowerCase();
    const job = ledger.getJob(jobId);
    if (!job) return "rejected";
    // Our own invoice for some job: never a zap invoice (those are made for the zap request).
    const invoiceOf = ledger.findJobByInvoice({ bolt11: claim.bolt11, paymentHash: hash });
    if (invoiceOf) return invoiceOf.id === jobId ? "already" : "rejected";
    const booked = ledger.findPaymentByHash(hash);
    if (booked) {
      if (booked.jobId === jobId) return "already";
      if (booked.jobId !== null) return "rejected";
      // Booked as a plain receive because the receipt came after the grace: the money already
      // counts (once); the job learns it was paid.
      return this.linkLate(job, booked.amountMsats, booked.id);
    }
    this.rememberClaim(hash, jobId);
    const held = [...this.deferred.values()].find((d) => paymentHashOf(d.p) === hash);
    if (held) {
      this.credit(held.p, "zap", jobId);
      return "credited";
    }
    let list: ReceivedPayment[];
    try {
      list = await this.recentPayments();
    } catch (err) {
      log.warn("could not look the zap's payment up in the wallet", { receiptId: claim.receiptId, err: errorMessage(err) });
      return "waiting";
    }
    const p = list.find((x) => paymentHashOf(x) === hash);
    if (!p) return "waiting";
    return this.credit(p, "zap", jobId) ? "credited" : ledger.findPaymentByHash(hash)?.jobId === jobId ? "already" : "rejected";
  }

  private linkLate(job: JobRow, amountMsats: number, paymentId: string): ZapOutcome {
    const ledger = this.opts.ledger;
    // The money already counts once; now it also counts for this job (and its model).
    ledger.linkPayment(paymentId, job.id, "zap");
    const covers = job.amountMsats !== null && amountMsats >= job.amountMsats;
    if (covers && (job.status === "payment-required" || job.status === "received")) {
      ledger.updateJob(job.id, { status: "paid" });
      log.info("a zap paid for a job after its payment was booked as a plain receive", { paymentId, jobId: job.id });
      this.opts.bus.publish(PaymentReceived, { paymentId, amountMsats, jobId: job.id });
      this.wake(job.id);
    }
    return "linked";
  }

  private rememberClaim(hash: string, jobId: string): void {
    this.claims.delete(hash);
    this.claims.set(hash, jobId);
    if (this.claims.size > MAX_CLAIMS) this.claims.delete(this.claims.keys().next().value!);
  }

  /** The wallet's receives, shared by receipts arriving together. */
  private recentPayments(): Promise<ReceivedPayment[]> {
    const w = this.opts.wallet;
    if (!w || w.view().state !== "ready") return Promise.reject(new AppError("unavailable", "the wallet is not ready"));
    const t = this.now();
    if (this.listing && t - this.listing.at < LIST_CACHE_MS) return this.listing.list;
    const list = bounded(w.listPayments(), this.callMs, "listing payments");
    this.listing = { at: t, list };
    list.catch(() => {
      if (this.listing?.list === list) this.listing = null;
    });
    return list;
  }
}

/**
 * Refuses, before the wallet is asked, a destination that is none of the kinds a wallet can pay:
 * the SDK's own answer for those is a bare "invalid input". The wallet module is loaded lazily.
 */
export async function checkDestination(destination: string): Promise<void> {
  const { parseLocally } = await import("./spark.ts");
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
