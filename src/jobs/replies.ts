// What the engine says on the relays about a job: signing, kind 7000 feedback (processing,
// partial, payment-required, error), and delivering the kind 6050 result, which is kept in the
// ledger as pending until a relay confirms it (a late delivery by the pool's outbox counts).
import { createLogger } from "../log.ts";
import { buildFeedback, type EventTemplate, type FeedbackStatus, type NostrEvent, type RequestRef } from "../nostr/nip90.ts";
import { signEvent } from "../nostr/signer.ts";
import type { HeldJobs } from "./held-jobs.ts";
import type { EngineLedger, EnginePool, PublishOutcome } from "./ports.ts";

const log = createLogger("jobs");

/**
 * The note a job answered while no relay took its result carries. The pool keeps the result in
 * its outbox and sends it when a relay is back; that late delivery clears the note.
 */
export const UNDELIVERED = "no relay accepted the result";
/** Feedback that only informs (processing, partial) must not hold a job up for long. */
const INFO_FEEDBACK_TIMEOUT_MS = 5_000;

export type FeedbackExtra = { extraInfo?: string; content?: string; amount?: { msats: number; bolt11?: string } };

export interface RepliesDeps {
  pool: Pick<EnginePool, "publish">;
  ledger: Pick<EngineLedger, "getJob" | "dropPendingResult">;
  /** Changes a row no one holds and tells the bus (held-jobs.ts). */
  patchRow: HeldJobs["patchRow"];
  secretKey: Uint8Array;
  now: () => number;
  /** Everything in flight is tracked so the engine's stop() can drain it. */
  track<T>(p: Promise<T>): Promise<T>;
}

export class Replies {
  constructor(private readonly deps: RepliesDeps) {}

  sign(template: EventTemplate): NostrEvent {
    // nostr-wasm once signing got busy enough to load it (signer.ts), the pure-JS code until then.
    return signEvent(template, this.deps.secretKey) as NostrEvent;
  }

  async publish(template: EventTemplate, extraRelays?: string[], timeoutMs?: number) {
    return this.deps.pool.publish(this.sign(template), { extraRelays, ...(timeoutMs ? { timeoutMs } : {}) });
  }

  /** Informational feedback for a running job, not awaited by it; never rejects. */
  info(request: RequestRef & { relays?: string[] }, relay: string | null, status: "processing" | "partial", extra: { content?: string; extraInfo?: string } = {}): Promise<void> {
    return this.deps.track(
      this.sendFeedback(request, relay, status, extra, INFO_FEEDBACK_TIMEOUT_MS).then(
        () => undefined,
        (err) => log.debug("feedback not sent", { id: request.id, status, err }),
      ),
    );
  }

  feedbackEvent(request: RequestRef, relay: string | null, status: FeedbackStatus, extra: FeedbackExtra = {}): NostrEvent {
    return this.sign(buildFeedback({ request, status, ...extra, relayHint: relay ?? undefined, providerSecretKey: this.deps.secretKey, now: this.deps.now() }));
  }

  async sendFeedback(request: RequestRef & { relays?: string[] }, relay: string | null, status: FeedbackStatus, extra: FeedbackExtra = {}, timeoutMs?: number) {
    return this.deps.pool.publish(this.feedbackEvent(request, relay, status, extra), { extraRelays: request.relays, ...(timeoutMs ? { timeoutMs } : {}) });
  }

  /**
   * Publishes a signed result already kept as pending. A late delivery by the pool's outbox (it may
   * in principle come before publish() returns) goes to resultDelivered; `lateDelivered` says
   * whether one came by the time the publish returned.
   */
  async publishResult(id: string, event: NostrEvent, relays: string[], clearHeld: (() => boolean) | null): Promise<{ outcomes: PublishOutcome[]; lateDelivered: boolean }> {
    let lateDelivered = false;
    const outcomes = await this.deps.pool.publish(event, {
      extraRelays: relays,
      onLateDelivery: (o) => {
        lateDelivered = true;
        this.resultDelivered(id, o.relay, clearHeld);
      },
    });
    return { outcomes, lateDelivered };
  }

  /**
   * A result reached a relay after being noted as undelivered (the pool's outbox sent it when a
   * relay came back, or a resend after a restart got through): it no longer waits to be sent
   * again, and the job no longer says no relay took it. `clearHeld`: when the engine holds the
   * job (running or recent), clears its note and says whether it had one; null for a row from
   * before a restart. Never throws.
   */
  resultDelivered(id: string, relay: string, clearHeld: (() => boolean) | null): void {
    try {
      this.deps.ledger.dropPendingResult(id);
      if (clearHeld) {
        if (!clearHeld()) return;
      } else if (!this.noteRow(id, null, UNDELIVERED)) {
        return;
      }
      log.info("result delivered after all", { id, relay });
    } catch (err) {
      log.warn("could not record a late result delivery", { id, err });
    }
  }

  /**
   * Sets the note of an answered job's ledger row no one holds (only if it currently is `ifNow`,
   * when given) and tells the bus. Returns whether it changed.
   */
  noteRow(id: string, error: string | null, ifNow?: string): boolean {
    try {
      const row = this.deps.ledger.getJob(id);
      if (!row || row.status !== "success" || row.error === error || (ifNow !== undefined && row.error !== ifNow)) return false;
      this.deps.patchRow(row, { error });
      return true;
    } catch (err) {
      log.warn("could not note a job's result delivery", { id, err });
      return false;
    }
  }
}
