// The router: many inference backends (Ollama hosts, OpenAI-compatible servers) behind one
// surface, the same as a single Ollama's (ollama.ts's Inference). A model served
// by several backends is one model (named by `aliases` where the backends name it differently);
// a job goes to a backend serving its model with a free slot (per-backend maxConcurrent, default
// what the backend reports, else 2 for Ollama and 4 for OpenAI-compatible servers), waiting in
// arrival order when all are busy, so the engine's fair queue stays the only order. A backend
// that fails before any output gets the job retried once on another backend serving the model;
// once output has streamed the job fails (never two answers). A backend that sends
// something broken (garbage, HTML, a line that never ends, more tokens than asked, a model it
// listed but does not have) is set aside for a while with the reason: its models leave the
// served list (and the NIP-89 announcement) until it is back.
import { Bus } from "../bus.ts";
import { effectiveBackends, OLLAMA_DEFAULT_SLOTS, type Config } from "../config.ts";
import { AppError } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { Backend, BackendSpec, GenerateResult, PullUpdate } from "./backend.ts";
import { BackendsChanged, BackendView, ModelsChanged, ModelView, OllamaStatusChanged, OllamaView } from "./events.ts";
import { modelKey } from "./model-name.ts";
import { OllamaBackend } from "./ollama-backend.ts";
import type { GenerateParams } from "./ollama.ts";
import { OpenAIBackend } from "./openai.ts";

const log = createLogger("inference");

export const DEFAULT_SLOTS = { ollama: OLLAMA_DEFAULT_SLOTS, openai: 4 } as const;
/** How long a backend that sent a broken reply is set aside. */
export const DEFAULT_SET_ASIDE_MS = 30_000;

export interface RouterOptions {
  bus: Bus;
  backends: BackendSpec[];
  /** A backend's model name → the public name (so the same weights on two backends are one model). */
  aliases?: Record<string, string>;
  /** Public model names to offer; null = every model a healthy backend has. */
  servedModels: string[] | null;
  probeIntervalMs?: number;
  fetchTimeoutMs?: number;
  firstTokenTimeoutMs?: number;
  stallTimeoutMs?: number;
  setAsideMs?: number;
}

interface Entry {
  backend: Backend;
  /** spec.maxConcurrent, changeable at run time (setBackends). */
  maxConcurrent: number | undefined;
  busy: number;
  asideUntil: number;
  asideReason: string | null;
  asideTimer: ReturnType<typeof setTimeout> | null;
}

interface Waiter {
  model: string;
  exclude: Set<Entry>;
  grant(pick: { entry: Entry; backendModel: string }): void;
  fail(err: unknown): void;
}

export class Router {
  /** The router a config describes: its backends (or the one-Ollama shorthand), aliases and served models. */
  static fromConfig(config: Pick<Config, "backends" | "ollamaUrl" | "limits" | "aliases" | "provider">, opts: Partial<RouterOptions> = {}): Router {
    return new Router({ backends: effectiveBackends(config), aliases: config.aliases, bus: new Bus(), servedModels: config.provider.servedModels, ...opts });
  }

  private readonly bus: Bus;
  private readonly opts: RouterOptions;
  private entries: Entry[] = [];
  private aliases = new Map<string, string>();
  private configured: string[] | null;
  private waiters: Waiter[] = [];
  private running = false;
  private lastView = "";
  private lastModels = "";
  private lastBackends = "";
  /** servedModels() and capacity() as of the last change: the engine reads them on every request. */
  private served: string[] = [];
  private slots = 1;

  constructor(opts: RouterOptions) {
    this.opts = opts;
    this.bus = opts.bus;
    this.configured = opts.servedModels;
    this.setAliases(opts.aliases ?? {});
    this.entries = opts.backends.map((s) => this.makeEntry(s));
    this.lastView = JSON.stringify(this.view());
    this.recount(this.models());
  }

  private makeEntry(spec: BackendSpec): Entry {
    const backend = this.defaultBackend(spec);
    const entry: Entry = { backend, maxConcurrent: spec.maxConcurrent, busy: 0, asideUntil: 0, asideReason: null, asideTimer: null };
    backend.onChange(() => this.changed());
    return entry;
  }

