// Zaps (NIP-57) of a job's feedback and results, on the wallet's side. The engine's ZapWatch
// (jobs/zap-watch.ts) watches the relays for receipts of our events and names the job each is for;
// Zaps (Payments holds one) knows whether zaps can reach us (a Lightning address), who may sign our
// receipts (the LNURL-pay endpoint's nostrPubkey), and what a checked receipt is worth against the
// wallet; Payments does the booking.
//
// A kind 9735 receipt is only a claim — anyone can sign one, and whoever publishes it writes its
// bolt11. A payment counts for a job on a zap only when (1) the receipt is signed by the
// `nostrPubkey` of our own Lightning address's LNURL-pay endpoint, when that names one; (2) the
// zap request (signed by the payer) names one of our events for that job and p-tags us; and
// (3) OUR WALLET's own record of the payment — the invoice as the wallet stores it, or the zap
// request the wallet keeps with it — commits to that zap request (description hash = sha256 of the
// request, NIP-57 appendix F) for the amount it asks. A payment already booked for a deposit or
// another job is never relinked on a receipt's word. The receipt only says which job it was for.
import { z } from "zod";
import type { Bus } from "../bus.ts";
import { AppError, errorMessage } from "../errors.ts";
import type { ZapOutcome } from "../jobs/ports.ts";
import type { JobRow, Ledger } from "../ledger/ledger.ts";
import { createLogger } from "../log.ts";
import { walletCommitsToZap, zapRequestSha, zapTerms, type ZapClaim, type ZapTerms } from "../nostr/nip57.ts";
import { Hex64 } from "../nostr/nip90.ts";
import { withTimeout } from "../util/timeout.ts";
import { PaymentReceived } from "./events.ts";
import type { LightningAddress, ReceivedPayment, Wallet } from "./wallet.ts";

const log = createLogger("payments");

/**
 * Zap claims remembered while their payment hasn't shown up in the wallet yet: at most this many,
 * each for at most CLAIM_TTL_MS (a receipt is published after the payment settles, so the wallet
 * sees it within seconds). When full, new claims are not remembered: old ones are never pushed out.
 */
const MAX_CLAIMS = 2_000;
const MAX_CLAIMS_PER_HASH = 4;
const CLAIM_TTL_MS = 10 * 60_000;
/** Receipts naming payments we haven't seen look the wallet up at most this often (one incremental pass). */
const ZAP_LOOKUP_MS = 1_000;
/** The LNURL-pay endpoint's nostrPubkey: learned once, kept this long; a failed fetch is retried after a minute. */
const ZAPPER_TTL_MS = 60 * 60_000;
const ZAPPER_RETRY_MS = 60_000;
const ZAPPER_FETCH_MS = 5_000;
/** Zap requests the wallet kept with recent payments (by payment id), for a receipt that comes after the booking. */
const MAX_KEPT_REQUESTS = 1_000;

const ZapperInfo = z.object({ allowsNostr: z.boolean().optional(), nostrPubkey: z.string().optional() });

interface PendingClaim {
  jobId: string;
  terms: ZapTerms;
  at: number;
}

/** What Zaps needs from Payments. */
export interface ZapsHost {
  wallet: Wallet | null;
  ledger: Ledger;
  bus: Bus;
  now(): number;
  /** Bound on each wallet call. */
  callMs: number;
  /** Books a receive for `jobId` as its zap (Payments.credit). */
  credit(p: ReceivedPayment, source: "zap", jobId: string): boolean;
  /** A receive with this payment hash held while its receipt may still come; null when none. */
  heldReceive(paymentHash: string): ReceivedPayment | null;
  /** One incremental reconciliation pass. */
  reconcile(): Promise<unknown>;
  /** Resolves the wait for `jobId`'s payment if the ledger says it is paid. */
  wake(jobId: string): void;
}

export class Zaps {
  /** While true, receives that match no invoice wait briefly for their receipt (Payments.defer). */
  watching = false;
  /** Zap receipts whose payment the wallet hasn't shown yet: payment hash → the claims naming it. */
  private claims = new Map<string, PendingClaim[]>();
  private claimCount = 0;
  /** sha256 of the zap requests the wallet kept with recent payments, by payment id (for linkLate). */
  private keptRequests = new Map<string, string>();
  private lookup: { at: number; done: Promise<unknown> } | null = null;
  /** The wallet's Lightning address as last read (for its LNURL-pay endpoint), shared by concurrent readers. */
  private laRead: { at: number; shown: string | null; la: Promise<LightningAddress | null> } | null = null;
  private zapper: { url: string; pubkey: string | null; until: number; pending: Promise<string | null> | null } | null = null;

  constructor(private readonly host: ZapsHost) {}

