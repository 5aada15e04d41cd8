// Talks to the local Ollama (design/OLLAMA.md) through the `ollama` npm client: keeps the status
// and the installed models current with a probe loop, streams generations with cancellation and
// timeouts (every streamed line checked on its way to the client, ndjson.ts), warms models and
// pulls new ones. Every failure becomes an AppError("unavailable") whose message says what to do;
// nothing here rejects unhandled.
import { Ollama } from "ollama";
import { z } from "zod";
import type { Bus } from "../bus.ts";
import { AppError, errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import {
  checkUrl,
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_FIRST_TOKEN_TIMEOUT_MS,
  DEFAULT_PROBE_INTERVAL_MS,
  DEFAULT_STALL_TIMEOUT_MS,
  MAX_STREAM_LINE_BYTES,
  ProbeLoop,
  REFUSED,
  type GenerateOptions,
  type GenerateResult,
  type PullUpdate,
} from "./backend.ts";
import { modelKey } from "./model-name.ts";
import { MalformedNdjson, NdjsonLines } from "./ndjson.ts";
import { BadReply, notify, secs, StreamGuard, Timeout } from "./stream-guard.ts";
import { ModelsChanged, ModelView, OllamaStatusChanged, OllamaView, PullProgress } from "./events.ts";

const log = createLogger("inference");

export const DEFAULT_WARM_KEEP_ALIVE = "10m";

export interface InferenceOptions {
  url: string;
  bus: Bus;
  /** Models to offer; null = every installed model. */
  servedModels: string[] | null;
  /** Timeout for short calls (version, tags, show). */
  fetchTimeoutMs?: number;
  /** Time between probes (also the retry interval while Ollama is unreachable). */
  probeIntervalMs?: number;
  /** Max wait for the first chunk of a generation or pull (includes model load). */
  firstTokenTimeoutMs?: number;
  /** Max silence between chunks once a stream has started. */
  stallTimeoutMs?: number;
}

export interface GenerateParams {
  model: string;
  prompt: string;
  system?: string;
  options?: GenerateOptions;
  /** How long Ollama keeps the model loaded afterwards ("10m", seconds, 0 = unload). */
  keepAlive?: string | number;
  signal?: AbortSignal;
  /** Called for every chunk carrying text: the text so far and the number of chunks (≈ tokens). */
  onToken?: (textSoFar: string, tokenCount: number) => void;
  firstTokenTimeoutMs?: number;
  stallTimeoutMs?: number;
}

// ---- replies we rely on (validated: a wrong reply is an error, never a crash) ----

const VersionReply = z.object({ version: z.string() });
const optionalText = z
  .string()
  .nullish()
  .transform((s) => (s ? s : null));
const TagsReply = z.object({
  models: z.array(
    z.object({
      name: z.string().min(1),
      size: z.number().nonnegative().nullish(),
      details: z
        .object({ family: optionalText, parameter_size: optionalText, quantization_level: optionalText })
        .partial()
        .nullish(),
    }),
  ),
});
const count = z.number().nonnegative().nullish();
const GenerateChunk = z.object({
  response: z.string().nullish(),
  done: z.boolean(),
  done_reason: z.string().nullish(),
  prompt_eval_count: count,
  eval_count: count,
  eval_duration: count,
});
const LoadReply = z.object({ done: z.boolean().optional(), done_reason: z.string().nullish() });
const ProgressLine = z.object({
  status: z.string(),
  digest: z.string().nullish(),
  total: z.number().nonnegative().nullish(),
  completed: z.number().nonnegative().nullish(),
});

// ---- plumbing: per-request fetch with our own signal and an NDJSON guard ----

/**
 * A fetch for one request: aborts with `ctl`, and for streams checks every NDJSON line parses.
 * The client would skip a bad line with a console warning; for a paid answer a silently dropped
 * chunk is worse than an error, so a bad line fails the stream.
 */
function requestFetch(ctl: AbortController, timeoutMs?: number): typeof fetch {
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const signals = [ctl.signal];
    if (init?.signal) signals.push(init.signal);
    if (timeoutMs !== undefined) {
      const t = new AbortController();
      const timer = setTimeout(() => t.abort(new Timeout("request", timeoutMs)), timeoutMs);
      ctl.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
      signals.push(t.signal);
    }
    const res = await fetch(input, { ...init, signal: AbortSignal.any(signals) });
    const type = res.headers.get("content-type") ?? "";
    if (!res.ok || !res.body || !type.includes("ndjson")) return res;
    return new Response(res.body.pipeThrough(ndjsonGuard()), { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return f as typeof fetch;
}

/** Passes the bytes on, failing the stream at a line that is not JSON or never ends. */
function ndjsonGuard(): TransformStream<Uint8Array, Uint8Array> {
  const lines = new NdjsonLines(MAX_STREAM_LINE_BYTES);
  const check = (line: string) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new MalformedNdjson(line);
    }
    // The client reads every line as an object ("error" in it): anything else is a broken reply.
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new MalformedNdjson(line, `not a JSON object: ${line.slice(0, 80)}`);
  };
  return new TransformStream({
    transform(chunk, controller) {
      lines.push(chunk);
      for (let line = lines.next(); line !== null; line = lines.next()) check(line);
      controller.enqueue(chunk);
    },
    flush() {
      check(lines.end());
    },
  });
}

function errCode(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

/** The client's ResponseError (not exported by the package): its name and fields. */
function isResponseError(err: unknown): err is Error & { status_code: number; error: string } {
  return err instanceof Error && err.name === "ResponseError" && typeof (err as { status_code?: unknown }).status_code === "number";
}

export class Inference {
  private readonly url: string;
  private readonly bus: Bus;
  private configured: string[] | null;
  private readonly fetchTimeoutMs: number;
  private readonly firstTokenTimeoutMs: number;
  private readonly stallTimeoutMs: number;

  private status: OllamaView;
  private installed: Array<Omit<ModelView, "served">> = [];
  private modelList: ModelView[] = [];
  private readonly probes: ProbeLoop;
  /** How long the last successful probe (version + tags) took, ms. */
  private lastProbeMs: number | null = null;

  constructor(opts: InferenceOptions) {
    this.url = checkUrl(opts.url, "Ollama");
    this.bus = opts.bus;
    this.configured = opts.servedModels;
    this.fetchTimeoutMs = opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    this.firstTokenTimeoutMs = opts.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.status = { url: this.url, reachable: false, version: null, error: null };
    this.probes = new ProbeLoop((ctl) => this.probe(ctl), opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS);
  }

  // ---- lifecycle ----

  /** Probes now, then every probeIntervalMs until stop(). Resolves after the first probe. */
  start(): Promise<void> {
    return this.probes.start();
  }

  /** Stops probing and cancels in-flight generations and pulls. Idempotent. */
  stop(): void {
    this.probes.stop();
  }

  /** Probes Ollama now (version, then tags); concurrent calls share one probe. Never rejects. */
  refresh(): Promise<void> {
    return this.probes.refresh();
  }

  private async probe(ctl: AbortController): Promise<void> {
    const url = this.url;
    const client = new Ollama({ host: url, fetch: requestFetch(ctl, this.fetchTimeoutMs) });
    try {
      const t0 = performance.now();
      const version = VersionReply.parse(await client.version()).version;
      const tags = TagsReply.parse(await client.list());
      this.lastProbeMs = Math.round(performance.now() - t0);
      this.installed = tags.models.map((m) => ({
        name: m.name,
        family: m.details?.family ?? null,
        parameterSize: m.details?.parameter_size ?? null,
        quantization: m.details?.quantization_level ?? null,
        sizeBytes: m.size ?? 0,
      }));
      this.setStatus({ url, reachable: true, version, error: null });
      this.publishModels();
    } catch (err) {
      if (ctl.signal.aborted && !(ctl.signal.reason instanceof Timeout)) return; // stop()
      const message = this.describe(err, "probe").message;
      this.installed = [];
      this.setStatus({ url, reachable: false, version: null, error: message });
      this.publishModels();
    }
  }

  private setStatus(next: OllamaView): void {
    const prev = this.status;
    this.status = OllamaView.parse(next);
    if (JSON.stringify(prev) === JSON.stringify(this.status)) return;
    if (prev.reachable !== next.reachable) {
      if (next.reachable) log.info("ollama reachable", { url: next.url, version: next.version });
      else log.warn("ollama unreachable", { url: next.url, error: next.error });
    }
    this.bus.publish(OllamaStatusChanged, { ollama: this.status });
  }

  private publishModels(): void {
    const served = this.configured === null ? null : new Set(this.configured.map(modelKey));
    const next = this.installed.map((m) => ModelView.parse({ ...m, served: served === null || served.has(modelKey(m.name)) }));
    if (JSON.stringify(next) === JSON.stringify(this.modelList)) return;
    this.modelList = next;
    this.bus.publish(ModelsChanged, { models: next });
  }

  // ---- views and settings ----

  view(): OllamaView {
    return { ...this.status };
  }

  /** How long the last successful probe took (ms); null before one succeeded or while unreachable. */
  latencyMs(): number | null {
    return this.status.reachable ? this.lastProbeMs : null;
  }

  models(): ModelView[] {
    return this.modelList.map((m) => ({ ...m }));
  }

  /** Installed ∩ configured, as Ollama names them (`llama3.2:latest`). Empty while unreachable. */
  servedModels(): string[] {
    return this.modelList.filter((m) => m.served).map((m) => m.name);
  }

  setServedModels(names: string[] | null): void {
    this.configured = names === null ? null : [...names];
    this.publishModels();
  }

  // ---- generation ----

  /**
   * Streams one generation. Resolves with the text and Ollama's counters; rejects with
   * AppError("unavailable") on any Ollama failure, or with `signal.reason` if the caller aborted.
   * Each call has its own client (a few µs) whose fetch carries this call's abort signal, so
   * aborting one never touches another.
   */
  async generate(p: GenerateParams): Promise<GenerateResult> {
    const guard = new StreamGuard(p.signal, this.probes.inflight);
    const firstMs = p.firstTokenTimeoutMs ?? this.firstTokenTimeoutMs;
    const stallMs = p.stallTimeoutMs ?? this.stallTimeoutMs;
    const started = performance.now();
    let phase: "connect" | "stream" = "connect";
    try {
      guard.arm("first", firstMs);
      const client = new Ollama({ host: this.url, fetch: requestFetch(guard.ctl) });
      const stream = await client.generate({
        model: p.model,
        prompt: p.prompt,
        ...(p.system !== undefined ? { system: p.system } : {}),
        ...(p.options ? { options: p.options } : {}),
        ...(p.keepAlive !== undefined ? { keep_alive: p.keepAlive } : {}),
        stream: true,
      });
      phase = "stream";
      let text = "";
      let chunks = 0;
      let last: z.infer<typeof GenerateChunk> | null = null;
      let checked = false;
      for await (const raw of stream as AsyncIterable<unknown>) {
        guard.arm("stall", stallMs);
        // zod once per shape: the first chunk and the done line; the chunks between have the same
        // shape, checked by hand.
        let chunk: z.infer<typeof GenerateChunk>;
        if (!checked || !isPlainChunk(raw as Record<string, unknown>)) {
          const parsed = GenerateChunk.safeParse(raw);
          if (!parsed.success) throw new BadReply("a generate chunk without the expected fields");
          chunk = parsed.data;
          checked = true;
        } else {
          chunk = raw as z.infer<typeof GenerateChunk>;
        }
        if (chunk.response) {
          text += chunk.response;
          chunks++;
          const onToken = p.onToken;
          if (onToken) notify(log, "onToken", () => onToken(text, chunks));
        }
        if (chunk.done) {
          last = chunk;
          break;
        }
      }
      if (!last) throw new BadReply("the stream ended without a done line");
      const tokens = last.eval_count ?? chunks;
      const evalNs = last.eval_duration ?? 0;
      return {
        model: p.model,
        text,
        tokens,
        promptTokens: last.prompt_eval_count ?? 0,
        tokensPerSec: evalNs > 0 && last.eval_count != null ? (last.eval_count / evalNs) * 1e9 : null,
        doneReason: last.done_reason ?? "stop",
        wallMs: performance.now() - started,
      };
    } catch (err) {
      guard.rethrowAbort(); // the caller's reason, or stop()'s
      const mapped = this.describe(guard.timedOut() ?? err, phase);
      log.warn("generation failed", { model: p.model, error: mapped.message });
      // Ollama may have gone away: let the status catch up now rather than at the next tick.
      void this.refresh();
      throw mapped;
    } finally {
      guard.close();
    }
  }

  /** Loads a model into memory (empty prompt + keep_alive), so the first job doesn't wait for it. */
  async warm(model: string, keepAlive: string | number = DEFAULT_WARM_KEEP_ALIVE, signal?: AbortSignal): Promise<void> {
    const guard = new StreamGuard(signal, this.probes.inflight);
    try {
      const client = new Ollama({ host: this.url, fetch: requestFetch(guard.ctl, this.firstTokenTimeoutMs) });
      const reply = LoadReply.safeParse(await client.generate({ model, prompt: "", keep_alive: keepAlive, stream: false }));
      if (!reply.success) throw new BadReply("an unexpected reply to a load request");
    } catch (err) {
      guard.rethrowAbort(); // the caller's reason, or stop()'s
      const mapped = this.describe(err, "connect");
      void this.refresh();
      throw mapped;
    } finally {
      guard.close();
    }
  }

  /**
   * Downloads a model, publishing PullProgress as it goes (throttled, except status changes) and
   * calling onProgress for every line. Resolves when Ollama says success; the model list is
   * refreshed afterwards.
   */
  async pull(model: string, onProgress?: (u: PullUpdate) => void, signal?: AbortSignal): Promise<void> {
    const guard = new StreamGuard(signal, this.probes.inflight);
    let phase: "connect" | "stream" = "connect";
    let lastStatus = "";
    let lastPublish = 0;
    let last: PullUpdate = { status: "starting", digest: null, total: null, completed: null };
    const publish = (u: PullUpdate, done: boolean, error: string | null) =>
      this.bus.publish(PullProgress, { model, status: u.status, total: u.total, completed: u.completed, done, error });
    try {
      guard.arm("first", this.firstTokenTimeoutMs);
      const client = new Ollama({ host: this.url, fetch: requestFetch(guard.ctl) });
      const stream = await client.pull({ model, stream: true });
      phase = "stream";
      for await (const raw of stream) {
        guard.arm("stall", this.stallTimeoutMs);
        const line = ProgressLine.safeParse(raw);
        if (!line.success) throw new BadReply("a pull progress line without a status");
        last = { status: line.data.status, digest: line.data.digest ?? null, total: line.data.total ?? null, completed: line.data.completed ?? null };
        const u = last;
        if (onProgress) notify(log, "onProgress", () => onProgress(u));
        if (last.status === "success") break;
        const now = Date.now();
        if (last.status !== lastStatus || now - lastPublish >= 250) {
          lastStatus = last.status;
          lastPublish = now;
          publish(last, false, null);
        }
      }
      if (last.status !== "success") throw new BadReply("the pull ended without success");
      publish(last, true, null);
      log.info("model pulled", { model });
    } catch (err) {
      if (guard.callerAborted) {
        publish(last, true, "cancelled");
        throw signal!.reason;
      }
      const mapped = guard.stopped() ?? this.describe(guard.timedOut() ?? err, phase, "pull");
      publish(last, true, mapped.message);
      throw mapped;
    } finally {
      guard.close();
    }
    await this.refresh();
  }

  // ---- errors ----

  /** One sentence a person can act on, from whatever the client or the network threw. */
  private describe(err: unknown, phase: "connect" | "stream" | "probe", what: "generation" | "pull" = "generation"): AppError {
    const url = this.url;
    if (err instanceof AppError) return err;
    if (err instanceof Timeout) {
      if (err.kind === "stall") return new AppError("unavailable", `Ollama stopped answering mid-${what} (nothing for ${secs(err.ms)})`, { url });
      return new AppError("unavailable", `Ollama at ${url} did not answer within ${secs(err.ms)}`, { url });
    }
    if (isResponseError(err)) return new AppError("unavailable", `Ollama failed: ${err.error || err.message}`, { url, status: err.status_code });
    if (err instanceof MalformedNdjson || err instanceof z.ZodError || err instanceof BadReply) {
      if (err instanceof BadReply && phase === "stream" && /ended without/.test(err.message)) {
        return new AppError("unavailable", `Ollama stopped answering mid-${what}`, { url });
      }
      // bad: the backend itself is broken (not merely busy or away); the router sets it aside.
      return new AppError("unavailable", `Ollama at ${url} sent a reply that could not be read (${err instanceof z.ZodError ? "unexpected fields" : err.message})`, { url, bad: true });
    }
    // A reset or abort is the network, not Ollama: before the reply it's "not running", after it
    // the stream broke. The client throws a plain Error for a missing done line.
    const code = errCode(err) ?? errCode((err as { cause?: unknown } | null)?.cause);
    if (err instanceof Error && err.name === "TimeoutError") return new AppError("unavailable", `Ollama at ${url} did not answer within ${secs(this.fetchTimeoutMs)}`, { url });
    if (code !== undefined || err instanceof TypeError || (err instanceof Error && err.name === "AbortError")) {
      if (phase === "stream") return new AppError("unavailable", `Ollama stopped answering mid-${what}`, { url, code });
      if (code === undefined || REFUSED.has(code)) return new AppError("unavailable", `Ollama is not running at ${url}`, { url, code });
      return new AppError("unavailable", `Could not reach Ollama at ${url} (${code})`, { url, code });
    }
    if (err instanceof Error && /did not receive done/i.test(err.message)) {
      return new AppError("unavailable", `Ollama stopped answering mid-${what}`, { url });
    }
    // An {"error": "..."} line inside a stream surfaces as a plain Error with Ollama's text.
    return new AppError("unavailable", `Ollama failed: ${errorMessage(err)}`, { url });
  }
}

/** A chunk between the first and the done line: {response: string, done: false}, nothing odd. */
function isPlainChunk(raw: Record<string, unknown>): boolean {
  const r = raw.response;
  return raw.done === false && (r === undefined || r === null || typeof r === "string");
}
