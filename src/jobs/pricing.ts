// What a job costs, in millisats (NIP-90 amounts are always msats), from the config's Pricing:
// a fixed part per job plus a part per 1000 tokens, with optional per-model overrides.
import type { Pricing } from "../config.ts";
import { modelKey } from "../inference/model-name.ts";

function rates(model: string | null, pricing: Pricing): { perJob: number; per1k: number } {
  let override: Pricing["models"][string] | undefined;
  if (model) {
    const want = modelKey(model);
    for (const [name, o] of Object.entries(pricing.models)) {
      if (modelKey(name) === want) {
        override = o;
        break;
      }
    }
  }
  return {
    perJob: override?.perJobMsats ?? pricing.perJobMsats,
    per1k: override?.per1kTokensMsats ?? pricing.per1kTokensMsats,
  };
}

function amount(model: string | null, pricing: Pricing, tokens: number): number {
  if (pricing.mode === "free") return 0;
  const { perJob, per1k } = rates(model, pricing);
  const t = Number.isFinite(tokens) && tokens > 0 ? Math.ceil(tokens) : 0;
  // Round the token part up: a partial thousand still costs its share, never less than asked.
  return wholeSats(perJob + Math.ceil((per1k * t) / 1000));
}

/**
 * Up to whole sats. Lightning wallets (the Spark SDK among them) make invoices in whole sats, so a
 * price that is not whole sats would be told to the customer (the `amount` tag) as less than the
 * invoice asks; rounded here, the tag, the bolt11 and the job's recorded charge are one number, and
 * a zap of the tagged amount pays the job in full.
 */
export function wholeSats(msats: number): number {
  return Math.ceil(msats / 1000) * 1000;
}

/**
 * The price to ask before running (upfront mode) or to compare with the bid: the per-job part
 * plus, when per-token pricing is on, the token part for `estimatedTokens` (the job's capped
 * max_tokens: the most a pay-after job can end up costing). Whole sats, rounded up. Free mode → 0.
 */
export function priceFor(model: string | null, pricing: Pricing, estimatedTokens = 0): number {
  return amount(model, pricing, estimatedTokens);
}

/** What the finished job costs for the tokens it actually generated (pay-after mode); whole sats, rounded up. */
export function finalAmount(model: string | null, pricing: Pricing, tokens: number): number {
  return amount(model, pricing, tokens);
}
