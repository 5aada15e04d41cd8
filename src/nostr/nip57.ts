// NIP-57 zap receipts, read for a provider: what a kind 9735 receipt claims about a payment to us,
// and whether a wallet's own record of a payment commits to a zap request (appendix F). Pure: no
// I/O, no clock. A receipt is only a claim (anyone can sign one, and whoever publishes it writes its
// bolt11): wallet/zaps.ts decides what it is worth against the wallet.
import { createHash } from "node:crypto";
import { verifyEvent } from "nostr-tools/pure";
import { errorMessage } from "../errors.ts";
import { decodeBolt11 } from "../util/bolt11.ts";
import { ZAP_RECEIPT, ZAP_REQUEST } from "./kinds.ts";
import { eventShape, Hex64, NostrEvent, parseMsats } from "./nip90.ts";

// ---------------------------------------------------------------------------------------------
// Zap receipts as they arrive (the shape and the amount; readZapClaim below checks the rest)

export interface ZapReceipt {
  /** The zapped event (our feedback or result). */
  eventId: string;
  bolt11: string;
  amountMsats: number;
  /** The zapper: the author of the embedded zap request. */
  sender: string;
  /** The p tag: who was zapped. */
  recipient: string | null;
  /** The receipt's own id. */
  receiptId: string;
}

const MULTIPLIER_MSATS: Record<string, bigint> = { m: 100_000_000n, u: 100_000n, n: 100n };

/**
 * The amount in a BOLT-11 invoice's human-readable part (`lnbc2500u1...` → 250000000 msats);
 * null when the invoice carries no amount or is not an invoice. BOLT-11: 1 BTC = 1e11 msats;
 * the `p` (pico) multiplier must be a multiple of 10.
 */
export function bolt11AmountMsats(invoice: string): number | null {
  const s = invoice.trim().toLowerCase();
  const sep = s.lastIndexOf("1");
  if (sep < 0) return null;
  const m = /^ln(?:bcrt|bc|tbs|tb|sb)(\d+)([munp]?)$/.exec(s.slice(0, sep));
  if (!m) return null;
  const n = BigInt(m[1]!);
  let msats: bigint;
  if (m[2] === "p") {
    if (n % 10n !== 0n) return null;
    msats = n / 10n;
  } else {
    msats = m[2] ? n * MULTIPLIER_MSATS[m[2]]! : n * 100_000_000_000n;
  }
  return msats <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(msats) : null;
}

/**
 * Reads a kind 9735 zap receipt: which event was zapped, the invoice, the amount and the sender.
 * The embedded zap request (description tag) must be a validly signed kind 9734, and when both
 * the invoice and the zap request state an amount they must agree (NIP-57 appendix F). Otherwise
 * → null. The receipt's own signature is the pool's job.
 */
export function parseZapReceipt(event: unknown): ZapReceipt | null {
  const shape = eventShape(event);
  if (!shape.success || shape.data.kind !== ZAP_RECEIPT) return null;
  const tag = (tags: string[][], name: string) => tags.find((t) => t[0] === name)?.[1];
  const bolt11 = tag(shape.data.tags, "bolt11");
  const description = tag(shape.data.tags, "description");
  if (!bolt11 || !description) return null;
  let zapRequest: NostrEvent;
  try {
    const parsed = eventShape(JSON.parse(description));
    if (!parsed.success || parsed.data.kind !== ZAP_REQUEST) return null;
    zapRequest = parsed.data;
  } catch {
    return null;
  }
  if (!verifyEvent({ ...zapRequest })) return null;
  const eventId = tag(shape.data.tags, "e") ?? tag(zapRequest.tags, "e");
  if (!eventId || !Hex64.safeParse(eventId).success) return null;
  const fromInvoice = bolt11AmountMsats(bolt11);
  const requested = tag(zapRequest.tags, "amount");
  let fromRequest: number | null = null;
  if (requested !== undefined) {
    try {
      fromRequest = parseMsats(requested, "amount");
    } catch {
      return null;
    }
  }
  if (fromInvoice !== null && fromRequest !== null && fromInvoice !== fromRequest) return null;
  const amountMsats = fromInvoice ?? fromRequest;
  if (amountMsats === null) return null;
  const recipient = tag(shape.data.tags, "p") ?? null;
  return { eventId, bolt11, amountMsats, sender: zapRequest.pubkey, recipient, receiptId: shape.data.id };
}

// ---------------------------------------------------------------------------------------------
// Zap claims

/** What a zap receipt claims, once read and checked (readZapClaim). */
export interface ZapClaim {
  /** The receipt's own id. */
  receiptId: string;
  /** The event the zap request names (e tag): one of our feedback/result events. */
  eventId: string;
  bolt11: string;
  paymentHash: string;
  amountMsats: number;
  /** The zapper (the zap request's author). */
  sender: string;
  /** The zap request exactly as the receipt carries it (its sha256 is what an invoice commits to). */
  zapRequest: string;
  /** Who signed the receipt (NIP-57: the LNURL server's nostrPubkey). */
  signer: string;
}

/**
 * Reads a kind 9735 zap receipt addressed to `ourPubkey` and checks what can be checked without
 * the wallet: a validly signed zap request (kind 9734) inside, which p-tags us and e-tags the
 * zapped event, and an invoice that is bound to that zap request. Pure; a reason on failure.
 * The receipt's invoice proves nothing (its publisher made it): wallet/zaps.ts checks the
 * wallet's own record of the payment.
 */
