// The receive screen's QR code, drawn by lean-qr (ISO/IEC 18004: numeric, alphanumeric and byte
// modes, chosen per segment; versions 1–40; automatic mask). This module keeps the dashboard's
// shape of it (a module grid, its version and mask) and the SVG path.
//
// Chosen by measurement (dashboard app.js gzipped, each encoder behind this same interface):
// the hand-written encoder this replaces 34.97 KB, lean-qr 36.22 KB, lean-qr/nano 34.58 KB,
// uqr 36.31 KB, qrcode-generator 40.55 KB. lean-qr/nano is the smallest but encodes bytes only
// (with a UTF-8 ECI): a 253-character invoice became version 12 instead of 9 (65 modules a side
// instead of 53), a 534-character one version 18 instead of 15, a denser code for a phone to read
// off a screen. Full lean-qr keeps the alphanumeric mode BOLT 11 suggests uppercase invoices use,
// for 1.6 KB more.
import { correction, generate } from "lean-qr";

export type Ecc = "L" | "M" | "Q" | "H";

export interface QrCode {
  version: number;
  size: number;
  ecc: Ecc;
  mask: number;
  /** modules[row][col], true = dark. */
  modules: boolean[][];
}

/** The mask pattern, read back from the format information beside the top-left finder. */
function maskOf(modules: boolean[][]): number {
  let bits = 0;
  for (let i = 0; i <= 5; i++) bits |= (modules[i]![8] ? 1 : 0) << i;
  bits |= (modules[7]![8] ? 1 : 0) << 6;
  bits |= (modules[8]![8] ? 1 : 0) << 7;
  bits |= (modules[8]![7] ? 1 : 0) << 8;
  for (let i = 9; i < 15; i++) bits |= (modules[8]![14 - i] ? 1 : 0) << i;
  return ((bits ^ 0x5412) >>> 10) & 7;
}

/**
 * Encodes text as the smallest QR code that fits at exactly the given level (uppercase bolt11
 * invoices go in alphanumeric mode: BOLT 11 suggests uppercase for QR). Throws RangeError if the
 * text does not fit in version 40.
 */
export function encodeQr(text: string, ecc: Ecc = "M"): QrCode {
  let bitmap;
  try {
    bitmap = generate(text, { minCorrectionLevel: correction[ecc], maxCorrectionLevel: correction[ecc] });
  } catch {
    throw new RangeError(`Text too long for a QR code (${text.length} characters)`);
  }
  const size = bitmap.size;
  const modules = Array.from({ length: size }, (_, r) => Array.from({ length: size }, (_, c) => bitmap.get(c, r)));
  return { version: (size - 17) / 4, size, ecc, mask: maskOf(modules), modules };
}

/** An SVG path ("M x y h1 v1 h-1 z" per dark module) with a quiet zone of `margin` modules. */
export function qrSvgPath(qr: QrCode, margin = 4): string {
  let d = "";
  for (let r = 0; r < qr.size; r++) {
    for (let c = 0; c < qr.size; c++) if (qr.modules[r]![c]) d += `M${c + margin} ${r + margin}h1v1h-1z`;
  }
  return d;
}

/**
 * The text to put in a receive QR code. BOLT 11 and BIP 173 allow uppercase, which lets the QR use
 * the denser alphanumeric mode; a payment URI scheme lets phone wallets open it directly.
 */
export function receiveQrText(kind: "bolt11" | "address", value: string): string {
  const v = value.trim();
  if (kind === "bolt11") return `LIGHTNING:${v}`.toUpperCase();
  if (/^(bc1|tb1|bcrt1)[a-z0-9]+$/i.test(v)) return `BITCOIN:${v}`.toUpperCase();
  return v;
}
