// The product's own wallet contract. Everything the rest of compute knows about Lightning goes
// through `Wallet`: the Breez Spark implementation (spark.ts) and the test double
// (test/fixtures/lightning-double.ts) both implement it. Amounts are integers in millisatoshis
// (msats) or satoshis as the names say — never the SDK's bigints — and times are unix ms.
import { z } from "zod";
import { decodeBolt11 } from "../util/bolt11.ts";
import type { WalletView } from "./events.ts";

export const WalletNetwork = z.enum(["mainnet", "regtest"]);
export type WalletNetwork = z.infer<typeof WalletNetwork>;

const msats = z.number().int().nonnegative();

/**
 * The description of every invoice compute makes for the owner's own deposits (the wallet's
 * RECEIVE, `compute wallet receive`). A payment of such an invoice is the owner's money coming
 * in, not earnings: only we issue invoices on this wallet, so no customer can pay one by mistake.
 */
export const DEPOSIT_DESCRIPTION = "compute: deposit";

/** Whether a received payment is the owner's deposit rather than pay: an invoice with that description, or no invoice at all. */
export function isDeposit(p: { bolt11: string | null }): boolean {
  if (!p.bolt11) return true;
  try {
    return decodeBolt11(p.bolt11).description === DEPOSIT_DESCRIPTION;
  } catch {
    return false;
  }
}
const sats = z.number().int().nonnegative();

export const CreateInvoiceRequest = z.object({
  /** Omitted: the payer chooses the amount. Rounded up to whole sats (Spark invoices are in sats). */
  amountMsats: z.number().int().positive().optional(),
  description: z.string().max(639), // BOLT #11 `d` fits 639 bytes in one tagged field
  expirySecs: z.number().int().min(1).max(30 * 86_400),
});
export type CreateInvoiceRequest = z.input<typeof CreateInvoiceRequest>;

export const Invoice = z.object({
  bolt11: z.string(),
  paymentHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** What the invoice asks for (after rounding up to whole sats); null when amountless. */
  amountMsats: msats.nullable(),
  expiresAt: z.number().int(),
});
export type Invoice = z.infer<typeof Invoice>;

/** A completed incoming payment. `bolt11`/`paymentHash` link it to the invoice we issued. */
export const ReceivedPayment = z.object({
  id: z.string().min(1),
  amountMsats: msats,
  bolt11: z.string().nullable(),
  paymentHash: z.string().nullable(),
  receivedAt: z.number().int(),
  /**
   * The NIP-57 zap request the LNURL server handed the wallet with this payment (the SDK's LNURL
   * receive metadata), if any. With `bolt11` (the invoice as the wallet stores it) this is the
   * wallet's OWN record of what the payment was for; a zap counts for a job only when that record
   * commits to the zap request (payments.ts), never on what a receipt says.
   */
  zapRequest: z.string().nullable().optional(),
});
export type ReceivedPayment = z.infer<typeof ReceivedPayment>;

/** One page of receives, newest first. `end`: the wallet has nothing older than this page. */
export interface ReceivedPage {
  payments: ReceivedPayment[];
  end: boolean;
}

export const ReceiveAddress = z.object({
  /** A Spark address (payable from Spark wallets) or a bitcoin deposit address. */
  kind: z.enum(["spark", "bitcoin"]),
  address: z.string(),
});
export type ReceiveAddress = z.infer<typeof ReceiveAddress>;

export const DestinationType = z.enum(["bolt11", "lightning_address", "lnurl_pay", "bitcoin_address", "spark_address"]);
export type DestinationType = z.infer<typeof DestinationType>;

export const ParsedInput = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("bolt11"),
    bolt11: z.string(),
    amountMsats: msats.nullable(),
    paymentHash: z.string(),
    description: z.string().nullable(),
    expiresAt: z.number().int(),
    network: z.string(),
    /** The node that signed it (from the signature, or its `n` field); null when not known. */
    payee: z.string().nullable(),
  }),
  z.object({
    type: z.literal("lightning_address"),
    address: z.string(),
    minSendableMsats: msats.nullable(),
    maxSendableMsats: msats.nullable(),
  }),
  z.object({
    type: z.literal("lnurl_pay"),
    url: z.string(),
    minSendableMsats: msats.nullable(),
    maxSendableMsats: msats.nullable(),
  }),
  z.object({ type: z.literal("bitcoin_address"), address: z.string(), network: z.string().nullable() }),
  z.object({ type: z.literal("spark_address"), address: z.string() }),
]);
export type ParsedInput = z.infer<typeof ParsedInput>;

