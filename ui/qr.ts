// A small QR Code encoder (ISO/IEC 18004) for the receive screen: byte and alphanumeric modes,
// versions 1–40, error correction L/M/Q/H, automatic mask choice. Pure: text in, module grid out.
// Written here instead of pulling a package because the dashboard needs only this much of it.

export type Ecc = "L" | "M" | "Q" | "H";

export interface QrCode {
  version: number;
  size: number;
  ecc: Ecc;
  mask: number;
  /** modules[row][col], true = dark. */
  modules: boolean[][];
}

// Error correction codewords per block and number of blocks, per level and version (index 0 unused):
// the spec's Table 9.
const ECC_PER_BLOCK: Record<Ecc, number[]> = {
  L: [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  M: [0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
  Q: [0, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  H: [0, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
};
const BLOCKS: Record<Ecc, number[]> = {
  L: [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
  M: [0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
  Q: [0, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
  H: [0, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
};
// Format information carries the level as these two bits (spec 7.9.1): L=01, M=00, Q=11, H=10.
const ECC_FORMAT_BITS: Record<Ecc, number> = { L: 1, M: 0, Q: 3, H: 2 };

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

type Mode = "alnum" | "byte";

class BitBuffer {
  bits: number[] = [];
  put(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) this.bits.push((value >>> i) & 1);
  }
}

function charCountBits(mode: Mode, version: number): number {
  const tier = version <= 9 ? 0 : version <= 26 ? 1 : 2;
  return mode === "alnum" ? [9, 11, 13][tier]! : [8, 16, 16][tier]!;
}

function segmentBits(mode: Mode, data: Uint8Array | string): BitBuffer {
  const bb = new BitBuffer();
  if (mode === "alnum") {
    const s = data as string;
    let i = 0;
    for (; i + 1 < s.length; i += 2) bb.put(ALNUM.indexOf(s[i]!) * 45 + ALNUM.indexOf(s[i + 1]!), 11);
    if (i < s.length) bb.put(ALNUM.indexOf(s[i]!), 6);
  } else {
    for (const b of data as Uint8Array) bb.put(b, 8);
  }
  return bb;
}

function alignmentPositions(version: number): number[] {
  if (version === 1) return [];
  const size = version * 4 + 17;
  const count = Math.floor(version / 7) + 2;
  const step = version === 32 ? 26 : Math.ceil((size - 13) / (count * 2 - 2)) * 2;
  const out = [6];
  for (let pos = size - 7; out.length < count; pos -= step) out.splice(1, 0, pos);
  return out;
}

/** The grid of function modules (finders, timing, alignment, format/version areas) for a version. */
function functionGrid(version: number): { dark: boolean[][]; reserved: boolean[][] } {
  const size = version * 4 + 17;
  const dark = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  const reserved = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  const set = (r: number, c: number, d: boolean) => {
    dark[r]![c] = d;
    reserved[r]![c] = true;
  };
  // Timing patterns: alternate along row 6 and column 6.
  for (let i = 0; i < size; i++) {
    set(6, i, i % 2 === 0);
    set(i, 6, i % 2 === 0);
  }
  // Finder patterns with their light separators.
  for (const [fr, fc] of [[3, 3], [3, size - 4], [size - 4, 3]] as const) {
    for (let dr = -4; dr <= 4; dr++) {
      for (let dc = -4; dc <= 4; dc++) {
        const r = fr + dr;
        const c = fc + dc;
        if (r < 0 || c < 0 || r >= size || c >= size) continue;
        const dist = Math.max(Math.abs(dr), Math.abs(dc));
        set(r, c, dist !== 2 && dist !== 4);
      }
    }
  }
  // Alignment patterns everywhere except over the finders.
  const pos = alignmentPositions(version);
  const last = pos.length - 1;
  for (let i = 0; i < pos.length; i++) {
    for (let j = 0; j < pos.length; j++) {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) continue;
      for (let dr = -2; dr <= 2; dr++) {
        for (let dc = -2; dc <= 2; dc++) set(pos[i]! + dr, pos[j]! + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
      }
    }
  }
  // Reserve the format areas (filled after masking) and the always-dark module.
  for (let i = 0; i < 9; i++) {
    reserved[8]![i] = true;
    reserved[i]![8] = true;
  }
  for (let i = 0; i < 8; i++) {
    reserved[8]![size - 1 - i] = true;
    reserved[size - 1 - i]![8] = true;
  }
  set(size - 8, 8, true);
  // Version information (versions 7+), two 6×3 blocks: BCH(18,6) with generator 0x1F25 (spec 7.10).
  if (version >= 7) {
    let rem = version;
    for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
    const bits = (version << 12) | rem;
    for (let i = 0; i < 18; i++) {
      const d = ((bits >>> i) & 1) === 1;
      const a = size - 11 + (i % 3);
      const b = Math.floor(i / 3);
      set(a, b, d);
      set(b, a, d);
    }
  }
  return { dark, reserved };
}

function dataCapacityCodewords(version: number): number {
  const { reserved } = functionGrid(version);
  let free = 0;
  for (const row of reserved) for (const r of row) if (!r) free++;
  return Math.floor(free / 8);
}

const capacityCache = new Map<number, number>();
function rawCodewords(version: number): number {
  let n = capacityCache.get(version);
  if (n === undefined) {
    n = dataCapacityCodewords(version);
    capacityCache.set(version, n);
  }
  return n;
}

// GF(256) arithmetic over the polynomial x^8+x^4+x^3+x^2+1 (0x11D), as the spec requires.
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
}
const gfMul = (a: number, b: number) => (a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!);

/** Generator polynomial (x-α^0)(x-α^1)…(x-α^(n-1)), coefficients highest degree first, leading 1 dropped. */
function rsGenerator(degree: number): Uint8Array {
  let poly = [1];
  for (let i = 0; i < degree; i++) {
    const next = new Array<number>(poly.length + 1).fill(0);
    for (let j = 0; j < poly.length; j++) {
      next[j] = next[j]! ^ poly[j]!;
      next[j + 1] = next[j + 1]! ^ gfMul(poly[j]!, EXP[i]!);
    }
    poly = next;
  }
  return Uint8Array.from(poly.slice(1));
}

function rsRemainder(data: Uint8Array, gen: Uint8Array): Uint8Array {
  const rem = new Uint8Array(gen.length);
  for (const b of data) {
    const factor = b ^ rem[0]!;
    rem.copyWithin(0, 1);
    rem[rem.length - 1] = 0;
    for (let i = 0; i < gen.length; i++) rem[i] = rem[i]! ^ gfMul(gen[i]!, factor);
  }
  return rem;
}

function maskBit(mask: number, r: number, c: number): boolean {
  switch (mask) {
    case 0: return (r + c) % 2 === 0;
    case 1: return r % 2 === 0;
    case 2: return c % 3 === 0;
    case 3: return (r + c) % 3 === 0;
    case 4: return (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0;
    case 5: return ((r * c) % 2) + ((r * c) % 3) === 0;
    case 6: return (((r * c) % 2) + ((r * c) % 3)) % 2 === 0;
    default: return (((r + c) % 2) + ((r * c) % 3)) % 2 === 0;
  }
}

function drawFormat(m: boolean[][], ecc: Ecc, mask: number): void {
  const size = m.length;
  const data = (ECC_FORMAT_BITS[ecc] << 3) | mask;
  // BCH(15,5) with generator 0x537, then XOR 0x5412 so the result is never all light (spec 7.9).
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  const bits = ((data << 10) | rem) ^ 0x5412;
  const bit = (i: number) => ((bits >>> i) & 1) === 1;
  // First copy around the top-left finder: bits 0–7 down column 8, bits 8–14 leftwards on row 8.
  for (let i = 0; i <= 5; i++) m[i]![8] = bit(i);
  m[7]![8] = bit(6);
  m[8]![8] = bit(7);
  m[8]![7] = bit(8);
  for (let i = 9; i < 15; i++) m[8]![14 - i] = bit(i);
  // Second copy split between the top-right and bottom-left finders.
  for (let i = 0; i < 8; i++) m[8]![size - 1 - i] = bit(i);
  for (let i = 8; i < 15; i++) m[size - 15 + i]![8] = bit(i);
  m[size - 8]![8] = true;
}

/** Penalty score of spec 7.8.3: lower is easier to scan. */
function penalty(m: boolean[][]): number {
  const size = m.length;
  let score = 0;
  const lineScore = (get: (i: number) => boolean) => {
    let s = 0;
    let run = 1;
    for (let i = 1; i <= size; i++) {
      if (i < size && get(i) === get(i - 1)) run++;
      else {
        if (run >= 5) s += 3 + (run - 5);
        run = 1;
      }
    }
    // Finder-like 1:1:3:1:1 runs with four light modules on one side (outside counts as light).
    const at = (i: number) => (i < 0 || i >= size ? false : get(i));
    for (let i = -4; i < size; i++) {
      if (at(i + 4) && !at(i + 5) && at(i + 6) && at(i + 7) && at(i + 8) && !at(i + 9) && at(i + 10)) {
        const before = !at(i) && !at(i + 1) && !at(i + 2) && !at(i + 3);
        const after = !at(i + 11) && !at(i + 12) && !at(i + 13) && !at(i + 14);
        if (before || after) s += 40;
      }
    }
    return s;
  };
  for (let r = 0; r < size; r++) score += lineScore((c) => m[r]![c]!);
  for (let c = 0; c < size; c++) score += lineScore((r) => m[r]![c]!);
  let dark = 0;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      if (m[r]![c]) dark++;
      if (r + 1 < size && c + 1 < size) {
        const v = m[r]![c];
        if (m[r + 1]![c] === v && m[r]![c + 1] === v && m[r + 1]![c + 1] === v) score += 3;
      }
    }
  }
  const percent = (dark * 100) / (size * size);
  score += Math.floor(Math.abs(percent - 50) / 5) * 10;
  return score;
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function isAlphanumeric(text: string): boolean {
  for (const ch of text) if (!ALNUM.includes(ch)) return false;
  return true;
}

/**
 * Encodes text as the smallest QR code that fits at the given level. Alphanumeric mode is chosen
 * when every character allows it (uppercase bolt11 invoices do: BOLT 11 suggests uppercase for QR).
 * Throws RangeError if the text does not fit in version 40.
 */
export function encodeQr(text: string, ecc: Ecc = "M"): QrCode {
  const mode: Mode = isAlphanumeric(text) ? "alnum" : "byte";
  const payload = mode === "alnum" ? text : utf8(text);
  const count = mode === "alnum" ? text.length : (payload as Uint8Array).length;
  const body = segmentBits(mode, payload);

  let version = 1;
  for (; version <= 40; version++) {
    const capacityBits = (rawCodewords(version) - ECC_PER_BLOCK[ecc][version]! * BLOCKS[ecc][version]!) * 8;
    const needed = 4 + charCountBits(mode, version) + body.bits.length;
    if (needed <= capacityBits && count < 1 << charCountBits(mode, version)) break;
  }
  if (version > 40) throw new RangeError(`Text too long for a QR code (${count} characters)`);

  const raw = rawCodewords(version);
  const blocks = BLOCKS[ecc][version]!;
  const eccLen = ECC_PER_BLOCK[ecc][version]!;
  const dataLen = raw - eccLen * blocks;

  const bb = new BitBuffer();
  bb.put(mode === "alnum" ? 0b0010 : 0b0100, 4);
  bb.put(count, charCountBits(mode, version));
  bb.bits.push(...body.bits);
  const capacity = dataLen * 8;
  bb.put(0, Math.min(4, capacity - bb.bits.length)); // terminator
  bb.put(0, (8 - (bb.bits.length % 8)) % 8);
  for (let pad = 0xec; bb.bits.length < capacity; pad ^= 0xec ^ 0x11) bb.put(pad, 8);

  const data = new Uint8Array(dataLen);
  for (let i = 0; i < bb.bits.length; i++) data[i >>> 3] = data[i >>> 3]! | (bb.bits[i]! << (7 - (i & 7)));

  // Split into blocks (short ones first), add Reed–Solomon codes, interleave (spec 7.6).
  const shortBlocks = blocks - (raw % blocks);
  const shortLen = Math.floor(raw / blocks) - eccLen;
  const gen = rsGenerator(eccLen);
  const dataBlocks: Uint8Array[] = [];
  const eccBlocks: Uint8Array[] = [];
  for (let b = 0, off = 0; b < blocks; b++) {
    const len = shortLen + (b < shortBlocks ? 0 : 1);
    const chunk = data.subarray(off, off + len);
    off += len;
    dataBlocks.push(chunk);
    eccBlocks.push(rsRemainder(chunk, gen));
  }
  const codewords: number[] = [];
  for (let i = 0; i <= shortLen; i++) for (const blk of dataBlocks) if (i < blk.length) codewords.push(blk[i]!);
  for (let i = 0; i < eccLen; i++) for (const blk of eccBlocks) codewords.push(blk[i]!);

  // Place the bits in the zigzag order: two-column strips from the right, skipping column 6.
  const { dark: base, reserved } = functionGrid(version);
  const size = base.length;
  const isData = base.map((row) => row.map(() => false));
  const modules = base.map((row) => row.slice());
  let bitIndex = 0;
  const totalBits = codewords.length * 8;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    const upward = ((size - 1 - right) >> 1) % 2 === 0;
    for (let k = 0; k < size; k++) {
      const r = upward ? size - 1 - k : k;
      for (const c of [right, right - 1]) {
        if (reserved[r]![c]) continue;
        isData[r]![c] = true;
        if (bitIndex < totalBits) {
          modules[r]![c] = ((codewords[bitIndex >>> 3]! >>> (7 - (bitIndex & 7))) & 1) === 1;
          bitIndex++;
        }
      }
    }
  }

  let best: boolean[][] | null = null;
  let bestMask = 0;
  let bestScore = Infinity;
  for (let mask = 0; mask < 8; mask++) {
    const m = modules.map((row, r) => row.map((d, c) => (isData[r]![c] && maskBit(mask, r, c) ? !d : d)));
    drawFormat(m, ecc, mask);
    const s = penalty(m);
    if (s < bestScore) {
      bestScore = s;
      best = m;
      bestMask = mask;
    }
  }
  return { version, size, ecc, mask: bestMask, modules: best! };
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
