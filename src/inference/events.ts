import { z } from "zod";
import { defineEvent } from "../bus.ts";

export const ModelView = z.object({
  name: z.string(),
  family: z.string().nullable(),
  parameterSize: z.string().nullable(),
  quantization: z.string().nullable(),
  sizeBytes: z.number().nonnegative(),
  served: z.boolean(),
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
