// What the job engine needs from the other domains, as narrow interfaces: app.ts hands in the real
// ones (RelayPool, the inference router, Ledger, Payments), tests hand in their own. Types only;
// the wallet implements EnginePayments by importing this file, never the engine itself.
import type { Filter } from "nostr-tools/filter";
import type { Bus } from "../bus.ts";
import type { Config } from "../config.ts";
import type { GenerateOptions } from "../inference/backend.ts";
import type { Ledger } from "../ledger/ledger.ts";
import type { NostrEvent } from "../nostr/nip90.ts";
import type { ZapClaim } from "../nostr/nip57.ts";
import type { InputFetcher } from "./inputs.ts";

export interface PublishOutcome {
  relay: string;
  ok: boolean;
  message: string;
}

export interface EnginePool extends InputFetcher {
  subscribe(filters: Filter[], handlers: { onEvent(event: NostrEvent, relay: string): void }): { close(): void };
  publish(
    event: NostrEvent,
    opts?: {
      extraRelays?: string[];
      timeoutMs?: number;
      /** The pool's outbox delivered the event to one of our relays after publish() resolved. */
      onLateDelivery?(outcome: PublishOutcome): void;
    },
  ): Promise<PublishOutcome[]>;
}

export interface GenerateResult {
  text: string;
  tokens: number;
  tokensPerSec: number | null;
}

export interface EngineInference {
  servedModels(): string[];
  generate(opts: {
    model: string;
    prompt: string;
    options: GenerateOptions;
    signal: AbortSignal;
    onToken(textSoFar: string, tokens: number): void;
  }): Promise<GenerateResult>;
  warm(model: string): Promise<void>;
}

/** The ledger methods the engine uses (src/ledger/ledger.ts). */
export type EngineLedger = Pick<
  Ledger,
  "markSeen" | "isSeen" | "pruneSeen" | "admitJob" | "patchJob" | "getJob" | "listJobs" | "findPaymentByHash" | "jobPaid" | "notePayment" | "latePayments" | "unpaidAfter" | "transaction"
  | "keepPendingResult" | "pendingResults" | "dropPendingResult" | "setZapTarget" | "zapTarget" | "pruneZapTargets"
  | "freeJobsUsed" | "countFreeJob" | "announcementTag" | "setAnnouncementTag" | "lastAnnouncementAt" | "setLastAnnouncementAt"
>;

/** Payment hooks; the payments work fills them in. Free mode needs none. */
export interface EnginePayments {
  /**
   * Issues an invoice for a job; resolves to the bolt11, its payment hash and (when the wallet
   * says) when it expires, unix ms. Bounded: a wallet that doesn't answer rejects.
   */
  createInvoice(job: { id: string; amountMsats: number; description: string; expirySecs: number }): Promise<{ bolt11: string; paymentHash: string; expiresAt?: number }>;
  /** Resolves when the invoice is paid, rejects on expiry or abort. */
  waitForPayment(job: { id: string; paymentHash: string; bolt11: string; expiresAt: number; signal: AbortSignal }): Promise<void>;
  /** Whether paid modes can work now (wallet ready); a reason otherwise. */
  ready(): { ok: true } | { ok: false; reason: string };
  /** NIP-57: whether zaps can reach us (the wallet has a Lightning address). */
  zapsEnabled(): Promise<boolean>;
  /** A checked zap receipt naming one of `jobId`'s events; credited only if the wallet has the payment. */
  zapReceived(claim: ZapClaim, jobId: string): Promise<ZapOutcome>;
  /**
   * Books every payment the wallet has, then says so ("reconciled"), or that no wallet is set up
   * ("no-wallet"), or that it can't now ("not-now"). An unpaid invoice is called expired only after
   * the first two: a payment made while we were down must be found first.
   */
  reconciledNow(): Promise<"reconciled" | "no-wallet" | "not-now">;
}

/** What became of a zap receipt (EnginePayments.zapReceived). */
export type ZapOutcome =
  | "credited" // the wallet had the payment: booked for the job now
  | "linked" // the payment was already booked as a plain receive: the job is now known to be paid
  | "waiting" // the wallet hasn't seen the payment yet: it is booked for the job when it arrives
  | "already" // this payment was already booked for this job
  | "rejected"; // not our zapper's receipt, or the payment belongs to something else or doesn't commit to the zap request

/** Everything the engine is built with (app.ts hands in the real ones). */
export interface EngineDeps {
  bus: Bus;
  pool: EnginePool;
  inference: EngineInference;
  ledger: EngineLedger;
  payments: EnginePayments | null;
  secretKey: Uint8Array;
  pubkey: string;
  config: () => Config;
  now?: () => number;
  /** How often progress reaches the bus (the dashboard); partial feedback uses the config. */
  progressIntervalMs?: number;
  /** Tests shorten the heartbeat; default NIP-89 convention of 300 s. */
  heartbeatMs?: number;
  /** Requests older than this (seconds) are not replayed on subscribe. */
  sinceWindowSecs?: number;
  /**
   * How many jobs generate at once: the app hands in the router's slots over its healthy backends
   * (Router.capacity), so the engine's one fair queue feeds every backend. Without it (tests,
   * benches) the engine takes limits.maxConcurrentJobs.
   */
  slots?(): number;
  /** Why new jobs are refused right now (the owner's machine is busy: src/service/sentinel.ts); null = take them. */
  pausedReason?: () => string | null;
  /**
   * The engine went online or offline, or (re-)announced: the provider view changed. The app
   * publishes the whole view (jobs/provider.ts); the engine publishes none of its own.
   */
  onChanged?(): void;
}
