// Pure logic behind the forms: the recovery-phrase backup check and word completion, the password
// rule, and the settings form ↔ PUT /api/settings patch. Bounds mirror src/config.ts so the user
// hears about a bad value before the round trip; the server still validates everything.
import type { Limits, PaymentMode, Pricing } from "../src/config.ts";
import type { ProfileSettings } from "./api.ts";
import { formatMsats, parseSatsToMsats } from "./format.ts";

// ---- recovery phrase -----------------------------------------------------------------------------

/** Words of a phrase as typed: lowercased, split on any whitespace. */
export function splitWords(text: string): string[] {
  return text.trim().toLowerCase().split(/\s+/).filter(Boolean);
}

/** k distinct positions (0-based, ascending) to ask back after the user writes the phrase down. */
export function pickCheckPositions(wordCount: number, k = 3, random: () => number = Math.random): number[] {
  const n = Math.max(0, Math.min(k, wordCount));
  const pool = Array.from({ length: wordCount }, (_, i) => i);
  // Partial Fisher–Yates: the first n of the pool end up a uniform sample.
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (wordCount - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n).sort((a, b) => a - b);
}

/** Whether each answer matches the word at its position (case and spaces ignored). */
export function checkAnswers(words: string[], positions: number[], answers: string[]): boolean[] {
  return positions.map((pos, i) => (answers[i] ?? "").trim().toLowerCase() === (words[pos] ?? "").toLowerCase());
}

/** The word the caret is in (or just after): where it starts and ends, and its text so far. */
export function wordAtCaret(text: string, caret: number): { start: number; end: number; prefix: string } {
  const at = Math.max(0, Math.min(caret, text.length));
  let start = at;
  while (start > 0 && !/\s/.test(text[start - 1]!)) start--;
  let end = at;
  while (end < text.length && !/\s/.test(text[end]!)) end++;
  return { start, end, prefix: text.slice(start, at).toLowerCase() };
}

/** Puts a chosen suggestion in place of the word at the caret, followed by one space. */
export function completeWord(text: string, caret: number, word: string): { text: string; caret: number } {
  const { start, end } = wordAtCaret(text, caret);
  const rest = text.slice(end).replace(/^\s+/, "");
  const next = `${text.slice(0, start)}${word} ${rest}`;
  return { text: next, caret: start + word.length + 1 };
}

/** The vault's MIN_PASSWORD_LENGTH (src/identity/vault.ts reads files, so it stays out of the bundle; a test pins the two). */
export const MIN_PASSWORD = 8;

/** Why the password can't be used yet, or null. */
export function passwordProblem(password: string, confirm: string): string | null {
  if (password.length < MIN_PASSWORD) return `Use at least ${MIN_PASSWORD} characters.`;
  if (password !== confirm) return "The two passwords differ.";
  return null;
}

// ---- settings ------------------------------------------------------------------------------------

export interface SettingsForm {
  mode: PaymentMode;
  perJobSats: string;
  per1kTokensSats: string;
  /** The owner's floor (pricing.floorMsats) in sats; empty = none. */
  floorSats: string;
  invoiceExpirySecs: string;
  freeJobsPerCustomer: string;
  maxConcurrentJobs: string;
  queueSize: string;
  maxQueuedPerCustomer: string;
  maxInputBytes: string;
  maxTokensCap: string;
  perCustomerPerMinute: string;
  jobTimeoutSecs: string;
  partialIntervalMs: string;
  onOffline: "finish" | "cancel";
  allowPrivateUrls: boolean;
  /** Customers' public keys, one per line (npub1… or 64 hex characters). */
  allow: string;
  deny: string;
  /** A model's own prices; empty fields fall back to the defaults above. */
  models: ModelPriceRow[];
  /** The public profile (kind 0 and the NIP-89 announcement). */
  name: string;
  about: string;
  picture: string;
  publishProfile: boolean;
}

export interface ModelPriceRow {
  name: string;
  perJobSats: string;
  per1kTokensSats: string;
}

/** A model's own prices in a patch: null removes a price (or the whole entry), see config.ts merge. */
export type ModelPricePatch = { perJobMsats: number | null; per1kTokensMsats: number | null } | null;

export interface SettingsPatch {
  pricing: Pick<Pricing, "mode" | "perJobMsats" | "per1kTokensMsats" | "floorMsats" | "invoiceExpirySecs" | "freeJobsPerCustomer"> & {
    models: Record<string, ModelPricePatch>;
  };
  limits: Pick<
    Limits,
    | "maxConcurrentJobs"
    | "queueSize"
    | "maxQueuedPerCustomer"
    | "maxInputBytes"
    | "maxTokensCap"
    | "perCustomerPerMinute"
    | "jobTimeoutSecs"
    | "partialIntervalMs"
    | "onOffline"
    | "allowPrivateUrls"
    | "allow"
    | "deny"
  >;
  provider: ProfileSettings;
}

