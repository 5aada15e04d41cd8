// The market as the app runs it: the store (market.sqlite), the reader on the relay pool, the
// view the API and CLI show (report + price suggestions + benchmarks), and the benchmark runner.
// app.ts wires it; it reaches nothing but the interfaces it is given.
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";
import { chooseModel, sameModel } from "../inference/model-name.ts";
import { createLogger } from "../log.ts";
import type { MarketReport } from "./aggregate.ts";
import { runBenchmark, machineId, type BenchGenerate } from "./benchmark.ts";
import { MarketReader, type MarketPool, type MarketReaderStats } from "./reader.ts";
import { MarketStore, marketPath, type BenchmarkRecord } from "./store.ts";
import { suggestPrice, type PriceSuggestion } from "./suggest.ts";

const log = createLogger("market");

export const DEFAULT_WINDOW_SECS = 7 * 86_400;

export interface MarketView {
  report: MarketReport;
  /** One per served model (or the model asked for). */
  suggestions: PriceSuggestion[];
  benchmarks: BenchmarkRecord[];
  reader: (MarketReaderStats & { running: boolean }) | null;
  /** The owner's prices now (msats), beside the market's. */
  current: { perJobMsats: number; per1kTokensMsats: number; floorMsats: number; models: Record<string, { perJobMsats?: number; per1kTokensMsats?: number }> };
}

export interface MarketDeps {
  dataDir: string;
  config: () => Config;
  pubkey: () => string | null;
  servedModels: () => string[];
  generate: BenchGenerate;
  /** Jobs at once the backends run for a model. */
  concurrency: (model: string) => number;
  /** Jobs generating or waiting now: the benchmark refuses while there are any. */
  jobsRunning: () => number;
  now?: () => number;
}

/** "7d", "24h", "90m", "3600" (seconds) → seconds; bad input → AppError("invalid_input"). */
export function parseWindow(input: string | undefined | null): number {
  if (input === undefined || input === null || input === "") return DEFAULT_WINDOW_SECS;
  const m = /^(\d{1,6})([smhd]?)$/.exec(input.trim());
  if (!m) throw new AppError("invalid_input", `--since takes a duration like 7d, 24h or 90m (got "${input.slice(0, 20)}").`);
  const n = Number(m[1]) * ({ "": 1, s: 1, m: 60, h: 3600, d: 86_400 } as const)[m[2] as "" | "s" | "m" | "h" | "d"];
  if (n <= 0 || n > 30 * 86_400) throw new AppError("invalid_input", "--since must be between 1 second and 30 days.");
  return n;
}

export function currentPrices(config: Config): MarketView["current"] {
  const p = config.pricing;
  return { perJobMsats: p.mode === "free" ? 0 : p.perJobMsats, per1kTokensMsats: p.mode === "free" ? 0 : p.per1kTokensMsats, floorMsats: p.floorMsats, models: p.models };
}

/** The suggestion for one model from a report, the benchmarks kept and the config. */
export function suggestionFor(model: string, report: MarketReport, benchmarks: BenchmarkRecord[], config: Config): PriceSuggestion {
  const cur = currentPrices(config);
  const override = Object.entries(cur.models).find(([name]) => sameModel(name, model))?.[1];
  const bench = benchmarks.filter((b) => sameModel(b.model, model)).sort((a, b) => b.at - a.at)[0] ?? null;
  return suggestPrice({
    model,
    report,
    benchmark: bench,
    floorMsats: cur.floorMsats,
    current: { perJobMsats: override?.perJobMsats ?? cur.perJobMsats, per1kTokensMsats: override?.per1kTokensMsats ?? cur.per1kTokensMsats },
  });
}

export class MarketService {
  readonly store: MarketStore;
  private reader: MarketReader | null = null;
  private benchmarking: string | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: MarketDeps) {
    this.store = MarketStore.open(marketPath(deps.dataDir));
    this.now = deps.now ?? Date.now;
  }

  /** Subscribes on the pool (when the market is enabled in the config). */
  startReader(pool: MarketPool): void {
    const cfg = this.deps.config().market;
    if (!cfg.enabled || this.reader) return;
    this.reader = new MarketReader({ store: this.store, lookbackDays: cfg.lookbackDays, now: this.now });
    this.reader.start(pool);
    log.info("market reader started", { lookbackDays: cfg.lookbackDays });
  }

  stopReader(): void {
    this.reader?.stop();
    this.reader = null;
  }

  close(): void {
    this.stopReader();
    this.store.close();
  }

  view(opts: { sinceSecs?: number; model?: string } = {}): MarketView {
    const since = Math.floor(this.now() / 1000) - (opts.sinceSecs ?? DEFAULT_WINDOW_SECS);
    const me = this.deps.pubkey();
    const myModels = this.deps.servedModels();
    const reader = this.reader ?? new MarketReader({ store: this.store, now: this.now });
    const report = reader.report({ sinceSec: since, me, myModels });
    const machine = machineId();
    const benchmarks = this.store.benchmarks(machine);
    const config = this.deps.config();
    const models = opts.model ? [opts.model] : myModels;
    return {
      report,
      suggestions: models.map((m) => suggestionFor(m, report, benchmarks, config)),
      benchmarks,
      reader: this.reader ? { ...this.reader.stats, running: true } : null,
      current: currentPrices(config),
    };
  }

  /** Runs the standard benchmark on one served model (the one named, else chooseModel's pick). Refuses while jobs run. */
  async benchmark(model?: string, signal?: AbortSignal): Promise<BenchmarkRecord> {
    const served = this.deps.servedModels();
    const target = chooseModel({ model }, served, this.deps.config().provider.defaultModel);
    if (!target) throw new AppError(model ? "not_found" : "unavailable", model ? `${model} is not a served model (served: ${served.join(", ") || "none"}).` : "No model is served: nothing to benchmark.");
    if (this.benchmarking) throw new AppError("conflict", `A benchmark of ${this.benchmarking} is running.`);
    const running = this.deps.jobsRunning();
    if (running > 0) throw new AppError("conflict", `${running} job${running === 1 ? " is" : "s are"} running: the benchmark would slow them and measure them too. Try again when they are done.`);
    this.benchmarking = target;
    try {
      const rec = await runBenchmark({
        generate: this.deps.generate,
        model: target,
        concurrency: this.deps.concurrency(target),
        defaultMaxTokens: this.deps.config().limits.maxTokensCap,
        signal,
        now: this.now,
      });
      this.store.putBenchmark(rec);
      log.info("benchmark done", { model: target, tokensPerSec: rec.tokensPerSec, ttftMs: rec.ttftMs, jobsPerHour: rec.jobsPerHour });
      return rec;
    } finally {
      this.benchmarking = null;
    }
  }
}
