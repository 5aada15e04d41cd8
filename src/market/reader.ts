// The market reader: its own subscriptions on the relay pool (announcements, heartbeats, and the
// 5050/6050/7000 traffic: a bounded look back, then live), kept in the market store. It never
// slows the job path: events are parsed into small records and queued, a budget (events per
// second overall, events per minute per pubkey, a bounded queue) drops the excess, and the queue
// is written in one transaction on a timer, so a busy relay costs the jobs a few microseconds per
// event at most. Restarts resume from the newest stored event instead of downloading it again.
import { createLogger } from "../log.ts";
import { HANDLER_INFO, HEARTBEAT, JOB_FEEDBACK, JOB_REQUEST_TEXT, JOB_RESULT_TEXT, PROFILE } from "../nostr/kinds.ts";
import { aggregate, type MarketReport } from "./aggregate.ts";
import { toRecord, type MarketEventInput, type MarketRecord } from "./records.ts";
import type { MarketStore } from "./store.ts";

const log = createLogger("market");

type Filter = Record<string, unknown>;

export interface MarketPool {
  subscribe(filters: Filter[], handlers: { onEvent(event: MarketEventInput, relay: string): void; onEose?(relay: string): void }): { close(): void };
  fetch?(filters: Filter[], opts?: { timeoutMs?: number }): Promise<MarketEventInput[]>;
}

export interface MarketBudget {
  /** Events taken per second, on average (a token bucket). */
  eventsPerSec: number;
  /** Events taken at once after a quiet spell. */
  burst: number;
  /** Events taken per pubkey per minute (a flood from one key is cut here). */
  perPubkeyPerMin: number;
  /** Records waiting to be written; beyond it new ones are dropped. */
  maxQueue: number;
  /** Largest event content read (bytes); larger is dropped unread. */
  maxContentChars: number;
}

export const DEFAULT_BUDGET: MarketBudget = { eventsPerSec: 200, burst: 5_000, perPubkeyPerMin: 600, maxQueue: 5_000, maxContentChars: 200_000 };
/** How far back the first subscription looks (days), and the most stored events asked for per filter. */
export const DEFAULT_LOOKBACK_DAYS = 7;
export const LOOKBACK_LIMIT = 5_000;
const TRAFFIC_KINDS = [JOB_REQUEST_TEXT, JOB_RESULT_TEXT, JOB_FEEDBACK];
const FLUSH_MS = 500;
const PROFILE_REFRESH_MS = 10 * 60_000;
const PRUNE_MS = 60 * 60_000;

export interface MarketReaderStats {
  received: number;
  kept: number;
  dropped: { budget: number; flood: number; invalid: number; queue: number; huge: number };
}

export interface MarketReaderOptions {
  store: MarketStore;
  budget?: Partial<MarketBudget>;
  lookbackDays?: number;
  now?: () => number;
  flushMs?: number;
}

export class MarketReader {
  private readonly store: MarketStore;
  private readonly budget: MarketBudget;
  private readonly now: () => number;
  private readonly lookbackDays: number;
  private readonly flushMs: number;
  private subs: { close(): void }[] = [];
  private pool: MarketPool | null = null;
  private queue: MarketRecord[] = [];
  private tokens: number;
  private lastRefill: number;
  private perKey = new Map<string, number>();
  private perKeyWindow = 0;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private profileTimer: ReturnType<typeof setInterval> | null = null;
  private pruneTimer: ReturnType<typeof setInterval> | null = null;
  private reportCache: { key: string; at: number; report: MarketReport } | null = null;
  readonly stats: MarketReaderStats = { received: 0, kept: 0, dropped: { budget: 0, flood: 0, invalid: 0, queue: 0, huge: 0 } };

  constructor(opts: MarketReaderOptions) {
    this.store = opts.store;
    this.budget = { ...DEFAULT_BUDGET, ...opts.budget };
    this.now = opts.now ?? Date.now;
    this.lookbackDays = opts.lookbackDays ?? DEFAULT_LOOKBACK_DAYS;
    this.flushMs = opts.flushMs ?? FLUSH_MS;
    this.tokens = this.budget.burst;
    this.lastRefill = performance.now();
  }

  /** The filters to ask for: from the newest stored event (less a minute), at most the look back. */
  filters(): Filter[] {
    const nowSec = Math.floor(this.now() / 1000);
    const floor = nowSec - this.lookbackDays * 86_400;
    const from = (kinds: number[]) => {
      const newest = this.store.newest(kinds);
      return Math.max(floor, newest !== null ? newest - 60 : floor);
    };
    return [
      { kinds: TRAFFIC_KINDS, since: from(TRAFFIC_KINDS), limit: LOOKBACK_LIMIT },
      { kinds: [HANDLER_INFO], "#k": [String(JOB_REQUEST_TEXT)], since: Math.max(nowSec - 30 * 86_400, (this.store.newest([HANDLER_INFO]) ?? 0) - 60), limit: 1_000 },
      { kinds: [HEARTBEAT], since: Math.max(nowSec - 86_400, (this.store.newest([HEARTBEAT]) ?? 0) - 60), limit: 1_000 },
    ];
  }

