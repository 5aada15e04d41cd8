// BOLT #11 invoices, read with the ecosystem's decoder: bech32 from @scure/base (the same code
// nostr-tools and the scure wallets use) and the fields from light-bolt11-decoder (fiatjaf's,
// the decoder most Nostr clients use). On top it keeps only what the product needs and the library
// leaves out: the networks we accept, amounts as whole msats in a safe integer, the BOLT #11
// reader rules (skip p/h/s/n fields of the wrong length, reject truncated fields, defaults for
// x and c), and the signing hash, so callers can check a description hash (NIP-57) and a
// signature. Making invoices is only for the Lightning test double: test/fixtures/bolt11-encode.ts.
// Reference: https://github.com/lightning/bolts/blob/master/11-payment-encoding.md
import { createHash } from "node:crypto";
import { bech32, utils } from "@scure/base";
import { decode as decodeInvoiceSections } from "light-bolt11-decoder";
import { AppError, errorMessage } from "../errors.ts";

/** bech32 without BIP-173's 90-character limit (BOLT #11 invoices are longer). */
export function bech32Encode(hrp: string, words: number[]): string {
  return bech32.encode(hrp, words, false);
}

/** Decodes and checks the checksum. Throws AppError("invalid_input") with the reason. */
export function bech32Decode(input: string): { hrp: string; words: number[] } {
  try {
    const { prefix, words } = bech32.decode(input as `${string}1${string}`, false);
    return { hrp: prefix, words };
  } catch (err) {
    const reason = errorMessage(err);
    if (/checksum/i.test(reason)) throw new AppError("invalid_input", "Bad bech32 checksum");
    if (/case/i.test(reason)) throw new AppError("invalid_input", "Mixed-case bech32 string");
    throw new AppError("invalid_input", `Not a bech32 string (${reason.slice(0, 80)})`);
  }
}

/** 5-bit words → bytes; `pad` keeps a last partial byte (zero-filled), else leftover bits drop. */
export function wordsToBytes(words: number[], pad: boolean): Uint8Array {
  const bytes = utils.convertRadix2(words, 5, 8, true);
  return Uint8Array.from(pad ? bytes : bytes.slice(0, Math.floor((words.length * 5) / 8)));
}

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export type Bolt11Network = "mainnet" | "testnet" | "signet" | "regtest";

// BOLT #11 "Human-readable part": ln + currency prefix + optional amount with a multiplier.
const NETWORK_OF: Record<string, Bolt11Network> = { bc: "mainnet", tb: "testnet", tbs: "signet", bcrt: "regtest" };
const HRP = /^ln(bcrt|bc|tbs|tb)(\d*[munp]?)$/;

export interface DecodedBolt11 {
  network: Bolt11Network;
  /** null: the payer chooses the amount. */
  amountMsats: number | null;
  /** Unix seconds, as written in the invoice. */
  timestamp: number;
  expirySecs: number;
  /** Unix ms. */
  expiresAt: number;
  paymentHash: string;
  paymentSecret: string | null;
  description: string | null;
  descriptionHash: string | null;
  /** Only when the invoice carries an `n` field (recovering it from the signature needs secp256k1). */
  payeePubkey: string | null;
  minFinalCltvExpiry: number;
  /** 64-byte compact signature + recovery id, hex. */
  signature: string;
  /** sha256 of the signed data: what the signature signs. */
  signingHash: string;
}

export function stripLightningPrefix(input: string): string {
  const s = input.trim();
  return s.toLowerCase().startsWith("lightning:") ? s.slice("lightning:".length) : s;
}

export function looksLikeBolt11(input: string): boolean {
  return /^ln(bcrt|bc|tbs|tb)[0-9munp]*1[02-9ac-hj-np-z]+$/.test(stripLightningPrefix(input).toLowerCase());
}

