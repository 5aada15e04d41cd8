// BOLT #11 invoices, pure: bech32 (BIP-173, without its 90-character limit, as BOLT #11 says),
// a decoder that reads what the product needs (amount, payment hash, expiry, description), and an
// encoder that takes a signing callback so this module needs no secp256k1 code of its own.
// Reference: https://github.com/lightning/bolts/blob/master/11-payment-encoding.md
import { createHash } from "node:crypto";
import { AppError } from "../errors.ts";

const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ GENERATOR[i]!) >>> 0;
  }
  return chk;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) >> 5);
  out.push(0);
  for (let i = 0; i < hrp.length; i++) out.push(hrp.charCodeAt(i) & 31);
  return out;
}

export function bech32Encode(hrp: string, words: number[]): string {
  const mod = polymod([...hrpExpand(hrp), ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = Array.from({ length: 6 }, (_, i) => (mod >>> (5 * (5 - i))) & 31);
  return hrp + "1" + [...words, ...checksum].map((w) => CHARSET[w]).join("");
}

/** Decodes and checks the checksum. Throws AppError("invalid_input") with the reason. */
export function bech32Decode(input: string): { hrp: string; words: number[] } {
  if (input !== input.toLowerCase() && input !== input.toUpperCase()) {
    throw new AppError("invalid_input", "Mixed-case bech32 string");
  }
  const s = input.toLowerCase();
  const sep = s.lastIndexOf("1");
  if (sep < 1 || sep + 7 > s.length) throw new AppError("invalid_input", "Not a bech32 string");
  const hrp = s.slice(0, sep);
  for (let i = 0; i < hrp.length; i++) {
    const c = hrp.charCodeAt(i);
    if (c < 33 || c > 126) throw new AppError("invalid_input", "Invalid character in bech32 prefix");
  }
  const words: number[] = [];
  for (const ch of s.slice(sep + 1)) {
    const w = CHARSET.indexOf(ch);
    if (w < 0) throw new AppError("invalid_input", `Invalid bech32 character "${ch}"`);
    words.push(w);
  }
  if (polymod([...hrpExpand(hrp), ...words]) !== 1) throw new AppError("invalid_input", "Bad bech32 checksum");
  return { hrp, words: words.slice(0, -6) };
}

/** 5-bit words → bytes; `pad` keeps a last partial byte (zero-filled), else leftover bits drop. */
export function wordsToBytes(words: number[], pad: boolean): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const w of words) {
    acc = (acc << 5) | w;
    bits += 5;
    while (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad && bits > 0) out.push((acc << (8 - bits)) & 0xff);
  return Uint8Array.from(out);
}

export function bytesToWords(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}

function intToWords(n: number, minWords = 1): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 0) {
    out.unshift(v % 32);
    v = Math.floor(v / 32);
  }
  while (out.length < minWords) out.unshift(0);
  return out;
}

function wordsToInt(words: number[]): number {
  return words.reduce((acc, w) => acc * 32 + w, 0);
}

const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export type Bolt11Network = "mainnet" | "testnet" | "signet" | "regtest";

// BOLT #11 "Human-readable part": ln + currency prefix + optional amount with a multiplier.
const PREFIXES: [string, Bolt11Network][] = [
  ["bcrt", "regtest"],
  ["bc", "mainnet"],
  ["tbs", "signet"],
  ["tb", "testnet"],
];
const PREFIX_OF: Record<Bolt11Network, string> = { mainnet: "bc", testnet: "tb", signet: "tbs", regtest: "bcrt" };
// Millisatoshis per unit of each multiplier, times 10 so "p" (0.1 msat) stays an integer.
const TENTH_MSATS: Record<string, bigint> = { "": 1_000_000_000_000n, m: 1_000_000_000n, u: 1_000_000n, n: 1_000n, p: 1n };

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

