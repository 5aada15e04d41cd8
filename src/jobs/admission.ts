// Whether to take a job: pure decisions the engine calls with what it knows. Silent rejects send
// nothing (the request isn't ours to answer); loud rejects carry a reason written for the
// customer, sent as `error` feedback (NIP-90: extra-info says why).
import { decode } from "nostr-tools/nip19";
import type { Limits, PaymentMode } from "../config.ts";
import { chooseModel } from "../inference/model-name.ts";
import type { JobRequest } from "../nostr/nip90.ts";

export interface AdmissionContext {
  providerPubkey: string;
  /** unix ms */
  now: number;
  limits: Limits;
  servedModels: string[];
  defaultModel?: string;
  /** The model already chosen for this request (chooseModel with the same inputs); chosen here when absent. */
  model?: string | null;
  /** Whether this request id was handled already (it arrives through several relays). */
  seen: (id: string) => boolean;
  /** How many requests this customer made since `sinceMs` (unix ms), not counting this one. */
  customerRecent: (pubkey: string, sinceMs: number) => number;
  /** Jobs generating now. */
  activeCount: number;
  /** Jobs waiting for a slot. */
  queuedCount: number;
  /** Jobs of this request's customer among them (limits.maxQueuedPerCustomer). */
  customerQueued: number;
  /** Our price for this job in msats (pricing.priceFor). */
  price: number;
  paymentMode: PaymentMode;
  /**
   * Set while the owner's machine is busy (pause, src/service/busy.ts): newcomers hear "busy, try
   * another provider" at once rather than waiting on a provider that won't start their job.
   */
  paused?: string | null;
}

export type Admission =
  | { accept: true; model: string }
  | { accept: false; silent: boolean; reason: string };

const RATE_WINDOW_MS = 60_000;

/** Allow/deny entries may be npub or hex; unreadable entries match nobody. */
export function toHexPubkey(entry: string): string | null {
  const e = entry.trim();
  if (/^[0-9a-fA-F]{64}$/.test(e)) return e.toLowerCase();
  if (e.toLowerCase().startsWith("npub1")) {
    try {
      const d = decode(e.toLowerCase() as `npub1${string}`);
      if (d.type === "npub") return d.data;
    } catch {
      return null;
    }
  }
  return null;
}

function listHas(list: string[], pubkey: string): boolean {
  return list.some((entry) => toHexPubkey(entry) === pubkey);
}

/** UTF-8 bytes of all inputs: what we'd feed the model (url/event/job inputs count their reference). */
export function inputBytes(request: Pick<JobRequest, "inputs">): number {
  const enc = new TextEncoder();
  return request.inputs.reduce((n, i) => n + enc.encode(i.data).length, 0);
}

export function admit(request: JobRequest, ctx: AdmissionContext): Admission {
  const silent = (reason: string): Admission => ({ accept: false, silent: true, reason });
  const loud = (reason: string): Admission => ({ accept: false, silent: false, reason });
  const { limits } = ctx;

  // Not ours, or already handled: answering would be noise on the relays.
  if (request.pTag !== null && request.pTag !== ctx.providerPubkey) return silent("addressed to another provider");
  if (ctx.seen(request.id)) return silent("already seen");
  // NIP-40: never start an expired job (an expiration equal to now has expired too).
  if (request.expiration !== null && request.expiration * 1000 <= ctx.now) return silent("expired");
  // The reason stays on the dashboard: the public is told only that we are busy.
  if (ctx.paused) return loud("busy, try another provider");

  if (listHas(limits.deny, request.customer)) return loud("this provider does not accept jobs from you");
  if (limits.allow.length > 0 && !listHas(limits.allow, request.customer)) {
    return loud("this provider only takes jobs from the people on its allow list");
  }

  const bytes = inputBytes(request);
  if (bytes > limits.maxInputBytes) {
    return loud(`input is ${bytes} bytes; this provider accepts at most ${limits.maxInputBytes}`);
  }

  // Each url input is an outbound GET made for the customer: a few per request, not 1,391.
  const urls = request.inputs.filter((i) => i.type === "url").length;
  if (urls > limits.maxUrlInputs) return loud(`at most ${limits.maxUrlInputs} url inputs per request; this one has ${urls}`);

  if (ctx.customerRecent(request.customer, ctx.now - RATE_WINDOW_MS) >= limits.perCustomerPerMinute) {
    return loud(`too many requests: at most ${limits.perCustomerPerMinute} per minute per customer`);
  }

  if (ctx.servedModels.length === 0) return loud("no models are available on this provider right now");
  const model = ctx.model !== undefined ? ctx.model : chooseModel(request.params, ctx.servedModels, ctx.defaultModel);
  if (!model) {
    return loud(`model ${request.params.model} is not offered here; offered: ${ctx.servedModels.join(", ")}`);
  }

  // NIP-90 bid: the most the customer will pay. No bid means no stated limit.
  if (ctx.paymentMode !== "free" && request.bidMsats !== null && request.bidMsats < ctx.price) {
    return loud(`bid ${request.bidMsats} msats is below this provider's price of ${ctx.price} msats`);
  }

  // A job that starts at once waits for nothing. One that would wait takes a place in a queue
  // shared by every customer: each customer gets at most maxQueuedPerCustomer of its places, so
  // one customer's burst can't fill it for the others (checked first: it is the reason the
  // customer can act on).
  const freeSlot = ctx.activeCount < limits.maxConcurrentJobs;
  if (!freeSlot && ctx.customerQueued >= limits.maxQueuedPerCustomer) {
    const n = ctx.customerQueued;
    return loud(`you already have ${n} ${n === 1 ? "job" : "jobs"} waiting here (at most ${limits.maxQueuedPerCustomer} per customer); try again when one finishes`);
  }
  if (!freeSlot && ctx.queuedCount >= limits.queueSize) return loud("busy, try later");

  return { accept: true, model };
}