const plain = (msats: number) => formatMsats(msats).replace(/,/g, "");

const NO_PROFILE: ProfileSettings = { name: "", about: "", picture: "", publishProfile: false };

/** `installed`: the models Ollama has, shown with empty prices when they have none of their own. */
export function settingsToForm(pricing: Pricing, limits: Limits, installed: string[] = [], profile: ProfileSettings = NO_PROFILE): SettingsForm {
  const names = [...new Set([...Object.keys(pricing.models), ...installed])].sort();
  return {
    mode: pricing.mode,
    perJobSats: plain(pricing.perJobMsats),
    per1kTokensSats: plain(pricing.per1kTokensMsats),
    floorSats: pricing.floorMsats ? plain(pricing.floorMsats) : "",
    invoiceExpirySecs: String(pricing.invoiceExpirySecs),
    freeJobsPerCustomer: String(pricing.freeJobsPerCustomer),
    maxConcurrentJobs: String(limits.maxConcurrentJobs),
    queueSize: String(limits.queueSize),
    maxQueuedPerCustomer: String(limits.maxQueuedPerCustomer),
    maxInputBytes: String(limits.maxInputBytes),
    maxTokensCap: String(limits.maxTokensCap),
    perCustomerPerMinute: String(limits.perCustomerPerMinute),
    jobTimeoutSecs: String(limits.jobTimeoutSecs),
    partialIntervalMs: String(limits.partialIntervalMs),
    onOffline: limits.onOffline,
    allowPrivateUrls: limits.allowPrivateUrls,
    allow: limits.allow.join("\n"),
    deny: limits.deny.join("\n"),
    models: names.map((name) => {
      const own = pricing.models[name];
      return {
        name,
        perJobSats: own?.perJobMsats === undefined ? "" : plain(own.perJobMsats),
        per1kTokensSats: own?.per1kTokensMsats === undefined ? "" : plain(own.per1kTokensMsats),
      };
    }),
    name: profile.name,
    about: profile.about,
    picture: profile.picture,
    publishProfile: profile.publishProfile,
  };
}

const HEX_KEY = /^[0-9a-f]{64}$/;
/** An npub: "npub1" and 58 bech32 characters (the checksum is checked where the list is used). */
const NPUB = /^npub1[02-9ac-hj-np-z]{58}$/;

/** A list of public keys as typed (lines, commas or spaces between): the keys, or the first bad entry. */
export function parseKeyList(text: string): { keys: string[] } | { bad: string } {
  const keys: string[] = [];
  for (const raw of text.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (!HEX_KEY.test(entry) && !NPUB.test(entry)) return { bad: raw.trim() };
    if (!keys.includes(entry)) keys.push(entry);
  }
  return { keys };
}

// [field, min, max] as in src/config.ts.
const INT_FIELDS = [
  ["invoiceExpirySecs", 30, 86_400],
  ["freeJobsPerCustomer", 0, Number.MAX_SAFE_INTEGER],
  ["maxConcurrentJobs", 1, 64],
  ["queueSize", 0, 10_000],
  ["maxQueuedPerCustomer", 1, 10_000],
  ["maxInputBytes", 1, 10_000_000],
  ["maxTokensCap", 1, 1_000_000],
  ["perCustomerPerMinute", 1, 100_000],
  ["jobTimeoutSecs", 1, 86_400],
  ["partialIntervalMs", 100, 600_000],
] as const;

const FLOOR_MAX_MSATS = 1_000_000_000;

// As PUT /api/settings checks the profile (src/server/server.ts).
export const PROFILE_MAX = { name: 100, about: 1000, picture: 2000 } as const;

