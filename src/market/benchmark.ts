// Know your hardware: a fixed, short standard prompt set run through the real inference layer (the
// same generate() the job engine calls), timing the first token and the output rate, alone and at
// the backend's concurrency, and from that the capacity in jobs per hour at the default max tokens.
import { createHash } from "node:crypto";
import { cpus, hostname, totalmem } from "node:os";
import { AppError } from "../errors.ts";
import type { BenchmarkRecord } from "./store.ts";
import { median } from "./stats.ts";

/** Short, fixed prompts (the same on every machine, so figures compare). */
export const STANDARD_PROMPTS = [
  "Explain in two sentences why the sky is blue.",
  "Write a haiku about a lighthouse in winter.",
  "List three uses of a paperclip other than holding paper.",
  "Summarize the plot of Romeo and Juliet in one paragraph.",
] as const;
/** Output tokens asked per prompt: long enough for a steady rate, short enough to finish in seconds. */
export const BENCH_TOKENS = 64;

/** What the benchmark needs from the inference layer: the engine's generate(). */
export interface BenchGenerate {
  (p: { model: string; prompt: string; options: { num_predict: number; temperature: number }; signal?: AbortSignal; onToken?: (text: string, n: number) => void }): Promise<{ tokens: number }>;
}

export interface BenchmarkOptions {
  generate: BenchGenerate;
  model: string;
  /** Jobs at once the backend runs (the router's slots for this model); 1 skips the concurrent run. */
  concurrency: number;
  /** The default max tokens of a job (config limits.maxTokensCap): capacity is counted at it. */
  defaultMaxTokens: number;
  benchTokens?: number;
  prompts?: readonly string[];
  signal?: AbortSignal;
  machine?: string;
  backend?: string | null;
  now?: () => number;
}

/** A stable id for this machine (host name, CPU, memory), hashed: figures are kept per model and machine. */
export function machineId(): string {
  const cpu = cpus()[0]?.model ?? "cpu";
  return createHash("sha256").update(`${hostname()}|${cpu}|${cpus().length}|${Math.round(totalmem() / 2 ** 30)}`).digest("hex").slice(0, 16);
}

interface Run {
  ttftMs: number;
  tokens: number;
  /** From the first token to the end. */
  genMs: number;
  totalMs: number;
}

async function once(o: BenchmarkOptions, prompt: string, tokens: number): Promise<Run> {
  const t0 = performance.now();
  let first: number | null = null;
  const r = await o.generate({
    model: o.model,
    prompt,
    options: { num_predict: tokens, temperature: 0 },
    signal: o.signal,
    onToken: () => {
      first ??= performance.now();
    },
  });
  const end = performance.now();
  const f = first ?? end;
  return { ttftMs: f - t0, tokens: r.tokens, genMs: end - f, totalMs: end - t0 };
}

export async function runBenchmark(o: BenchmarkOptions): Promise<BenchmarkRecord> {
  const prompts = o.prompts ?? STANDARD_PROMPTS;
  const tokens = o.benchTokens ?? BENCH_TOKENS;
  // A warm-up (loads the model), not counted.
  await once(o, prompts[0]!, 4);
  const single: Run[] = [];
  for (const p of prompts) single.push(await once(o, p, tokens));
  // Tokens after the first over the time after the first: the steady rate a customer sees.
  const rates = single.filter((r) => r.tokens > 1 && r.genMs > 0).map((r) => ((r.tokens - 1) * 1000) / r.genMs);
  const tokensPerSec = median(rates);
  const ttftMs = median(single.map((r) => r.ttftMs))!;
  if (tokensPerSec === null) throw new AppError("unavailable", `The benchmark of ${o.model} got no tokens back: is the model working?`);
  const concurrency = Math.max(1, Math.floor(o.concurrency));
  let aggregate = tokensPerSec;
  if (concurrency > 1) {
    const runs = await Promise.all(Array.from({ length: concurrency }, (_, i) => once(o, prompts[i % prompts.length]!, tokens)));
    // Each stream's steady rate while all ran together (first tokens excluded: the TTFT is counted
    // once per job below), summed over the streams.
    const perStreamRates = runs.filter((r) => r.tokens > 1 && r.genMs > 0).map((r) => ((r.tokens - 1) * 1000) / r.genMs);
    const m = median(perStreamRates);
    if (m !== null) aggregate = m * concurrency;
  }
  // A job at the default max tokens takes ttft + tokens / (rate per stream at that concurrency).
  const perStream = aggregate / concurrency;
  const jobSecs = ttftMs / 1000 + o.defaultMaxTokens / perStream;
  return {
    model: o.model,
    machine: o.machine ?? machineId(),
    at: (o.now ?? Date.now)(),
    ttftMs: Math.round(ttftMs),
    tokensPerSec: Math.round(tokensPerSec * 10) / 10,
    concurrency,
    tokensPerSecConcurrent: Math.round(aggregate * 10) / 10,
    jobsPerHour: Math.round(((concurrency * 3600) / jobSecs) * 10) / 10,
    maxTokens: o.defaultMaxTokens,
    backend: o.backend ?? null,
  };
}
