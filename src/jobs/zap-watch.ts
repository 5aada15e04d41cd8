// Zap receipts (NIP-57) of the engine's feedback and results: which job each of our events belongs
// to, the kind 9735 subscription while zaps can reach us, and each readable receipt handed with its
// job to the payments (EnginePayments.zapReceived: wallet/zaps.ts weighs it against the wallet).
import { createLogger } from "../log.ts";
import { ZAP_RECEIPT } from "../nostr/kinds.ts";
import { readZapClaim } from "../nostr/nip57.ts";
import type { NostrEvent } from "../nostr/nip90.ts";
import type { EngineLedger, EnginePayments, EnginePool } from "./ports.ts";

const log = createLogger("jobs");

/**
 * Zap receipts are read this far back on subscribe, so a zap made while we were down still names
 * its job (the payment itself is found by reconciliation either way).
 */
const ZAP_LOOKBACK_SECS = 24 * 3600;
/**
 * Zap targets of jobs finished longer ago than this are forgotten (a zap made later is booked as a
 * plain receive). Receipts are read ZAP_LOOKBACK_SECS back, so a week leaves plenty of margin.
 */
const ZAP_TARGET_KEEP_MS = 7 * 24 * 3600_000;

export interface ZapWatchDeps {
  pool: Pick<EnginePool, "subscribe">;
  ledger: Pick<EngineLedger, "setZapTarget" | "zapTarget" | "pruneZapTargets">;
  payments: EnginePayments | null;
  pubkey: string;
  now: () => number;
  isOnline(): boolean;
  isStopped(): boolean;
  /** Where the subscription's events go (the engine's event loop, which calls onReceipt). */
  onEvent(event: NostrEvent, relay: string): void;
}

/**
 * PROTOCOL.md: a provider that shows an invoice should also watch for zaps of its feedback and
 * results. Remembers which job each of our events belongs to, watches kind 9735 receipts p-tagged
 * to us, and hands each readable one, with the job it names, to the payments.
 */
export class ZapWatch {
  /** NIP-57 zap receipts p-tagged to us, while zaps can reach us. */
  private zapSub: { close(): void } | null = null;
  private zapsOn = false;
  private zapSeen = new Set<string>();

  constructor(private readonly deps: ZapWatchDeps) {}

  /**
   * Opens or closes the kind 9735 subscription: zaps reach us only through a Lightning address,
   * so it is open only while the wallet has one (and we are online).
   */
  async update(): Promise<void> {
    const payments = this.deps.payments;
    let on = false;
    if (payments) {
      on = await payments.zapsEnabled().catch((err) => {
        log.debug("could not tell whether zaps are on", { err });
        return false;
      });
    }
    this.zapsOn = on;
    if (!on || !this.deps.isOnline() || this.deps.isStopped()) {
      this.close();
      return;
    }
    if (this.zapSub) return;
    const since = Math.floor(this.deps.now() / 1000) - ZAP_LOOKBACK_SECS;
    this.zapSub = this.deps.pool.subscribe([{ kinds: [ZAP_RECEIPT], "#p": [this.deps.pubkey], since }], {
      onEvent: (ev, relay) => this.deps.onEvent(ev, relay),
    });
    log.info("watching zaps of our feedback and results");
  }

  close(): void {
    this.zapSub?.close();
    this.zapSub = null;
  }

  /** Remembers which job an event of ours belongs to, so a zap of it can pay for that job. */
  noteTarget(eventId: string, jobId: string): void {
    if (!this.zapsOn) return;
    try {
      this.deps.ledger.setZapTarget(eventId, jobId);
    } catch (err) {
      log.warn("could not record a zap target", { eventId, err });
    }
  }

  /** Forgets the zap targets of jobs long finished; how many. Throws what the ledger throws. */
  pruneTargets(now: number): number {
    return this.deps.ledger.pruneZapTargets(now - ZAP_TARGET_KEEP_MS);
  }

  async onReceipt(event: NostrEvent): Promise<void> {
    const payments = this.deps.payments;
    if (!payments || !this.zapsOn) return;
    // The same receipt arrives through several relays and again on every resubscribe.
    if (this.zapSeen.has(event.id)) return;
    this.zapSeen.add(event.id);
    if (this.zapSeen.size > 10_000) this.zapSeen.delete(this.zapSeen.values().next().value!);
    const read = readZapClaim(event, this.deps.pubkey);
    if (!read.ok) {
      log.debug("zap receipt ignored", { id: event.id, reason: read.reason });
      return;
    }
    const jobId = this.deps.ledger.zapTarget(read.claim.eventId);
    if (!jobId) {
      // A zap of something else of ours (a note, the announcement): the money still shows up in
      // the wallet and is booked as a plain receive.
      log.debug("zap of an event that belongs to no job", { id: event.id, eventId: read.claim.eventId });
      return;
    }
    const outcome = await payments.zapReceived(read.claim, jobId);
    log.info("zap receipt", { receiptId: event.id, jobId, amountMsats: read.claim.amountMsats, outcome });
  }
}
