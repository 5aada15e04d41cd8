// The OpenAI-compatible backend (vLLM, SGLang, llama.cpp server, LM Studio, any server speaking
// /v1/chat/completions) through the `openai` npm client: GET /v1/models for the models, a chat
// completion streamed with stream_options.include_usage for each job. Our own fetch sits under the
// client: it bounds every line of a stream (a line that never ends fails the stream, never our
// memory), refuses a reply that is not an event stream (an HTML page), and carries our timeouts.
// Every failure becomes an AppError("unavailable") naming the backend; nothing here rejects
// unhandled.
import type OpenAI from "openai";
import { z } from "zod";
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
  type Backend,
  type BackendGenerateParams,
  type BackendHealth,
  type BackendModel,
  type BackendSpec,
  type GenerateResult,
} from "./backend.ts";
import { BadReply, notify, secs, StreamGuard, Timeout } from "./stream-guard.ts";

const log = createLogger("inference");

export interface OpenAIBackendOptions {
  spec: BackendSpec;
  probeIntervalMs?: number;
  fetchTimeoutMs?: number;
  firstTokenTimeoutMs?: number;
  stallTimeoutMs?: number;
}

const ModelsReply = z.object({ data: z.array(z.object({ id: z.string().min(1) })) });
const VersionReply = z.object({ version: z.string().min(1) });
const SlotsReply = z.array(z.object({ id: z.number() }).loose()).min(1).max(4096);
const Chunk = z.object({
  choices: z.array(
    z.object({
      delta: z.object({ content: z.string().nullish() }).loose().nullish(),
      finish_reason: z.string().nullish(),
    }),
  ),
  usage: z.object({ prompt_tokens: z.number().nonnegative().nullish(), completion_tokens: z.number().nonnegative().nullish() }).nullish(),
});

/** `http://h:8000` and `http://h:8000/v1` both name the server; the client wants the /v1 base. */
export function openaiBase(url: string): { root: string; base: string } {
  const root = checkUrl(url, "Backend").replace(/\/v1$/, "");
  return { root, base: `${root}/v1` };
}

/** Fails the stream when a line grows past `max` bytes without a newline. */
function lineGuard(max: number, onBad: (e: BadReply) => void): TransformStream<Uint8Array, Uint8Array> {
  let run = 0;
  return new TransformStream({
    transform(chunk, controller) {
      const nl = chunk.lastIndexOf(10);
      run = nl >= 0 ? chunk.length - nl - 1 : run + chunk.length;
      if (run > max) {
        const e = new BadReply(`a line longer than ${max >> 20} MiB`);
        onBad(e);
        throw e;
      }
      controller.enqueue(chunk);
    },
  });
}

type OpenAISdk = typeof import("openai").default;
/** The SDK is loaded when a first OpenAI-compatible backend is used: a provider with Ollama alone never pays its memory (~1 MiB). */
let sdk: OpenAISdk | null = null;
async function loadSdk(): Promise<OpenAISdk> {
  sdk ??= (await import("openai")).default;
  return sdk;
}

export class OpenAIBackend implements Backend {
  readonly spec: BackendSpec;
  private readonly root: string;
  private readonly base: string;
  private readonly fetchTimeoutMs: number;
  private readonly firstTokenTimeoutMs: number;
  private readonly stallTimeoutMs: number;
  private state: BackendHealth = { reachable: false, version: null, error: null, latencyMs: null, models: [], reportedSlots: null };
  private readonly listeners: Array<() => void> = [];
  private readonly probes: ProbeLoop;

  constructor(opts: OpenAIBackendOptions) {
    this.spec = opts.spec;
    ({ root: this.root, base: this.base } = openaiBase(opts.spec.url));
    this.fetchTimeoutMs = opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    this.firstTokenTimeoutMs = opts.firstTokenTimeoutMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;
    this.stallTimeoutMs = opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    this.probes = new ProbeLoop((ctl) => this.probe(ctl), opts.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS);
  }

