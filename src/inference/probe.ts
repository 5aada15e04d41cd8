// Checks a backend before it is added (dashboard, API): it must answer as the type chosen. A URL
// where nothing answers, or where the other type answers, gets a sentence saying which.
import { Bus } from "../bus.ts";
import { AppError } from "../errors.ts";
import type { Backend, BackendHealth, BackendSpec } from "./backend.ts";
import { OllamaBackend } from "./ollama-backend.ts";
import { OpenAIBackend } from "./openai.ts";

const PROBE_TIMEOUT_MS = 5_000;

async function probeAs(spec: BackendSpec, timeoutMs: number): Promise<BackendHealth> {
  const b: Backend = spec.type === "openai" ? new OpenAIBackend({ spec, fetchTimeoutMs: timeoutMs }) : new OllamaBackend({ spec, bus: new Bus(), fetchTimeoutMs: timeoutMs });
  try {
    await b.refresh();
    return b.health();
  } finally {
    b.stop();
  }
}

const label = (t: BackendSpec["type"]) => (t === "openai" ? "an OpenAI-compatible server" : "Ollama");

/** Resolves with the backend's health when it answers as `spec.type`; else an AppError saying why. */
export async function checkBackend(spec: BackendSpec, timeoutMs = PROBE_TIMEOUT_MS): Promise<BackendHealth> {
  const health = await probeAs(spec, timeoutMs);
  if (health.reachable) return health;
  const other: BackendSpec["type"] = spec.type === "openai" ? "ollama" : "openai";
  const as = await probeAs({ ...spec, type: other }, timeoutMs);
  if (as.reachable) {
    throw new AppError("invalid_input", `${spec.url} answers as ${label(other)}, not ${label(spec.type)}: choose the type ${other}.`);
  }
  throw new AppError("unavailable", `${label(spec.type)} does not answer at ${spec.url}${health.error ? ` (${health.error})` : ""}.`);
}