  private defaultBackend(spec: BackendSpec): Backend {
    const o = this.opts;
    const timing = { probeIntervalMs: o.probeIntervalMs, fetchTimeoutMs: o.fetchTimeoutMs, firstTokenTimeoutMs: o.firstTokenTimeoutMs, stallTimeoutMs: o.stallTimeoutMs };
    return spec.type === "openai" ? new OpenAIBackend({ spec, ...timing }) : new OllamaBackend({ spec, bus: this.bus, ...timing });
  }

  // ---- lifecycle ----

  /** Probes every backend now, then each on its interval. Resolves after the first probes. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await Promise.all(this.entries.map((e) => e.backend.start()));
    this.changed();
  }

  stop(): void {
    this.running = false;
    for (const e of this.entries) {
      e.backend.stop();
      if (e.asideTimer) clearTimeout(e.asideTimer);
    }
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w.fail(new AppError("unavailable", "Inference stopped"));
  }

  /** Probes every backend now. Never rejects. */
  async refresh(): Promise<void> {
    await Promise.all(this.entries.map((e) => e.backend.refresh()));
    this.changed();
  }

  /**
   * Replaces the set of backends (dashboard add/remove): backends whose spec is unchanged keep
   * running (and their jobs); removed ones stop (their running jobs fail), new ones start.
   */
  async setBackends(specs: BackendSpec[]): Promise<void> {
    // A changed maxConcurrent applies in place: the backend and its running jobs stay.
    const key = (s: BackendSpec) => JSON.stringify([s.name, s.type, s.url, s.apiKey ?? null, s.models ?? null]);
    const old = new Map(this.entries.map((e) => [key(e.backend.spec), e]));
    const next: Entry[] = [];
    const started: Entry[] = [];
    for (const s of specs) {
      const k = key(s);
      const kept = old.get(k);
      if (kept) {
        old.delete(k);
        kept.maxConcurrent = s.maxConcurrent;
        next.push(kept);
      } else {
        const e = this.makeEntry(s);
        next.push(e);
        started.push(e);
      }
    }
    for (const e of old.values()) {
      e.backend.stop();
      if (e.asideTimer) clearTimeout(e.asideTimer);
    }
    this.entries = next;
    this.recount(this.models());
    if (this.running) await Promise.all(started.map((e) => e.backend.start()));
    this.changed();
  }

  setAliases(aliases: Record<string, string>): void {
    this.aliases = new Map(Object.entries(aliases).map(([k, v]) => [modelKey(k), v.trim()]));
    if (this.running) this.changed();
    else this.recount(this.models());
  }

  // ---- names and health ----

  /** The public name of a backend's model. */
  publicName(backendModel: string): string {
    return this.aliases.get(modelKey(backendModel)) ?? backendModel;
  }

  private healthy(e: Entry): boolean {
    return e.backend.health().reachable && Date.now() >= e.asideUntil;
  }

  slotsOf(e: Entry): number {
    const h = e.backend.health();
    return Math.max(1, e.maxConcurrent ?? h.reportedSlots ?? DEFAULT_SLOTS[e.backend.spec.type]);
  }

  /** Backends (healthy, not excluded) with the public model, and their own name for it. */
  private candidates(model: string, exclude: Set<Entry> = new Set()): Array<{ entry: Entry; backendModel: string }> {
    const want = modelKey(model);
    const out: Array<{ entry: Entry; backendModel: string }> = [];
    for (const entry of this.entries) {
      if (exclude.has(entry) || !this.healthy(entry)) continue;
      const m = entry.backend.health().models.find((m) => modelKey(this.publicName(m.name)) === want);
      if (m) out.push({ entry, backendModel: m.name });
    }
    return out;
  }

  private isConfigured(publicName: string): boolean {
    if (this.configured === null) return true;
    const want = modelKey(publicName);
    return this.configured.some((c) => modelKey(c) === want);
  }

  /** Every model a reachable backend has, by public name, once each (the first backend's details). */
  models(): ModelView[] {
    const byName = new Map<string, ModelView & { backends: string[] }>();
    for (const entry of this.entries) {
      const h = entry.backend.health();
      if (!h.reachable) continue;
      for (const m of h.models) {
        const name = this.publicName(m.name);
        const k = modelKey(name);
        let v = byName.get(k);
        if (!v) {
          v = { ...m, name, served: false, backends: [] };
          byName.set(k, v);
        }
        if (this.healthy(entry)) {
          v.backends.push(entry.backend.spec.name);
          v.served = this.isConfigured(name);
        }
      }
    }
    const many = this.entries.length > 1;
    return [...byName.values()].map((v) => {
      const { backends, ...rest } = v;
      return many ? { ...rest, backends } : rest;
    });
  }

