// A pool subscription that survives reconnects: per relay it remembers the newest event seen and
// whether the relay had caught up (EOSE) before the connection was lost, and on the next
// connection asks again from there (minus a window), so nothing published around an outage is
// missed and the whole history isn't replayed. A relay that closes it with auth-required gets
// our NIP-42 AUTH and the REQ once more.
import type { Filter } from "nostr-tools/filter";
import type { Event, EventTemplate } from "nostr-tools/pure";
import { errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { RelayLink } from "./relay-link.ts";
import { AUTH_REQUIRED, nextId, type RelaySocket } from "./relay-socket.ts";

const log = createLogger("nostr.pool");

export const DEFAULT_RESUBSCRIBE_WINDOW_SEC = 60;

export interface SubscriptionHandlers {
  /** Called once per (event, relay): deduplication across relays is the caller's job. */
  onEvent(event: Event, relayUrl: string): void;
  /** Called each time a relay finishes sending stored events (again after each resubscribe). */
  onEose?(relayUrl: string): void;
}

/**
 * Filters to send when resubscribing after a reconnect: `since` moves up to the resume point
 * (newest event seen, or when we last heard from the relay) minus a window, so nothing published
 * around the outage is missed and the whole history isn't replayed. null resume point: as given.
 */
export function resumeFilters(filters: Filter[], resumeAtSec: number | null, windowSec: number): Filter[] {
  if (resumeAtSec === null) return filters.map((f) => ({ ...f }));
  const since = Math.max(0, Math.floor(resumeAtSec - windowSec));
  return filters.map((f) => ({ ...f, since: Math.max(f.since ?? 0, since) }));
}

interface SubRelayState {
  /** created_at of the newest event delivered from this relay. */
  lastSeen: number | null;
  /** Whether this relay sent EOSE in the session that just ended (we were caught up). */
  eosed: boolean;
  /** When we last heard from the relay before losing it (Unix seconds), if caught up. */
  lostAt: number | null;
  active: RelaySocket | null;
}

export interface ResumableEnv {
  windowSec: number;
  authMs: number;
  sign: (t: EventTemplate) => Promise<Event>;
}

export class ResumableSubscription {
  readonly id = nextId("sub");
  readonly filters: Filter[];
  private readonly perRelay = new Map<string, SubRelayState>();
  closed = false;

  constructor(
    filters: Filter[],
    private readonly handlers: SubscriptionHandlers,
    private readonly env: ResumableEnv,
  ) {
    this.filters = filters.map((f) => ({ ...f }));
  }

  /** Stops it on every relay (CLOSE where a REQ went out). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const st of this.perRelay.values()) st.active?.unreq(this.id);
    this.perRelay.clear();
  }

  /** The relay left the pool. */
  forgetRelay(url: string): void {
    this.perRelay.delete(url);
  }

  /** The relay's connection ended: remember where to resume from. */
  lost(relayUrl: string, socket: RelaySocket): void {
    const st = this.perRelay.get(relayUrl);
    if (!st || st.active !== socket) return;
    st.active = null;
    const heard = socket.lastHeardAt;
    st.lostAt = st.eosed && heard !== null ? Math.floor(heard / 1000) : st.lostAt;
  }

  /** REQ on the relay's (new) connection, from where it left off. */
  openOn(relay: RelayLink, socket: RelaySocket, authRetried = false): void {
    if (this.closed) return;
    let st = this.perRelay.get(relay.url);
    if (!st) {
      st = { lastSeen: null, eosed: false, lostAt: null, active: null };
      this.perRelay.set(relay.url, st);
    }
    const state = st;
    const resumeAt = maxOrNull(state.lastSeen, state.lostAt);
    const filters = resumeFilters(this.filters, resumeAt, this.env.windowSec);
    state.eosed = false;
    state.active = socket;
    const sent = socket.req(this.id, filters, {
      onEvent: (event) => {
        if (this.closed) return;
        if (state.lastSeen === null || event.created_at > state.lastSeen) state.lastSeen = event.created_at;
        try {
          this.handlers.onEvent(event, relay.url);
        } catch (err) {
          log.error("subscriber onEvent threw", { relay: relay.url, err: errorMessage(err) });
        }
      },
      onEose: () => {
        state.eosed = true;
        try {
          this.handlers.onEose?.(relay.url);
        } catch (err) {
          log.error("subscriber onEose threw", { relay: relay.url, err: errorMessage(err) });
        }
      },
      onClosed: (reason, byRelay) => {
        if (!byRelay || this.closed) return;
        if (state.active === socket) state.active = null;
        if (reason.startsWith(AUTH_REQUIRED) && !authRetried) {
          void socket.authenticate(this.env.sign, this.env.authMs).then((ok) => {
            if (ok && socket.isOpen && relay.connectedSocket === socket && !this.closed) this.openOn(relay, socket, true);
          });
          return;
        }
        // Other refusals are retried on the next reconnect.
        log.warn("relay closed a subscription", { relay: relay.url, reason });
      },
    });
    if (!sent) state.active = null;
  }
}

function maxOrNull(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
