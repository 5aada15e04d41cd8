// The dashboard's config changes, worked out from the running config (each returns the part to
// save; the app saves it with withChange + updateConfigFile and applies it). Bad input is refused
// before anything is written.
import { backendsFromFlags, backendsToSave, BackendEntry, type Config } from "./config.ts";
import { AppError, issueText } from "./errors.ts";
import type { BackendInput, Settings } from "./server/controller.ts";

/**
 * The backends with a new one: checked first (it must answer as its type; a config that had only
 * ollamaUrl gets that Ollama first in `backends`).
 */
export async function backendsAdding(config: Config, input: BackendInput): Promise<BackendEntry[]> {
  const name = input.name?.trim() || backendsFromFlags([input.url])[0]!.name;
  const parsed = BackendEntry.safeParse({ ...input, name });
  if (!parsed.success) throw new AppError("invalid_input", `Bad backend: ${issueText(parsed.error, { root: "backend" })}.`);
  const current = backendsToSave(config);
  if (current.some((b) => b.name === name)) throw new AppError("conflict", `A backend named ${name} exists already.`);
  const { checkBackend } = await import("./inference/probe.ts");
  await checkBackend(parsed.data);
  return [...current, parsed.data];
}

/** The backends without `name` (its running jobs fail); the last one stays. */
export function backendsRemoving(config: Config, name: string): BackendEntry[] {
  const current = backendsToSave(config);
  if (!current.some((b) => b.name === name)) throw new AppError("not_found", `No backend named ${name}.`);
  if (current.length === 1) throw new AppError("conflict", "This is the only backend: add another before removing it.");
  return current.filter((b) => b.name !== name);
}

/** What GET /api/settings shows: the editable parts of the config (the profile without the served models). */
export function settingsOf(config: Config): Settings {
  const { name, about, picture, publishProfile } = config.provider;
  return { relays: config.relays, ollamaUrl: config.ollamaUrl, pricing: config.pricing, limits: config.limits, provider: { name, about, picture, publishProfile }, schedule: config.schedule, pause: config.pause };
}
