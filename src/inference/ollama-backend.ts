// The Ollama backend: the Inference class of ollama.ts behind the Backend interface. It keeps its
// own bus, so its status and model events stay private to the router; pull progress is passed on
// to the app's bus (the dashboard shows it).
import { Bus } from "../bus.ts";
import type { Backend, BackendGenerateParams, BackendHealth, BackendModel, BackendSpec, GenerateResult, PullUpdate } from "./backend.ts";
import { ModelsChanged, OllamaStatusChanged, PullProgress } from "./events.ts";
import { modelKey } from "./model-name.ts";
import { Inference } from "./ollama.ts";

export interface OllamaBackendOptions {
  spec: BackendSpec;
  /** The app's bus, for pull progress. */
  bus: Bus;
  probeIntervalMs?: number;
  fetchTimeoutMs?: number;
  firstTokenTimeoutMs?: number;
  stallTimeoutMs?: number;
}

export class OllamaBackend implements Backend {
  readonly spec: BackendSpec;
  private readonly inner: Inference;
  private readonly own = new Bus();
  private readonly listeners: Array<() => void> = [];
  /** health().models, made when Ollama's list changes: the router reads health() several times per job. */
  private models: BackendModel[] = [];

  constructor(opts: OllamaBackendOptions) {
    this.spec = opts.spec;
    this.inner = new Inference({
      url: opts.spec.url,
      bus: this.own,
      servedModels: null,
      probeIntervalMs: opts.probeIntervalMs,
      fetchTimeoutMs: opts.fetchTimeoutMs,
      firstTokenTimeoutMs: opts.firstTokenTimeoutMs,
      stallTimeoutMs: opts.stallTimeoutMs,
    });
    const changed = () => {
      for (const l of this.listeners) l();
    };
    this.own.subscribe(OllamaStatusChanged, changed);
    this.own.subscribe(ModelsChanged, () => {
      this.models = this.listModels();
      changed();
    });
    this.own.subscribe(PullProgress, (p) => opts.bus.publish(PullProgress, p));
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  stop(): void {
    this.inner.stop();
  }

  refresh(): Promise<void> {
    return this.inner.refresh();
  }

  health(): BackendHealth {
    const v = this.inner.view();
    // Ollama does not say its OLLAMA_NUM_PARALLEL over the API.
    return { reachable: v.reachable, version: v.version, error: v.error, latencyMs: this.inner.latencyMs(), models: this.models, reportedSlots: null };
  }

  private listModels(): BackendModel[] {
    const only = this.spec.models ? new Set(this.spec.models.map(modelKey)) : null;
    return this.inner
      .models()
      .filter((m) => only === null || only.has(modelKey(m.name)))
      .map(({ served: _served, backends: _b, ...m }) => m);
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  generate(p: BackendGenerateParams): Promise<GenerateResult> {
    return this.inner.generate(p);
  }

  warm(model: string): Promise<void> {
    return this.inner.warm(model);
  }

  pull(model: string, onProgress?: (u: PullUpdate) => void, signal?: AbortSignal): Promise<void> {
    return this.inner.pull(model, onProgress, signal);
  }
}
