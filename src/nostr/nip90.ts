// NIP-90 (Data Vending Machines) for kind 5050 text generation: parse requests, build feedback
// and results, read cancellations and pings (zap receipts: nip57.ts). Pure: no I/O, no clock
// (callers pass `now`), no signing (callers finalize the returned templates).
//
// Sources: nostr-protocol/nips 90.md, 09.md, 40.md, 57.md; data-vending-machines kinds/5050.md.
// Real clients differ a lot, so parsing is liberal where the meaning is still clear and strict
// (a reason, never a throw) where it is not.
import { z } from "zod";
import { AppError } from "../errors.ts";
import { decryptFrom, detectScheme, EncryptionScheme, encryptFor } from "./crypto.ts";
import { DELETION, JOB_FEEDBACK, JOB_REQUEST_TEXT, JOB_RESULT_TEXT, PING } from "./kinds.ts";
import { hasEventShape } from "./signer.ts";

// ---------------------------------------------------------------------------------------------
// Shapes

export const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters");
const Hex128 = z.string().regex(/^[0-9a-f]{128}$/, "must be 128 lowercase hex characters");

/** A signed event as it arrives from a relay (NIP-01). The signature is checked by the pool. */
export const NostrEvent = z.object({
  id: Hex64,
  pubkey: Hex64,
  created_at: z.int().nonnegative(),
  kind: z.int().min(0).max(65_535),
  tags: z.array(z.array(z.string())),
  content: z.string(),
  sig: Hex128,
});
export type NostrEvent = z.infer<typeof NostrEvent>;

/**
 * NostrEvent.safeParse, without zod for a well-formed event: every event the pool hands on has
 * passed hasEventShape (the same rules written out, test/nostr/signer.test.ts checks they agree),
 * so zod runs only to word the reason for a bad one. The data is a copy with the NIP-01 fields
 * alone, as the schema's output is (a relay's extra fields are not kept).
 */
export function eventShape(input: unknown): { success: true; data: NostrEvent } | { success: false; error: z.ZodError } {
  if (hasEventShape(input)) {
    const e = input;
    return { success: true, data: { id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig } };
  }
  const checked = NostrEvent.safeParse(input);
  // hasEventShape and the schema agree, so this is a failure; if they ever did not, the schema decides.
  return checked.success ? { success: true, data: checked.data } : { success: false, error: checked.error };
}

/** What the builders return; the caller signs it (finalizeEvent). */
export interface EventTemplate {
  kind: number;
  created_at: number; // unix seconds
  tags: string[][];
  content: string;
}

export const JobInputType = z.enum(["text", "url", "event", "job"]);
export type JobInputType = z.infer<typeof JobInputType>;

export const JobInput = z.object({
  data: z.string(),
  type: JobInputType,
  relay: z.string().optional(),
  marker: z.string().optional(),
});
export type JobInput = z.infer<typeof JobInput>;

export const JobParams = z.object({
  model: z.string().optional(),
  maxTokens: z.int().positive().optional(),
  temperature: z.number().nonnegative().optional(),
  topK: z.int().nonnegative().optional(),
  topP: z.number().min(0).max(1).optional(),
  frequencyPenalty: z.number().optional(),
  /** Every other param, as sent (kinds/5050.md allows unknown params). */
  other: z.record(z.string(), z.string()),
});
export type JobParams = z.infer<typeof JobParams>;

export const JobRequest = z.object({
  id: Hex64,
  kind: z.int(),
  /** The customer's hex pubkey (the request's author). */
  customer: Hex64,
  /** The request's created_at (unix seconds). */
  createdAt: z.int().nonnegative(),
  /** In order; several inputs are joined in this order (PROTOCOL.md). */
  inputs: z.array(JobInput),
  params: JobParams,
  /** `output` tag mime type, e.g. text/plain; null when absent. */
  output: z.string().nullable(),
  /** The most the customer will pay, in millisats; null when absent. */
  bidMsats: z.int().nonnegative().nullable(),
  /** ws(s) URLs from the `relays` tag(s), deduplicated, in order. */
  relays: z.array(z.string()),
  /** The preferred provider: our pubkey if we are among the p tags, else the first p tag, else null. */
  pTag: Hex64.nullable(),
  /** NIP-40 expiration (unix seconds) or null. */
  expiration: z.int().nonnegative().nullable(),
  /** The scheme the request was encrypted with; replies must use the same one. */
  encrypted: EncryptionScheme.nullable(),
  /** The original event, for the result's `request` tag. */
  raw: NostrEvent,
});
export type JobRequest = z.infer<typeof JobRequest>;

