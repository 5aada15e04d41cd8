// The dashboard's state: the server's Snapshot plus what only the stream tells (output previews,
// model pulls, the last payment). `applyEvent` is pure so the folding of every event type can be
// tested without a browser; the signals at the bottom are the one place the components read from.
import { computed, signal } from "@preact/signals";
import type { Snapshot } from "../src/server/snapshot.ts";
import type { JobView, JobStatus } from "../src/jobs/events.ts";
import type { RelayView } from "../src/nostr/events.ts";
import type { StreamEvent } from "./events.ts";
import type { MarketView } from "../src/market/service.ts";
import type { BenchmarkRecord } from "../src/market/store.ts";

export type { Snapshot, JobView, JobStatus, RelayView, StreamEvent, MarketView, BenchmarkRecord };

export interface PullState {
  model: string;
  status: string;
  total: number | null;
  completed: number | null;
  done: boolean;
  error: string | null;
  /** Unix ms of the last update: the UI hides a finished pull a few seconds after it. */
  at: number;
}

export interface PaymentNotice {
  paymentId: string;
  amountMsats: number;
  jobId: string | null;
  at: number;
}

export interface UiState {
  snapshot: Snapshot;
  /** Latest generated-text preview per job id, from job.progress.updated. */
  previews: Record<string, string>;
  pulls: Record<string, PullState>;
  lastPayment: PaymentNotice | null;
}

/** The statuses in which a job still holds a slot or waits for one (jobs/events.ts). */
export const ACTIVE_STATUSES: ReadonlySet<string> = new Set(["received", "payment-required", "paid", "queued", "processing"]);
export const isActive = (s: JobStatus | string) => ACTIVE_STATUSES.has(s);

/** Same cap as the server's snapshot (snapshot.ts: at most 50 jobs). */
export const MAX_JOBS = 50;

export function initialUiState(snapshot: Snapshot): UiState {
  return { snapshot, previews: {}, pulls: {}, lastPayment: null };
}

/**
 * Parses one SSE data string; anything that is not {type: string, properties: object} is null. The
 * frame is the one thing checked here (a proxy or a broken stream can garble it); its payload is the
 * server's, typed by the server's event definitions (events.ts).
 */
export function parseStreamData(data: unknown): StreamEvent | null {
  if (typeof data !== "string") return null;
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  if (!isRecord(v) || typeof v.type !== "string") return null;
  const properties = v.properties === undefined ? {} : v.properties;
  if (!isRecord(properties)) return null;
  return { type: v.type, properties } as StreamEvent;
}

