// Being found: the NIP-89 announcement (kind 31990), its withdrawal (NIP-09 kind 5), the liveness
// heartbeat (kind 11998) and the profile (kind 0). Pure builders returning unsigned templates.
import { nprofileEncode, npubEncode } from "nostr-tools/nip19";
import type { Pricing } from "../config.ts";
import { sameModel } from "../inference/model-name.ts";
import type { EventTemplate } from "./nip90.ts";
import { DELETION, HANDLER_INFO, HEARTBEAT, JOB_REQUEST_TEXT, PROFILE } from "./kinds.ts";

/** Clients treat a provider as alive while its latest beat is at most 900 s old; we beat every 300 s. */
export const HEARTBEAT_INTERVAL_SECS = 300;

export interface Range {
  min: number;
  max: number;
}

export interface ParamRanges {
  maxTokens: Range;
  temperature: Range;
  topK: Range;
  topP: Range;
}

/**
 * The ranges we advertise. nip90.ts enforces top_p ∈ [0,1] and non-negative values; max_tokens above
 * the cap is cut to the cap (toOllamaOptions), so maxTokens.max should be the configured cap.
 */
export function defaultParamRanges(maxTokensCap: number): ParamRanges {
  return {
    maxTokens: { min: 1, max: maxTokensCap },
    temperature: { min: 0, max: 2 },
    topK: { min: 0, max: 1000 },
    topP: { min: 0, max: 1 },
  };
}

export interface AnnouncementOptions {
  /** Stable id of this announcement (the same across restarts, so it replaces itself). */
  d: string;
  name: string;
  about: string;
  picture?: string;
  /** The served model names (Ollama names). */
  models: string[];
  paramRanges: ParamRanges;
  pricing?: Pricing;
  encryption: boolean;
  /** Our pubkey (hex): the content links to the profile (NIP-21 nprofile with relay hints, and the npub). */
  pubkey?: string;
  /** Relay hints for the profile link (the first three are used). */
  relays?: string[];
  /** unix ms */
  now: number;
}

/** Each served model with what it costs (the per-model override, else the default), in msats. */
export function modelPrices(models: string[], pricing: Pricing): Array<{ model: string; perJobMsats: number; per1kTokensMsats: number }> {
  const free = pricing.mode === "free";
  return models.map((model) => {
    const o = Object.entries(pricing.models).find(([name]) => sameModel(name, model))?.[1];
    return {
      model,
      perJobMsats: free ? 0 : (o?.perJobMsats ?? pricing.perJobMsats),
      per1kTokensMsats: free ? 0 : (o?.per1kTokensMsats ?? pricing.per1kTokensMsats),
    };
  });
}

const seconds = (nowMs: number) => Math.floor(nowMs / 1000);

const range = (r: Range) => ({ required: false, values: [] as string[], min: r.min, max: r.max });

/**
 * Kind 31990 with ["d", d] and ["k","5050"] (clients search {kinds:[31990], "#k":["5050"]}).
 * Content JSON: name, about, picture, `encryptionSupported` and nostrdvm's `supportsEncryption`
 * (both, since clients read one or the other), `nip90Params` in nostrdvm's shape
 * ({required, values} plus min/max for ranges), and our pricing. Pricing keys name their unit
 * (…Msats) because there is no agreed field; `amount: "free"` is nostrdvm's marker for free DVMs.
 */
export function buildAnnouncement(opts: AnnouncementOptions): EventTemplate {
  const content: Record<string, unknown> = {
    name: opts.name,
    about: opts.about,
  };
  if (opts.picture) {
    content.picture = opts.picture;
    // Some listings read `image` (NIP-89 examples use the kind-0 fields; DVM listings vary).
    content.image = opts.picture;
  }
  if (opts.pubkey) {
    content.npub = npubEncode(opts.pubkey);
    content.profile = `nostr:${nprofileEncode({ pubkey: opts.pubkey, relays: (opts.relays ?? []).slice(0, 3) })}`;
  }
  content.encryptionSupported = opts.encryption;
  content.supportsEncryption = opts.encryption;
  content.nip90Params = {
    model: { required: false, values: [...opts.models] },
    max_tokens: range(opts.paramRanges.maxTokens),
    temperature: range(opts.paramRanges.temperature),
    top_k: range(opts.paramRanges.topK),
    top_p: range(opts.paramRanges.topP),
  };
  if (opts.pricing) {
    const p = opts.pricing;
    const free = p.mode === "free" || (p.perJobMsats === 0 && p.per1kTokensMsats === 0);
    content.pricing = {
      mode: p.mode,
      perJobMsats: p.mode === "free" ? 0 : p.perJobMsats,
      per1kTokensMsats: p.mode === "free" ? 0 : p.per1kTokensMsats,
      ...(p.mode !== "free" && Object.keys(p.models).length ? { models: p.models } : {}),
      ...(p.freeJobsPerCustomer > 0 ? { freeJobsPerCustomer: p.freeJobsPerCustomer } : {}),
    };
    if (free) content.amount = "free";
    // The models with their prices, one entry each, so a listing need not resolve overrides.
    content.models = modelPrices(opts.models, p);
  }
  return {
    kind: HANDLER_INFO,
    created_at: seconds(opts.now),
    tags: [
      ["d", opts.d],
      ["k", String(JOB_REQUEST_TEXT)],
    ],
    content: JSON.stringify(content),
  };
}

/** Going offline: NIP-09 deletion of the announcement by id and by address. */
export function buildWithdrawal(opts: { announcementId: string; pubkey: string; d: string; now: number }): EventTemplate {
  return {
    kind: DELETION,
    created_at: seconds(opts.now),
    tags: [
      ["e", opts.announcementId],
      ["a", `${HANDLER_INFO}:${opts.pubkey}:${opts.d}`],
      ["k", String(HANDLER_INFO)],
    ],
    content: "provider offline",
  };
}

/** Liveness beat: ["d", the 31990 d], NIP-40 ["expiration", now+300] so stale beats vanish. */
export function buildHeartbeat(opts: { d: string; now: number; paused?: boolean }): EventTemplate {
  const created = seconds(opts.now);
  return {
    kind: HEARTBEAT,
    created_at: created,
    tags: [
      ["d", opts.d],
      ["expiration", String(created + HEARTBEAT_INTERVAL_SECS)],
      // Alive but taking no jobs for now (the owner's machine is busy). Why is not published:
      // "the owner is at the keyboard" would tell the world when someone is home.
      ...(opts.paused ? [["status", "paused"]] : []),
    ],
    content: opts.paused ? "paused" : "",
  };
}

/** Kind 0 profile. `bot: true` (NIP-24) tells clients this account answers automatically. */
export function buildProfile(opts: { name: string; about: string; picture?: string; now: number }): EventTemplate {
  const content: Record<string, unknown> = { name: opts.name, about: opts.about };
  if (opts.picture) content.picture = opts.picture;
  content.bot = true;
  return { kind: PROFILE, created_at: seconds(opts.now), tags: [], content: JSON.stringify(content) };
}
