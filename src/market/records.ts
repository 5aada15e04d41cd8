// What the market reader keeps of one relay event: a small flat record, parsed with explicit checks
// and bounded (names, models, amounts, contents). Pure: no I/O. Events from strangers are input
// like any other: a wrong kind, a missing tag, an absurd amount or a huge content gives null or a
// record without that field, never an exception.
import { HANDLER_INFO, HEARTBEAT, JOB_FEEDBACK, JOB_REQUEST_TEXT, JOB_RESULT_TEXT, PROFILE } from "../nostr/kinds.ts";

/**
 * More than this is no price anyone pays for one text job (1M sats): a typo, a joke or an attempt
 * to skew the market. Such amounts are dropped, never clamped (a clamped value still skews).
 */
export const MAX_PLAUSIBLE_MSATS = 1_000_000_000;
/** Announcement/profile contents longer than this are not parsed (real ones are a few hundred bytes). */
export const MAX_PARSED_CONTENT = 16_384;
export const MAX_NAME_CHARS = 100;
export const MAX_ABOUT_CHARS = 300;
export const MAX_PICTURE_CHARS = 500;
export const MAX_MODEL_CHARS = 100;
export const MAX_MODELS = 50;
/** Request → result times beyond a day are not a provider's speed (a stale replay, a wrong clock). */
export const MAX_RESULT_SECS = 86_400;

export interface MarketEventInput {
  id: string;
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
}

/** Profile or announcement details (kept as JSON in the store). */
export interface ProviderInfo {
  name?: string;
  about?: string;
  picture?: string;
  models?: string[];
  encryption?: boolean;
  /** Prices the announcement states (our own `pricing` block or nostrdvm's `amount: "free"`). */
  perJobMsats?: number;
  per1kTokensMsats?: number;
  /** Per-model overrides stated in the announcement (public model name → msats per job). */
  modelPrices?: Record<string, number>;
}

export interface MarketRecord {
  id: string;
  kind: number;
  pubkey: string;
  /** The event's own created_at (unix seconds). */
  createdAt: number;
  /** When we received it (unix ms, our clock). */
  receivedAt: number;
  /** 7000/6050: the request it answers (`e`); 31990/11998: the `d` tag. */
  ref: string | null;
  /** 5050: `param model` (lower-cased, trimmed); 6050: the model of the request it carries, if any. */
  model: string | null;
  /** 5050: the `bid` (msats), plausible only. */
  bidMsats: number | null;
  /** 7000/6050: the `amount` (msats), plausible only. */
  amountMsats: number | null;
  /** 7000: the status. */
  status: string | null;
  /** 5050: the `p` tag (a provider it is addressed to). */
  target: string | null;
  encrypted: boolean;
  /** 6050: an estimate of the output tokens (content chars / 4) when not encrypted. */
  tokens: number | null;
  info: ProviderInfo | null;
}

const HEX64 = /^[0-9a-f]{64}$/;

function tag(tags: string[][], name: string): string[] | undefined {
  return tags.find((t) => Array.isArray(t) && t[0] === name);
}

function str(v: unknown, max: number): string | undefined {
  if (typeof v !== "string") return undefined;
  const s = v.trim();
  return s ? s.slice(0, max) : undefined;
}

/** A whole, non-negative, plausible millisat amount from a tag value; null otherwise. */
export function plausibleMsats(v: unknown): number | null {
  if (typeof v !== "string" || !/^\d{1,16}$/.test(v.trim())) return null;
  const n = Number(v.trim());
  return Number.isSafeInteger(n) && n >= 0 && n <= MAX_PLAUSIBLE_MSATS ? n : null;
}

function plausibleNumber(v: unknown): number | undefined {
  const n = typeof v === "string" ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0 && n <= MAX_PLAUSIBLE_MSATS ? n : undefined;
}

export function normalizeModel(name: string): string {
  return name.trim().toLowerCase().slice(0, MAX_MODEL_CHARS);
}

