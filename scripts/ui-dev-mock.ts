// MOCK API FOR UI DEVELOPMENT ONLY: the in-memory imitation of the app behind scripts/ui-dev.ts's
// server. Its seeded world (jobs, earnings, relays, market), the routes of the real /api with the
// same shapes, and a simulated provider (jobs arrive, stream tokens over SSE, get paid; relays
// jitter; pulls progress). Nothing here talks to Nostr, Ollama or a wallet.
import { generateMnemonic, validateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { npubEncode } from "nostr-tools/nip19";
import { ConfigSchema, type Limits, type Pricing } from "../src/config.ts";
import type { JobView } from "../src/jobs/events.ts";
import type { MarketReport, ProviderRow } from "../src/market/aggregate.ts";
import { sizeClass } from "../src/market/records.ts";
import type { MarketView } from "../src/market/service.ts";
import type { BenchmarkRecord } from "../src/market/store.ts";
import { suggestPrice } from "../src/market/suggest.ts";
import type { RelayView } from "../src/nostr/events.ts";
import type { Snapshot } from "../src/server/snapshot.ts";

export type Scenario = "dashboard" | "empty" | "onboarding" | "locked";

const LOREM =
  "Lightning channels let two parties move bitcoin back and forth instantly by updating a shared balance sheet that either side can settle on chain. " +
  "Routing through a network of such channels means you can pay anyone reachable without opening a direct channel to them, and fees stay tiny because " +
  "each hop only forwards the payment. The trick is the hash time-locked contract: every hop is paid only when the final recipient reveals the preimage.";

const hex = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0")).join("");
const BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const bech = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => BECH32[b % 32]).join("");

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errName: string,
    message: string,
  ) {
    super(message);
  }
}

function days14(seed: boolean): Snapshot["earnings"]["days"] {
  const out = [];
  const now = new Date();
  for (let i = 13; i >= 0; i--) {
    const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() - i);
    const date = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
    const jobs = seed ? [3, 5, 0, 8, 12, 9, 4, 15, 11, 18, 22, 14, 19, 7][13 - i]! : 0;
    out.push({ date, sats: jobs * 10 + (seed ? (jobs * 37) % 23 : 0), jobs });
  }
  return out;
}

function sumEarnings(days: Snapshot["earnings"]["days"], byModel: Snapshot["earnings"]["byModel"]): Snapshot["earnings"] {
  const week = days.slice(-7);
  return {
    todaySats: days.at(-1)!.sats,
    todayJobs: days.at(-1)!.jobs,
    weekSats: week.reduce((a, d) => a + d.sats, 0),
    weekJobs: week.reduce((a, d) => a + d.jobs, 0),
    allSats: days.reduce((a, d) => a + d.sats, 0) + (byModel.length ? 5_210 : 0),
    allJobs: days.reduce((a, d) => a + d.jobs, 0) + (byModel.length ? 402 : 0),
    days,
    byModel,
  };
}

/** The in-memory imitation of the app. Tests drive it directly (`emit`, `state`). */
export class MockApp {
  state: Snapshot;
  password = "correct horse";
  settings: { relays: string[]; ollamaUrl: string; pricing: Pricing; limits: Limits };
  private clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  private timers: ReturnType<typeof setInterval>[] = [];
  private sends = new Map<string, { amountSats: number; feeSats: number }>();
  /** Benchmarks run on this "machine", by model (the dashboard scenario starts with one). */
  benchmarks: Record<string, BenchmarkRecord> = {};
  private enc = new TextEncoder();

