// The outbox: an event one of our relays did not acknowledge because it was down or silent is
// sent to it again when it reconnects, so a result finished during an outage still reaches the
// customer once a relay is back, however long the outage (publish() itself gives up at its
// deadline). Bounded in count and age; 10 minutes matches the default invoice expiry. The pool
// decides what goes in (publish) and when it goes out (a relay connected); this file keeps it.
import { isAddressableKind, isEphemeralKind, isReplaceableKind } from "nostr-tools/kinds";
import type { Event } from "nostr-tools/pure";
import { errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import { toResult, type OkOutcome, type PublishResult } from "./relay-socket.ts";

const log = createLogger("nostr.pool");

export const OUTBOX_MAX_EVENTS = 1_000;
export const OUTBOX_MAX_AGE_MS = 10 * 60_000;
/** Resends per relay before an event is given up on (a relay that takes it but never says OK). */
const OUTBOX_MAX_ATTEMPTS = 5;

export interface OutboxEntry {
  event: Event;
  /** Relays still missing it → resends so far. */
  relays: Map<string, number>;
  /** performance.now() when it was first kept. */
  addedAt: number;
  onLate?: (r: PublishResult) => void;
}

export class Outbox {
  /** Events waiting for a relay that missed them, by event id, oldest first (see OUTBOX_MAX_AGE_MS). */
  private readonly entries = new Map<string, OutboxEntry>();

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  /** How many events wait for each of `relays` (0 when none). */
  pending(relays: Iterable<string>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const url of relays) out[url] = 0;
    for (const e of this.entries.values()) for (const url of e.relays.keys()) out[url] = (out[url] ?? 0) + 1;
    return out;
  }

  /** The relay left the pool: nothing waits for it any more. */
  forgetRelay(url: string): void {
    for (const [id, entry] of this.entries) if (entry.relays.delete(url) && entry.relays.size === 0) this.entries.delete(id);
  }

  /**
   * Keeps the event for each of our relays in `missed` (they did not acknowledge it for a network
   * reason: down, dropped, no OK in time; a relay that refused it is not asked again). Ephemeral
   * events (NIP-01 kinds 20000-29999, AUTH) are worthless later.
   */
  keep(event: Event, missed: string[], onLate?: (r: PublishResult) => void): void {
    if (isEphemeralKind(event.kind)) return;
    if (missed.length === 0) return;
    // A newer replaceable/addressable event (announcement, heartbeat) supersedes a waiting older one.
    const key = replaceableKey(event);
    if (key) {
      for (const [id, e] of this.entries) {
        if (replaceableKey(e.event) !== key) continue;
        if (e.event.created_at > event.created_at) return;
        this.entries.delete(id);
      }
    }
    const entry = this.entries.get(event.id) ?? { event, relays: new Map<string, number>(), addedAt: performance.now(), onLate };
    for (const url of missed) entry.relays.set(url, entry.relays.get(url) ?? 0);
    this.entries.set(event.id, entry);
    while (this.entries.size > OUTBOX_MAX_EVENTS) {
      const [oldest] = this.entries.keys();
      this.entries.delete(oldest!);
      log.warn("outbox full: dropped the oldest waiting event", { eventId: oldest, max: OUTBOX_MAX_EVENTS });
    }
  }

  /** What waits for the relay, oldest first; drops what is too old or expired on the way. */
  due(relayUrl: string, nowSec: number): OutboxEntry[] {
    const now = performance.now();
    const due: OutboxEntry[] = [];
    for (const [id, e] of this.entries) {
      const exp = Number(e.event.tags.find((t) => t[0] === "expiration")?.[1]);
      // NIP-40: an expired event must not be published; an old one is no use to anyone.
      if (now - e.addedAt > OUTBOX_MAX_AGE_MS || (Number.isFinite(exp) && exp <= nowSec)) {
        this.entries.delete(id);
        continue;
      }
      if (e.relays.has(relayUrl)) due.push(e);
    }
    return due;
  }

  /**
   * The relay's answer to a resend: taken or refused (or too many tries) ends it for that relay,
   * anything else waits for the next reconnection. A delivery is reported to onLate, which never
   * throws out.
   */
  settle(e: OutboxEntry, relayUrl: string, o: OkOutcome): void {
    const tries = (e.relays.get(relayUrl) ?? 0) + 1;
    if (o.status === "ok" || o.status === "rejected" || tries >= OUTBOX_MAX_ATTEMPTS) e.relays.delete(relayUrl);
    else e.relays.set(relayUrl, tries);
    if (e.relays.size === 0 && this.entries.get(e.event.id) === e) this.entries.delete(e.event.id);
    if (o.status === "ok" && e.onLate) {
      try {
        e.onLate(toResult(relayUrl, o));
      } catch (err) {
        log.error("onLateDelivery threw", { relay: relayUrl, err: errorMessage(err) });
      }
    }
  }
}

/** NIP-01: replaceable kinds are keyed by kind+pubkey, addressable ones by kind+pubkey+d. */
function replaceableKey(e: Event): string | null {
  const k = e.kind;
  if (isReplaceableKind(k)) return `${k}:${e.pubkey}`;
  if (isAddressableKind(k)) return `${k}:${e.pubkey}:${e.tags.find((t) => t[0] === "d")?.[1] ?? ""}`;
  return null;
}
