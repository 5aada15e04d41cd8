// What the router needs from one inference backend (an Ollama, or an OpenAI-compatible server such
// as vLLM, SGLang, llama.cpp server or LM Studio). Each backend probes itself, keeps its health and
// model list, and runs one generation at a time per call; the router (router.ts) decides which
// backend runs a job. Every failure is an AppError("unavailable") whose message names the backend;
// `data.bad: true` marks a reply that shows the backend itself is broken (garbage, HTML, a line
// that never ends, more tokens than asked for, a model it listed but does not have).
import type { Options as OllamaOptions } from "ollama";

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
  /** Jobs at once on this backend; default what it reports, else 1 (ollama) / 4 (openai). */
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