  constructor(readonly scenario: Scenario) {
    const defaults = ConfigSchema.parse({});
    this.settings = { relays: [], ollamaUrl: defaults.ollamaUrl, pricing: defaults.pricing, limits: defaults.limits };
    const now = Date.now();
    const full = scenario === "dashboard";
    const relays: RelayView[] = full
      ? [
          { url: "wss://relay.damus.io", state: "connected", latencyMs: 84, error: null, since: now - 3_600_000 },
          { url: "wss://nos.lol", state: "connected", latencyMs: 142, error: null, since: now - 3_500_000 },
          { url: "wss://relay.nostr.band", state: "failed", latencyMs: null, error: "connection refused (retrying in 30 s)", since: now - 60_000 },
        ]
      : [];
    this.settings.relays = relays.map((r) => r.url);
    const byModel = full
      ? [
          { model: "llama3.2:3b", sats: 1_240, jobs: 118 },
          { model: "qwen2.5:7b", sats: 610, jobs: 44 },
        ]
      : [];
    const identityState = scenario === "onboarding" ? "none" : scenario === "locked" ? "locked" : "unlocked";
    this.state = {
      version: "0.1.0",
      identity: { state: identityState, npub: identityState === "none" ? null : npubEncode(hex(32)) },
      provider: {
        online: full,
        blockers: [],
        paymentMode: defaults.pricing.mode,
        perJobMsats: defaults.pricing.perJobMsats,
        per1kTokensMsats: defaults.pricing.per1kTokensMsats,
        announcementId: full ? hex(32) : null,
      },
      wallet: full
        ? { state: "ready", network: "mainnet", balanceSats: 48_210, lightningAddress: null, message: null }
        : { state: "connecting", network: "mainnet", balanceSats: null, lightningAddress: null, message: "Connecting to the Spark network…" },
      earnings: sumEarnings(days14(full), byModel),
      jobs: full ? this.seedJobs(now) : [],
      ollama: full
        ? { url: defaults.ollamaUrl, reachable: true, version: "0.5.7", error: null }
        : { url: defaults.ollamaUrl, reachable: false, version: null, error: "connect ECONNREFUSED 127.0.0.1:11434" },
      models: full
        ? [
            { name: "llama3.2:3b", family: "llama", parameterSize: "3.2B", quantization: "Q4_K_M", sizeBytes: 2_019_393_189, served: true },
            { name: "qwen2.5:7b", family: "qwen2", parameterSize: "7.6B", quantization: "Q4_K_M", sizeBytes: 4_683_087_332, served: true },
            { name: "mistral:7b-instruct", family: "llama", parameterSize: "7.2B", quantization: "Q4_0", sizeBytes: 4_113_301_824, served: false },
          ]
        : [],
      relays,
    };
    this.state.provider.blockers = this.blockers();
    if (full) {
      const b = { machine: "mock", at: now - 86_400_000, maxTokens: defaults.limits.maxTokensCap, backend: "ollama" };
      this.benchmarks["llama3.2:3b"] = { ...b, model: "llama3.2:3b", ttftMs: 180, tokensPerSec: 79.4, concurrency: 2, tokensPerSecConcurrent: 131.2, jobsPerHour: 230 };
    }
  }

  private seedJobs(now: number): JobView[] {
    const base = (over: Partial<JobView>): JobView => ({
      id: hex(32),
      kind: 5050,
      customer: hex(32),
      model: "llama3.2:3b",
      status: "success",
      promptPreview: "Explain how Lightning routing works",
      tokens: 0,
      tokensPerSec: null,
      amountMsats: 10_000,
      bolt11: null,
      error: null,
      encrypted: false,
      createdAt: now,
      updatedAt: now,
      ...over,
    });
    return [
      base({ status: "processing", tokens: 64, tokensPerSec: 38.2, createdAt: now - 4_000, updatedAt: now }),
      base({ status: "queued", model: "qwen2.5:7b", createdAt: now - 2_000, updatedAt: now - 2_000 }),
      base({ status: "payment-required", model: "qwen2.5:7b", encrypted: true, createdAt: now - 1_000, updatedAt: now - 1_000 }),
      base({ status: "success", tokens: 412, tokensPerSec: 41.7, createdAt: now - 90_000, updatedAt: now - 80_000 }),
      base({ status: "success", tokens: 1_024, tokensPerSec: 22.9, model: "qwen2.5:7b", createdAt: now - 400_000, updatedAt: now - 360_000 }),
      base({ status: "error", tokens: 12, model: "mistral:7b-instruct", amountMsats: null, error: "model not served", createdAt: now - 900_000, updatedAt: now - 899_000 }),
      base({ status: "expired", tokens: 0, amountMsats: 10_000, createdAt: now - 1_900_000, updatedAt: now - 1_300_000 }),
    ];
  }