export const PrepareSendRequest = z.object({
  destination: z.string().trim().min(1).max(4096),
  /** Required unless the destination (a bolt11 with an amount) fixes it. */
  amountSats: z.number().int().positive().optional(),
});
export type PrepareSendRequest = z.input<typeof PrepareSendRequest>;

/**
 * A send quote shown to the user before they confirm. JSON-safe: the SDK's own prepared object
 * stays inside the wallet, found again by `id` (which is also the send's idempotency key, so a
 * retried `send` can't pay twice).
 */
export const PreparedSend = z.object({
  id: z.string(),
  destination: z.string(),
  destinationType: DestinationType,
  amountSats: sats,
  feeSats: sats,
  /** Unix ms after which `send` refuses it and a new quote is needed. */
  expiresAt: z.number().int(),
});
export type PreparedSend = z.infer<typeof PreparedSend>;

export const SentPayment = z.object({
  id: z.string(),
  status: z.enum(["completed", "pending", "failed"]),
  amountSats: sats,
  feeSats: sats,
});
export type SentPayment = z.infer<typeof SentPayment>;

/** A payment this wallet sent, as its history lists it (newest first). */
export const SentRecord = z.object({
  id: z.string().min(1),
  status: z.enum(["completed", "pending", "failed"]),
  amountSats: sats,
  feeSats: sats,
  /** Unix ms. */
  sentAt: z.number().int().nonnegative(),
  /** How it left: over Lightning, as a Spark transfer, or on-chain to a bitcoin address. */
  method: z.enum(["lightning", "spark", "bitcoin"]),
  /** The paid invoice's description, when it had one. */
  description: z.string().nullable(),
});
export type SentRecord = z.infer<typeof SentRecord>;

export const LightningAddress = z.object({
  address: z.string(),
  username: z.string(),
  /** The bech32 LNURL of the same pay endpoint. */
  lnurl: z.string().nullable(),
  /** The LNURL-pay endpoint itself (https), where NIP-57's `nostrPubkey` (who signs our zap receipts) is read. */
  payUrl: z.string().nullable().optional(),
});
export type LightningAddress = z.infer<typeof LightningAddress>;

/** Lowercase letters, digits, '-', '_' and '.', not at the ends; what Lightning address servers accept. */
export const LightningUsername = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/, "use 1–64 lowercase letters, digits, '.', '-' or '_'");

export interface Wallet {
  readonly network: WalletNetwork;
  /** Idempotent. A wallet that can't be used (e.g. mainnet without an API key) resolves and says why in view(). */
  connect(): Promise<void>;
  /** Idempotent; bounded by a timeout so shutdown never hangs on the wallet. */
  disconnect(): Promise<void>;
  /** Same as connect/disconnect, for the app's start()/stop() lifecycle. */
  start(): Promise<void>;
  stop(): Promise<void>;
  view(): WalletView;
  balance(): Promise<{ sats: number }>;
  createInvoice(req: CreateInvoiceRequest): Promise<Invoice>;
  /** "spark" (default) works offline; "bitcoin" asks the network for a static deposit address. */
  receiveAddress(kind?: ReceiveAddress["kind"]): Promise<ReceiveAddress>;
  /** Completed incoming payments as they arrive (at most once per payment id per process). */
  onPayment(cb: (p: ReceivedPayment) => void): () => void;
  /** The wallet caught up with the network: a good moment to reconcile (receivedPage). */
  onSynced(cb: () => void): () => void;
  /**
   * One page of completed incoming payments, NEWEST first (one SDK page read). Reconciliation,
   * the zap lookup and history read from the top down to what they already know, so their cost
   * grows with the new payments, not with the history. `limit` 1–100.
   */
  receivedPage(opts: { offset: number; limit: number }): Promise<ReceivedPage>;
  /** Payments sent, newest first (at most `limit`, default 50); pending and failed ones too. */
  listSent(opts?: { limit?: number }): Promise<SentRecord[]>;
  /**
   * A quote; its id is the send's idempotency key. `idempotencyKey` gives the id (a UUID) of an
   * earlier quote whose send may have paid, so sending the new quote can't pay a second time.
   */
  prepareSend(req: PrepareSendRequest, opts?: { idempotencyKey?: string }): Promise<PreparedSend>;
  send(prepared: PreparedSend | string): Promise<SentPayment>;
  registerLightningAddress(username: string): Promise<LightningAddress>;
  getLightningAddress(): Promise<LightningAddress | null>;
  deleteLightningAddress(): Promise<void>;
  /** Classifies a destination; decodes a bolt11. Bad input → AppError("invalid_input"). */
  parse(input: string): Promise<ParsedInput>;
}
