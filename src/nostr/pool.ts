// The relay pool: long-lived connections to our own relays (state, latency, reconnect with
// backoff, subscriptions that survive reconnects, NIP-42 AUTH, an outbox for what a relay missed)
// plus short-lived connections to the extra relays a job request names in its `relays` tag. This
// file composes the parts and keeps the public API (subscribe, publish, fetch, views, setRelays):
//   relay-url.ts      URL normalisation and the policy for customer-named relays
//   relay-socket.ts   one websocket session: NIP-01 frames, OK waits, NIP-42 AUTH, latency probe
//   relay-link.ts     one of our relays kept connected: state, backoff, probe schedule
//   subscriptions.ts  a subscription resumed after each reconnect
//   outbox.ts         events a relay missed, resent when it is back
//   extra-relays.ts   which customer-named relays we contact, and the short-lived connections
//
// Our own code over Bun's WebSocket, using nostr-tools 2.25.2 only for matchFilters,
// makeAuthEvent and the kind helpers: its AbstractRelay/SimplePool keep no latency, no outbox and
// no status beyond "the socket is open", rethrow a refused AUTH inside a promise callback (an
// unhandled rejection), leave publish and EOSE timers running after a close, and print to the
// console (the comparison, with applesauce-relay and @welshman/net: docs/relay-pool.md). Here
// every timer is owned and cleared, and nothing a relay sends can throw out of the pool.
import type { Filter } from "nostr-tools/filter";
import type { Event, EventTemplate } from "nostr-tools/pure";
import type { Bus } from "../bus.ts";
import { AppError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { RelayListChanged, type RelayView } from "./events.ts";
import { signEvent } from "./signer.ts";
import { systemResolve, type HostResolver } from "../util/net-guard.ts";
import { dedupeUrls } from "./relay-url.ts";
import { DEFAULT_MAX_CUSTOMER_RELAY_CONNECTIONS, DEFAULT_MAX_EXTRA_RELAYS, ExtraRelays } from "./extra-relays.ts";
import { AUTH_REQUIRED, RelaySocket, isValidEvent, left, toResult, type OkOutcome, type PublishResult } from "./relay-socket.ts";
import { Outbox } from "./outbox.ts";
import { DEFAULT_RESUBSCRIBE_WINDOW_SEC, ResumableSubscription, type ResumableEnv, type SubscriptionHandlers } from "./subscriptions.ts";
import { DEFAULT_BACKOFF, DEFAULT_PING_INTERVAL_MS, DEFAULT_TIMEOUTS, RelayLink, type LinkContext, type PoolTimeouts } from "./relay-link.ts";

const log = createLogger("nostr.pool");

// ---------------------------------------------------------------------------------------------
// Public types

/** Signs NIP-42 AUTH events (kind 22242). A secret key never leaves this module or reaches a log. */
export type PoolSigner =
  | { secretKey: Uint8Array }
  | { sign: (template: EventTemplate) => Promise<Event> | Event };

export interface RelayPoolOptions {
  relays: string[];
  bus: Bus;
  signer: PoolSigner;
  /** Reconnect delay: exponential from baseMs, capped at maxMs, with jitter. */
  backoff?: { baseMs?: number; maxMs?: number };
  /** On resubscribe after a reconnect, ask for events this many seconds before the resume point. */
  resubscribeWindowSec?: number;
  /** Clock in Unix ms (tests inject one). */
  now?: () => number;
  /** Jitter source in [0, 1) (tests inject one). */
  random?: () => number;
  /** Allow ws:// and wss:// extra relays on 127.0.0.1/localhost/::1 (tests only). */
  allowInsecureLocal?: boolean;
  /** Most extra relays contacted per publish/fetch (NIP-90 `relays` tag is customer input). */
  maxExtraRelays?: number;
  /** Connections to extra (customer-named) relays open at once; beyond it they are refused. */
  maxCustomerRelayConnections?: number;
  /** The addresses a customer relay's host name resolves to (default: the system resolver); tests replace it. */
  resolveHost?: HostResolver;
  /**
   * Time between latency probes on a connected relay: with pingMs, the longest a relay that went
   * silent can still be shown healthy (a publish left without an OK probes at once instead).
   */
  pingIntervalMs?: number;
  timeouts?: Partial<PoolTimeouts>;
}

export interface PublishOptions {
  /** Customer-named relays (NIP-90 `relays` tag); filtered by policy, at most maxExtraRelays. */
  extraRelays?: string[];
  /** Deadline for the whole publish, including waiting for a disconnected relay to come back. */
  timeoutMs?: number;
  /**
   * Called each time the event reaches one of our relays after publish() has resolved (it was
   * kept in the outbox because that relay was down or did not answer). Never throws out.
   */
  onLateDelivery?(result: PublishResult): void;
}

export interface FetchOptions {
  timeoutMs?: number;
  /** Relay hints (e.g. from an `i` or `e` tag); same policy as publish's extraRelays. */
  extraRelays?: string[];
}

export interface PoolSubscription {
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// The pool

export class RelayPool {
  private readonly bus: Bus;
  private readonly sign: (t: EventTemplate) => Promise<Event>;
  private readonly now: () => number;
  private readonly ctx: LinkContext;
  private relays = new Map<string, RelayLink>();
  private readonly subs = new Map<string, ResumableSubscription>();
  private readonly subEnv: ResumableEnv;
  /** Customer-named relays (extra-relays.ts). */
  private readonly extra: ExtraRelays;
  /** Events one of our relays missed, sent again when it is back (outbox.ts). */
  private readonly outbox = new Outbox();
  private running = false;

  constructor(opts: RelayPoolOptions) {
    this.bus = opts.bus;
    this.sign = makeSigner(opts.signer);
    this.now = opts.now ?? Date.now;
    const timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.subEnv = { windowSec: opts.resubscribeWindowSec ?? DEFAULT_RESUBSCRIBE_WINDOW_SEC, authMs: timeouts.authMs, sign: this.sign };
    this.extra = new ExtraRelays(
      {
        allowInsecureLocal: opts.allowInsecureLocal ?? false,
        maxExtra: opts.maxExtraRelays ?? DEFAULT_MAX_EXTRA_RELAYS,
        maxConnections: opts.maxCustomerRelayConnections ?? DEFAULT_MAX_CUSTOMER_RELAY_CONNECTIONS,
        resolveHost: opts.resolveHost ?? systemResolve,
        connectMs: timeouts.connectMs,
        now: this.now,
      },
      (url) => this.relays.has(url),
      () => this.running,
    );
    const baseMs = Math.max(1, opts.backoff?.baseMs ?? DEFAULT_BACKOFF.baseMs);
    this.ctx = {
      bus: this.bus,
      now: this.now,
      random: opts.random ?? Math.random,
      backoff: { baseMs, maxMs: Math.max(baseMs, opts.backoff?.maxMs ?? DEFAULT_BACKOFF.maxMs) },
      timeouts,
      pingIntervalMs: opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS,
      onConnected: (relay, socket) => this.onRelayConnected(relay, socket),
      onLost: (relay, socket) => this.onRelayLost(relay, socket),
    };
    for (const url of dedupeUrls(opts.relays)) this.relays.set(url, new RelayLink(url, this.ctx));
  }

  /** Connects to every relay. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    // nostr-wasm loads by itself once signing and verifying get busy (signer.ts).
    for (const r of this.relays.values()) r.start();
  }

  /** Closes every connection and clears every timer. Idempotent; start() may be called again. */
  async stop(): Promise<void> {
    if (!this.running && this.extra.openCount === 0) return;
    this.running = false;
    if (this.outbox.size) log.warn("stopping with events no relay has acknowledged yet", { count: this.outbox.size });
    this.outbox.clear();
    for (const r of this.relays.values()) r.stop();
    this.extra.closeAll();
  }

  views(): RelayView[] {
    return [...this.relays.values()].map((r) => r.view());
  }

  /** How many events wait in the outbox for a relay that missed them (per relay URL). */
  pending(): Record<string, number> {
    return this.outbox.pending(this.relays.keys());
  }

  /** Replace the relay list at runtime: new relays connect, removed ones are closed. */
  setRelays(urls: string[]): void {
    const next = dedupeUrls(urls);
    const nextSet = new Set(next);
    let changed = false;
    for (const [url, relay] of this.relays) {
      if (nextSet.has(url)) continue;
      relay.stop();
      for (const sub of this.subs.values()) sub.forgetRelay(url);
      this.outbox.forgetRelay(url);
      changed = true;
    }
    const rebuilt = new Map<string, RelayLink>();
    for (const url of next) {
      let relay = this.relays.get(url);
      if (!relay) {
        relay = new RelayLink(url, this.ctx);
        changed = true;
        if (this.running) relay.start();
      }
      rebuilt.set(url, relay);
    }
    this.relays = rebuilt;
    if (changed) {
      log.info("relay list changed", { relays: next });
      this.bus.publish(RelayListChanged, { relays: this.views() });
    }
  }

  /**
   * A subscription on every pool relay that survives reconnects (resubscribing with a `since`
   * window). Events are signature-checked and filter-checked before onEvent; not deduplicated.
   */
  subscribe(filters: Filter[], handlers: SubscriptionHandlers): PoolSubscription {
    if (filters.length === 0) throw new AppError("invalid_input", "a subscription needs at least one filter");
    const sub = new ResumableSubscription(filters, handlers, this.subEnv);
    this.subs.set(sub.id, sub);
    for (const relay of this.relays.values()) {
      const s = relay.connectedSocket;
      if (s) sub.openOn(relay, s);
    }
    return {
      close: () => {
        if (sub.closed) return;
        sub.close();
        this.subs.delete(sub.id);
      },
    };
  }

  /**
   * Publishes to every pool relay (waiting, within the deadline, for one that is reconnecting)
   * and to the allowed extra relays over short-lived connections. Resolves with one result per
   * relay; never rejects for network reasons.
   */
  async publish(event: Event, opts: PublishOptions = {}): Promise<PublishResult[]> {
    if (!isValidEvent(event)) throw new AppError("invalid_input", "refusing to publish an event with a bad id or signature");
    const timeoutMs = opts.timeoutMs ?? this.ctx.timeouts.publishMs;
    const deadline = performance.now() + timeoutMs;
    const tasks: Promise<PublishResult>[] = [];
    const ours = [...this.relays.values()];
    for (const relay of ours) tasks.push(this.publishToPoolRelay(relay, event, deadline));
    const { accepted, refused } = this.extra.pick(opts.extraRelays ?? []);
    for (const r of refused) tasks.push(Promise.resolve({ relay: r.relay, ok: false, status: "error" as const, message: r.reason }));
    for (const url of accepted) {
      tasks.push(
        this.extra.via(url, deadline, async (s) => toResult(url, await this.publishOn(s, event, deadline))).then((r) =>
          typeof r === "string" ? { relay: url, ok: false, status: "error" as const, message: r } : r,
        ),
      );
    }
    const results = await Promise.all(tasks);
    this.keepForLater(event, results.slice(0, ours.length), opts.onLateDelivery);
    const okCount = results.filter((r) => r.ok).length;
    // A success is routine (two per job): debug, so a busy provider doesn't log every publish.
    if (okCount === 0 && results.length > 0) log.warn("event reached no relay", { eventId: event.id, kind: event.kind, ok: okCount, total: results.length, results });
    else log.debug("event published", { eventId: event.id, kind: event.kind, ok: okCount, total: results.length, results });
    return results;
  }

  /**
   * Puts the event in the outbox for each of our relays that did not acknowledge it for a network
   * reason (down, dropped, no OK in time). `results` are the pool relays' own: extra relays get
   * no second try.
   */
  private keepForLater(event: Event, results: PublishResult[], onLate?: (r: PublishResult) => void): void {
    if (!this.running) return;
    const missed = results.filter((r) => (r.status === "error" || r.status === "timeout") && this.relays.has(r.relay)).map((r) => r.relay);
    this.outbox.keep(event, missed, onLate);
  }

  /** A relay is back: send it, in order, what it missed. */
  private flushOutbox(relay: RelayLink, socket: RelaySocket): void {
    const due = this.outbox.due(relay.url, Math.floor(this.now() / 1000));
    if (due.length === 0) return;
    log.info("relay back: sending what it missed", { relay: relay.url, count: due.length });
    const deadline = performance.now() + this.ctx.timeouts.publishMs;
    for (const e of due) {
      // publishOn sends at once, so the EVENTs leave in outbox order; the OKs are awaited together.
      void this.publishOn(socket, e.event, deadline).then((o) => {
        relay.noteOutcome(o);
        this.outbox.settle(e, relay.url, o);
      });
    }
  }

  /**
   * One-shot query across pool relays (waiting, within the deadline, for connecting ones) and
   * the allowed extra relays. Returns valid events, deduplicated by id, newest first.
   */
  async fetch(filters: Filter[], opts: FetchOptions = {}): Promise<Event[]> {
    if (filters.length === 0) throw new AppError("invalid_input", "a fetch needs at least one filter");
    const timeoutMs = opts.timeoutMs ?? this.ctx.timeouts.fetchMs;
    const deadline = performance.now() + timeoutMs;
    const byId = new Map<string, Event>();
    const collect = (events: Event[]) => {
      for (const e of events) byId.set(e.id, e);
    };
    const tasks: Promise<void>[] = [];
    for (const relay of this.relays.values()) {
      tasks.push(
        relay.whenConnected(deadline).then(async (s) => {
          if (s) collect(await s.query(filters, left(deadline), this.sign, this.ctx.timeouts.authMs));
        }),
      );
    }
    const { accepted } = this.extra.pick(opts.extraRelays ?? []);
    for (const url of accepted) {
      tasks.push(
        this.extra.via(url, deadline, (s) => s.query(filters, left(deadline), this.sign, this.ctx.timeouts.authMs)).then((events) => {
          if (typeof events !== "string") collect(events);
        }),
      );
    }
    await Promise.all(tasks);
    return [...byId.values()].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1));
  }

  // -- internals ------------------------------------------------------------------------------

  private async publishToPoolRelay(relay: RelayLink, event: Event, deadline: number): Promise<PublishResult> {
    if (!this.running) return { relay: relay.url, ok: false, status: "error", message: "not connected: pool is not running" };
    let last: OkOutcome | null = null;
    // Loop: if the connection drops before the OK, wait for the reconnect and send again.
    while (left(deadline) > 0) {
      const s = await relay.whenConnected(deadline);
      if (!s) break;
      last = await this.publishOn(s, event, deadline);
      if (last.status !== "error" || s.isOpen) break;
    }
    if (last) relay.noteOutcome(last);
    if (last) return toResult(relay.url, last);
    const why = relay.view().error;
    return { relay: relay.url, ok: false, status: "error", message: why ? `not connected: ${why}` : "not connected" };
  }

  /** EVENT → OK, authenticating once (NIP-42) and resending if the relay asks for it. */
  private async publishOn(s: RelaySocket, event: Event, deadline: number): Promise<OkOutcome> {
    let outcome = await s.publishOnce(event, left(deadline));
    if (outcome.status === "rejected" && outcome.message.startsWith(AUTH_REQUIRED) && !s.authenticated) {
      const authed = await s.authenticate(this.sign, Math.min(this.ctx.timeouts.authMs, left(deadline)));
      if (authed && left(deadline) > 0) outcome = await s.publishOnce(event, left(deadline));
      else if (!authed) outcome = { status: "rejected", message: `${outcome.message} (our AUTH failed)` };
    }
    return outcome;
  }

  private onRelayConnected(relay: RelayLink, socket: RelaySocket): void {
    for (const sub of this.subs.values()) sub.openOn(relay, socket);
    this.flushOutbox(relay, socket);
  }

  private onRelayLost(relay: RelayLink, socket: RelaySocket): void {
    for (const sub of this.subs.values()) sub.lost(relay.url, socket);
  }

}

// ---------------------------------------------------------------------------------------------

function makeSigner(signer: PoolSigner): (t: EventTemplate) => Promise<Event> {
  if ("secretKey" in signer) {
    const key = signer.secretKey;
    if (!(key instanceof Uint8Array) || key.length !== 32) throw new AppError("invalid_input", "signer secret key must be 32 bytes");
    return async (t) => signEvent(t, key);
  }
  return async (t) => signer.sign(t);
}
