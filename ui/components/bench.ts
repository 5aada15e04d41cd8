// This machine's benchmark of a served model (POST /api/models/benchmark), shared by MODELS and
// MARKET: the BENCHMARK button, and under it the last figures kept (GET /api/market's benchmarks)
// or the server's refusal (it refuses while jobs run, or while another benchmark runs).
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { useAction } from "../action.ts";
import { formatInt } from "../format.ts";
import { runBenchmark } from "../market-feed.ts";
import { benchmarks, type BenchmarkRecord } from "../state.ts";
import { notify } from "../toast.ts";

export interface Benchmarking {
  /** The model being measured, or null. */
  running: string | null;
  /** The server's refusal or failure for this model, if its last run failed. */
  errorFor: (model: string) => string | null;
  start: (model: string) => void;
}

export function useBenchmark(): Benchmarking {
  const action = useAction();
  const [failed, setFailed] = useState<string | null>(null);
  return {
    running: action.pending,
    errorFor: (model) => (failed === model ? action.error : null),
    start: (model) => {
      setFailed(model);
      void action.run(async () => {
        const b = await runBenchmark(model);
        notify("ok", `${model}: ${b.tokensPerSec} tokens/s, about ${formatInt(b.jobsPerHour)} jobs/hour.`);
      }, model);
    },
  };
}

export function BenchButton(props: { model: string; bench: Benchmarking; testid: string }) {
  const { model, bench } = props;
  return html`<button class="btn btn-sm btn-ghost" data-testid=${props.testid} title=${`Measure ${model} on this machine (refused while jobs run)`} disabled=${bench.running !== null} onClick=${() => bench.start(model)}>
    ${bench.running === model ? "RUNNING…" : "BENCHMARK"}
  </button>`;
}

const benchLine = (b: BenchmarkRecord) =>
  `first token ${formatInt(b.ttftMs)} ms · ${b.tokensPerSec} tok/s${b.concurrency > 1 ? ` · ${b.tokensPerSecConcurrent} tok/s ×${b.concurrency}` : ""} · ~${formatInt(b.jobsPerHour)} jobs/h`;

/** The last figures for `model`, or why its last run was refused; nothing when there are neither. */
export function BenchFigures(props: { model: string; bench: Benchmarking; testid: string; class?: string }) {
  const error = props.bench.errorFor(props.model);
  if (error) return html`<p class=${`field-error ${props.class ?? ""}`} role="alert" data-testid=${`${props.testid}-error`}>${error}</p>`;
  const b = benchmarks.value[props.model];
  if (!b) return null;
  return html`<p class=${`note mono ${props.class ?? ""}`} data-testid=${props.testid} title=${`measured ${new Date(b.at).toLocaleString()}`}>${benchLine(b)}</p>`;
}