/** A picture a Nostr client can load: an http(s) address with a host, no spaces (or nothing). */
export function pictureProblem(text: string): string | null {
  const t = text.trim();
  if (t === "") return null;
  if (t.length > PROFILE_MAX.picture) return `At most ${PROFILE_MAX.picture} characters.`;
  let ok = false;
  try {
    const u = new URL(t);
    ok = !/\s/.test(t) && (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    ok = false;
  }
  return ok ? null : "Enter the image's address, starting with https:// (or http://), or leave it empty.";
}

export type SettingsErrors = Partial<Record<keyof SettingsForm, string>>;

export function formToPatch(form: SettingsForm): { ok: true; patch: SettingsPatch } | { ok: false; errors: SettingsErrors } {
  const errors: SettingsErrors = {};
  const ints: Record<string, number> = {};
  for (const [key, min, max] of INT_FIELDS) {
    const t = form[key].trim().replace(/[,_]/g, "");
    const n = /^\d+$/.test(t) ? Number(t) : Number.NaN;
    if (!Number.isSafeInteger(n)) errors[key] = "Enter a whole number.";
    else if (n < min || n > max) errors[key] = max === Number.MAX_SAFE_INTEGER ? `At least ${min}.` : `Between ${min} and ${max}.`;
    else ints[key] = n;
  }
  const perJob = parseSatsToMsats(form.perJobSats);
  const per1k = parseSatsToMsats(form.per1kTokensSats);
  if (perJob === null || Number.isNaN(perJob)) errors.perJobSats = "Enter an amount in sats (up to 3 decimals), 0 for none.";
  if (per1k === null || Number.isNaN(per1k)) errors.per1kTokensSats = "Enter an amount in sats (up to 3 decimals), 0 for none.";
  // As config.ts's pricing.floorMsats: 0 (none) to 1,000,000 sats.
  const floor = parseSatsToMsats(form.floorSats) ?? 0;
  if (Number.isNaN(floor)) errors.floorSats = "Enter an amount in sats (up to 3 decimals), or leave it empty for no floor.";
  else if (floor > FLOOR_MAX_MSATS) errors.floorSats = `At most ${formatMsats(FLOOR_MAX_MSATS)} sats.`;
  if (form.mode !== "free" && perJob === 0 && per1k === 0 && !errors.perJobSats && !errors.per1kTokensSats) {
    errors.perJobSats = "Set a price, or choose the free mode.";
  }
  const lists: Record<"allow" | "deny", string[]> = { allow: [], deny: [] };
  for (const key of ["allow", "deny"] as const) {
    const r = parseKeyList(form[key]);
    if ("bad" in r) errors[key] = `'${r.bad.slice(0, 70)}' is not a public key: use npub1… or 64 hex characters, one per line.`;
    else lists[key] = r.keys;
  }
  const models: Record<string, ModelPricePatch> = {};
  for (const row of form.models) {
    const read = (t: string) => (t.trim() === "" ? null : parseSatsToMsats(t));
    const perJobM = read(row.perJobSats);
    const per1kM = read(row.per1kTokensSats);
    if (Number.isNaN(perJobM) || Number.isNaN(per1kM)) {
      errors.models ??= `${row.name}: enter an amount in sats (up to 3 decimals), or leave it empty for the default.`;
      continue;
    }
    models[row.name] = perJobM === null && per1kM === null ? null : { perJobMsats: perJobM, per1kTokensMsats: per1kM };
  }
  const name = form.name.trim();
  const about = form.about.trim();
  const picture = form.picture.trim();
  if (name.length > PROFILE_MAX.name) errors.name = `At most ${PROFILE_MAX.name} characters.`;
  else if (form.publishProfile && !name) errors.name = "Enter a name to publish your profile.";
  if (about.length > PROFILE_MAX.about) errors.about = `At most ${PROFILE_MAX.about.toLocaleString("en-US")} characters.`;
  const badPicture = pictureProblem(picture);
  if (badPicture) errors.picture = badPicture;
  if (Object.keys(errors).length) return { ok: false, errors };
  return {
    ok: true,
    patch: {
      pricing: {
        mode: form.mode,
        perJobMsats: perJob!,
        per1kTokensMsats: per1k!,
        floorMsats: floor,
        invoiceExpirySecs: ints.invoiceExpirySecs!,
        freeJobsPerCustomer: ints.freeJobsPerCustomer!,
        models,
      },
      limits: {
        maxConcurrentJobs: ints.maxConcurrentJobs!,
        queueSize: ints.queueSize!,
        maxQueuedPerCustomer: ints.maxQueuedPerCustomer!,
        maxInputBytes: ints.maxInputBytes!,
        maxTokensCap: ints.maxTokensCap!,
        perCustomerPerMinute: ints.perCustomerPerMinute!,
        jobTimeoutSecs: ints.jobTimeoutSecs!,
        partialIntervalMs: ints.partialIntervalMs!,
        onOffline: form.onOffline,
        allowPrivateUrls: form.allowPrivateUrls,
        allow: lists.allow,
        deny: lists.deny,
      },
      provider: { name, about, picture, publishProfile: form.publishProfile },
    },
  };
}

/** The served list after flipping one model; null means "every installed model" (config.ts). */
export function toggleServed(models: { name: string; served: boolean }[], name: string): string[] {
  return models.filter((m) => (m.name === name ? !m.served : m.served)).map((m) => m.name);
}