function parseHrp(hrp: string): { network: Bolt11Network; amountMsats: number | null } {
  if (!hrp.startsWith("ln")) throw new AppError("invalid_input", "Not a Lightning invoice");
  const rest = hrp.slice(2);
  const prefix = PREFIXES.find(([p]) => rest.startsWith(p) && /^\d*[munp]?$/.test(rest.slice(p.length)));
  if (!prefix) throw new AppError("invalid_input", `Unknown Lightning invoice prefix "${hrp}"`);
  const amountPart = rest.slice(prefix[0].length);
  if (amountPart === "") return { network: prefix[1], amountMsats: null };
  const m = /^(\d+)([munp]?)$/.exec(amountPart);
  if (!m || m[1]!.startsWith("0")) throw new AppError("invalid_input", "Invalid invoice amount");
  const tenths = BigInt(m[1]!) * TENTH_MSATS[m[2]!]!;
  // BOLT #11: a "p" amount must be a whole number of millisatoshis.
  if (tenths % 10n !== 0n) throw new AppError("invalid_input", "Invoice amount is not a whole number of millisatoshis");
  const msats = tenths / 10n;
  if (msats > BigInt(Number.MAX_SAFE_INTEGER)) throw new AppError("invalid_input", "Invoice amount too large");
  return { network: prefix[1], amountMsats: Number(msats) };
}

function amountToHrp(msats: number): string {
  if (!Number.isSafeInteger(msats) || msats <= 0) throw new AppError("invalid_input", "Invoice amount must be a positive whole number of msats");
  const tenths = BigInt(msats) * 10n;
  for (const mult of ["", "m", "u", "n", "p"]) {
    const unit = TENTH_MSATS[mult]!;
    if (tenths % unit === 0n) return `${tenths / unit}${mult}`;
  }
  throw new AppError("internal", "unreachable: p always divides");
}

const TAG = { p: 1, s: 16, d: 13, h: 23, x: 6, n: 19, c: 24, features: 5 } as const;

export function stripLightningPrefix(input: string): string {
  const s = input.trim();
  return s.toLowerCase().startsWith("lightning:") ? s.slice("lightning:".length) : s;
}

export function looksLikeBolt11(input: string): boolean {
  return /^ln(bcrt|bc|tbs|tb)[0-9munp]*1[02-9ac-hj-np-z]+$/.test(stripLightningPrefix(input).toLowerCase());
}

/** Decodes a BOLT #11 invoice (with or without "lightning:"). Bad input → AppError("invalid_input"). */
export function decodeBolt11(input: string): DecodedBolt11 {
  const invoice = stripLightningPrefix(input);
  const { hrp, words } = bech32Decode(invoice);
  const { network, amountMsats } = parseHrp(hrp);
  // 7 words of timestamp + at least the 104-word signature.
  if (words.length < 7 + 104) throw new AppError("invalid_input", "Lightning invoice too short");
  const data = words.slice(0, -104);
  const sig = wordsToBytes(words.slice(-104), false);
  const timestamp = wordsToInt(data.slice(0, 7));
  let paymentHash: string | null = null;
  let paymentSecret: string | null = null;
  let description: string | null = null;
  let descriptionHash: string | null = null;
  let payeePubkey: string | null = null;
  let expirySecs = 3600; // BOLT #11 default
  let minFinalCltvExpiry = 18; // BOLT #11 default
  let i = 7;
  while (i < data.length) {
    if (i + 3 > data.length) throw new AppError("invalid_input", "Truncated invoice field");
    const type = data[i]!;
    const len = data[i + 1]! * 32 + data[i + 2]!;
    const field = data.slice(i + 3, i + 3 + len);
    if (field.length !== len) throw new AppError("invalid_input", "Truncated invoice field");
    i += 3 + len;
    // BOLT #11: a reader MUST skip p, h, s, n fields that don't have the expected length.
    if (type === TAG.p && len === 52 && paymentHash === null) paymentHash = toHex(wordsToBytes(field, false));
    else if (type === TAG.s && len === 52 && paymentSecret === null) paymentSecret = toHex(wordsToBytes(field, false));
    else if (type === TAG.h && len === 52 && descriptionHash === null) descriptionHash = toHex(wordsToBytes(field, false));
    else if (type === TAG.n && len === 53 && payeePubkey === null) payeePubkey = toHex(wordsToBytes(field, false));
    else if (type === TAG.d && description === null) description = new TextDecoder().decode(wordsToBytes(field, false));
    else if (type === TAG.x) expirySecs = wordsToInt(field);
    else if (type === TAG.c) minFinalCltvExpiry = wordsToInt(field);
  }
  if (paymentHash === null) throw new AppError("invalid_input", "Lightning invoice has no payment hash");
  const signingHash = createHash("sha256")
    .update(Buffer.concat([Buffer.from(hrp, "utf8"), wordsToBytes(data, true)]))
    .digest("hex");
  return {
    network,
    amountMsats,
    timestamp,
    expirySecs,
    expiresAt: (timestamp + expirySecs) * 1000,
    paymentHash,
    paymentSecret,
    description,
    descriptionHash,
    payeePubkey,
    minFinalCltvExpiry,
    signature: toHex(sig),
    signingHash,
  };
}