  /** Subscribes on the pool (idempotent while running). */
  start(pool: MarketPool): void {
    if (this.pool) return;
    this.pool = pool;
    this.store.prune(this.now());
    try {
      this.subs.push(pool.subscribe(this.filters(), { onEvent: (e) => this.ingest(e) }));
    } catch (err) {
      log.warn("market subscription failed", { err });
    }
    if (pool.fetch) {
      this.profileTimer = setInterval(() => void this.fetchProfiles(), PROFILE_REFRESH_MS);
      this.profileTimer.unref?.();
      const first = setTimeout(() => void this.fetchProfiles(), 30_000);
      first.unref?.();
      this.subs.push({ close: () => clearTimeout(first) });
    }
    this.pruneTimer = setInterval(() => {
      try {
        this.store.prune(this.now());
      } catch (err) {
        log.warn("market prune failed", { err });
      }
    }, PRUNE_MS);
    this.pruneTimer.unref?.();
  }

  stop(): void {
    for (const s of this.subs.splice(0)) s.close();
    if (this.profileTimer) clearInterval(this.profileTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.profileTimer = this.pruneTimer = null;
    this.flush();
    this.pool = null;
  }

  /** One event from a relay: checked against the budget, parsed, queued. Never throws. */
  ingest(e: MarketEventInput): boolean {
    this.stats.received++;
    try {
      if (!e || typeof e !== "object" || typeof e.content !== "string" || typeof e.pubkey !== "string") {
        this.stats.dropped.invalid++;
        return false;
      }
      if (e.content.length > this.budget.maxContentChars) {
        this.stats.dropped.huge++;
        return false;
      }
      if (!this.takeToken()) {
        this.stats.dropped.budget++;
        return false;
      }
      if (!this.takeForKey(e.pubkey)) {
        this.stats.dropped.flood++;
        return false;
      }
      const rec = toRecord(e, this.now());
      if (!rec) {
        this.stats.dropped.invalid++;
        return false;
      }
      if (this.queue.length >= this.budget.maxQueue) {
        this.stats.dropped.queue++;
        return false;
      }
      this.queue.push(rec);
      this.scheduleFlush();
      return true;
    } catch (err) {
      this.stats.dropped.invalid++;
      log.debug("market event skipped", { err });
      return false;
    }
  }

  /** Writes the queue now (one transaction). */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    try {
      this.stats.kept += this.store.insert(batch);
      this.reportCache = null;
    } catch (err) {
      log.warn("market write failed", { err, count: batch.length });
    }
  }

  /** The market over the window since `sinceSec` (cached for a few seconds). */
  report(opts: { sinceSec: number; me?: string | null; myModels?: string[] }): MarketReport {
    this.flush();
    const key = JSON.stringify([opts.sinceSec, opts.me ?? null, opts.myModels ?? []]);
    const now = this.now();
    if (this.reportCache && this.reportCache.key === key && now - this.reportCache.at < 5_000) return this.reportCache.report;
    const report = aggregate(this.store.load(opts.sinceSec), { now, since: opts.sinceSec, me: opts.me, myModels: opts.myModels });
    this.reportCache = { key, at: now, report };
    return report;
  }

  /** Profiles (kind 0) of the providers seen, asked once in a while (a few hundred authors at most). */
  async fetchProfiles(timeoutMs = 8_000): Promise<void> {
    const pool = this.pool;
    if (!pool?.fetch) return;
    try {
      const report = aggregate(this.store.load(Math.floor(this.now() / 1000) - 86_400 * this.lookbackDays), { now: this.now(), since: 0 });
      const authors = report.providers.filter((p) => !p.name).map((p) => p.pubkey).slice(0, 200);
      if (authors.length === 0) return;
      const events = await pool.fetch([{ kinds: [PROFILE], authors }], { timeoutMs });
      for (const e of events) this.ingest(e);
      this.flush();
    } catch (err) {
      log.debug("market profile fetch failed", { err });
    }
  }

  /** One look at the relays without staying subscribed (the CLI with no running instance). */
  async collectOnce(pool: Required<MarketPool>, timeoutMs: number): Promise<void> {
    this.store.prune(this.now());
    const events = await pool.fetch(this.filters(), { timeoutMs });
    for (const e of events) this.ingest(e);
    this.flush();
    this.pool = pool;
    await this.fetchProfiles(Math.min(timeoutMs, 8_000));
    this.pool = null;
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flush(), this.flushMs);
    this.flushTimer.unref?.();
  }

  private takeToken(): boolean {
    const t = performance.now();
    this.tokens = Math.min(this.budget.burst, this.tokens + ((t - this.lastRefill) / 1000) * this.budget.eventsPerSec);
    this.lastRefill = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private takeForKey(pubkey: string): boolean {
    const minute = Math.floor(performance.now() / 60_000);
    if (minute !== this.perKeyWindow || this.perKey.size > 20_000) {
      this.perKey.clear();
      this.perKeyWindow = minute;
    }
    const n = (this.perKey.get(pubkey) ?? 0) + 1;
    this.perKey.set(pubkey, n);
    return n <= this.budget.perPubkeyPerMin;
  }
}
