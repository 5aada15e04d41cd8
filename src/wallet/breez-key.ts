// The Breez API key identifies the application, not the person running it, so a release build
// carries one: build.ts replaces COMPUTE_BUILT_IN_BREEZ_API_KEY below with the BREEZ_API_KEY of the
// build's environment (a `define`; the key is never written to the repository, nor printed). A key
// in the config (breezApiKey) or in this run's environment (BREEZ_API_KEY) overrides it; a build
// without one (from source, or built without the variable) asks the person for one on the
// dashboard (WALLET: paste a key), saved to config.json.

/** Replaced at build time by build.ts (a string literal) when the build had a key; undeclared otherwise. */
declare const COMPUTE_BUILT_IN_BREEZ_API_KEY: string | undefined;

/** The key embedded in this build, or null (`typeof` keeps an undefined name from throwing). */
export function builtInBreezApiKey(): string | null {
  const key = typeof COMPUTE_BUILT_IN_BREEZ_API_KEY === "string" ? COMPUTE_BUILT_IN_BREEZ_API_KEY.trim() : "";
  return key || null;
}

export type BreezKeySource = "config" | "build";

/** The key the wallet uses: config or environment first, then the build's own. */
export function resolveBreezApiKey(configured: string | undefined | null): { key: string; source: BreezKeySource } | null {
  const own = configured?.trim();
  if (own) return { key: own, source: "config" };
  const built = builtInBreezApiKey();
  return built ? { key: built, source: "build" } : null;
}

/** What may be shown of a key: its last four characters, never the whole. */
export function maskBreezApiKey(key: string): string {
  return key.length <= 8 ? "…" : `…${key.slice(-4)}`;
}

/** A pasted key: printable, no spaces, a sane length (Breez keys are long base64-like strings). */
export function checkBreezApiKey(raw: string): string {
  const key = raw.trim();
  if (key.length < 16 || key.length > 4096 || !/^[\x21-\x7e]+$/.test(key)) {
    throw new Error("That doesn't look like a Breez API key: paste the whole key, without spaces.");
  }
  return key;
}

/** Build-time replacements for build.ts: the key from the build's environment, when it has one. */
export function breezKeyDefine(env: Record<string, string | undefined>): Record<string, string> {
  const key = env.BREEZ_API_KEY?.trim();
  return key ? { COMPUTE_BUILT_IN_BREEZ_API_KEY: JSON.stringify(key) } : {};
}