export interface Bolt11Fields {
  network: Bolt11Network;
  amountMsats?: number | null;
  /** Unix seconds. */
  timestamp: number;
  paymentHash: string;
  paymentSecret: string;
  description?: string;
  descriptionHash?: string;
  expirySecs?: number;
  minFinalCltvExpiry?: number;
  payeePubkey?: string;
}

/** Signs the 32-byte digest: a 64-byte compact (r||s) signature and its recovery id (0–3). */
export type Bolt11Signer = (digest: Uint8Array) => { signature: Uint8Array; recovery: number };

function hex32(name: string, value: string, bytes = 32): Uint8Array {
  if (!new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(value)) throw new AppError("invalid_input", `${name} must be ${bytes} bytes of lowercase hex`);
  return Buffer.from(value, "hex");
}

function taggedField(type: number, words: number[]): number[] {
  if (words.length >= 1024) throw new AppError("invalid_input", "Invoice field too long");
  return [type, words.length >> 5, words.length & 31, ...words];
}

/** Builds and signs a BOLT #11 invoice. */
export function encodeBolt11(fields: Bolt11Fields, sign: Bolt11Signer): string {
  const hrp = "ln" + PREFIX_OF[fields.network] + (fields.amountMsats ? amountToHrp(fields.amountMsats) : "");
  if (!Number.isSafeInteger(fields.timestamp) || fields.timestamp < 0 || fields.timestamp >= 2 ** 35) {
    throw new AppError("invalid_input", "Invoice timestamp out of range");
  }
  const data: number[] = intToWords(fields.timestamp, 7);
  data.push(...taggedField(TAG.p, bytesToWords(hex32("paymentHash", fields.paymentHash))));
  data.push(...taggedField(TAG.s, bytesToWords(hex32("paymentSecret", fields.paymentSecret))));
  if (fields.descriptionHash !== undefined) {
    data.push(...taggedField(TAG.h, bytesToWords(hex32("descriptionHash", fields.descriptionHash))));
  } else {
    data.push(...taggedField(TAG.d, bytesToWords(new TextEncoder().encode(fields.description ?? ""))));
  }
  if (fields.expirySecs !== undefined) data.push(...taggedField(TAG.x, intToWords(fields.expirySecs)));
  if (fields.minFinalCltvExpiry !== undefined) data.push(...taggedField(TAG.c, intToWords(fields.minFinalCltvExpiry)));
  if (fields.payeePubkey !== undefined) data.push(...taggedField(TAG.n, bytesToWords(hex32("payeePubkey", fields.payeePubkey, 33))));
  // Feature bits 8 (var_onion_optin) and 14 (payment_secret), both required: what current
  // nodes set and what BOLT #11 readers expect alongside an `s` field.
  data.push(...taggedField(TAG.features, intToWords(2 ** 8 + 2 ** 14)));
  const digest = createHash("sha256")
    .update(Buffer.concat([Buffer.from(hrp, "utf8"), wordsToBytes(data, true)]))
    .digest();
  const { signature, recovery } = sign(new Uint8Array(digest));
  if (signature.length !== 64 || !Number.isInteger(recovery) || recovery < 0 || recovery > 3) {
    throw new AppError("internal", "Bolt11 signer returned a malformed signature");
  }
  const sigBytes = new Uint8Array(65);
  sigBytes.set(signature, 0);
  sigBytes[64] = recovery;
  return bech32Encode(hrp, [...data, ...bytesToWords(sigBytes)]);
}