/** Active jobs first (oldest first: they run in that order), then finished ones newest first. */
export function sortJobs(jobs: JobView[]): JobView[] {
  const active = jobs.filter((j) => isActive(j.status)).sort((a, b) => a.createdAt - b.createdAt);
  const done = jobs.filter((j) => !isActive(j.status)).sort((a, b) => b.updatedAt - a.updatedAt);
  return [...active, ...done].slice(0, Math.max(MAX_JOBS, active.length));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Folds one stream event into the state. Unknown types leave the state as it was (the same object),
 * so a newer server can add events without breaking an older page.
 */
export function applyEvent(state: UiState, ev: StreamEvent, now = Date.now()): UiState {
  const s = state.snapshot;
  const withSnap = (patch: Partial<Snapshot>): UiState => ({ ...state, snapshot: { ...s, ...patch } });
  switch (ev.type) {
    case "job.status.changed": {
      const job = ev.properties.job;
      const jobs = s.jobs.some((j) => j.id === job.id) ? s.jobs.map((j) => (j.id === job.id ? job : j)) : [...s.jobs, job];
      const sorted = sortJobs(jobs);
      return { ...state, previews: previewsOf(state.previews, sorted), snapshot: { ...s, jobs: sorted } };
    }
    case "job.progress.updated": {
      const p = ev.properties;
      const idx = s.jobs.findIndex((j) => j.id === p.id);
      if (idx < 0) return state;
      const job = s.jobs[idx]!;
      // Progress can't go backwards: an out-of-order update must not shrink the counter.
      if (p.tokens < job.tokens) return state;
      const jobs = s.jobs.slice();
      jobs[idx] = { ...job, tokens: p.tokens, tokensPerSec: p.tokensPerSec ?? job.tokensPerSec, updatedAt: Math.max(job.updatedAt, now) };
      return { ...state, previews: { ...state.previews, [job.id]: p.preview }, snapshot: { ...s, jobs } };
    }
    case "relay.status.changed": {
      const relay = ev.properties.relay;
      const relays = s.relays.some((r) => r.url === relay.url) ? s.relays.map((r) => (r.url === relay.url ? relay : r)) : [...s.relays, relay];
      return withSnap({ relays });
    }
    case "relay.list.changed":
      return withSnap({ relays: ev.properties.relays });
    case "ollama.status.changed":
      return withSnap({ ollama: ev.properties.ollama });
    case "inference.backends.changed":
      return withSnap({ backends: ev.properties.backends });
    case "ollama.models.changed":
      return withSnap({ models: ev.properties.models });
    case "ollama.pull.progress": {
      const { model, status, total, completed, done, error } = ev.properties;
      return { ...state, pulls: { ...state.pulls, [model]: { model, status, total, completed, done, error, at: now } } };
    }
    case "wallet.status.changed":
      return withSnap({ wallet: ev.properties.wallet });
    case "wallet.payment.received": {
      const { paymentId, amountMsats, jobId } = ev.properties;
      return { ...state, lastPayment: { paymentId, amountMsats, jobId, at: now } };
    }
    case "earnings.totals.changed":
      return withSnap({ earnings: ev.properties.earnings });
    case "identity.state.changed":
      return withSnap({ identity: ev.properties.identity });
    case "provider.state.changed":
      return withSnap({ provider: ev.properties.provider });
    default:
      return state;
  }
}

/** Replaces the snapshot after a (re)fetch, keeping stream-only extras that still apply. */
export function replaceSnapshot(state: UiState | null, snapshot: Snapshot): UiState {
  const fresh: Snapshot = { ...snapshot, jobs: sortJobs(snapshot.jobs) };
  if (!state) return initialUiState(fresh);
  return { ...state, snapshot: fresh, previews: previewsOf(state.previews, fresh.jobs) };
}

/** The previews of the jobs still listed: those of jobs that fell off go, so the map can't grow without bound. */
function previewsOf(previews: Record<string, string>, jobs: JobView[]): Record<string, string> {
  const ids = new Set(jobs.map((j) => j.id));
  const kept: Record<string, string> = {};
  for (const [id, text] of Object.entries(previews)) if (ids.has(id)) kept[id] = text;
  return kept;
}

/**
 * Keeps the state in step with the server across (re)connections. On every `server.connected` the
 * snapshot is fetched again; events that arrive while that fetch is in flight are held back and
 * replayed on top of the fresh snapshot, so nothing is lost and nothing older overwrites newer.
 */
export class Sync {
  state: UiState | null = null;
  private syncing = false;
  private held: StreamEvent[] = [];
  private generation = 0;

  constructor(
    private readonly fetchSnapshot: () => Promise<Snapshot>,
    private readonly onChange: (state: UiState | null) => void,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** Feed every stream event here, `server.connected` included. */
  handle(ev: StreamEvent): void {
    if (ev.type === "server.connected") {
      void this.resync();
      return;
    }
    if (ev.type === "server.heartbeat") return;
    if (this.syncing || !this.state) {
      this.held.push(ev);
      return;
    }
    const next = applyEvent(this.state, ev);
    if (next !== this.state) {
      this.state = next;
      this.onChange(next);
    }
  }

  /** Fetches the snapshot and replays what came meanwhile; a later resync supersedes an earlier one. */
  async resync(): Promise<void> {
    const gen = ++this.generation;
    this.syncing = true;
    try {
      const snap = await this.fetchSnapshot();
      if (gen !== this.generation) return;
      let next = replaceSnapshot(this.state, snap);
      for (const ev of this.held) next = applyEvent(next, ev);
      this.held = [];
      this.state = next;
      this.syncing = false;
      this.onChange(next);
    } catch (err) {
      if (gen !== this.generation) return;
      this.syncing = false;
      // Apply what was held to the state we have: keeping it for a later replay could lay these
      // older events over a newer snapshot. With no state yet, keep it (order is preserved).
      if (this.state) {
        let next = this.state;
        for (const ev of this.held) next = applyEvent(next, ev);
        this.held = [];
        if (next !== this.state) {
          this.state = next;
          this.onChange(next);
        }
      }
      this.onError(err);
    }
  }
}

// ---- signals: module-level, read by components -------------------------------------------------

export type Connection = "connecting" | "live" | "reconnecting" | "unauthorized";

export const ui = signal<UiState | null>(null);
export const connection = signal<Connection>("connecting");
/** A fatal load error (e.g. the first /api/state failed), shown instead of the dashboard. */
export const loadError = signal<string | null>(null);

// ---- slices: what each panel reads ----------------------------------------------------------------
// A computed tells its readers only when its value is another object (or number) than before, and
// applyEvent keeps every part of the snapshot an event did not touch: a panel that reads `wallet`
// is not drawn again for each token of a running job, as one that reads `ui` would be. The parts of
// the snapshot are read where the dashboard is shown, i.e. once `ui` holds a state.

const part = <K extends keyof Snapshot>(key: K) => computed(() => ui.value!.snapshot[key]);
const NO_BACKENDS: NonNullable<Snapshot["backends"]> = [];

/** "none" | "locked" | "unlocked", or null before the first snapshot. */
export const identityState = computed(() => ui.value?.snapshot.identity.state ?? null);
export const identity = part("identity");
export const version = part("version");
export const provider = part("provider");
export const wallet = part("wallet");
export const earnings = part("earnings");
export const jobs = part("jobs");
export const relays = part("relays");
export const models = part("models");
export const ollama = part("ollama");
export const backends = computed(() => ui.value!.snapshot.backends ?? NO_BACKENDS);
export const previews = computed(() => ui.value!.previews);
export const pulls = computed(() => ui.value!.pulls);
export const lastPayment = computed(() => ui.value?.lastPayment ?? null);

/** Jobs holding or waiting for a slot, oldest first; then the finished ones, newest first. */
export const activeJobs = computed(() => jobs.value.filter((j) => isActive(j.status)));
export const finishedJobs = computed(() => jobs.value.filter((j) => !isActive(j.status)));
// Counts are numbers: their readers are not drawn again while the lists change but the count doesn't.
export const activeCount = computed(() => activeJobs.value.length);
export const relaysUp = computed(() => relays.value.filter((r) => r.state === "connected").length);
export const servedCount = computed(() => models.value.filter((m) => m.served).length);

// ---- the market (GET /api/market, ui/market-feed.ts): not in the snapshot; MARKET, MODELS and ----
// SETTINGS › PRICING read these slices of the last view fetched.

export const market = signal<MarketView | null>(null);
const NO_SUGGESTIONS: MarketView["suggestions"] = [];
export const marketReport = computed(() => market.value?.report ?? null);
export const marketSuggestions = computed(() => market.value?.suggestions ?? NO_SUGGESTIONS);
export const marketCurrent = computed(() => market.value?.current ?? null);
/** The last benchmark of each model on this machine, by model name. */
export const benchmarks = computed(() => {
  const out: Record<string, BenchmarkRecord> = {};
  for (const b of market.value?.benchmarks ?? []) if (!out[b.model] || out[b.model]!.at < b.at) out[b.model] = b;
  return out;
});