export function readZapClaim(event: unknown, ourPubkey: string): { ok: true; claim: ZapClaim } | { ok: false; reason: string } {
  const receipt = parseZapReceipt(event);
  if (!receipt) return { ok: false, reason: "not a well-formed zap receipt" };
  const shape = NostrEvent.parse(event);
  const description = shape.tags.find((t) => t[0] === "description")?.[1] ?? "";
  let zapRequest: NostrEvent;
  try {
    zapRequest = NostrEvent.parse(JSON.parse(description));
  } catch {
    return { ok: false, reason: "the zap request inside is unreadable" };
  }
  const reqTag = (name: string) => zapRequest.tags.filter((t) => t[0] === name).map((t) => (t[1] ?? "").toLowerCase());
  // NIP-57: the zap request has exactly one p tag, the recipient.
  const ps = reqTag("p");
  if (ps.length !== 1 || ps[0] !== ourPubkey) return { ok: false, reason: "the zap request is not addressed to us" };
  // The zapped event as the payer signed it (the receipt's own e tag is only the server's copy).
  const es = reqTag("e");
  if (es.length !== 1 || !Hex64.safeParse(es[0]).success) return { ok: false, reason: "the zap request names no single event" };
  if (receipt.recipient !== null && receipt.recipient.toLowerCase() !== ourPubkey) return { ok: false, reason: "the receipt is for someone else" };
  let invoice;
  try {
    invoice = decodeBolt11(receipt.bolt11);
  } catch (err) {
    return { ok: false, reason: `the receipt's invoice is unreadable (${errorMessage(err)})` };
  }
  // NIP-57 appendix F: the invoice commits to the zap request. Without this a receipt could pair
  // any payment we received (say another customer's invoice) with any event it likes.
  const sha = createHash("sha256").update(description, "utf8").digest("hex");
  const bound = invoice.descriptionHash !== null ? invoice.descriptionHash === sha : invoice.description === description;
  if (!bound) return { ok: false, reason: "the invoice is not bound to the zap request" };
  if (invoice.amountMsats === null) return { ok: false, reason: "the zap invoice has no amount" };
  return {
    ok: true,
    claim: {
      receiptId: shape.id,
      eventId: es[0]!,
      bolt11: receipt.bolt11,
      paymentHash: invoice.paymentHash,
      amountMsats: invoice.amountMsats,
      sender: receipt.sender,
      zapRequest: description,
      signer: shape.pubkey.toLowerCase(),
    },
  };
}

/** What a payment must commit to for a zap: the zap request's sha256 and the amount it asks (kept small for pending claims). */
export interface ZapTerms {
  sha: string;
  askedMsats: number | null;
}

/** sha256 of a zap request as carried (hex): what an invoice made for it commits to. */
export const zapRequestSha = (zapRequest: string) => createHash("sha256").update(zapRequest, "utf8").digest("hex");
const sha256Hex = zapRequestSha;

/** The terms of a zap request (its JSON exactly as carried); null when it isn't JSON. */
export function zapTerms(zapRequest: string): ZapTerms | null {
  let askedMsats: number | null = null;
  try {
    const tags = (JSON.parse(zapRequest) as { tags?: unknown })?.tags;
    const amount = Array.isArray(tags) ? tags.find((t) => Array.isArray(t) && t[0] === "amount")?.[1] : undefined;
    if (typeof amount === "string" && /^\d{1,15}$/.test(amount)) askedMsats = Number(amount);
  } catch {
    return null;
  }
  return { sha: sha256Hex(zapRequest), askedMsats };
}

/**
 * Whether the wallet's OWN record of a payment commits to a zap request: the invoice the wallet
 * stored has description hash sha256(zap request) (or the request itself as description), or the
 * wallet kept exactly this zap request with the payment; and what was paid covers the amount the
 * zap request asks (to the whole sat) and the invoice's own amount.
 */
export function walletCommitsToZap(
  rec: { amountMsats: number; bolt11: string | null; zapRequest?: string | null; zapRequestSha?: string | null },
  zapRequest: string | ZapTerms,
): boolean {
  const terms = typeof zapRequest === "string" ? zapTerms(zapRequest) : zapRequest;
  if (!terms) return false;
  let bound = false;
  let invoiceMsats: number | null = null;
  if (rec.bolt11) {
    try {
      const inv = decodeBolt11(rec.bolt11);
      invoiceMsats = inv.amountMsats;
      bound = inv.descriptionHash !== null ? inv.descriptionHash === terms.sha : inv.description !== null && sha256Hex(inv.description) === terms.sha;
    } catch {
      bound = false;
    }
  }
  if (!bound && typeof rec.zapRequest === "string") bound = sha256Hex(rec.zapRequest) === terms.sha;
  if (!bound && typeof rec.zapRequestSha === "string") bound = rec.zapRequestSha === terms.sha;
  if (!bound) return false;
  if (invoiceMsats !== null && rec.amountMsats < invoiceMsats) return false;
  // To the whole sat: an LNURL server may round a request for some msats down.
  if (terms.askedMsats !== null && rec.amountMsats < Math.floor(terms.askedMsats / 1000) * 1000) return false;
  return true;
}
