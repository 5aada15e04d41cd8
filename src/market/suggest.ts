// A price that wins jobs: the market's per-job median for the same model (or, when no one serves
// it, for its size class), nudged by how fast this machine is next to those providers, never
// below the owner's floor, in whole sats, with the reason in one sentence. Pure: it only suggests;
// the owner applies it (a click in settings, or `compute price suggest --apply`).
import { reportModelKey, type MarketReport } from "./aggregate.ts";
import { sizeClass, type SizeClass } from "./records.ts";
import { median } from "./stats.ts";
import type { BenchmarkRecord } from "./store.ts";
import { wholeSats } from "../jobs/pricing.ts";

/** The job length (output tokens) at which speeds are compared with the providers' result times. */
export const TYPICAL_JOB_TOKENS = 256;
/** The speed nudge is the square root of the speed ratio, within these bounds: a hint, not a lever. */
const MIN_FACTOR = 0.5;
const MAX_FACTOR = 2;

const CLASS_WORDS: Record<SizeClass, string> = {
  tiny: "tiny (under 2B)",
  small: "small (2-5B)",
  medium: "medium (5-15B)",
  large: "large (15-50B)",
  huge: "huge (50B and more)",
};

export interface PriceSuggestion {
  model: string;
  basis: "model" | "size-class" | "none";
  sizeClass: SizeClass | null;
  /** Providers whose prices made the median. */
  providers: number;
  marketPerJobMsats: number | null;
  marketPer1kTokensMsats: number | null;
  /** Their median result time over ours for a typical job (>1: we are faster); null without a benchmark or their times. */
  speedRatio: number | null;
  perJobMsats: number;
  per1kTokensMsats: number;
  floorMsats: number;
  currentPerJobMsats: number;
  currentPer1kTokensMsats: number;
  reason: string;
}

export interface SuggestInput {
  model: string;
  report: Pick<MarketReport, "prices">;
  benchmark: BenchmarkRecord | null;
  floorMsats: number;
  current: { perJobMsats: number; per1kTokensMsats: number };
}

const sats = (msats: number) => `${Math.round(msats / 1000).toLocaleString("en-US")} sats`;

/** Seconds this machine needs for a typical job, from its benchmark. */
export function typicalJobSecs(b: Pick<BenchmarkRecord, "ttftMs" | "tokensPerSec">): number | null {
  if (!(b.tokensPerSec > 0)) return null;
  return b.ttftMs / 1000 + TYPICAL_JOB_TOKENS / b.tokensPerSec;
}

export function suggestPrice(input: SuggestInput): PriceSuggestion {
  const model = reportModelKey(input.model);
  const floor = Math.max(0, Math.floor(input.floorMsats));
  const cls = sizeClass(model);
  let rows = input.report.prices.filter((p) => p.model === model && p.medianPerJobMsats !== null);
  let basis: PriceSuggestion["basis"] = rows.length ? "model" : "none";
  if (!rows.length && cls) {
    rows = input.report.prices.filter((p) => p.sizeClass === cls && p.medianPerJobMsats !== null);
    if (rows.length) basis = "size-class";
  }
  const base = {
    model,
    sizeClass: cls,
    floorMsats: floor,
    currentPerJobMsats: input.current.perJobMsats,
    currentPer1kTokensMsats: input.current.per1kTokensMsats,
  };
  if (basis === "none") {
    const perJob = Math.max(input.current.perJobMsats, floor);
    return {
      ...base,
      basis,
      providers: 0,
      marketPerJobMsats: null,
      marketPer1kTokensMsats: null,
      speedRatio: null,
      perJobMsats: perJob,
      per1kTokensMsats: input.current.per1kTokensMsats,
      reason: `No prices seen for ${model}${cls ? ` or other ${CLASS_WORDS[cls]} models` : ""} yet: keep ${sats(perJob)}/job${perJob > input.current.perJobMsats ? " (your floor)" : ""}.`,
    };
  }
  // One price per model (each already the median over its providers), weighted by its providers.
  const perJobs: number[] = [];
  const per1ks: number[] = [];
  const secs: number[] = [];
  let providers = 0;
  for (const r of rows) {
    providers += r.providers;
    for (let i = 0; i < Math.max(1, r.providers); i++) perJobs.push(r.medianPerJobMsats!);
    if (r.medianPer1kTokensMsats !== null) per1ks.push(r.medianPer1kTokensMsats);
    if (r.medianResultSecs !== null) secs.push(r.medianResultSecs);
  }
  const marketPerJob = median(perJobs)!;
  const marketPer1k = median(per1ks);
  const theirSecs = median(secs);
  const mySecs = input.benchmark ? typicalJobSecs(input.benchmark) : null;
  const ratio = theirSecs !== null && mySecs !== null && mySecs > 0 ? theirSecs / mySecs : null;
  const factor = ratio === null ? 1 : Math.sqrt(Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, ratio)));
  const rawPerJob = wholeSats(marketPerJob * factor);
  const perJob = Math.max(rawPerJob, wholeSats(floor));
  const per1k = marketPer1k !== null ? Math.ceil(marketPer1k * factor) : input.current.per1kTokensMsats;
  const where = basis === "model" ? `serving ${model}` : `serving ${CLASS_WORDS[cls!]} models (no one serves ${model})`;
  const n = providers === 1 ? "1 provider" : `${providers} providers`;
  const speed =
    ratio === null
      ? input.benchmark
        ? "their speed is unknown"
        : "no benchmark yet (run compute benchmark)"
      : ratio >= 1
        ? `you are ${ratio.toFixed(1)}× faster than their median`
        : `you are ${(1 / ratio).toFixed(1)}× slower than their median`;
  const tail = perJob > rawPerJob ? `${sats(rawPerJob)}, raised to your floor of ${sats(perJob)}` : sats(perJob);
  return {
    ...base,
    basis,
    providers,
    marketPerJobMsats: marketPerJob,
    marketPer1kTokensMsats: marketPer1k,
    speedRatio: ratio === null ? null : Math.round(ratio * 100) / 100,
    perJobMsats: perJob,
    per1kTokensMsats: per1k,
    reason: `Median of ${n} ${where} is ${sats(marketPerJob)}/job; ${speed}: ${tail}.`,
  };
}
