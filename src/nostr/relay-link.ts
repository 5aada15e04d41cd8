// One of our own relays, kept connected: the state the dashboard shows (connecting until the
// relay first answers, connected, failed, disconnected), reconnects with jittered exponential
// backoff, and a latency probe (REQ → EOSE) that finds a relay gone silent and drops the
// connection. The pool (pool.ts) owns the subscriptions and the outbox and is told when a
// connection opens or is lost.
import type { Bus } from "../bus.ts";
import { errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import { RelayStatusChanged, type RelayView } from "./events.ts";
import { RelaySocket, Timers, type Handle, type OkOutcome } from "./relay-socket.ts";

const log = createLogger("nostr.pool");


export interface PoolTimeouts {
  /** Opening a websocket (both pool relays and extra relays). */
  connectMs: number;
  /** Default wait for OK after EVENT (overridden per call by publish's timeoutMs). */
  publishMs: number;
  /** Default wait for EOSE in fetch (overridden per call). */
  fetchMs: number;
  /** Whole AUTH exchange: waiting for the challenge, signing, waiting for OK. */
  authMs: number;
  /**
   * A latency probe (REQ → EOSE) that takes longer marks the relay as not responding (and the
   * connection is dropped and made again). Also the longest a just-opened connection waits for
   * the relay's first answer.
   */
  pingMs: number;
}

export const DEFAULT_TIMEOUTS: PoolTimeouts = { connectMs: 10_000, publishMs: 10_000, fetchMs: 8_000, authMs: 8_000, pingMs: 10_000 };
/**
 * Our relays are few and ours to use: one connection attempt every 15 s at most during an outage
 * costs nothing next to a provider that stays deaf for up to a minute after its relay is back.
 */
export const DEFAULT_BACKOFF = { baseMs: 1_000, maxMs: 15_000 };
/**
 * A probe is a REQ matching nothing and its CLOSE (a few dozen bytes, an index lookup for the
 * relay): every 15 s bounds how long a relay that went silent still looks healthy to 25 s.
 */
export const DEFAULT_PING_INTERVAL_MS = 15_000;
/**
 * A relay whose websocket is open but that has not answered anything yet is reported as state
 * "connecting" with this text as its error, never as "connected": a relay that takes connections
 * and never answers (overloaded, half-dead proxy) would otherwise look healthy until its first
 * probe's deadline. Publishing and subscribing don't wait for the answer: the socket is used at once.
 */
export const AWAITING_ANSWER = "connected, waiting for the relay to answer";

/**
 * Reconnect delay for the given attempt (0-based): exponential growth capped at maxMs, with
 * "equal jitter" (half fixed, half random) so many clients don't reconnect in lockstep while a
 * retry never comes sooner than half the step.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(step / 2 + (step / 2) * r);
}

// ---------------------------------------------------------------------------------------------
// One of our own relays: state machine, reconnect loop, latency probe

export interface LinkContext {
  readonly bus: Bus;
  readonly now: () => number;
  readonly random: () => number;
  readonly backoff: { baseMs: number; maxMs: number };
  readonly timeouts: PoolTimeouts;
  readonly pingIntervalMs: number;
  onConnected(relay: RelayLink, socket: RelaySocket): void;
  onLost(relay: RelayLink, socket: RelaySocket): void;
}

export class RelayLink {
  private state: RelayView["state"] = "disconnected";
  private error: string | null = null;
  private latencyMs: number | null = null;
  private since: number;
  private socket: RelaySocket | null = null;
  private running = false;
  private attempt = 0;
  private readonly timers = new Timers();
  private retryTimer: Handle | null = null;
  private probeTimer: Handle | null = null;
  /** The socket is open: publish and subscribe use it, whether or not the relay answered yet. */
  private sessionOpen = false;
  /** The relay sent something on this connection: only then is it reported "connected". */
  private answered = false;
  /** performance.now() when the websocket opened (for the first-answer time in the log). */
  private openedAt = 0;
  private probing = false;
  private readonly waiters = new Set<(s: RelaySocket | null) => void>();

  constructor(
    readonly url: string,
    private readonly ctx: LinkContext,
  ) {
    this.since = ctx.now();
  }

  view(): RelayView {
    return { url: this.url, state: this.state, latencyMs: this.latencyMs, error: this.error, since: this.since };
  }

  /**
   * The open socket, as soon as the websocket is open: events may go to a relay that has not
   * answered yet (it usually answers them). The reported state waits for an answer instead.
   */
  get connectedSocket(): RelaySocket | null {
    return this.sessionOpen && this.socket?.isOpen ? this.socket : null;
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    void this.connect();
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.timers.clear();
    this.retryTimer = null;
    this.probeTimer = null;
    this.resetSession();
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.close();
      this.ctx.onLost(this, s);
    }
    this.latencyMs = null;
    this.setState("disconnected", null);
    for (const w of [...this.waiters]) w(null);
    this.waiters.clear();
  }

  /** The open socket, waiting (until the deadline) if the relay is connecting or backing off. */
  whenConnected(deadline: number): Promise<RelaySocket | null> {
    const s = this.connectedSocket;
    if (s) return Promise.resolve(s);
    if (!this.running) return Promise.resolve(null);
    const left = deadline - performance.now();
    if (left <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter = (sock: RelaySocket | null) => {
        this.timers.cancel(timer);
        this.waiters.delete(waiter);
        resolve(sock);
      };
      const timer = this.timers.after(left, () => waiter(null));
      this.waiters.add(waiter);
    });
  }

  private setState(state: RelayView["state"], error: string | null): void {
    if (state === this.state && error === this.error) return;
    if (state !== this.state) this.since = this.ctx.now();
    this.state = state;
    this.error = error;
    this.emit();
  }

  private emit(): void {
    try {
      this.ctx.bus.publish(RelayStatusChanged, { relay: this.view() });
    } catch (err) {
      log.error("could not publish relay status", { relay: this.url, err: errorMessage(err) });
    }
  }

  private async connect(): Promise<void> {
    if (!this.running) return;
    this.retryTimer = null;
    this.resetSession();
    this.setState("connecting", this.error);
    const s = new RelaySocket(this.url, this.ctx.now);
    this.socket = s;
    try {
      await s.open(this.ctx.timeouts.connectMs);
    } catch (err) {
      if (this.socket !== s) return;
      this.socket = null;
      s.close();
      this.fail(errorMessage(err));
      return;
    }
    if (!this.running || this.socket !== s) {
      s.close();
      return;
    }
    s.onEnd = (reason) => this.lose(s, "disconnected", reason);
    s.onFrame = () => this.heard(s);
    this.sessionOpen = true;
    this.openedAt = performance.now();
    // Not "connected" yet: a relay that takes the connection may still never answer (see
    // AWAITING_ANSWER). The probe goes out first, before the subscriptions and the outbox, so the
    // first answer comes as soon as the relay can give one; its deadline is the usual pingMs, so
    // a relay that is merely slow is shown connecting a little longer, never dropped and retried.
    this.setState("connecting", AWAITING_ANSWER);
    log.debug("relay websocket open, waiting for its first answer", { relay: this.url });
    this.probe(s);
    for (const w of [...this.waiters]) w(s);
    this.waiters.clear();
    this.ctx.onConnected(this, s);
  }

  /** Any frame from the relay on this connection: the first one makes it "connected". */
  private heard(s: RelaySocket): void {
    if (this.answered || this.socket !== s || !this.running) return;
    this.answered = true;
    this.setState("connected", null);
    log.info("relay connected", { relay: this.url, firstAnswerMs: Math.round(performance.now() - this.openedAt) });
  }

  private resetSession(): void {
    this.sessionOpen = false;
    this.answered = false;
    this.probing = false;
  }

  /**
   * What a publish got back. A relay that is connected but refuses our events is not healthy for
   * us: its error says so (and clears on the next event it accepts), so the status stays truthful.
   */
  noteOutcome(o: OkOutcome): void {
    if (this.state !== "connected") return;
    if (o.status === "rejected") this.setState("connected", `refuses our events: ${o.message || "no reason given"}`.slice(0, 300));
    else if (o.status === "ok" && this.error !== null) this.setState("connected", null);
    // No OK in time: maybe the relay went silent since the last probe. Probe now rather than at
    // the next interval, so it is shown not responding within pingMs instead of up to
    // pingIntervalMs + pingMs (a relay slow to OK but answering the probe stays connected).
    else if (o.status === "timeout") this.probeNow();
  }

  private probeNow(): void {
    const s = this.socket;
    if (!s || !this.sessionOpen || this.probing || !this.running) return;
    this.timers.cancel(this.probeTimer);
    this.probeTimer = null;
    this.probe(s);
  }

  /** The session ended or stopped answering: drop it and schedule a reconnect. */
  private lose(s: RelaySocket, state: "disconnected" | "failed", reason: string): void {
    if (this.socket !== s) return;
    this.socket = null;
    this.timers.cancel(this.probeTimer);
    this.probeTimer = null;
    this.resetSession();
    s.close();
    this.ctx.onLost(this, s);
    this.latencyMs = null;
    if (!this.running) return;
    log.warn("relay connection lost", { relay: this.url, reason });
    this.setState(state, reason);
    this.scheduleRetry();
  }

  private fail(reason: string): void {
    if (!this.running) return;
    log.warn("relay connection failed", { relay: this.url, reason, attempt: this.attempt });
    this.setState("failed", reason);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (!this.running || this.retryTimer) return;
    const delay = backoffDelay(this.attempt++, this.ctx.backoff.baseMs, this.ctx.backoff.maxMs, this.ctx.random);
    this.retryTimer = this.timers.after(delay, () => void this.connect());
  }

  /**
   * Round trip of a REQ that matches nothing: sent when the socket opens, then every
   * pingIntervalMs (or at once after a publish got no OK). No answer within pingMs: the relay is
   * marked failed ("not responding"), the connection dropped and made again with backoff; it is
   * shown connected again once a new connection gets an answer.
   */
  private probe(s: RelaySocket): void {
    this.probeTimer = null;
    this.probing = true;
    const pingMs = this.ctx.timeouts.pingMs;
    void s.ping(pingMs).then((ms) => {
      if (this.socket !== s || !this.running) return;
      this.probing = false;
      if (ms === null) {
        const why = this.answered ? `no answer to a REQ within ${pingMs} ms` : `the connection opened but nothing came back within ${pingMs} ms`;
        this.lose(s, "failed", `relay not responding (${why})`);
        return;
      }
      // A relay that answers is healthy: the next outage starts the backoff from the bottom.
      this.attempt = 0;
      if (ms !== this.latencyMs) {
        this.latencyMs = ms;
        this.emit();
      }
      this.probeTimer = this.timers.after(this.ctx.pingIntervalMs, () => this.probe(s));
    });
  }
}
