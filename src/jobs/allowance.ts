// What a customer may have without paying first: the free allowance (pricing.freeJobsPerCustomer,
// bounded over all customers by pricing.maxFreeJobsPerHour: pubkeys cost nothing) and pay-after
// credit (pricing.maxUnpaidAfterJobs); plus each customer's requests of the last minute, for the
// admission's rate limit.
import type { Config } from "../config.ts";
import { createLogger } from "../log.ts";
import type { JobStatus } from "./events.ts";
import type { EngineLedger } from "./ports.ts";
import { priceFor } from "./pricing.ts";

const log = createLogger("jobs");

/** Unpaid pay-after jobs count against pricing.maxUnpaidAfterJobs (and the customer) for this long. */
const UNPAID_WINDOW_MS = 24 * 3600_000;
/** pricing.maxFreeJobsPerHour counts free-allowance jobs over this window. */
const FREE_WINDOW_MS = 3600_000;

export interface AllowanceDeps {
  ledger: Pick<EngineLedger, "freeJobsUsed" | "countFreeJob" | "unpaidAfter">;
  config: () => Config;
  now: () => number;
  /** The jobs the engine holds (queued, waiting for payment or running). */
  inFlight(): Iterable<{ customer: string; prepaid: boolean; free?: boolean; status: JobStatus }>;
}

export class Allowance {
  /** Each customer's requests of the last minute (unix ms). */
  private customerLog = new Map<string, number[]>();
  /** Free-allowance jobs given out lately (unix ms), for pricing.maxFreeJobsPerHour. */
  private freeGiven: number[] = [];

  constructor(private readonly deps: AllowanceDeps) {}

  /**
   * The free allowance (announced in NIP-89 as freeJobsPerCustomer): the first jobs of each
   * customer cost nothing, so people can try us before paying; pricing.maxFreeJobsPerHour bounds
   * it over all customers.
   */
  isFree(customer: string): boolean {
    const cfg = this.deps.config();
    return cfg.pricing.mode !== "free" && cfg.pricing.freeJobsPerCustomer > 0 && this.freeUsed(customer) < cfg.pricing.freeJobsPerCustomer && this.freeLeftThisHour();
  }

  /**
   * What a request of `customer` costs: free within the allowance; otherwise the bid is held
   * against the whole charge (per job plus per token at the job's max tokens, the most a pay-after
   * job can come to), and pay-after is credit: a customer who owes for one (or while strangers owe
   * for pricing.maxUnpaidAfterJobs) pays first.
   */
  quote(customer: string, model: string | null, estimateTokens: number): { free: boolean; price: number; payFirst: boolean } {
    const cfg = this.deps.config();
    const free = this.isFree(customer);
    const price = free ? 0 : priceFor(model, cfg.pricing, estimateTokens);
    const payFirst = cfg.pricing.mode === "after" && price > 0 && this.payFirst(customer);
    return { free, price, payFirst };
  }

  /** How many of this customer's requests came since `since` (unix ms); the log keeps the last minute. */
  recentRequests(pubkey: string, since: number): number {
    return (this.customerLog.get(pubkey) ?? []).filter((t) => t >= since).length;
  }

  private freeUsed(customer: string): number {
    return this.deps.ledger.freeJobsUsed(customer);
  }

  private freeLeftThisHour(): boolean {
    const since = this.deps.now() - FREE_WINDOW_MS;
    this.freeGiven = this.freeGiven.filter((t) => t >= since);
    return this.freeGiven.length < this.deps.config().pricing.maxFreeJobsPerHour;
  }

  /**
   * Whether a pay-after job of `customer` must be paid first: they have a pay-after job not paid
   * (answered in the last 24 h, or in progress), or all customers together have
   * pricing.maxUnpaidAfterJobs of them. Never throws (a ledger failure → pay first).
   */
  payFirst(customer: string): boolean {
    try {
      const since = this.deps.now() - UNPAID_WINDOW_MS;
      const inFlight = [...this.deps.inFlight()].filter((j) => !j.prepaid && !j.free && j.status !== "payment-required");
      if (inFlight.some((j) => j.customer === customer)) return true;
      if (this.deps.ledger.unpaidAfter({ since, customer }).jobs > 0) return true;
      return this.deps.ledger.unpaidAfter({ since }).jobs + inFlight.length >= this.deps.config().pricing.maxUnpaidAfterJobs;
    } catch (err) {
      log.warn("could not count unpaid pay-after jobs; asking for payment first", { err });
      return true;
    }
  }

  useFree(customer: string): void {
    this.freeGiven.push(this.deps.now());
    try {
      this.deps.ledger.countFreeJob(customer);
    } catch (err) {
      log.warn("could not count a free job", { customer, err });
    }
  }

  /** A request of this customer came (admitted or refused, not silently dropped). */
  noteRequest(pubkey: string): void {
    const cutoff = this.deps.now() - 60_000;
    const list = (this.customerLog.get(pubkey) ?? []).filter((t) => t >= cutoff);
    list.push(this.deps.now());
    this.customerLog.set(pubkey, list);
    if (this.customerLog.size > 10_000) {
      for (const [k, v] of this.customerLog) if (!v.some((t) => t >= cutoff)) this.customerLog.delete(k);
    }
  }
}