  /** Public names a healthy backend serves now, within the configured set. Empty while none is up. Read-only. */
  servedModels(): string[] {
    return this.served;
  }

  setServedModels(names: string[] | null): void {
    this.configured = names === null ? null : [...names];
    this.changed();
  }

  /** Jobs that can run at once now: the slots of the healthy backends with a model (at least 1). */
  capacity(): number {
    return this.slots;
  }

  /** Recomputes what servedModels() and capacity() answer, from `models` (this.models()). */
  private recount(models: ModelView[]): void {
    this.served = Object.freeze(models.filter((m) => m.served).map((m) => m.name)) as string[];
    let n = 0;
    for (const e of this.entries) if (this.healthy(e) && e.backend.health().models.length > 0) n += this.slotsOf(e);
    this.slots = Math.max(1, n);
  }

  backends(): BackendView[] {
    return this.entries.map((e) => {
      const h = e.backend.health();
      const aside = Date.now() < e.asideUntil;
      return {
        name: e.backend.spec.name,
        type: e.backend.spec.type,
        url: e.backend.spec.url,
        reachable: h.reachable,
        healthy: h.reachable && !aside,
        version: h.version,
        error: aside ? e.asideReason : h.error,
        latencyMs: h.latencyMs,
        models: h.models.map((m) => this.publicName(m.name)),
        slots: this.slotsOf(e),
        active: e.busy,
      };
    });
  }

  /**
   * The one-Ollama view the app shows (status light, blockers): with one backend, its own; with
   * several, reachable when any is, the errors of all when none is.
   */
  view(): OllamaView {
    if (this.entries.length === 1) {
      const e = this.entries[0]!;
      const h = e.backend.health();
      const aside = Date.now() < e.asideUntil;
      return { url: e.backend.spec.url, reachable: h.reachable && !aside, version: h.version, error: aside ? e.asideReason : h.error };
    }
    const up = this.entries.find((e) => this.healthy(e));
    const url = this.entries.map((e) => e.backend.spec.url).join(", ");
    if (up) return { url, reachable: true, version: up.backend.health().version, error: null };
    const errors = this.backends()
      .map((b) => (b.error ? `${b.name}: ${b.error}` : null))
      .filter((x): x is string => x !== null);
    return { url, reachable: false, version: null, error: errors.length ? errors.join("; ") : this.entries.length ? null : "no inference backend is configured" };
  }

  /** Something about a backend may have changed: tell whoever listens what did, and hand out free slots. */
  private changed(): void {
    // Before any event: a listener may read servedModels() or capacity().
    const models = this.models();
    this.recount(models);
    const view = this.view();
    const v = JSON.stringify(view);
    if (v !== this.lastView) {
      this.lastView = v;
      this.bus.publish(OllamaStatusChanged, { ollama: OllamaView.parse(view) });
    }
    const backends = this.backends();
    const b = JSON.stringify(backends.map((x) => ({ ...x, latencyMs: null, active: 0 })));
    if (b !== this.lastBackends) {
      this.lastBackends = b;
      this.bus.publish(BackendsChanged, { backends: backends.map((x) => BackendView.parse(x)) });
    }
    const m = JSON.stringify(models);
    if (m !== this.lastModels) {
      this.lastModels = m;
      this.bus.publish(ModelsChanged, { models: models.map((x) => ModelView.parse(x)) });
    }
    this.pump();
  }

  /** Sets a backend aside after a broken reply; it is back after setAsideMs (if its probe agrees). */
  private setAside(e: Entry, reason: string): void {
    const ms = this.opts.setAsideMs ?? DEFAULT_SET_ASIDE_MS;
    e.asideUntil = Date.now() + ms;
    e.asideReason = reason;
    log.warn("backend set aside", { backend: e.backend.spec.name, forSecs: Math.round(ms / 1000), reason });
    if (e.asideTimer) clearTimeout(e.asideTimer);
    e.asideTimer = setTimeout(() => {
      e.asideTimer = null;
      e.asideReason = null;
      this.recount(this.models());
      void e.backend.refresh().then(() => this.changed());
    }, ms);
    e.asideTimer.unref?.();
    this.changed();
  }

  // ---- slots ----