  /** A client for one request: our fetch (guards, our abort signal), no retries, no logging. */
  private async client(ctl: AbortController, onBad: (e: BadReply) => void): Promise<OpenAI> {
    const OpenAI = await loadSdk();
    const guarded = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const signal = init?.signal ? AbortSignal.any([ctl.signal, init.signal]) : ctl.signal;
      const res = await fetch(input, { ...init, signal });
      const type = res.headers.get("content-type") ?? "";
      const wantsStream = typeof init?.body === "string" && /"stream"\s*:\s*true/.test(init.body);
      if (res.ok && !type.includes(wantsStream ? "text/event-stream" : "json")) {
        const e = new BadReply(`answered ${type.split(";")[0] || "something"} instead of ${wantsStream ? "an event stream" : "JSON"}`);
        onBad(e);
        await res.body?.cancel().catch(() => {});
        throw e;
      }
      if (!res.body) return res;
      return new Response(res.body.pipeThrough(lineGuard(MAX_STREAM_LINE_BYTES, onBad)), { status: res.status, statusText: res.statusText, headers: res.headers });
    };
    return new OpenAI({ baseURL: this.base, apiKey: this.spec.apiKey || "none", maxRetries: 0, timeout: 24 * 3600_000, logLevel: "off", fetch: guarded as typeof fetch });
  }

  // ---- lifecycle and health ----

  start(): Promise<void> {
    return this.probes.start();
  }

  stop(): void {
    this.probes.stop();
  }

  refresh(): Promise<void> {
    return this.probes.refresh();
  }

  health(): BackendHealth {
    return this.state;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private set(next: BackendHealth): void {
    const prev = JSON.stringify({ ...this.state, latencyMs: null });
    this.state = next;
    if (prev !== JSON.stringify({ ...next, latencyMs: null })) {
      if (next.reachable) log.info("backend reachable", { backend: this.spec.name, url: this.root, models: next.models.length });
      else log.warn("backend unreachable", { backend: this.spec.name, url: this.root, error: next.error });
      for (const l of this.listeners) l();
    }
  }

  private async probe(ctl: AbortController): Promise<void> {
    const timer = setTimeout(() => ctl.abort(new Timeout("first", this.fetchTimeoutMs)), this.fetchTimeoutMs);
    let bad: BadReply | null = null;
    try {
      const t0 = performance.now();
      const client = await this.client(ctl, (e) => (bad = e));
      const reply = ModelsReply.safeParse(await client.models.list());
      const latencyMs = Math.round(performance.now() - t0);
      if (!reply.success) throw new BadReply("GET /v1/models did not answer a model list");
      const only = this.spec.models ? new Set(this.spec.models) : null;
      const models: BackendModel[] = reply.data.data
        .filter((m) => only === null || only.has(m.id))
        .map((m) => ({ name: m.id, family: null, parameterSize: null, quantization: null, sizeBytes: 0 }));
      // Extras some servers answer (vLLM /version, llama.cpp /slots); their absence is fine.
      const [version, slots] = await Promise.all([this.getJson(`${this.root}/version`, VersionReply, ctl), this.getJson(`${this.root}/slots`, SlotsReply, ctl)]);
      this.set({ reachable: true, version: version?.version ?? null, error: null, latencyMs, models, reportedSlots: slots?.length ?? null });
    } catch (err) {
      if (ctl.signal.aborted && !(ctl.signal.reason instanceof Timeout)) return; // stop()
      const reason = ctl.signal.aborted ? ctl.signal.reason : (bad ?? err);
      this.set({ reachable: false, version: null, error: this.describe(reason, "connect").message, latencyMs: null, models: [], reportedSlots: null });
    } finally {
      clearTimeout(timer);
    }
  }

  private async getJson<T>(url: string, schema: z.ZodType<T>, ctl: AbortController): Promise<T | null> {
    try {
      const res = await fetch(url, { signal: ctl.signal, headers: this.spec.apiKey ? { authorization: `Bearer ${this.spec.apiKey}` } : {} });
      if (!res.ok || !(res.headers.get("content-type") ?? "").includes("json")) {
        await res.body?.cancel().catch(() => {});
        return null;
      }
      const text = await res.text();
      if (text.length > 1 << 20) return null;
      const parsed = schema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  // ---- generation ----

  async generate(p: BackendGenerateParams): Promise<GenerateResult> {
    const guard = new StreamGuard(p.signal, this.probes.inflight);
    const ctl = guard.ctl;
    let bad: BadReply | null = null;
    const started = performance.now();
    let phase: "connect" | "stream" = "connect";
    try {
      guard.arm("first", this.firstTokenTimeoutMs);
      const o = p.options ?? {};
      const messages: Array<{ role: "system" | "user"; content: string }> = [];
      if (p.system !== undefined) messages.push({ role: "system", content: p.system });
      messages.push({ role: "user", content: p.prompt });
      // The NIP-90 whitelist (nip90.toOllamaOptions) in OpenAI's names; top_k, min_p and
      // repeat_penalty are extensions vLLM, SGLang and llama.cpp read (others ignore them).
      const body = {
        model: p.model,
        messages,
        stream: true as const,
        stream_options: { include_usage: true },
        ...(o.num_predict !== undefined ? { max_tokens: o.num_predict } : {}),
        ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
        ...(o.top_p !== undefined ? { top_p: o.top_p } : {}),
        ...(o.frequency_penalty !== undefined ? { frequency_penalty: o.frequency_penalty } : {}),
        ...(o.presence_penalty !== undefined ? { presence_penalty: o.presence_penalty } : {}),
        ...(o.seed !== undefined ? { seed: o.seed } : {}),
        ...(o.stop !== undefined ? { stop: o.stop } : {}),
        ...(o.top_k !== undefined ? { top_k: o.top_k } : {}),
        ...(o.min_p !== undefined ? { min_p: o.min_p } : {}),
        ...(o.repeat_penalty !== undefined ? { repetition_penalty: o.repeat_penalty } : {}),
      };
      const client = await this.client(ctl, (e) => (bad = e));
      const stream = await client.chat.completions.create(body, { signal: ctl.signal });
      phase = "stream";
      let text = "";
      let chunks = 0;
      let finish: string | null = null;
      let usage: { prompt: number | null; completion: number | null } | null = null;
      for await (const raw of stream) {
        guard.arm("stall", this.stallTimeoutMs);
        const parsed = Chunk.safeParse(raw);
        if (!parsed.success) throw new BadReply("a chunk without the expected fields");
        const c = parsed.data;
        if (c.usage) usage = { prompt: c.usage.prompt_tokens ?? null, completion: c.usage.completion_tokens ?? null };
        const choice = c.choices[0];
        if (!choice) continue;
        const piece = choice.delta?.content;
        if (piece) {
          text += piece;
          chunks++;
          const onToken = p.onToken;
          if (onToken) notify(log, "onToken", () => onToken(text, chunks));
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      // The client ends quietly when the transport is aborted: our timeouts and stop() show here.
      if (ctl.signal.aborted) throw ctl.signal.reason;
      if (bad) throw bad;
      if (finish === null) throw new BadReply(chunks > 0 ? "the stream ended mid-generation" : "the stream ended without an answer");
      const tokens = usage?.completion ?? chunks;
      const wallMs = performance.now() - started;
      return { model: p.model, text, tokens, promptTokens: usage?.prompt ?? 0, tokensPerSec: wallMs > 0 ? Math.round((tokens / wallMs) * 1000 * 10) / 10 : null, doneReason: finish, wallMs };
    } catch (err) {
      guard.rethrowAbort(); // the caller's reason, or stop()'s
      const mapped = this.describe(guard.timedOut() ?? bad ?? err, phase);
      log.warn("generation failed", { backend: this.spec.name, model: p.model, error: mapped.message });
      void this.refresh();
      throw mapped;
    } finally {
      guard.close();
    }
  }

  /** OpenAI-compatible servers load their model at start; nothing to warm. */
  async warm(_model: string): Promise<void> {}

  // ---- errors ----

  private describe(err: unknown, phase: "connect" | "stream"): AppError {
    // Said as "… at URL": the engine strips " at URL" from what a customer is told (error feedback
    // is public), and the backend's name (by default its host:port) is not in it either.
    const who = `The server at ${this.root}`;
    const url = this.root;
    if (err instanceof AppError) return err;
    if (err instanceof Timeout) {
      if (err.kind === "stall") return new AppError("unavailable", `${who} stopped answering mid-generation (nothing for ${secs(err.ms)})`, { url });
      return new AppError("unavailable", `${who} did not answer within ${secs(err.ms)}`, { url });
    }
    if (err instanceof BadReply) {
      if (/ended mid-generation/.test(err.message)) return new AppError("unavailable", `${who} stopped answering mid-generation`, { url, bad: true });
      return new AppError("unavailable", `${who} sent a reply that could not be read (${err.message})`, { url, bad: true });
    }
    if (err instanceof SyntaxError) return new AppError("unavailable", `${who} sent a reply that could not be read (not JSON)`, { url, bad: true });
    if (sdk && err instanceof sdk.APIError && typeof err.status === "number") {
      const msg = (err.error as { message?: unknown } | undefined)?.message;
      const text = typeof msg === "string" && msg ? msg.slice(0, 300) : err.message;
      // A model it lists but answers "not found" for: the list lies.
      const lied = err.status === 404 && (err.code === "model_not_found" || /model/i.test(text));
      return new AppError("unavailable", `${who} failed: ${text}`, { url, status: err.status, ...(lied ? { bad: true } : {}) });
    }
    const cause = (err as { cause?: unknown } | null)?.cause ?? err;
    const code = (cause as { code?: unknown } | null)?.code;
    if (phase === "stream") return new AppError("unavailable", `${who} stopped answering mid-generation`, { url });
    if (typeof code === "string" && !REFUSED.has(code)) return new AppError("unavailable", `Could not reach the server at ${url} (${code})`, { url, code });
    if ((sdk && err instanceof sdk.APIConnectionError) || err instanceof TypeError || typeof code === "string") return new AppError("unavailable", `The OpenAI-compatible server is not running at ${url}`, { url });
    return new AppError("unavailable", `${who} failed: ${errorMessage(err)}`, { url });
  }
}