// BOLT #11: a reader MUST skip p (1), s (16), h (23), n (19) fields that don't have these lengths
// (in 5-bit words).
const FIXED_LENGTH: Record<number, number> = { 1: 52, 16: 52, 23: 52, 19: 53 };

/** Decodes a BOLT #11 invoice (with or without "lightning:"). Bad input → AppError("invalid_input"). */
export function decodeBolt11(input: string): DecodedBolt11 {
  const invoice = stripLightningPrefix(input);
  const { hrp, words } = bech32Decode(invoice);
  const prefix = HRP.exec(hrp);
  if (!prefix) {
    throw new AppError("invalid_input", hrp.startsWith("ln") ? `Unknown Lightning invoice prefix "${hrp.slice(0, 40)}"` : "Not a Lightning invoice");
  }
  if (prefix[2]!.startsWith("0")) throw new AppError("invalid_input", "Invalid invoice amount");
  // 7 words of timestamp + at least the 104-word signature.
  if (words.length < 7 + 104) throw new AppError("invalid_input", "Lightning invoice too short");
  const data = words.slice(0, -104);
  // Walk the tagged fields: light-bolt11-decoder neither checks that a declared length fits nor
  // skips p/h/s/n fields of the wrong length (it throws on some, misreads others), so the invoice
  // it reads is this one with those fields left out, as BOLT #11 tells a reader to.
  const kept = data.slice(0, 7);
  for (let i = 7; i < data.length; ) {
    const end = i + 3 + (data[i + 1] ?? 0) * 32 + (data[i + 2] ?? 0);
    if (i + 3 > data.length || end > data.length) throw new AppError("invalid_input", "Truncated invoice field");
    const fixed = FIXED_LENGTH[data[i]!];
    if (fixed === undefined || end - i - 3 === fixed) kept.push(...data.slice(i, end));
    i = end;
  }
  const readable = kept.length === data.length ? invoice : bech32Encode(hrp, [...kept, ...words.slice(-104)]);
  let sections;
  try {
    sections = decodeInvoiceSections(readable).sections;
  } catch (err) {
    throw new AppError("invalid_input", `Not a valid Lightning invoice: ${errorMessage(err).slice(0, 120)}`);
  }
  const first = new Map<string, { value: unknown }>();
  for (const s of sections) if (!first.has(s.name)) first.set(s.name, s as { value: unknown });
  const str = (name: string) => (typeof first.get(name)?.value === "string" ? (first.get(name)!.value as string) : null);
  const int = (name: string, fallback: number) => {
    const v = first.get(name)?.value;
    return typeof v === "number" && Number.isSafeInteger(v) ? v : fallback;
  };

  let amountMsats: number | null = null;
  const amount = str("amount");
  if (amount !== null) {
    // The library reads the amount as a decimal string of msats and rejects a fractional one.
    const msats = BigInt(amount);
    if (msats > BigInt(Number.MAX_SAFE_INTEGER)) throw new AppError("invalid_input", "Invoice amount too large");
    amountMsats = Number(msats);
  }
  const paymentHash = str("payment_hash");
  if (paymentHash === null) throw new AppError("invalid_input", "Lightning invoice has no payment hash");
  const timestamp = int("timestamp", 0);
  const expirySecs = int("expiry", 3600); // BOLT #11 default
  const signingHash = createHash("sha256")
    .update(Buffer.concat([Buffer.from(hrp, "utf8"), wordsToBytes(data, true)]))
    .digest("hex");
  return {
    network: NETWORK_OF[prefix[1]!]!,
    amountMsats,
    timestamp,
    expirySecs,
    expiresAt: (timestamp + expirySecs) * 1000,
    paymentHash,
    paymentSecret: str("payment_secret"),
    description: str("description"),
    descriptionHash: str("description_hash"),
    payeePubkey: str("payee"),
    minFinalCltvExpiry: int("min_final_cltv_expiry", 18), // BOLT #11 default
    signature: toHex(wordsToBytes(words.slice(-104), false)),
    signingHash,
  };
}