  /** The job a claim remembered for this payment names, if the wallet's record `p` commits to its zap request. */
  claimedJob(paymentHash: string, p: ReceivedPayment): string | undefined {
    return this.claims.get(paymentHash)?.find((c) => walletCommitsToZap(p, c.terms))?.jobId;
  }

  /**
   * NIP-57: zaps reach us only through a Lightning address. True when the wallet has one; while
   * true, receives that match no invoice wait briefly for their receipt (see DEFAULT_ZAP_GRACE_MS).
   */
  async enabled(): Promise<boolean> {
    const w = this.host.wallet;
    let on = false;
    if (w && w.view().state === "ready") {
      if (w.view().lightningAddress) on = true;
      else on = (await this.readLightningAddress()) !== null;
      if (on) void this.zapperPubkey();
    }
    this.watching = on;
    return on;
  }

  /**
   * The wallet's Lightning address (for its LNURL-pay endpoint); null when none or unreadable.
   * Read again after a minute, or when the wallet shows another address than when it was read.
   */
  private readLightningAddress(): Promise<LightningAddress | null> {
    const w = this.host.wallet;
    if (!w || w.view().state !== "ready") return Promise.resolve(null);
    const t = this.host.now();
    const shown = w.view().lightningAddress ?? null;
    const last = this.laRead;
    if (last && last.shown === shown && t - last.at < ZAPPER_RETRY_MS) return last.la;
    const la = withTimeout(w.getLightningAddress(), this.host.callMs, () => new AppError("unavailable", "reading the Lightning address: the wallet did not answer")).catch(() => null);
    this.laRead = { at: t, shown, la };
    return la;
  }

