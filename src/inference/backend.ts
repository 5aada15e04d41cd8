// What the router needs from one inference backend (an Ollama, or an OpenAI-compatible server such
// as vLLM, SGLang, llama.cpp server or LM Studio). Each backend probes itself, keeps its health and
// model list, and runs one generation at a time per call; the router (router.ts) decides which
// backend runs a job. Every failure is an AppError("unavailable") whose message names the backend;
// `data.bad: true` marks a reply that shows the backend itself is broken (garbage, HTML, a line
// that never ends, more tokens than asked for, a model it listed but does not have).
import type { Options as OllamaOptions } from "ollama";
import { AppError } from "../errors.ts";

export const DEFAULT_PROBE_INTERVAL_MS = 5_000;
/** Timeout for a probe's short calls (version, model list). */
export const DEFAULT_FETCH_TIMEOUT_MS = 5_000;
/** Loading a large model from disk can take minutes before the first token. */
export const DEFAULT_FIRST_TOKEN_TIMEOUT_MS = 180_000;
export const DEFAULT_STALL_TIMEOUT_MS = 60_000;

/** Sampling options in Ollama's names (design/OLLAMA.md `options`); openai.ts maps them to OpenAI's. */
export type GenerateOptions = Partial<
  Pick<OllamaOptions, "num_predict" | "temperature" | "top_k" | "top_p" | "min_p" | "frequency_penalty" | "presence_penalty" | "repeat_penalty" | "seed" | "num_ctx" | "stop">
>;

export interface GenerateResult {
  model: string;
  text: string;
  /** The backend's count of generated tokens (falls back to the chunks counted). */
  tokens: number;
  promptTokens: number;
  /** Generated tokens per second as the backend measured them (Ollama), else over the wall time; null when unknown. */
  tokensPerSec: number | null;
  doneReason: string;
  wallMs: number;
}

export interface PullUpdate {
  status: string;
  digest: string | null;
  total: number | null;
  completed: number | null;
}

export type BackendType = "ollama" | "openai";

export interface BackendSpec {
  name: string;
  type: BackendType;
  url: string;
  apiKey?: string;
  /** Jobs at once on this backend; default what it reports, else 2 (ollama) / 4 (openai): DEFAULT_SLOTS in router.ts. */
  maxConcurrent?: number;
  /** Only these of its models (its own names); default all it lists. */
  models?: string[];
}

export interface BackendModel {
  /** The backend's own name for it (`llama3.2:latest`, `meta-llama/Llama-3.2-3B-Instruct`). */
  name: string;
  family: string | null;
  parameterSize: string | null;
  quantization: string | null;
  sizeBytes: number;
}

export interface BackendHealth {
  reachable: boolean;
  version: string | null;
  error: string | null;
  /** How long the last successful probe took. */
  latencyMs: number | null;
  models: BackendModel[];
  /** Slots the backend says it has (llama.cpp /slots); null when it does not say. */
  reportedSlots: number | null;
}

export interface BackendGenerateParams {
  /** The backend's own model name. */
  model: string;
  prompt: string;
  system?: string;
  options?: GenerateOptions;
  signal?: AbortSignal;
  onToken?: (textSoFar: string, tokenCount: number) => void;
}

export interface Backend {
  readonly spec: BackendSpec;
  /** Probes now, then on an interval until stop(). */
  start(): Promise<void>;
  /** Stops probing and cancels its in-flight generations. */
  stop(): void;
  /** Probes now (shared with a probe already running). Never rejects. */
  refresh(): Promise<void>;
  /** The latest probe's view; its models list is shared until it changes: read it, never change it. */
  health(): BackendHealth;
  /** Called whenever health() may have changed. */
  onChange(listener: () => void): void;
  generate(p: BackendGenerateParams): Promise<GenerateResult>;
  warm(model: string): Promise<void>;
  /** Ollama only: downloads a model. */
  pull?(model: string, onProgress?: (u: PullUpdate) => void, signal?: AbortSignal): Promise<void>;
}

/**
 * Longest line a backend may send on a stream before the stream is failed (SSE or NDJSON): a chunk
 * is a few hundred bytes, so a longer line is not a backend talking.
 */
export const MAX_STREAM_LINE_BYTES = 1 << 20;

/** Error codes that mean nothing answers at the address (rather than something failing there). */
export const REFUSED = new Set(["ECONNREFUSED", "ConnectionRefused", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "FailedToOpenSocket"]);

/** A backend's URL without trailing slashes; one that is not http(s) is refused, `what` naming it. */
export function checkUrl(url: string, what: string): string {
  const u = url.trim().replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/]+/.test(u)) throw new AppError("invalid_input", `${what} URL must start with http:// or https:// (got "${url}")`);
  return u;
}

/**
 * What a backend runs between start() and stop(): a probe now and then every `intervalMs`, one at a
 * time (refresh() calls during a probe share it), and the requests in flight (`inflight`, registered
 * by StreamGuard). stop() ends the schedule and aborts the probe and every request.
 */
export class ProbeLoop {
  readonly inflight = new Set<AbortController>();
  private running = false;
  /** Bumped by start/stop so a superseded loop never schedules another tick. */
  private gen = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private probing: Promise<void> | null = null;
  private probeCtl: AbortController | null = null;

  /** `probe` must not reject; `ctl` aborts it (stop) and is aborted after it to free the connection. */
  constructor(
    private readonly probe: (ctl: AbortController) => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  /** Probes now, then every intervalMs until stop(). Resolves after the first probe. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.loop(++this.gen);
  }

  /** Idempotent. */
  stop(): void {
    this.running = false;
    this.gen++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.probeCtl?.abort();
    for (const ctl of this.inflight) ctl.abort(new AppError("unavailable", "Inference stopped"));
    this.inflight.clear();
  }

  /** Probes now; concurrent calls share one probe. Never rejects. */
  refresh(): Promise<void> {
    if (!this.probing) {
      const ctl = new AbortController();
      this.probeCtl = ctl;
      this.probing = this.probe(ctl).finally(() => {
        if (this.probeCtl === ctl) this.probeCtl = null;
        ctl.abort(); // release the connection
        this.probing = null;
      });
    }
    return this.probing;
  }

  private async loop(gen: number): Promise<void> {
    if (!this.running || gen !== this.gen) return;
    await this.refresh();
    if (!this.running || gen !== this.gen) return;
    this.timer = setTimeout(() => void this.loop(gen), this.intervalMs);
  }
}
