// The engine's housekeeping in the ledger: old seen request ids and old jobs' zap targets are
// pruned (riding on the heartbeat, no timer of its own), and the kept copies of delivered results
// are dropped together in one batched commit a moment after the first (a burst of results costs
// one commit, not one each). Neither is on a job's path: a crash before either only leaves work for later.
import { createLogger } from "../log.ts";
import type { ZapWatch } from "./zap-watch.ts";
import type { EngineLedger } from "./ports.ts";
import type { Recovery } from "./recovery.ts";

const log = createLogger("jobs");
/** Delivered results' kept copies are dropped together, this long after the first (forgetResult). */
const HOUSEKEEPING_MS = 1000;
/**
 * Seen request ids are kept this long. Every 5050 on our relays is recorded, so the table must be
 * pruned; a request older than this is far outside any subscription's since window, and a job we
 * took is still guarded by its ledger row.
 */
const SEEN_KEEP_MS = 24 * 3600_000;
const SEEN_PRUNE_EVERY_MS = 3600_000;

export interface HousekeepingDeps {
  ledger: Pick<EngineLedger, "pruneSeen" | "transaction" | "dropPendingResult">;
  now: () => number;
  track<T>(p: Promise<T>): Promise<T>;
  recovery: Pick<Recovery, "expireLeftoverInvoices">;
  zaps: Pick<ZapWatch, "pruneTargets">;
}

export class Housekeeping {
  private lastPrune = 0;
  /** Kept results delivered since the last housekeeping commit (job ids), and its timer. */
  private delivered: string[] = [];
  private deliveredTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly deps: HousekeepingDeps) {}

  /** Forgets old seen ids and old jobs' zap targets (riding on the heartbeat, no timer of its own). Never throws. */
  pruneSeen(): void {
    const now = this.deps.now();
    if (now - this.lastPrune < SEEN_PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    void this.deps.track(this.deps.recovery.expireLeftoverInvoices());
    try {
      const n = this.deps.ledger.pruneSeen(now - SEEN_KEEP_MS);
      if (n) log.debug("pruned seen events", { count: n });
      const z = this.deps.zaps.pruneTargets(now);
      if (z) log.debug("pruned zap targets of old jobs", { count: z });
    } catch (err) {
      log.warn("pruning seen events failed", { err });
    }
  }

  /**
   * A delivered result's kept copy is no longer needed: dropped with others in one commit a
   * moment later (one commit for a burst). A crash before that only makes recover() send
   * the same event again, which relays and customers see once (same id).
   */
  forgetResult(id: string): void {
    this.delivered.push(id);
    if (this.deliveredTimer) return;
    this.deliveredTimer = setTimeout(() => this.flushDelivered(), HOUSEKEEPING_MS);
    this.deliveredTimer.unref?.();
  }

  /** Drops the kept copies noted so far at once (the timer's end, or the engine's stop). */
  flushDelivered(): void {
    if (this.deliveredTimer) clearTimeout(this.deliveredTimer);
    this.deliveredTimer = null;
    const ids = this.delivered.splice(0);
    if (ids.length === 0) return;
    try {
      this.deps.ledger.transaction(() => {
        for (const id of ids) this.deps.ledger.dropPendingResult(id);
      });
    } catch (err) {
      log.warn("could not forget delivered results", { count: ids.length, err });
    }
  }
}
