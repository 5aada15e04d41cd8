import { z } from "zod";
import { defineEvent } from "../bus.ts";

export const ModelView = z.object({
  name: z.string(),
  family: z.string().nullable(),
  parameterSize: z.string().nullable(),
  quantization: z.string().nullable(),
  sizeBytes: z.number().nonnegative(),
  served: z.boolean(),
  /** The backends serving it now (by name), when more than the one-Ollama shorthand is in use. */
  backends: z.array(z.string()).optional(),
});
export type ModelView = z.infer<typeof ModelView>;

export const OllamaView = z.object({
  url: z.string(),
  reachable: z.boolean(),
  version: z.string().nullable(),
  error: z.string().nullable(),
});
export type OllamaView = z.infer<typeof OllamaView>;

export const OllamaStatusChanged = defineEvent("ollama.status.changed", z.object({ ollama: OllamaView }));
export const ModelsChanged = defineEvent("ollama.models.changed", z.object({ models: z.array(ModelView) }));
export const PullProgress = defineEvent(
  "ollama.pull.progress",
  z.object({
    model: z.string(),
    status: z.string(),
    total: z.number().nullable(),
    completed: z.number().nullable(),
    done: z.boolean(),
    error: z.string().nullable(),
  }),
);

/** One inference backend's health (router.ts), shown per backend in MODELS and `compute status`. */
export const BackendView = z.object({
  name: z.string(),
  type: z.enum(["ollama", "openai"]),
  url: z.string(),
  reachable: z.boolean(),
  /** Reachable and not set aside for a broken reply: its models are offered. */
  healthy: z.boolean(),
  version: z.string().nullable(),
  /** Why it is unreachable or set aside. */
  error: z.string().nullable(),
  latencyMs: z.number().nullable(),
  /** Its models by public name (after aliases). */
  models: z.array(z.string()),
  slots: z.number(),
  active: z.number(),
});
export type BackendView = z.infer<typeof BackendView>;

export const BackendsChanged = defineEvent("inference.backends.changed", z.object({ backends: z.array(BackendView) }));