  blockers(): string[] {
    const s = this.state;
    const out: string[] = [];
    if (s.identity.state !== "unlocked") out.push("Unlock your identity first.");
    if (!s.ollama.reachable) out.push(`Ollama is not running at ${s.ollama.url}: start it, or install it from ollama.com.`);
    else if (!s.models.some((m) => m.served)) out.push("No model to serve: pull one or switch one on under MODELS.");
    if (!s.relays.some((r) => r.state === "connected")) out.push("No relay connected: add one under NETWORK.");
    if (s.provider.paymentMode !== "free" && s.wallet.state !== "ready") out.push("The wallet is not ready, so invoices can't be made.");
    return out;
  }

  // ---- the stream ----

  emit(type: string, properties: Record<string, unknown>): void {
    const chunk = this.enc.encode(`data: ${JSON.stringify({ type, properties })}\n\n`);
    for (const c of this.clients) {
      try {
        c.enqueue(chunk);
      } catch {
        this.clients.delete(c);
      }
    }
  }

  private provider(patch: Partial<Snapshot["provider"]> = {}) {
    Object.assign(this.state.provider, patch);
    this.state.provider.blockers = this.blockers();
    this.emit("provider.state.changed", { provider: this.state.provider });
  }

  private upsertJob(job: JobView) {
    const i = this.state.jobs.findIndex((j) => j.id === job.id);
    if (i >= 0) this.state.jobs[i] = job;
    else this.state.jobs.unshift(job);
    this.state.jobs = this.state.jobs.slice(0, 50);
    this.emit("job.status.changed", { job });
  }

  stream(req: Request): Response {
    let ctl: ReadableStreamDefaultController<Uint8Array>;
    let beat: ReturnType<typeof setInterval>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        ctl = c;
        this.clients.add(c);
        c.enqueue(this.enc.encode(`retry: 1000\ndata: ${JSON.stringify({ type: "server.connected", properties: {} })}\n\n`));
        beat = setInterval(() => {
          try {
            c.enqueue(this.enc.encode(`data: ${JSON.stringify({ type: "server.heartbeat", properties: {} })}\n\n`));
          } catch {
            clearInterval(beat);
          }
        }, 10_000);
        req.signal.addEventListener("abort", () => {
          clearInterval(beat);
          this.clients.delete(c);
        });
      },
      cancel: () => {
        clearInterval(beat);
        this.clients.delete(ctl);
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" } });
  }

  /** Ends every open stream (to test the page's reconnect). */
  dropStreams(): void {
    for (const c of this.clients) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    this.clients.clear();
  }

  // ---- the simulation ----

