// The Breez SDK's records as our types (wallet.ts): receives, sends, parsed destinations and the
// Lightning address. SDK bigints become checked JS numbers here and never travel further; a record
// that is malformed or not ours to show becomes null (or a clear AppError where the caller needs one).
import type * as Sdk from "@breeztech/breez-sdk-spark";
import { AppError } from "../errors.ts";
import { decodeBolt11, looksLikeBolt11, stripLightningPrefix, bech32Decode, wordsToBytes } from "../util/bolt11.ts";
import type { LightningAddress, ParsedInput, ReceivedPayment, SentRecord } from "./wallet.ts";

/** SDK amounts arrive as bigint (or number, or decimal string): a checked non-negative integer. */
export function toSafeInt(value: unknown, what: string): number {
  let n: number;
  if (typeof value === "bigint") n = Number(value);
  else if (typeof value === "number") n = value;
  else if (typeof value === "string" && /^\d+$/.test(value)) n = Number(value);
  else throw new AppError("internal", `The wallet returned a malformed ${what}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new AppError("internal", `The wallet returned an out-of-range ${what}`);
  return n;
}

/** A completed receive, as our type; null for anything else (sends, pending, tokens, malformed). */
export function toReceivedPayment(p: Sdk.Payment): ReceivedPayment | null {
  if (!p || typeof p !== "object" || typeof p.id !== "string" || p.id === "") return null;
  if (p.paymentType !== "receive" || p.status !== "completed" || p.method === "token") return null;
  if (p.details?.type === "token") return null;
  let amountSats: number;
  try {
    amountSats = toSafeInt(p.amount, "payment amount");
  } catch {
    return null;
  }
  const ts = typeof p.timestamp === "number" && Number.isFinite(p.timestamp) ? p.timestamp : 0;
  let bolt11: string | null = null;
  let paymentHash: string | null = null;
  let zapRequest: string | null = null;
  const d = p.details;
  if (d?.type === "lightning") {
    bolt11 = typeof d.invoice === "string" ? d.invoice : null;
    // The zap request our LNURL server handed the wallet with this payment (NIP-57).
    const zr: unknown = d.lnurlReceiveMetadata?.nostrZapRequest;
    zapRequest = typeof zr === "string" && zr.length > 0 && zr.length <= 64 * 1024 ? zr : null;
    paymentHash = typeof d.htlcDetails?.paymentHash === "string" ? d.htlcDetails.paymentHash : null;
    if (!paymentHash && bolt11) {
      try {
        paymentHash = decodeBolt11(bolt11).paymentHash;
      } catch {}
    }
  } else if (d?.type === "spark" && typeof d.htlcDetails?.paymentHash === "string") {
    paymentHash = d.htlcDetails.paymentHash;
  }
  return { id: p.id, amountMsats: amountSats * 1000, bolt11, paymentHash, receivedAt: Math.round(ts * 1000), zapRequest };
}

/** A send (completed, pending or failed), as our type; null for receives, tokens and anything malformed. */
export function toSentRecord(p: Sdk.Payment): SentRecord | null {
  if (!p || typeof p !== "object" || typeof p.id !== "string" || p.id === "") return null;
  if (p.paymentType !== "send" || p.details?.type === "token") return null;
  const method = p.method === "lightning" ? "lightning" : p.method === "spark" ? "spark" : p.method === "withdraw" ? "bitcoin" : null;
  if (!method) return null;
  if (p.status !== "completed" && p.status !== "pending" && p.status !== "failed") return null;
  let amountSats: number;
  let feeSats: number;
  try {
    amountSats = toSafeInt(p.amount, "payment amount");
    feeSats = toSafeInt(p.fees, "payment fee");
  } catch {
    return null;
  }
  const ts = typeof p.timestamp === "number" && Number.isFinite(p.timestamp) && p.timestamp >= 0 ? p.timestamp : 0;
  const d = p.details;
  const description = d?.type === "lightning" && typeof d.description === "string" && d.description ? d.description.slice(0, 639) : null;
  return { id: p.id, status: p.status, amountSats, feeSats, sentAt: Math.round(ts * 1000), method, description };
}

const BITCOIN_ADDRESS = /^(bc1|tb1|bcrt1)[02-9ac-hj-np-z]{8,87}$|^[13mn2][1-9A-HJ-NP-Za-km-z]{25,34}$/i;
const SPARK_ADDRESS = /^spark(rt|t|s|l)?1[02-9ac-hj-np-z]{20,}$/i;
const LIGHTNING_ADDRESS = /^[a-z0-9._%+-]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/i;

/** Classifies input without the SDK (used while it isn't connected; no LNURL lookups). */
export function parseLocally(input: string): ParsedInput {
  const raw = input.trim();
  if (looksLikeBolt11(raw)) {
    const inv = decodeBolt11(raw);
    return {
      type: "bolt11",
      bolt11: stripLightningPrefix(raw),
      amountMsats: inv.amountMsats,
      paymentHash: inv.paymentHash,
      description: inv.description,
      expiresAt: inv.expiresAt,
      network: inv.network,
      payee: inv.payeePubkey,
    };
  }
  const bare = raw.replace(/^(bitcoin|lightning):/i, "");
  if (/^lnurl1/i.test(bare)) {
    const { words } = bech32Decode(bare);
    return { type: "lnurl_pay", url: new TextDecoder().decode(wordsToBytes(words, false)), minSendableMsats: null, maxSendableMsats: null };
  }
  if (LIGHTNING_ADDRESS.test(bare)) return { type: "lightning_address", address: bare.toLowerCase(), minSendableMsats: null, maxSendableMsats: null };
  if (SPARK_ADDRESS.test(bare)) return { type: "spark_address", address: bare };
  const addr = bare.split("?")[0]!;
  if (BITCOIN_ADDRESS.test(addr)) return { type: "bitcoin_address", address: addr, network: null };
  throw new AppError("invalid_input", "Not a Lightning invoice, Lightning address, LNURL, Spark address or bitcoin address.");
}

export function fromSdkInput(input: string, parsed: Sdk.InputType): ParsedInput {
  switch (parsed.type) {
    case "bolt11Invoice":
      return {
        type: "bolt11",
        bolt11: parsed.invoice.bolt11,
        amountMsats: parsed.amountMsat === undefined || parsed.amountMsat === null ? null : toSafeInt(parsed.amountMsat, "invoice amount"),
        paymentHash: parsed.paymentHash,
        description: parsed.description ?? null,
        expiresAt: (toSafeInt(parsed.timestamp, "invoice timestamp") + toSafeInt(parsed.expiry, "invoice expiry")) * 1000,
        network: String(parsed.network),
        payee: typeof parsed.payeePubkey === "string" ? parsed.payeePubkey : null,
      };
    case "lightningAddress":
      return {
        type: "lightning_address",
        address: parsed.address,
        minSendableMsats: toSafeInt(parsed.payRequest.minSendable, "minSendable"),
        maxSendableMsats: toSafeInt(parsed.payRequest.maxSendable, "maxSendable"),
      };
    case "lnurlPay":
      return {
        type: "lnurl_pay",
        url: parsed.url,
        minSendableMsats: toSafeInt(parsed.minSendable, "minSendable"),
        maxSendableMsats: toSafeInt(parsed.maxSendable, "maxSendable"),
      };
    case "bitcoinAddress":
      return { type: "bitcoin_address", address: parsed.address, network: String(parsed.network) };
    case "sparkAddress":
      return { type: "spark_address", address: parsed.address };
    default:
      throw new AppError("invalid_input", `This kind of destination (${parsed.type}) is not supported: ${input.slice(0, 40)}`);
  }
}

/** The SDK's Lightning address record, as our type. */
export function toLightningAddress(info: Sdk.LightningAddressInfo): LightningAddress {
  if (typeof info?.lightningAddress !== "string") throw new AppError("internal", "The wallet returned a malformed Lightning address");
  const lnurl: unknown = info.lnurl?.bech32;
  const url: unknown = info.lnurl?.url;
  return {
    address: info.lightningAddress,
    username: String(info.username ?? info.lightningAddress.split("@")[0]),
    lnurl: typeof lnurl === "string" ? lnurl : null,
    payUrl: typeof url === "string" && /^https?:\/\//i.test(url) ? url : null,
  };
}
