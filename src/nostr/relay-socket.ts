// One websocket session with one relay (NIP-01 frames, NIP-42 AUTH), on Bun's WebSocket.
// Every timer a session starts is owned by it and cleared when it ends, and nothing a relay sends
// can throw out: a bad frame is dropped (an event is checked for shape, id, signature and the
// subscription's filters before anyone sees it). Used by the pool for its own relays (through a
// RelayLink, relay-link.ts) and for short-lived connections to customer-named relays.
import { matchFilters, type Filter } from "nostr-tools/filter";
import { makeAuthEvent } from "nostr-tools/nip42";
import type { Event, EventTemplate } from "nostr-tools/pure";
import { errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import { withTimeout } from "../util/timeout.ts";
import { hasEventShape, verifyEvent } from "./signer.ts";

const log = createLogger("nostr.pool");

export type PublishStatus = "ok" | "rejected" | "timeout" | "error";
export interface PublishResult {
  relay: string;
  ok: boolean;
  message: string;
  status: PublishStatus;
}

/** Bigger frames are dropped unread: no NIP-90 event we handle comes near this. */
const MAX_MESSAGE_CHARS = 4_000_000;

/** Shape + id + signature (NIP-01): anything else is dropped before anyone sees it. Never throws. */
export function isValidEvent(input: unknown): input is Event {
  return hasEventShape(input) && verifyEvent(input);
}

// ---------------------------------------------------------------------------------------------
// Timers that can all be cleared at once (stop() must leave nothing running)

export type Handle = ReturnType<typeof setTimeout>;

export class Timers {
  private readonly live = new Set<Handle>();
  after(ms: number, fn: () => void): Handle {
    const h = setTimeout(() => {
      this.live.delete(h);
      fn();
    }, Math.max(0, ms));
    this.live.add(h);
    return h;
  }
  cancel(h: Handle | null | undefined): void {
    if (!h) return;
    clearTimeout(h);
    this.live.delete(h);
  }
  clear(): void {
    for (const h of this.live) clearTimeout(h);
    this.live.clear();
  }
  get size(): number {
    return this.live.size;
  }
}

// ---------------------------------------------------------------------------------------------
// One websocket session with one relay

export type OkOutcome = { status: PublishStatus; message: string };

export function toResult(relay: string, o: OkOutcome): PublishResult {
  return { relay, ok: o.status === "ok", status: o.status, message: o.message };
}

/** Milliseconds left until a performance.now() deadline, never below 0. */
export function left(deadline: number): number {
  return Math.max(0, deadline - performance.now());
}

export interface SocketSubHandlers {
  onEvent(event: Event): void;
  onEose(): void;
  /** byRelay: the relay sent CLOSED (reason is its message); otherwise the connection ended. */
  onClosed(reason: string, byRelay: boolean): void;
}

let serial = 0;
export const nextId = (prefix: string) => `${prefix}:${(++serial).toString(36)}`;

/** Prefix a relay puts on OK/CLOSED messages to ask for NIP-42 authentication. */
export const AUTH_REQUIRED = "auth-required:";

export class RelaySocket {
  private ws: WebSocket | null = null;
  private ended = false;
  private readonly timers = new Timers();
  /** Aborted when the session ends, so nothing waits on a dead connection. */
  private readonly endSignal = new AbortController();
  private readonly subs = new Map<string, { filters: Filter[]; h: SocketSubHandlers }>();
  private readonly okWaiters = new Map<string, Set<(outcome: OkOutcome) => void>>();
  private readonly challengeWaiters = new Set<() => void>();
  private challenge: string | null = null;
  private authState: "none" | "pending" | "ok" | "failed" = "none";
  private authPromise: Promise<boolean> | null = null;
  private invalidEvents = 0;
  /**
   * REQ and CLOSE frames wait here for the next turn of the event loop (setImmediate) while EVENT
   * and AUTH go out at once: a job's feedback is then never queued at the relay behind the
   * subscription changes the same job caused (the engine re-subscribes its cancel watch as jobs
   * start and end; a relay answers each REQ with a stored-event query first). A subscription
   * opened and closed within one turn never reaches the relay at all.
   */
  private subFrames: unknown[][] = [];
  private subFlush: ReturnType<typeof setImmediate> | null = null;
  /** Subscription ids whose REQ went out: closing one of them owes the relay a CLOSE. */
  private readonly sentReqs = new Set<string>();
  lastHeardAt: number | null = null;
  /** Called for every NIP-01 message the relay sends (any type), before it is handled. */
  onFrame: () => void = () => {};
  /** Called once when the connection ends without close() having been called. */
  onEnd: (reason: string) => void = () => {};

  constructor(
    readonly url: string,
    private readonly now: () => number,
  ) {}

  get isOpen(): boolean {
    return !this.ended && this.ws?.readyState === WebSocket.OPEN;
  }

  get authenticated(): boolean {
    return this.authState === "ok";
  }

  open(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        this.timers.cancel(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = this.timers.after(timeoutMs, () => {
        settle(new Error(`connection timed out after ${timeoutMs} ms`));
        this.close();
      });
      // close() while connecting (pool stopped, relay removed) must not leave open() pending.
      this.endSignal.signal.addEventListener("abort", () => settle(new Error("connection closed")), { once: true });
      let ws: WebSocket;
      try {
        ws = new WebSocket(this.url);
      } catch (err) {
        settle(new Error(`cannot connect: ${errorMessage(err)}`));
        this.close();
        return;
      }
      this.ws = ws;
      ws.onopen = () => settle();
      ws.onerror = (ev) => {
        const message = (ev as ErrorEvent).message;
        settle(new Error(message ? message.replace(/^WebSocket connection to '[^']*' failed: /, "") : "connection failed"));
      };
      ws.onclose = (ev) => {
        settle(new Error(`connection closed before it opened (code ${ev.code})`));
        this.finish(`connection closed by relay (code ${ev.code}${ev.reason ? `: ${ev.reason.slice(0, 100)}` : ""})`);
      };
      ws.onmessage = (ev) => {
        try {
          this.onMessage(ev.data);
        } catch (err) {
          // Defence in depth: a relay's frame must never throw out of the socket.
          log.warn("failed to handle relay message", { relay: this.url, err: errorMessage(err) });
        }
      };
    });
  }

  /** Close from our side; pending waits resolve as errors. Idempotent; does not call onEnd. */
  close(): void {
    if (this.ended) return;
    this.onEnd = () => {};
    this.onFrame = () => {};
    this.finish("connection closed");
    const ws = this.ws;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(1000);
      } catch {
        // Already closed or never opened: nothing to release.
      }
    }
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.timers.clear();
    if (this.subFlush) clearImmediate(this.subFlush);
    this.subFlush = null;
    this.subFrames = [];
    this.sentReqs.clear();
    this.endSignal.abort();
    for (const [, set] of this.okWaiters) for (const w of set) w({ status: "error", message: reason });
    this.okWaiters.clear();
    for (const w of this.challengeWaiters) w();
    this.challengeWaiters.clear();
    const subs = [...this.subs.values()];
    this.subs.clear();
    for (const s of subs) s.h.onClosed(reason, false);
    const onEnd = this.onEnd;
    this.onEnd = () => {};
    onEnd(reason);
  }

  private send(msg: unknown[]): boolean {
    if (!this.isOpen) return false;
    try {
      this.ws!.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  private onMessage(data: unknown): void {
    if (typeof data !== "string" || data.length > MAX_MESSAGE_CHARS) return;
    this.lastHeardAt = this.now();
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      log.debug("relay sent invalid JSON", { relay: this.url });
      return;
    }
    if (!Array.isArray(msg) || typeof msg[0] !== "string") return;
    this.onFrame();
    switch (msg[0]) {
      case "EVENT": {
        const sub = typeof msg[1] === "string" ? this.subs.get(msg[1]) : undefined;
        if (!sub) return;
        const event: unknown = msg[2];
        // NIP-01: verify id and signature, and that the relay sent what we asked for.
        if (!isValidEvent(event) || !matchFilters(sub.filters, event)) {
          this.invalidEvents++;
          const fields = { relay: this.url, id: (event as { id?: unknown } | null)?.id, count: this.invalidEvents };
          if (this.invalidEvents === 1) log.warn("dropped an invalid or unrequested event", fields);
          else log.debug("dropped an invalid or unrequested event", fields);
          return;
        }
        sub.h.onEvent(event);
        return;
      }
      case "EOSE": {
        const sub = typeof msg[1] === "string" ? this.subs.get(msg[1]) : undefined;
        sub?.h.onEose();
        return;
      }
      case "CLOSED": {
        if (typeof msg[1] !== "string") return;
        const sub = this.subs.get(msg[1]);
        if (!sub) return;
        this.subs.delete(msg[1]);
        sub.h.onClosed(typeof msg[2] === "string" ? msg[2].slice(0, 500) : "", true);
        return;
      }
      case "OK": {
        if (typeof msg[1] !== "string" || typeof msg[2] !== "boolean") return;
        const waiters = this.okWaiters.get(msg[1]);
        if (!waiters) return;
        this.okWaiters.delete(msg[1]);
        const message = typeof msg[3] === "string" ? msg[3].slice(0, 500) : "";
        for (const w of waiters) w({ status: msg[2] ? "ok" : "rejected", message });
        return;
      }
      case "AUTH": {
        // NIP-42: the relay's challenge; we answer only when something is refused with auth-required.
        if (typeof msg[1] !== "string" || msg[1].length === 0 || msg[1].length > 1024) return;
        this.challenge = msg[1];
        for (const w of this.challengeWaiters) w();
        this.challengeWaiters.clear();
        return;
      }
      case "NOTICE": {
        if (typeof msg[1] === "string") log.debug("relay notice", { relay: this.url, notice: msg[1].slice(0, 300) });
        return;
      }
      default:
        return;
    }
  }

  /**
   * REQ (NIP-01). Replaces a subscription of the same id. Returns false when not connected. Sent
   * on the next turn of the event loop (see subFrames) unless `now` (the latency probe).
   */
  req(id: string, filters: Filter[], h: SocketSubHandlers, now = false): boolean {
    if (!this.isOpen) return false;
    this.subs.set(id, { filters, h });
    const frame = ["REQ", id, ...filters];
    if (!now) {
      // A newer REQ for the id overwrites the older one (NIP-01), so only the newest need go out.
      this.dropQueuedReq(id);
      this.queueSubFrame(frame);
      return true;
    }
    if (!this.send(frame)) {
      this.subs.delete(id);
      return false;
    }
    this.sentReqs.add(id);
    return true;
  }

  /** CLOSE (NIP-01); no callback fires for it. Nothing is sent for a REQ that never went out. */
  unreq(id: string): void {
    if (!this.subs.delete(id)) return;
    this.dropQueuedReq(id);
    if (this.sentReqs.delete(id)) this.queueSubFrame(["CLOSE", id]);
  }

  private dropQueuedReq(id: string): void {
    if (this.subFrames.length) this.subFrames = this.subFrames.filter((f) => !(f[0] === "REQ" && f[1] === id));
  }

  private queueSubFrame(frame: unknown[]): void {
    this.subFrames.push(frame);
    this.subFlush ??= setImmediate(() => {
      this.subFlush = null;
      const frames = this.subFrames;
      this.subFrames = [];
      for (const f of frames) {
        if (!this.send(f)) return; // closed meanwhile: finish() tells the subscriptions
        if (f[0] === "REQ") this.sentReqs.add(f[1] as string);
      }
    });
  }

  /** Sends EVENT and waits for the matching OK (NIP-01). Never rejects. */
  publishOnce(event: Event, timeoutMs: number): Promise<OkOutcome> {
    return this.sendAndWaitOk(["EVENT", event], event.id, timeoutMs);
  }

  private sendAndWaitOk(msg: unknown[], id: string, timeoutMs: number): Promise<OkOutcome> {
    if (!this.isOpen) return Promise.resolve({ status: "error", message: "not connected" });
    return new Promise<OkOutcome>((resolve) => {
      const set = this.okWaiters.get(id) ?? new Set();
      const waiter = (outcome: OkOutcome) => {
        this.timers.cancel(timer);
        resolve(outcome);
      };
      const timer = this.timers.after(timeoutMs, () => {
        set.delete(waiter);
        if (set.size === 0 && this.okWaiters.get(id) === set) this.okWaiters.delete(id);
        resolve({ status: "timeout", message: `no OK within ${timeoutMs} ms` });
      });
      set.add(waiter);
      this.okWaiters.set(id, set);
      if (!this.send(msg)) {
        set.delete(waiter);
        waiter({ status: "error", message: "not connected" });
      }
    });
  }

  /** Latency probe: a REQ no event can match; any EOSE or CLOSED counts as an answer. */
  ping(timeoutMs: number): Promise<number | null> {
    const started = performance.now();
    return new Promise((resolve) => {
      const id = nextId("ping");
      let done = false;
      const finish = (answered: boolean) => {
        if (done) return;
        done = true;
        this.timers.cancel(timer);
        this.unreq(id);
        resolve(answered ? Math.max(0, Math.round(performance.now() - started)) : null);
      };
      const timer = this.timers.after(timeoutMs, () => finish(false));
      const sent = this.req(
        id,
        [{ ids: ["0".repeat(64)], limit: 1 }],
        {
          onEvent: () => {},
          onEose: () => finish(true),
          onClosed: (_reason, byRelay) => finish(byRelay),
        },
        true,
      );
      if (!sent) finish(false);
    });
  }

  /**
   * NIP-42: sign a kind-22242 event for the relay's challenge and wait for its OK. One attempt
   * per connection; concurrent callers share it, and a failure is remembered for the session so
   * a refusing relay isn't asked again and again.
   */
  authenticate(sign: (t: EventTemplate) => Promise<Event>, timeoutMs: number): Promise<boolean> {
    if (this.authState === "ok") return Promise.resolve(true);
    if (this.authState === "failed") return Promise.resolve(false);
    if (this.authPromise) return this.authPromise;
    this.authState = "pending";
    const deadline = performance.now() + timeoutMs;
    const left = () => Math.max(0, deadline - performance.now());
    this.authPromise = (async () => {
      if (!this.challenge) await this.waitForChallenge(left());
      const challenge = this.challenge;
      if (!challenge || !this.isOpen) return false;
      let authEvent: Event;
      try {
        authEvent = await withTimeout(sign(makeAuthEvent(this.url, challenge)), left(), "signing the AUTH event timed out", {
          signal: this.endSignal.signal,
          abortError: () => new Error("connection closed"),
        });
      } catch (err) {
        log.warn("could not sign the AUTH event", { relay: this.url, err: errorMessage(err) });
        return false;
      }
      const outcome = await this.sendAndWaitOk(["AUTH", authEvent], authEvent.id, left());
      if (outcome.status !== "ok") log.warn("relay refused our AUTH", { relay: this.url, status: outcome.status, message: outcome.message });
      return outcome.status === "ok";
    })()
      .catch(() => false)
      .then((ok) => {
        this.authState = ok ? "ok" : "failed";
        this.authPromise = null;
        return ok;
      });
    return this.authPromise;
  }

  private waitForChallenge(timeoutMs: number): Promise<void> {
    if (this.challenge || this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.timers.cancel(timer);
        this.challengeWaiters.delete(done);
        resolve();
      };
      const timer = this.timers.after(timeoutMs, done);
      this.challengeWaiters.add(done);
    });
  }

  /**
   * One-shot query: collects events until EOSE, CLOSED, the deadline or the end of the
   * connection, then sends CLOSE. On CLOSED auth-required it authenticates and asks once more.
   */
  query(filters: Filter[], timeoutMs: number, sign: (t: EventTemplate) => Promise<Event>, authMs: number): Promise<Event[]> {
    const deadline = performance.now() + timeoutMs;
    const events: Event[] = [];
    return new Promise((resolve) => {
      const id = nextId("fetch");
      let done = false;
      let retried = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.timers.cancel(timer);
        this.unreq(id);
        resolve(events);
      };
      const timer = this.timers.after(timeoutMs, finish);
      const handlers: SocketSubHandlers = {
        onEvent: (e) => events.push(e),
        onEose: finish,
        onClosed: (reason, byRelay) => {
          if (byRelay && reason.startsWith(AUTH_REQUIRED) && !retried && !done) {
            retried = true;
            const budget = Math.min(authMs, Math.max(0, deadline - performance.now()));
            void this.authenticate(sign, budget).then((ok) => {
              if (!ok || done || !this.req(id, filters, handlers)) finish();
            });
            return;
          }
          finish();
        },
      };
      if (!this.req(id, filters, handlers)) finish();
    });
  }
}