  simulate(tickMs = 300): void {
    let lorem = 0;
    this.timers.push(
      setInterval(() => {
        const s = this.state;
        if (s.identity.state !== "unlocked") return;
        const running = s.jobs.find((j) => j.status === "processing");
        if (running) {
          const step = 6 + Math.floor(Math.random() * 8);
          const tokens = running.tokens + step;
          const tps = 30 + Math.random() * 14;
          lorem = (lorem + step * 4) % LOREM.length;
          if (tokens >= 420) {
            const done: JobView = { ...running, tokens, tokensPerSec: tps, status: "success", updatedAt: Date.now() };
            this.upsertJob(done);
            this.earn(running.amountMsats ?? 0, running.model ?? "?", running.id);
            const next = s.jobs.filter((j) => j.status === "queued").sort((a, b) => a.createdAt - b.createdAt)[0];
            if (next) this.upsertJob({ ...next, status: "processing", updatedAt: Date.now() });
          } else {
            running.tokens = tokens;
            running.tokensPerSec = tps;
            this.emit("job.progress.updated", { id: running.id, tokens, tokensPerSec: tps, preview: LOREM.slice(0, lorem + 40) });
          }
        } else if (s.provider.online) {
          const next = s.jobs.filter((j) => j.status === "queued" || j.status === "paid").sort((a, b) => a.createdAt - b.createdAt)[0];
          if (next) this.upsertJob({ ...next, status: "processing", updatedAt: Date.now() });
        }
      }, tickMs),
      setInterval(() => {
        const s = this.state;
        if (s.identity.state !== "unlocked" || !s.provider.online) return;
        // Move a waiting job along, or take a new request.
        const waiting = s.jobs.find((j) => j.status === "payment-required");
        if (waiting) {
          this.upsertJob({ ...waiting, status: "queued", updatedAt: Date.now() });
          return;
        }
        const served = s.models.filter((m) => m.served);
        if (!served.length) return;
        const model = served[Math.floor(Math.random() * served.length)]!.name;
        const now = Date.now();
        this.upsertJob({
          id: hex(32),
          kind: 5050,
          customer: hex(32),
          model,
          status: s.provider.paymentMode === "free" ? "queued" : "payment-required",
          promptPreview: "Write a haiku about relays",
          tokens: 0,
          tokensPerSec: null,
          amountMsats: s.provider.paymentMode === "free" ? 0 : s.provider.perJobMsats,
          bolt11: s.provider.paymentMode === "upfront" ? `lnbc100n1${bech(200)}` : null,
          error: null,
          encrypted: Math.random() < 0.3,
          createdAt: now,
          updatedAt: now,
        });
      }, tickMs * 12),
      setInterval(() => {
        for (const r of this.state.relays) {
          if (r.state !== "connected" || r.latencyMs === null) continue;
          r.latencyMs = Math.max(20, Math.round(r.latencyMs + (Math.random() - 0.5) * 30));
          this.emit("relay.status.changed", { relay: r });
        }
      }, 2_000),
    );
  }

