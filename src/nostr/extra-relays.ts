// Relays a customer names (NIP-90 `relays` tag, relay hints): which of them we contact (the URL
// policy in relay-url.ts, at most maxExtra per request, the answers remembered), and the
// short-lived connection to each, only while fewer than maxConnections are open and only to a
// host that resolves to public addresses alone.
import { errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import { Slots, checkHost, type HostResolver } from "../util/net-guard.ts";
import { checkExtraRelayUrl, isLoopbackHost, normalizeRelayUrl, type ExtraRelayCheck } from "./relay-url.ts";
import { RelaySocket, left } from "./relay-socket.ts";

const log = createLogger("nostr.pool");

export const DEFAULT_MAX_EXTRA_RELAYS = 5;
/** Connections to customer-named relays open at once, for the whole pool (every request together). */
export const DEFAULT_MAX_CUSTOMER_RELAY_CONNECTIONS = 16;
/** Most remembered extra-relay URL checks (pick). */
const EXTRA_CHECK_CACHE = 1_000;

export interface ExtraRelaysOptions {
  /** Allow ws:// and wss:// on loopback hosts (tests only). */
  allowInsecureLocal: boolean;
  maxExtra: number;
  maxConnections: number;
  resolveHost: HostResolver;
  /** Opening a websocket, at most. */
  connectMs: number;
  now: () => number;
}

export class ExtraRelays {
  private readonly slots: Slots;
  private readonly sockets = new Set<RelaySocket>();
  private readonly checks = new Map<string, ExtraRelayCheck>();

  constructor(
    private readonly opts: ExtraRelaysOptions,
    /** One of the pool's own relays (their result covers it). */
    private readonly isOurs: (url: string) => boolean,
    /** The pool is running: no new connection otherwise. */
    private readonly isRunning: () => boolean,
  ) {
    this.slots = new Slots(opts.maxConnections);
  }

  /** Short-lived connections open now. */
  get openCount(): number {
    return this.sockets.size;
  }

  /** Closes every short-lived connection (the pool stops). */
  closeAll(): void {
    for (const s of this.sockets) s.close();
    this.sockets.clear();
  }

  /** The extra relays to contact for one request, and the refused ones with the reason. */
  pick(input: unknown[]): { accepted: string[]; refused: { relay: string; reason: string }[] } {
    const accepted: string[] = [];
    const refused: { relay: string; reason: string }[] = [];
    const seen = new Set<string>();
    for (const raw of input) {
      // One of ours (customers usually name relays they share with us): the pool relay's result
      // covers it, whatever the extra-relay policy would say about the URL (ws:// on a LAN, …).
      let ours = false;
      try {
        ours = typeof raw === "string" && this.isOurs(normalizeRelayUrl(raw));
      } catch {}
      if (ours) continue;
      const check = this.checkExtra(raw);
      const label = typeof raw === "string" ? raw.slice(0, 200) : String(raw);
      if (!check.ok) {
        refused.push({ relay: label, reason: `refused: ${check.reason}` });
        continue;
      }
      // Already one of ours, or named twice: the pool relay's result covers it.
      if (this.isOurs(check.url) || seen.has(check.url)) continue;
      seen.add(check.url);
      if (accepted.length >= this.opts.maxExtra) {
        refused.push({ relay: check.url, reason: `refused: at most ${this.opts.maxExtra} extra relays per request` });
        continue;
      }
      accepted.push(check.url);
    }
    if (refused.length) log.info("extra relays refused", { refused });
    return { accepted, refused };
  }

  /**
   * checkExtraRelayUrl, remembered: a customer names the same reply relays on every request and
   * every job publishes twice, and URL parsing is a visible part of a job's CPU. Bounded.
   */
  private checkExtra(raw: unknown): ExtraRelayCheck {
    if (typeof raw !== "string") return checkExtraRelayUrl(raw, this.opts.allowInsecureLocal);
    let check = this.checks.get(raw);
    if (!check) {
      check = checkExtraRelayUrl(raw, this.opts.allowInsecureLocal);
      if (this.checks.size >= EXTRA_CHECK_CACHE) this.checks.clear();
      this.checks.set(raw, check);
    }
    return check;
  }

  /**
   * A customer-named relay: only while fewer than maxCustomerRelayConnections are open, and only
   * if its host resolves to public addresses alone (a name can point anywhere, e.g. 127.0.0.1).
   * Returns fn's result, or why it was not reached.
   */
  async via<T>(url: string, deadline: number, fn: (s: RelaySocket) => Promise<T>): Promise<T | string> {
    const release = this.slots.tryAcquire();
    if (!release) {
      log.info("customer relay refused: too many open", { relay: url, max: this.slots.max });
      return `refused: too many connections to customer-named relays at once (at most ${this.slots.max})`;
    }
    try {
      const host = new URL(url).hostname;
      if (!(this.opts.allowInsecureLocal && isLoopbackHost(host))) {
        const check = await checkHost(host, { resolve: this.opts.resolveHost, timeoutMs: Math.max(1, Math.min(this.opts.connectMs, left(deadline))) });
        if (!check.ok) {
          log.info("customer relay refused", { relay: url, reason: check.reason });
          return `refused: ${check.reason}`;
        }
      }
      return (await this.withShortSocket(url, deadline, fn)) ?? "could not connect";
    } finally {
      release();
    }
  }

  /** Opens a short-lived connection, runs fn, always closes; null when it could not connect. */
  private async withShortSocket<T>(url: string, deadline: number, fn: (s: RelaySocket) => Promise<T>): Promise<T | null> {
    if (!this.isRunning()) return null;
    const s = new RelaySocket(url, this.opts.now);
    this.sockets.add(s);
    try {
      const budget = Math.min(this.opts.connectMs, left(deadline));
      if (budget <= 0) return null;
      try {
        await s.open(budget);
      } catch (err) {
        log.info("extra relay unreachable", { relay: url, err: errorMessage(err) });
        return null;
      }
      return await fn(s);
    } finally {
      s.close();
      this.sockets.delete(s);
    }
  }
}