/** Just enough of a request to address feedback to it (also available when parsing failed). */
export interface RequestRef {
  id: string;
  customer: string;
  encrypted: EncryptionScheme | null;
}

export type ParseResult =
  | { ok: true; request: JobRequest }
  | {
      ok: false;
      reason: string;
      /**
       * true: say nothing (not a request, not ours, or we can't even read it). false: the reason is
       * written for the customer; send it as `error` feedback to `ref`.
       */
      silent: boolean;
      /** Set when the event itself was well-formed, so feedback can be addressed. */
      ref: RequestRef | null;
    };

// ---------------------------------------------------------------------------------------------
// Parsing helpers

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function parseNumber(value: string): number | null {
  const v = value.trim();
  if (!NUMBER.test(v)) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

class Reject extends Error {}

function firstIssue(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return "invalid";
  return `${issue.path.length ? issue.path.join(".") : "event"} ${issue.message}`;
}

/**
 * Whole millisats. Liberal: "1000", " 1000 ", "1000.0" (floored). Numbers beyond what a JS number
 * holds exactly are clamped: a bid that large only means "any price" (2^53 msats > all bitcoin).
 */
export function parseMsats(value: string, what: string): number {
  const v = value.trim();
  const m = /^(\d+)(\.\d*)?$/.exec(v);
  if (!m) throw new Reject(`${what} must be a whole number of millisats (got "${value.slice(0, 40)}")`);
  const big = BigInt(m[1]!);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
}

function applyParam(params: JobParams, key: string, value: string): void {
  const k = key.trim().toLowerCase();
  const bad = (expect: string) =>
    new Reject(`param ${key} must be ${expect} (got "${value.slice(0, 40)}")`);
  switch (k) {
    case "model": {
      const m = value.trim();
      if (m) params.model = m;
      return;
    }
    case "max_tokens":
    case "max-tokens":
    case "maxtokens": {
      const n = parseNumber(value);
      if (n === null || !Number.isInteger(n) || n <= 0) throw bad("a whole number above 0");
      params.maxTokens = n;
      return;
    }
    case "temperature": {
      const n = parseNumber(value);
      if (n === null || n < 0) throw bad("a number of 0 or more");
      params.temperature = n;
      return;
    }
    case "top_k":
    case "top-k":
    case "topk": {
      const n = parseNumber(value);
      if (n === null || !Number.isInteger(n) || n < 0) throw bad("a whole number of 0 or more");
      params.topK = n;
      return;
    }
    case "top_p":
    case "top-p":
    case "topp": {
      const n = parseNumber(value);
      if (n === null || n < 0 || n > 1) throw bad("a number from 0 to 1");
      params.topP = n;
      return;
    }
    case "frequency_penalty":
    case "frequency-penalty": {
      const n = parseNumber(value);
      if (n === null) throw bad("a number");
      params.frequencyPenalty = n;
      return;
    }
    default:
      params.other[key] = value;
  }
}

function parseInput(tag: string[]): JobInput {
  const data = tag[1] ?? "";
  // A missing type is read as text; kinds/5050.md's own example writes `prompt`, which means text.
  const rawType = (tag[2] ?? "").trim().toLowerCase();
  const type = rawType === "" || rawType === "prompt" ? "text" : rawType;
  const checked = JobInputType.safeParse(type);
  if (!checked.success) {
    throw new Reject(`input type "${(tag[2] ?? "").slice(0, 40)}" is not supported; use text, url, event or job`);
  }
  const input: JobInput = { data, type: checked.data };
  if (tag[3]) input.relay = tag[3];
  if (tag[4]) input.marker = tag[4];
  return input;
}

/** Decrypted content must be a JSON array of tags; numbers and booleans are read as strings. */
function parseTagArray(text: string): string[][] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Reject("the encrypted content is not JSON; it must be a JSON array of i and param tags");
  }
  if (!Array.isArray(parsed)) throw new Reject("the encrypted content must be a JSON array of i and param tags");
  return parsed.map((tag) => {
    if (!Array.isArray(tag)) throw new Reject("the encrypted content must be a JSON array of tags (arrays of strings)");
    return tag.map((v) => {
      if (typeof v === "string") return v;
      if (typeof v === "number" || typeof v === "boolean") return String(v);
      throw new Reject("the encrypted content must be a JSON array of tags (arrays of strings)");
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface ParseOptions {
  providerPubkey: string;
  providerSecretKey: Uint8Array;
}

/**
 * Reads a kind 5050 job request. Never throws on bad input: a bad event gives {ok:false, reason}.
 * The signature is not checked here (the pool verifies every event it passes on).
 */
export function parseJobRequest(event: unknown, opts: ParseOptions): ParseResult {
  const shape = eventShape(event);
  if (!shape.success) {
    return { ok: false, reason: `not a valid event: ${firstIssue(shape.error)}`, silent: true, ref: null };
  }
  const ev = shape.data;
  if (ev.kind !== JOB_REQUEST_TEXT) {
    return { ok: false, reason: `kind ${ev.kind} is not a kind ${JOB_REQUEST_TEXT} job request`, silent: true, ref: null };
  }

  const pTags = ev.tags.filter((t) => t[0] === "p" && typeof t[1] === "string").map((t) => t[1]!.toLowerCase());
  const forUs = pTags.includes(opts.providerPubkey);
  const pTag = forUs ? opts.providerPubkey : (pTags.find((p) => Hex64.safeParse(p).success) ?? null);
  const isEncrypted = ev.tags.some((t) => t[0] === "encrypted");

  let tags = ev.tags;
  let encrypted: EncryptionScheme | null = null;
  if (isEncrypted) {
    // NIP-90: an encrypted request is encrypted to the p-tagged provider; if that's someone else
    // we can't read it and it isn't ours anyway.
    if (pTags.length > 0 && !forUs) return { ok: false, reason: "not for us", silent: true, ref: null };
    const scheme = detectScheme(ev.content.trim());
    // Loud only when the customer addressed us explicitly: then they deserve to hear why.
    const loud = forUs;
    if (!scheme) {
      return {
        ok: false,
        reason: "the encrypted content is neither NIP-04 nor NIP-44 ciphertext",
        silent: !loud,
        ref: loud ? { id: ev.id, customer: ev.pubkey, encrypted: null } : null,
      };
    }
    encrypted = scheme;
    const ref: RequestRef = { id: ev.id, customer: ev.pubkey, encrypted: scheme };
    let plaintext: string;
    try {
      plaintext = decryptFrom(scheme, opts.providerSecretKey, ev.pubkey, ev.content.trim());
    } catch {
      if (!loud) return { ok: false, reason: "not for us", silent: true, ref: null };
      return { ok: false, reason: `could not decrypt the ${scheme} content with this provider's key`, silent: false, ref };
    }
    try {
      // The encrypted array carries the i and param tags; keep the plaintext ones (p, encrypted)
      // too so nothing the customer sent is lost.
      tags = [...ev.tags, ...parseTagArray(plaintext)];
    } catch (err) {
      return { ok: false, reason: (err as Error).message, silent: false, ref };
    }
  }

  const ref: RequestRef = { id: ev.id, customer: ev.pubkey, encrypted };
  try {
    const inputs: JobInput[] = [];
    const params: JobParams = { other: {} };
    let output: string | null = null;
    let bidMsats: number | null = null;
    let expiration: number | null = null;
    const relays: string[] = [];
    for (const tag of tags) {
      const [name, v1] = tag;
      if (name === "i") inputs.push(parseInput(tag));
      else if (name === "param" && typeof v1 === "string" && tag.length >= 3) applyParam(params, v1, tag[2]!);
      else if (name === "output" && v1?.trim()) output = v1.trim();
      else if (name === "bid" && v1?.trim()) bidMsats = parseMsats(v1, "bid");
      else if (name === "relays") {
        for (const url of tag.slice(1)) {
          const u = url.trim();
          if (/^wss?:\/\/[^\s/]+/i.test(u) && !relays.includes(u)) relays.push(u);
        }
      } else if (name === "expiration" && v1 !== undefined) {
        const n = parseNumber(v1);
        // NIP-40: a unix timestamp in seconds. An unreadable one means we can't honour it.
        if (n === null || !Number.isInteger(n) || n < 0) {
          throw new Reject(`expiration must be a unix timestamp in seconds (got "${v1.slice(0, 40)}")`);
        }
        expiration = n;
      }
    }
    // kinds/5050.md: with no `i` tag, content is the prompt. (Encrypted content is the ciphertext.)
    if (inputs.length === 0 && !encrypted && ev.content.trim() !== "") {
      inputs.push({ data: ev.content, type: "text" });
    }
    if (inputs.length === 0) throw new Reject("the request has no input: add an i tag or put the prompt in content");
    if (inputs.every((i) => i.data.trim() === "")) throw new Reject("the request's input is empty");

    const request: JobRequest = {
      id: ev.id,
      kind: ev.kind,
      customer: ev.pubkey,
      createdAt: ev.created_at,
      inputs,
      params,
      output,
      bidMsats,
      relays,
      pTag,
      expiration,
      encrypted,
      raw: ev,
    };
    return { ok: true, request };
  } catch (err) {
    if (err instanceof Reject) return { ok: false, reason: err.message, silent: false, ref };
    // A bug of ours must still not take down the relay loop.
    return { ok: false, reason: `could not read the request: ${(err as Error).message}`, silent: false, ref };
  }
}

// ---------------------------------------------------------------------------------------------
// Feedback and results

export const FeedbackStatus = z.enum(["payment-required", "processing", "partial", "error", "success", "pong"]);
export type FeedbackStatus = z.infer<typeof FeedbackStatus>;

export interface Amount {
  msats: number;
  bolt11?: string;
}

const seconds = (nowMs: number) => Math.floor(nowMs / 1000);

function eTag(id: string, relayHint?: string): string[] {
  return relayHint ? ["e", id, relayHint] : ["e", id];
}

function amountTag(amount: Amount): string[] {
  if (!Number.isSafeInteger(amount.msats) || amount.msats < 0) {
    throw new AppError("internal", `amount must be whole millisats, got ${amount.msats}`);
  }
  return amount.bolt11 ? ["amount", String(amount.msats), amount.bolt11] : ["amount", String(amount.msats)];
}

export interface FeedbackOptions {
  request: RequestRef;
  status: FeedbackStatus;
  /** Human-readable words after the status (for `error`: what the customer can do about it). */
  extraInfo?: string;
  /** Empty, or a (partial) result for `partial`. */
  content?: string;
  amount?: Amount;
  relayHint?: string;
  /** Needed to encrypt feedback to an encrypted request. */
  providerSecretKey: Uint8Array;
  /** unix ms */
  now: number;
}

/**
 * Kind 7000 feedback. Tags: ["status", s, extra?], ["e", job, hint?], ["p", customer],
 * ["amount", msats, bolt11?].
 *
 * Encrypted requests (NIP-90: "content field will have encrypted payload with p tag as key"): the
 * spec does not say which tags stay public, so we do what nostrdvm, the most used implementation,
 * does and its clients decrypt: the public tags are only ["p"], ["e"] and ["encrypted"] (enough to
 * route the event to the customer and job), and `content` is the encrypted JSON array of the full
 * tag list (status, amount, e, p) plus ["content", text] when there is text. So the status, the
 * price and any partial output are readable only by the customer. The scheme is the request's.
 */
export function buildFeedback(opts: FeedbackOptions): EventTemplate {
  const { request, status } = opts;
  if (status === "payment-required" && !opts.amount?.bolt11) {
    // PROTOCOL.md: payment-required always carries an invoice; without one nobody can pay.
    throw new AppError("internal", "payment-required feedback needs an amount with a bolt11 invoice");
  }
  const statusTag = opts.extraInfo ? ["status", status, opts.extraInfo] : ["status", status];
  const tags: string[][] = [statusTag, eTag(request.id, opts.relayHint), ["p", request.customer]];
  if (opts.amount) tags.push(amountTag(opts.amount));
  const content = opts.content ?? "";
  if (!request.encrypted) {
    return { kind: JOB_FEEDBACK, created_at: seconds(opts.now), tags, content };
  }
  const secret = content ? [...tags, ["content", content]] : tags;
  return {
    kind: JOB_FEEDBACK,
    created_at: seconds(opts.now),
    tags: [["p", request.customer], eTag(request.id, opts.relayHint), ["encrypted"]],
    content: encryptFor(request.encrypted, opts.providerSecretKey, request.customer, JSON.stringify(secret)),
  };
}

export interface ResultOptions {
  request: JobRequest;
  /** The generated text. */
  content: string;
  /** When payment is due after delivery. */
  amount?: Amount;
  relayHint?: string;
  providerSecretKey: Uint8Array;
  /** unix ms */
  now: number;
}

/**
 * Kind 6050 result: ["request", <request JSON>], ["e", job, hint?], the request's `i` tags copied,
 * ["p", customer], ["amount", msats, bolt11?] when given. For an encrypted request (NIP-90
 * "Encrypted Output"): content is encrypted in the request's scheme, `i` tags are left out (they
 * would leak the prompt), and ["encrypted"] is added.
 * Throws AppError("invalid_input") when a NIP-44 result exceeds 65535 bytes.
 */
export function buildResult(opts: ResultOptions): EventTemplate {
  const { request } = opts;
  const tags: string[][] = [["request", JSON.stringify(request.raw)], eTag(request.id, opts.relayHint)];
  if (!request.encrypted) for (const t of request.raw.tags) if (t[0] === "i") tags.push([...t]);
  tags.push(["p", request.customer]);
  if (opts.amount) tags.push(amountTag(opts.amount));
  if (request.encrypted) tags.push(["encrypted"]);
  const content = request.encrypted
    ? encryptFor(request.encrypted, opts.providerSecretKey, request.customer, opts.content)
    : opts.content;
  return { kind: JOB_RESULT_TEXT, created_at: seconds(opts.now), tags, content };
}

// ---------------------------------------------------------------------------------------------
// Cancellation (NIP-09)

/** The event ids a kind 5 deletion asks to delete (its e tags). Not a deletion → []. */
export function parseDeletion(event: unknown): string[] {
  const shape = eventShape(event);
  if (!shape.success || shape.data.kind !== DELETION) return [];
  const ids: string[] = [];
  for (const t of shape.data.tags) {
    if (t[0] === "e" && t[1] && Hex64.safeParse(t[1]).success && !ids.includes(t[1])) ids.push(t[1]);
  }
  return ids;
}

/** NIP-09: only the request's own author may cancel it. */
export function cancelsJob(deletion: unknown, request: Pick<JobRequest, "id" | "customer">): boolean {
  const shape = eventShape(deletion);
  if (!shape.success || shape.data.pubkey !== request.customer) return false;
  return parseDeletion(shape.data).includes(request.id);
}

// ---------------------------------------------------------------------------------------------
// Ping / pong (liveness convention around NIP-89)

export interface Ping {
  id: string;
  /** The pinger's pubkey. */
  from: string;
}

/** A kind 7007 ping addressed to us (p tag); anything else → null. */
export function parsePing(event: unknown, providerPubkey: string): Ping | null {
  const shape = eventShape(event);
  if (!shape.success || shape.data.kind !== PING) return null;
  // Only pings p-tagged to us: answering every ping on the relay would be spam.
  if (!shape.data.tags.some((t) => t[0] === "p" && t[1] === providerPubkey)) return null;
  return { id: shape.data.id, from: shape.data.pubkey };
}

/** Kind 7000 with ["status","pong"], ["e", ping id, hint?], ["p", pinger]. */
export function buildPong(opts: { ping: Ping; relayHint?: string; now: number }): EventTemplate {
  return {
    kind: JOB_FEEDBACK,
    created_at: seconds(opts.now),
    tags: [["status", "pong"], eTag(opts.ping.id, opts.relayHint), ["p", opts.ping.from]],
    content: "",
  };
}

// ---------------------------------------------------------------------------------------------
// Ollama options

export interface OllamaOptions {
  num_predict: number;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  frequency_penalty?: number;
}

/**
 * Maps 5050 params to Ollama options (max_tokens → num_predict, top_k/top-k → top_k, …); only the
 * params the customer gave are set, except num_predict, which is always set: the cap is our spam
 * limit (PROTOCOL.md) and without it Ollama would generate until the model stops on its own.
 */
export function toOllamaOptions(params: JobParams, opts: { maxTokensCap: number }): OllamaOptions {
  const out: OllamaOptions = { num_predict: Math.min(params.maxTokens ?? opts.maxTokensCap, opts.maxTokensCap) };
  if (params.temperature !== undefined) out.temperature = params.temperature;
  if (params.topK !== undefined) out.top_k = params.topK;
  if (params.topP !== undefined) out.top_p = params.topP;
  if (params.frequencyPenalty !== undefined) out.frequency_penalty = params.frequencyPenalty;
  return out;
}
