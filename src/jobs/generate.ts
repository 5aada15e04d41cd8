// Making a job's answer: its inputs resolved to a prompt (inputs.ts), the model run with progress
// on the bus for the dashboard and throttled partial feedback for the customer, and the text fitted
// to what the request's encryption can carry.
import type { Bus } from "../bus.ts";
import type { Config } from "../config.ts";
import { AppError, errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import { fitNip44 } from "../nostr/crypto.ts";
import { toOllamaOptions, type JobRequest } from "../nostr/nip90.ts";
import { JobProgress } from "./events.ts";
import type { Running } from "./held-jobs.ts";
import { resolveInputs, type InputFetcher } from "./inputs.ts";
import { outputPreview } from "./job.ts";
import type { EngineInference, GenerateResult } from "./ports.ts";
import type { Replies } from "./replies.ts";

const log = createLogger("jobs");

export interface GenerateDeps {
  fetcher: InputFetcher;
  inference: EngineInference;
  bus: Bus;
  replies: Replies;
  config: Config;
  now: () => number;
  /** How often progress reaches the bus (the dashboard); partial feedback uses the config. */
  progressIntervalMs?: number;
  /** Called once, when the model's first token arrives (the job's generation time starts). */
  onFirstToken?: () => void;
}

/** Runs the model on the job's inputs; updates job.tokens and job.tokensPerSec as tokens come. */
export async function generateAnswer(job: Running, signal: AbortSignal, deps: GenerateDeps): Promise<GenerateResult> {
  const cfg = deps.config;
  const prompt = await resolveInputs(job.request.inputs, {
    fetcher: deps.fetcher,
    maxBytes: cfg.limits.maxInputBytes,
    allowPrivateUrls: cfg.limits.allowPrivateUrls,
    signal,
  });
  let lastProgress = 0;
  let lastPartial = deps.now();
  // Tokens per second count from the first token: a job may wait in the model server's queue, or
  // for its model to load, before that.
  let firstTokenAt: number | null = null;
  let partialSending = false;
  const progressEvery = deps.progressIntervalMs ?? 250;
  return deps.inference.generate({
    model: job.model,
    prompt,
    options: toOllamaOptions(job.request.params, { maxTokensCap: cfg.limits.maxTokensCap }),
    signal,
    onToken: (text, tokens) => {
      job.tokens = tokens;
      const t = deps.now();
      const first = firstTokenAt === null;
      if (first) {
        firstTokenAt = t;
        deps.onFirstToken?.();
      }
      // The first token always goes out as progress (the sentinel starts a job's GPU time on it).
      if (first || t - lastProgress >= progressEvery) {
        lastProgress = t;
        const secs = (t - firstTokenAt!) / 1000;
        job.tokensPerSec = secs > 0 ? Math.round((tokens / secs) * 10) / 10 : null;
        deps.bus.publish(JobProgress, { id: job.request.id, tokens, tokensPerSec: job.tokensPerSec, preview: outputPreview(text) });
      }
      // Partial feedback is throttled (PROTOCOL.md: never one event per token), and never
      // more than one in flight.
      if (!partialSending && t - lastPartial >= cfg.limits.partialIntervalMs && !signal.aborted) {
        lastPartial = t;
        partialSending = true;
        deps.replies.info(job.request, job.sourceRelay, "partial", { content: text }).finally(() => (partialSending = false));
      }
    },
  });
}

/** The answer as the result can carry it. */
export function fitToRequest(request: Pick<JobRequest, "id" | "encrypted">, text: string): string {
  // NIP-44 encrypts at most 65,535 bytes: a longer answer to a NIP-44 request is cut to fit
  // (better a long answer cut short than none; with the default token cap it can't happen).
  let content = text;
  if (request.encrypted === "nip44") {
    const fit = fitNip44(content);
    if (fit.truncated) {
      log.warn("answer cut to fit NIP-44 encryption", { id: request.id, bytes: new TextEncoder().encode(content).length });
      content = fit.text;
    }
  }
  return content;
}

/**
 * The job ran past limits.jobTimeoutSecs (the engine's own timer aborts it with this): either
 * generating (counted from the first token), or before its first token (its inputs, a wait in the
 * model server's queue, the model loading), which has a limit of the same length.
 */
export class JobTimeout extends Error {
  constructor(
    readonly secs: number,
    readonly phase: "start" | "generation" = "generation",
  ) {
    super(phase === "start" ? `the model did not start answering within this provider's limit of ${secs} s` : `the job took longer than this provider's limit of ${secs} s`);
  }
}

/**
 * Words for the customer: an Ollama failure says what failed without the operator's Ollama
 * address (error feedback is public unless the request was encrypted).
 */
export function customerReason(err: unknown): string {
  const msg = errorMessage(err).replace(/\s+at\s+https?:\/\/\S+/g, "").trim();
  if (err instanceof AppError && err.code === "unavailable") return `generation failed: ${msg}`;
  return msg;
}