function parseJsonObject(content: string): Record<string, unknown> | null {
  if (content.length === 0 || content.length > MAX_PARSED_CONTENT) return null;
  try {
    const v: unknown = JSON.parse(content);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function pictureOf(v: unknown): string | undefined {
  const s = str(v, MAX_PICTURE_CHARS + 1);
  if (!s || s.length > MAX_PICTURE_CHARS) return undefined;
  return /^https?:\/\//i.test(s) ? s : undefined;
}

function profileInfo(content: string): ProviderInfo | null {
  const o = parseJsonObject(content);
  if (!o) return null;
  const info: ProviderInfo = {};
  const name = str(o.display_name, MAX_NAME_CHARS) ?? str(o.name, MAX_NAME_CHARS);
  if (name) info.name = name;
  const about = str(o.about, MAX_ABOUT_CHARS);
  if (about) info.about = about;
  const picture = pictureOf(o.picture);
  if (picture) info.picture = picture;
  return info;
}

function announcementInfo(content: string): ProviderInfo {
  const o = parseJsonObject(content);
  if (!o) return {};
  const info = profileInfo(content) ?? {};
  const params = o.nip90Params as Record<string, unknown> | undefined;
  const model = params && typeof params === "object" ? (params.model as Record<string, unknown> | undefined) : undefined;
  const values = model && typeof model === "object" && Array.isArray(model.values) ? model.values : [];
  const models = [...new Set(values.filter((v): v is string => typeof v === "string" && v.trim() !== "").map(normalizeModel))].slice(0, MAX_MODELS);
  if (models.length) info.models = models;
  const enc = o.encryptionSupported ?? o.supportsEncryption;
  if (typeof enc === "boolean") info.encryption = enc;
  const pricing = o.pricing as Record<string, unknown> | undefined;
  if (pricing && typeof pricing === "object") {
    const perJob = plausibleNumber(pricing.perJobMsats);
    const per1k = plausibleNumber(pricing.per1kTokensMsats);
    if (perJob !== undefined) info.perJobMsats = perJob;
    if (per1k !== undefined) info.per1kTokensMsats = per1k;
    const overrides = pricing.models as Record<string, unknown> | undefined;
    if (overrides && typeof overrides === "object" && !Array.isArray(overrides)) {
      const modelPrices: Record<string, number> = {};
      for (const [name, o2] of Object.entries(overrides).slice(0, MAX_MODELS)) {
        const p = o2 && typeof o2 === "object" ? plausibleNumber((o2 as Record<string, unknown>).perJobMsats) : undefined;
        if (p !== undefined) modelPrices[normalizeModel(name)] = p;
      }
      if (Object.keys(modelPrices).length) info.modelPrices = modelPrices;
    }
  }
  if (o.amount === "free" && info.perJobMsats === undefined) info.perJobMsats = 0;
  return info;
}

/**
 * The record kept for one event, or null when the market has no use for it (wrong kind, an
 * announcement for another job kind, feedback answering nothing, bad ids or times).
 */
export function toRecord(e: MarketEventInput, receivedAtMs: number): MarketRecord | null {
  if (!e || typeof e !== "object" || !HEX64.test(e.id) || !HEX64.test(e.pubkey)) return null;
  if (!Number.isSafeInteger(e.created_at) || e.created_at <= 0 || !Array.isArray(e.tags) || typeof e.content !== "string") return null;
  // A created_at far in the future would outlive every prune and pin `since`: refused.
  if (e.created_at * 1000 > receivedAtMs + 15 * 60_000) return null;
  const base: MarketRecord = {
    id: e.id,
    kind: e.kind,
    pubkey: e.pubkey,
    createdAt: e.created_at,
    receivedAt: receivedAtMs,
    ref: null,
    model: null,
    bidMsats: null,
    amountMsats: null,
    status: null,
    target: null,
    encrypted: tag(e.tags, "encrypted") !== undefined,
    tokens: null,
    info: null,
  };
  const eTag = tag(e.tags, "e")?.[1];
  const ref = typeof eTag === "string" && HEX64.test(eTag) ? eTag : null;
  switch (e.kind) {
    case JOB_REQUEST_TEXT: {
      for (const t of e.tags) {
        if (t[0] === "param" && t[1] === "model" && typeof t[2] === "string" && t[2].trim()) base.model = normalizeModel(t[2]);
      }
      base.bidMsats = plausibleMsats(tag(e.tags, "bid")?.[1]);
      const p = tag(e.tags, "p")?.[1];
      base.target = typeof p === "string" && HEX64.test(p) ? p : null;
      return base;
    }
    case JOB_RESULT_TEXT:
    case JOB_FEEDBACK: {
      if (!ref) return null;
      base.ref = ref;
      base.amountMsats = plausibleMsats(tag(e.tags, "amount")?.[1]);
      if (e.kind === JOB_FEEDBACK) {
        const s = tag(e.tags, "status")?.[1];
        base.status = typeof s === "string" ? s.slice(0, 40) : null;
      } else if (!base.encrypted && e.content.length > 0) {
        base.tokens = Math.max(1, Math.ceil(e.content.length / 4));
      }
      return base;
    }
    case HANDLER_INFO: {
      if (!e.tags.some((t) => t[0] === "k" && t[1] === String(JOB_REQUEST_TEXT))) return null;
      const d = tag(e.tags, "d")?.[1];
      base.ref = typeof d === "string" ? d.slice(0, 200) : null;
      base.info = announcementInfo(e.content);
      return base;
    }
    case HEARTBEAT: {
      const d = tag(e.tags, "d")?.[1];
      base.ref = typeof d === "string" ? d.slice(0, 200) : null;
      base.status = tag(e.tags, "status")?.[1] === "paused" ? "paused" : null;
      return base;
    }
    case PROFILE: {
      base.info = profileInfo(e.content) ?? {};
      return base;
    }
    default:
      return null;
  }
}

/** The parameter count a model name states ("llama3.2:3b" → 3, "mixtral:8x7b" → 56), in billions; null when it says none. */
export function parameterBillions(model: string): number | null {
  const m = /(?:^|[^a-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)([bm])(?![a-z])/i.exec(model.toLowerCase().replace(/^[^:]*\//, ""));
  if (!m) return null;
  const n = Number(m[2]) * (m[1] ? Number(m[1]) : 1);
  return m[3] === "m" ? n / 1000 : n;
}

export type SizeClass = "tiny" | "small" | "medium" | "large" | "huge";

/** Size classes by parameters: tiny < 2B ≤ small < 5B ≤ medium < 15B ≤ large < 50B ≤ huge. */
export function sizeClass(model: string): SizeClass | null {
  const b = parameterBillions(model);
  if (b === null) return null;
  if (b < 2) return "tiny";
  if (b < 5) return "small";
  if (b < 15) return "medium";
  if (b < 50) return "large";
  return "huge";
}