  /**
   * NIP-57: the `nostrPubkey` of our Lightning address's LNURL-pay endpoint, which signs our zap
   * receipts; null when the endpoint names none or can't be read (then the wallet's own record
   * alone decides). Read once (bounded by a timeout) and kept; a failed read is retried later.
   */
  async zapperPubkey(): Promise<string | null> {
    const url = (await this.readLightningAddress())?.payUrl ?? null;
    if (!url) return null;
    const t = this.host.now();
    const z = this.zapper;
    if (z && z.url === url) {
      if (z.pending) return z.pending;
      if (t < z.until) return z.pubkey;
    }
    const entry: NonNullable<typeof this.zapper> = { url, pubkey: null, until: 0, pending: null };
    entry.pending = (async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(ZAPPER_FETCH_MS), headers: { accept: "application/json" } });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const text = await res.text();
        if (text.length > 64 * 1024) throw new Error("answer too large");
        const info = ZapperInfo.safeParse(JSON.parse(text));
        if (!info.success) throw new Error("not an LNURL-pay answer");
        const pk = info.data.nostrPubkey?.toLowerCase();
        entry.pubkey = info.data.allowsNostr === true && pk && Hex64.safeParse(pk).success ? pk : null;
        entry.until = this.host.now() + ZAPPER_TTL_MS;
        if (entry.pubkey) log.debug("zap receipts must be signed by our LNURL server's key", { nostrPubkey: entry.pubkey });
      } catch (err) {
        entry.pubkey = null;
        entry.until = this.host.now() + ZAPPER_RETRY_MS;
        log.warn("could not read our LNURL-pay endpoint's nostrPubkey; zaps are checked against the wallet alone for now", { err: errorMessage(err) });
      } finally {
        entry.pending = null;
      }
      return entry.pubkey;
    })();
    this.zapper = entry;
    return entry.pending;
  }

  /**
   * A checked zap claim (readZapClaim) naming one of `jobId`'s events. Credits the job only when
   * the receipt is our zapper's (where our LNURL endpoint names one) and the wallet's own record
   * of the payment commits to the claim's zap request; a payment the wallet hasn't shown yet is
   * looked up at most once a second (an incremental pass), then the claim is remembered (bounded)
   * so that the payment, if it arrives and commits, is booked for the job. A forged receipt
   * therefore never moves money, nor relabels a payment booked for something else.
   */
  async received(claim: ZapClaim, jobId: string): Promise<ZapOutcome> {
    const ledger = this.host.ledger;
    const hash = claim.paymentHash.toLowerCase();
    const job = ledger.getJob(jobId);
    const terms = typeof claim.zapRequest === "string" ? zapTerms(claim.zapRequest) : null;
    if (!job || !terms) return "rejected";
    const zapper = await this.zapperPubkey();
    if (zapper !== null && claim.signer?.toLowerCase() !== zapper) {
      log.debug("zap receipt not signed by our LNURL server", { receiptId: claim.receiptId });
      return "rejected";
    }
    // Our own invoice for some job: never a zap invoice (those are made for the zap request).
    const invoiceOf = ledger.findJobByInvoice({ paymentHash: hash });
    if (invoiceOf) return invoiceOf.id === jobId ? "already" : "rejected";
    const settle = (): ZapOutcome | null => {
      const booked = ledger.findPaymentByHash(hash);
      if (booked) {
        if (booked.jobId === jobId) return "already";
        // Another job's, or the owner's deposit ("other"): never relinked on a receipt's word.
        if (booked.jobId !== null || booked.source !== "invoice") return "rejected";
        // Booked as a plain receive because the receipt came after the grace: the money already
        // counts (once); the job learns it was paid, if the wallet's record says it was its zap.
        const record = { amountMsats: booked.amountMsats, bolt11: booked.bolt11, zapRequestSha: this.keptRequests.get(booked.id) ?? null };
        return walletCommitsToZap(record, terms) ? this.linkLate(job, booked.amountMsats, booked.id) : "rejected";
      }
      const held = this.host.heldReceive(hash);
      if (held) {
        if (!walletCommitsToZap(held, terms)) return "rejected";
        this.host.credit(held, "zap", jobId);
        return ledger.findPaymentByHash(hash)?.jobId === jobId ? "credited" : "rejected";
      }
      return null;
    };
    const now = settle();
    if (now) return now;
    // Not in the wallet as far as we know: one incremental look (shared by every receipt of the
    // second), then remember the claim for when the payment arrives.
    try {
      await this.lookUp();
    } catch (err) {
      log.warn("could not look the zap's payment up in the wallet", { receiptId: claim.receiptId, err: errorMessage(err) });
    }
    const after = settle();
    if (after) return after;
    this.rememberClaim(hash, { jobId, terms, at: this.host.now() });
    return "waiting";
  }

  private linkLate(job: JobRow, amountMsats: number, paymentId: string): ZapOutcome {
    const ledger = this.host.ledger;
    // The money already counts once; now it also counts for this job (and its model).
    if (!ledger.linkPayment(paymentId, job.id, "zap")) return ledger.getPayment(paymentId)?.jobId === job.id ? "already" : "rejected";
    const covers = job.amountMsats !== null && amountMsats >= job.amountMsats;
    const paysNow = covers && (job.status === "payment-required" || job.status === "received");
    if (paysNow) {
      ledger.updateJob(job.id, { status: "paid" });
      log.info("a zap paid for a job after its payment was booked as a plain receive", { paymentId, jobId: job.id });
    }
    // Not paid by it now (a job already over, or running): the engine decides; a late payment is never kept silently.
    this.host.bus.publish(PaymentReceived, { paymentId, amountMsats, jobId: job.id });
    if (paysNow) this.host.wake(job.id);
    return "linked";
  }

  /** Remembers a claim for a payment not seen yet; when full (a flood), new claims are dropped, never old ones. */
  private rememberClaim(hash: string, claim: PendingClaim): void {
    const list = this.claims.get(hash) ?? [];
    if (list.some((c) => c.jobId === claim.jobId && c.terms.sha === claim.terms.sha)) return;
    if (this.claimCount >= MAX_CLAIMS) this.pruneClaims();
    if (this.claimCount >= MAX_CLAIMS || list.length >= MAX_CLAIMS_PER_HASH) {
      log.debug("too many zap claims waiting for their payment; not remembering this one", { jobId: claim.jobId });
      return;
    }
    list.push(claim);
    this.claims.set(hash, list);
    this.claimCount++;
  }

  forgetClaims(hash: string): void {
    const list = this.claims.get(hash);
    if (!list) return;
    this.claims.delete(hash);
    this.claimCount -= list.length;
  }

  private pruneClaims(): void {
    const oldest = this.host.now() - CLAIM_TTL_MS;
    for (const [hash, list] of this.claims) {
      const kept = list.filter((c) => c.at >= oldest);
      this.claimCount -= list.length - kept.length;
      if (kept.length) this.claims.set(hash, kept);
      else this.claims.delete(hash);
    }
  }

  keepRequest(paymentId: string, zapRequest: string): void {
    this.keptRequests.delete(paymentId);
    this.keptRequests.set(paymentId, zapRequestSha(zapRequest));
    if (this.keptRequests.size > MAX_KEPT_REQUESTS) this.keptRequests.delete(this.keptRequests.keys().next().value!);
  }

  /** An incremental reconciliation on behalf of zap receipts, at most once per ZAP_LOOKUP_MS. */
  private lookUp(): Promise<unknown> {
    const w = this.host.wallet;
    if (!w || w.view().state !== "ready") return Promise.reject(new AppError("unavailable", "the wallet is not ready"));
    const t = this.host.now();
    if (this.lookup && t - this.lookup.at < ZAP_LOOKUP_MS) return this.lookup.done;
    const done = this.host.reconcile();
    this.lookup = { at: t, done };
    return done;
  }
}