  private pick(model: string, exclude: Set<Entry>): { entry: Entry; backendModel: string } | null | "none" {
    const cands = this.candidates(model, exclude);
    if (cands.length === 0) return "none";
    let best: { entry: Entry; backendModel: string } | null = null;
    let bestFree = 0;
    for (const c of cands) {
      const free = this.slotsOf(c.entry) - c.entry.busy;
      if (free > bestFree) {
        best = c;
        bestFree = free;
      }
    }
    return best;
  }

  /** A slot on a backend with `model`: at once if one is free, else in arrival order. */
  private acquire(model: string, exclude: Set<Entry>, signal?: AbortSignal): Promise<{ entry: Entry; backendModel: string }> {
    signal?.throwIfAborted();
    const p = this.pick(model, exclude);
    if (p === "none") return Promise.reject(new AppError("unavailable", `no backend serves ${model} right now`));
    // Someone waiting before us goes first.
    if (p && this.waiters.length === 0) {
      p.entry.busy++;
      return Promise.resolve(p);
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        model,
        exclude,
        grant: (pick) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(pick);
        },
        fail: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
      this.pump();
    });
  }

  private release(e: Entry): void {
    e.busy = Math.max(0, e.busy - 1);
    this.pump();
  }

  /** Hands free slots to waiting jobs, oldest first; a job whose model no backend has now fails. */
  private pump(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      const p = this.pick(w.model, w.exclude);
      if (p === "none") {
        this.waiters.splice(i, 1);
        w.fail(new AppError("unavailable", `no backend serves ${w.model} right now`));
        continue;
      }
      if (p) {
        this.waiters.splice(i, 1);
        p.entry.busy++;
        w.grant(p);
        continue;
      }
      i++;
    }
  }

  // ---- jobs ----

  /**
   * Runs one generation on a backend serving `p.model` (a public name). Rejects like
   * Inference.generate: AppError("unavailable") naming what failed, or the caller's abort reason.
   */
  async generate(p: GenerateParams): Promise<GenerateResult> {
    const tried = new Set<Entry>();
    for (let attempt = 0; ; attempt++) {
      const { entry, backendModel } = await this.acquire(p.model, tried, p.signal);
      let streamed = false;
      // A backend that keeps sending past the tokens asked for (a stream that never ends) is cut.
      const asked = p.options?.num_predict;
      const most = asked !== undefined && asked > 0 ? asked + Math.max(16, Math.ceil(asked / 10)) : Infinity;
      const guard = new AbortController();
      const signal = p.signal ? AbortSignal.any([p.signal, guard.signal]) : guard.signal;
      const name = entry.backend.spec.name;
      try {
        const result = await entry.backend.generate({
          model: backendModel,
          prompt: p.prompt,
          ...(p.system !== undefined ? { system: p.system } : {}),
          ...(p.options ? { options: p.options } : {}),
          signal,
          onToken: (text, n) => {
            streamed = true;
            if (n > most && !guard.signal.aborted) {
              guard.abort(new AppError("unavailable", `The backend sent more than the ${asked} tokens asked for`, { bad: true }));
              return;
            }
            p.onToken?.(text, n);
          },
        });
        return { ...result, model: p.model };
      } catch (err) {
        if (p.signal?.aborted) throw p.signal.reason;
        const e = guard.signal.aborted ? guard.signal.reason : err;
        if (e instanceof AppError && e.data.bad === true) this.setAside(entry, e.message);
        tried.add(entry);
        const other = this.candidates(p.model, tried).length > 0;
        if (streamed || attempt >= 1 || !other) throw e;
        log.info("retrying the job on another backend", { model: p.model, failed: name, error: (e as Error).message });
      } finally {
        this.release(entry);
      }
    }
  }

  /** Loads the model on the Ollama backends serving it (OpenAI-compatible servers load at start). */
  async warm(model: string): Promise<void> {
    await Promise.all(this.candidates(model).map((c) => c.entry.backend.warm(c.backendModel).catch((err) => log.warn("warming failed", { backend: c.entry.backend.spec.name, err }))));
  }

  /** Pulls into the first reachable Ollama backend. */
  async pull(model: string, onProgress?: (u: PullUpdate) => void, signal?: AbortSignal): Promise<void> {
    const target = this.entries.find((e) => e.backend.pull && e.backend.health().reachable) ?? this.entries.find((e) => e.backend.pull);
    if (!target?.backend.pull) throw new AppError("unavailable", "No Ollama backend to pull the model into (OpenAI-compatible servers load their models themselves).");
    await target.backend.pull(model, onProgress, signal);
    this.changed();
  }
}