  private earn(msats: number, model: string, jobId: string | null) {
    const s = this.state;
    const sats = Math.floor(msats / 1000);
    const e = s.earnings;
    const days = e.days.map((d, i) => (i === e.days.length - 1 ? { ...d, sats: d.sats + sats, jobs: d.jobs + 1 } : d));
    const byModel = e.byModel.some((m) => m.model === model)
      ? e.byModel.map((m) => (m.model === model ? { ...m, sats: m.sats + sats, jobs: m.jobs + 1 } : m))
      : [...e.byModel, { model, sats, jobs: 1 }];
    s.earnings = { ...sumEarnings(days, byModel), allSats: e.allSats + sats, allJobs: e.allJobs + 1 };
    this.emit("earnings.totals.changed", { earnings: s.earnings });
    if (msats > 0) {
      this.emit("wallet.payment.received", { paymentId: hex(16), amountMsats: msats, jobId });
      if (s.wallet.balanceSats !== null) s.wallet.balanceSats += sats;
      this.emit("wallet.status.changed", { wallet: s.wallet });
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.dropStreams();
  }

  private unlockWorld() {
    const s = this.state;
    s.identity = { state: "unlocked", npub: s.identity.npub ?? npubEncode(hex(32)) };
    this.emit("identity.state.changed", { identity: s.identity });
    s.wallet = { state: "ready", network: "mainnet", balanceSats: s.wallet.balanceSats ?? 0, lightningAddress: null, message: null };
    this.emit("wallet.status.changed", { wallet: s.wallet });
    this.provider();
  }

  // ---- the market (GET /api/market): five other providers, a week of demand ----

  market(): MarketView {
    const now = Date.now();
    const full = this.scenario === "dashboard";
    const others: [string | null, string[], number, number, number][] = [
      ["GPU Garage", ["llama3.2:3b", "qwen2.5:7b"], 212, 14, 21_000],
      ["nostr-llm", ["llama3.2:3b"], 140, 22, 25_000],
      ["sats4tokens", ["qwen2.5:7b", "mistral:7b-instruct"], 96, 31, 40_000],
      ["tiny-dvm", ["llama3.2:1b"], 41, 9, 5_000],
      [null, ["llama3.1:70b"], 12, 75, 120_000],
    ];
    const row = (name: string | null, models: string[], jobs: number, secs: number, price: number, me = false): ProviderRow => ({
      pubkey: hex(32),
      me,
      name,
      picture: null,
      about: null,
      models,
      announced: true,
      lastSeen: Math.floor(now / 1000) - (jobs > 50 ? 120 : 5_000),
      alive: jobs > 50,
      paused: false,
      jobsAnswered: jobs,
      medianResultSecs: secs,
      resultTimes: jobs,
      pricePerJob: { count: jobs, median: price, min: price * 0.8, max: price * 1.5 },
      pricePer1kTokens: { count: 0, median: null, min: null, max: null },
      listedPerJobMsats: price,
      listedPer1kTokensMsats: null,
      encryption: jobs > 100,
      modelPrices: Object.fromEntries(models.map((m) => [m, price])),
    });
    const served = this.state.models.filter((m) => m.served).map((m) => m.name);
    const providers = full
      ? [...others.map(([n, m, j, t, p]) => row(n, m, j, t, p)), row("compute (you)", served, 118, 12, this.settings.pricing.perJobMsats, true)].sort((a, b) => b.jobsAnswered - a.jobsAnswered)
      : [];
    const prices = full
      ? ["llama3.2:3b", "qwen2.5:7b", "mistral:7b-instruct"].map((model) => {
          const sellers = providers.filter((p) => !p.me && p.models.includes(model));
          const sorted = sellers.map((p) => p.listedPerJobMsats!).sort((a, b) => a - b);
          return { model, sizeClass: sizeClass(model), providers: sellers.length, medianPerJobMsats: sorted[Math.floor(sorted.length / 2)] ?? null, medianPer1kTokensMsats: null, medianResultSecs: 9 };
        })
      : [];
    const bids = { count: full ? 380 : 0, median: full ? 20_000 : null, min: full ? 1_000 : null, max: full ? 200_000 : null };
    const report: MarketReport = {
      generatedAt: now,
      since: Math.floor(now / 1000) - 7 * 86_400,
      windowHours: 168,
      records: full ? 2_410 : 0,
      providers,
      demand: {
        requests: full ? 642 : 0,
        countedRequests: full ? 630 : 0,
        customers: full ? 57 : 0,
        floods: full ? 1 : 0,
        requestsPerHour: full ? 3.8 : 0,
        encrypted: full ? 88 : 0,
        models: full ? prices.map((p, i) => ({ model: p.model, requests: [310, 190, 60][i]!, customers: [30, 21, 9][i]!, answered: [290, 160, 41][i]!, medianBidMsats: 20_000 })) : [],
        bids,
        answered: full ? 549 : 0,
        answeredBy: {},
        pending: full ? 3 : 0,
        unserved: { requests: full ? 90 : 0, forMe: full ? 34 : 0, forMeBids: { ...bids, count: full ? 34 : 0 }, forMeModels: full ? { "llama3.2:3b": 20, "qwen2.5:7b": 14 } : {} },
      },
      prices,
      myRank: full ? providers.findIndex((p) => p.me) + 1 : null,
    };
    const p = this.settings.pricing;
    const benchmarks = Object.values(this.benchmarks);
    return {
      report,
      suggestions: served.map((model) =>
        suggestPrice({ model, report, benchmark: this.benchmarks[model] ?? null, floorMsats: p.floorMsats, current: { perJobMsats: p.models[model]?.perJobMsats ?? p.perJobMsats, per1kTokensMsats: p.models[model]?.per1kTokensMsats ?? p.per1kTokensMsats } }),
      ),
      benchmarks,
      reader: full ? { received: 2_410, kept: 2_388, dropped: { budget: 0, flood: 22, invalid: 0, queue: 0, huge: 0 }, running: true } : null,
      current: { perJobMsats: p.perJobMsats, per1kTokensMsats: p.per1kTokensMsats, floorMsats: p.floorMsats, models: p.models },
    };
  }

  /** As the real one: only a served model, refused while jobs run; ~2 s of "measuring". */
  async benchmark(model: unknown): Promise<BenchmarkRecord> {
    const m = this.state.models.find((x) => x.name === model && x.served);
    if (!m) throw new HttpError(404, "not_found", `${String(model).slice(0, 100)} is not a served model.`);
    const running = this.state.jobs.filter((j) => ["processing", "queued", "paid"].includes(j.status)).length;
    if (running) throw new HttpError(409, "conflict", `${running} job${running === 1 ? " is" : "s are"} running: the benchmark would slow them and measure them too. Try again when they are done.`);
    await Bun.sleep(2_000);
    const size = m.sizeBytes / 1e9;
    const tokensPerSec = Math.round((160 / size) * 10) / 10;
    const rec: BenchmarkRecord = {
      model: m.name,
      machine: "mock",
      at: Date.now(),
      ttftMs: Math.round(90 * size),
      tokensPerSec,
      concurrency: 2,
      tokensPerSecConcurrent: Math.round(tokensPerSec * 1.7 * 10) / 10,
      jobsPerHour: Math.round((3600 * tokensPerSec * 1.7) / this.settings.limits.maxTokensCap),
      maxTokens: this.settings.limits.maxTokensCap,
      backend: "ollama",
    };
    this.benchmarks[m.name] = rec;
    return rec;
  }

  // ---- the routes ----

  async handle(req: Request, body: Record<string, unknown>): Promise<unknown> {
    const url = new URL(req.url);
    const route = `${req.method} ${url.pathname}`;
    const s = this.state;
    const needUnlocked = () => {
      if (s.identity.state !== "unlocked") throw new HttpError(423, "locked", "Unlock first.");
    };
    switch (route) {
      case "GET /api/state":
        return s;
      case "POST /api/provider/online": {
        needUnlocked();
        if (typeof body.online !== "boolean") throw new HttpError(400, "invalid_input", "online must be true or false.");
        if (body.online && this.blockers().length) throw new HttpError(409, "conflict", `Can't go online: ${this.blockers()[0]}`);
        this.provider({ online: body.online, announcementId: body.online ? hex(32) : s.provider.announcementId });
        return { ok: true };
      }
      case "PUT /api/models/served": {
        const list = body.models;
        if (list !== null && !(Array.isArray(list) && list.every((m) => typeof m === "string"))) throw new HttpError(400, "invalid_input", "models must be a list of names or null.");
        for (const m of s.models) m.served = list === null || (list as string[]).includes(m.name);
        this.emit("ollama.models.changed", { models: s.models });
        this.provider();
        return { ok: true };
      }
      case "POST /api/models/pull": {
        const model = typeof body.model === "string" ? body.model.trim() : "";
        if (!model) throw new HttpError(400, "invalid_input", "Name a model to pull.");
        if (!s.ollama.reachable) throw new HttpError(503, "unavailable", `Ollama is not running at ${s.ollama.url}.`);
        if (model.includes("nope")) {
          setTimeout(() => this.emit("ollama.pull.progress", { model, status: "error", total: null, completed: null, done: true, error: `pull model manifest: file does not exist` }), 300);
          return { ok: true };
        }
        const total = 1_800_000_000;
        let completed = 0;
        this.emit("ollama.pull.progress", { model, status: "pulling manifest", total: null, completed: null, done: false, error: null });
        const t = setInterval(() => {
          completed = Math.min(total, completed + total / 25);
          const done = completed >= total;
          this.emit("ollama.pull.progress", { model, status: done ? "success" : "pulling 6a0746a1ec1a", total, completed, done, error: null });
          if (done) {
            clearInterval(t);
            s.models.push({ name: model.includes(":") ? model : `${model}:latest`, family: "llama", parameterSize: "3.2B", quantization: "Q4_K_M", sizeBytes: total, served: false });
            this.emit("ollama.models.changed", { models: s.models });
          }
        }, 200);
        this.timers.push(t);
        return { ok: true };
      }
      case "POST /api/relays": {
        const u = typeof body.url === "string" ? body.url.trim() : "";
        if (!/^wss?:\/\/[^\s/]+/.test(u)) throw new HttpError(400, "invalid_input", "A relay URL starts with wss:// or ws://.");
        if (s.relays.some((r) => r.url === u)) throw new HttpError(409, "conflict", `${u} is already in the list.`);
        const relay: RelayView = { url: u, state: "connecting", latencyMs: null, error: null, since: Date.now() };
        s.relays.push(relay);
        this.emit("relay.list.changed", { relays: s.relays });
        setTimeout(() => {
          const ok = !u.includes("bad");
          Object.assign(relay, ok ? { state: "connected", latencyMs: 60 + Math.round(Math.random() * 120) } : { state: "failed", error: "DNS lookup failed" }, { since: Date.now() });
          this.emit("relay.status.changed", { relay });
          this.provider();
        }, 900);
        return { ok: true };
      }
      case "DELETE /api/relays": {
        const u = typeof body.url === "string" ? body.url : "";
        if (!s.relays.some((r) => r.url === u)) throw new HttpError(404, "not_found", `${u} is not in the list.`);
        s.relays = s.relays.filter((r) => r.url !== u);
        this.emit("relay.list.changed", { relays: s.relays });
        this.provider();
        return { ok: true };
      }
      case "GET /api/market":
        return this.market();
      case "POST /api/models/benchmark":
        return await this.benchmark(body.model);
      case "GET /api/settings":
        return { ...this.settings, relays: s.relays.map((r) => r.url), ollamaUrl: s.ollama.url };
      case "PUT /api/settings": {
        const next = ConfigSchema.safeParse({ pricing: { ...this.settings.pricing, ...(body.pricing as object) }, limits: { ...this.settings.limits, ...(body.limits as object) } });
        if (!next.success) throw new HttpError(400, "invalid_input", next.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
        this.settings.pricing = next.data.pricing;
        this.settings.limits = next.data.limits;
        this.provider({ paymentMode: next.data.pricing.mode, perJobMsats: next.data.pricing.perJobMsats, per1kTokensMsats: next.data.pricing.per1kTokensMsats });
        return { ok: true };
      }
      case "POST /api/onboarding/generate":
        return { mnemonic: generateMnemonic(wordlist, body.words === 24 ? 256 : 128) };
      case "POST /api/onboarding/validate": {
        const words = String(body.mnemonic ?? "").trim().split(/\s+/);
        const bad = words.find((w) => !wordlist.includes(w));
        if (bad) return { ok: false, error: `"${bad}" is not in the BIP-39 word list.`, word: bad, suggestions: wordlist.filter((w) => w.startsWith(bad.slice(0, 3))).slice(0, 4) };
        if (words.length !== 12 && words.length !== 24) return { ok: false, error: `A phrase has 12 or 24 words, not ${words.length}.` };
        if (!validateMnemonic(words.join(" "), wordlist)) return { ok: false, error: "The checksum does not match: a word is wrong or two are swapped." };
        return { ok: true };
      }
      case "GET /api/onboarding/suggest": {
        const prefix = (url.searchParams.get("prefix") ?? "").toLowerCase();
        return { words: prefix ? wordlist.filter((w) => w.startsWith(prefix)).slice(0, 8) : [] };
      }
      case "POST /api/onboarding/create": {
        if (s.identity.state !== "none") throw new HttpError(409, "conflict", "An identity already exists.");
        if (!validateMnemonic(String(body.mnemonic ?? ""), wordlist)) throw new HttpError(400, "invalid_input", "That recovery phrase is not valid.");
        if (typeof body.password !== "string" || body.password.length < 8) throw new HttpError(400, "invalid_input", "Use a password of at least 8 characters.");
        this.password = body.password;
        await Bun.sleep(400); // the real one runs a slow key derivation
        this.unlockWorld();
        return { npub: s.identity.npub };
      }
      case "POST /api/unlock": {
        await Bun.sleep(250);
        if (body.password !== this.password) throw new HttpError(401, "unauthorized", "Wrong password.");
        this.unlockWorld();
        return { ok: true };
      }
      case "POST /api/lock": {
        s.identity = { ...s.identity, state: "locked" };
        this.emit("identity.state.changed", { identity: s.identity });
        this.provider({ online: false });
        return { ok: true };
      }
      case "POST /api/identity/reveal":
        if (body.password !== this.password) throw new HttpError(401, "unauthorized", "Wrong password.");
        return { mnemonic: generateMnemonic(wordlist, 128) };
      case "POST /api/wallet/receive": {
        needUnlocked();
        const amount = typeof body.amountSats === "number" ? body.amountSats : null;
        setTimeout(() => {
          const msats = (amount ?? 2_100) * 1000;
          this.emit("wallet.payment.received", { paymentId: hex(16), amountMsats: msats, jobId: null });
          s.wallet.balanceSats = (s.wallet.balanceSats ?? 0) + msats / 1000;
          this.emit("wallet.status.changed", { wallet: s.wallet });
        }, 5_000);
        return { bolt11: amount ? `lnbc${amount * 10}n1p${bech(240)}` : null, address: amount ? null : `sp1q${bech(58)}` };
      }
      case "POST /api/wallet/send/prepare": {
        needUnlocked();
        const dest = String(body.destination ?? "").trim();
        if (!dest) throw new HttpError(400, "invalid_input", "Paste an invoice or an address.");
        const type = /^ln(bc|tb|bcrt)/i.test(dest) ? "bolt11" : dest.includes("@") ? "lightningAddress" : /^(bc1|tb1|bcrt1)/i.test(dest) ? "bitcoinAddress" : null;
        if (!type) throw new HttpError(400, "invalid_input", "That is not an invoice or address this wallet can pay.");
        const amountSats = typeof body.amountSats === "number" ? body.amountSats : type === "bolt11" ? 1_000 : 0;
        if (!amountSats) throw new HttpError(400, "invalid_input", "Enter an amount: this destination has none.");
        if (amountSats > (s.wallet.balanceSats ?? 0)) throw new HttpError(400, "invalid_input", `Not enough funds: the balance is ${s.wallet.balanceSats} sats.`);
        const id = hex(8);
        const feeSats = type === "bitcoinAddress" ? 420 : Math.max(1, Math.ceil(amountSats * 0.004));
        this.sends.set(id, { amountSats, feeSats });
        return { id, feeSats, amountSats, destinationType: type };
      }
      case "POST /api/wallet/send/confirm": {
        const p = this.sends.get(String(body.id));
        if (!p) throw new HttpError(404, "not_found", "That payment preview expired: review it again.");
        this.sends.delete(String(body.id));
        s.wallet.balanceSats = (s.wallet.balanceSats ?? 0) - p.amountSats - p.feeSats;
        this.emit("wallet.status.changed", { wallet: s.wallet });
        return { ok: true };
      }
    }
    const cancel = /^POST \/api\/jobs\/([^/]+)\/cancel$/.exec(route);
    if (cancel) {
      const job = s.jobs.find((j) => j.id === decodeURIComponent(cancel[1]!));
      if (!job) throw new HttpError(404, "not_found", "No such job.");
      this.upsertJob({ ...job, status: "cancelled", updatedAt: Date.now() });
      return { ok: true };
    }
    throw new HttpError(404, "not_found", `No route ${route}`);
  }
}
