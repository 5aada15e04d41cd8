import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeQr, qrSvgPath, receiveQrText, type Ecc, type QrCode } from "../../ui/qr.ts";

/** Longest text that still fits `version` (searching by length). */
function capacity(make: (n: number) => string, ecc: Ecc, version: number): number {
  let n = 1;
  while (encodeQr(make(n + 1), ecc).version <= version) n++;
  return n;
}

describe("QR capacities match the spec's table", () => {
  const bytes = (n: number) => "a".repeat(n);
  const alnum = (n: number) => "A".repeat(n);
  test("version 1 at each level", () => {
    expect(capacity(bytes, "L", 1)).toBe(17);
    expect(capacity(bytes, "M", 1)).toBe(14);
    expect(capacity(bytes, "Q", 1)).toBe(11);
    expect(capacity(bytes, "H", 1)).toBe(7);
    expect(capacity(alnum, "L", 1)).toBe(25);
    expect(capacity(alnum, "M", 1)).toBe(20);
    expect(capacity(alnum, "Q", 1)).toBe(16);
    expect(capacity(alnum, "H", 1)).toBe(10);
  });
  test("larger versions and the limit", () => {
    expect(encodeQr(bytes(213), "M").version).toBe(10);
    expect(encodeQr(bytes(214), "M").version).toBe(11);
    expect(encodeQr(alnum(311), "M").version).toBe(10);
    expect(encodeQr(alnum(312), "M").version).toBe(11);
    expect(encodeQr(bytes(2953), "L").version).toBe(40);
    expect(() => encodeQr(bytes(2954), "L")).toThrow(RangeError);
    expect(encodeQr(bytes(1273), "H").version).toBe(40);
    expect(() => encodeQr(bytes(1274), "H")).toThrow(RangeError);
    expect(encodeQr(alnum(1852), "H").version).toBe(40);
    expect(() => encodeQr(alnum(1853), "H")).toThrow(RangeError);
  });
});

function formatBitsAt(qr: QrCode): number {
  const m = qr.modules;
  const bits: boolean[] = [];
  for (let i = 0; i <= 5; i++) bits[i] = m[i]![8]!;
  bits[6] = m[7]![8]!;
  bits[7] = m[8]![8]!;
  bits[8] = m[8]![7]!;
  for (let i = 9; i < 15; i++) bits[i] = m[8]![14 - i]!;
  return bits.reduce((acc, b, i) => acc | ((b ? 1 : 0) << i), 0);
}

/** Remainder of a polynomial (bits of `value`) divided by `gen`, over GF(2). */
function polyMod(value: number, gen: number): number {
  const genDeg = 31 - Math.clz32(gen);
  let v = value;
  for (let d = 31 - Math.clz32(v); d >= genDeg; d = 31 - Math.clz32(v)) v ^= gen << (d - genDeg);
  return v;
}

describe("QR structure", () => {
  test("finder patterns, timing patterns and the dark module are in place", () => {
    const qr = encodeQr("structure check", "M");
    const m = qr.modules;
    const n = qr.size;
    expect(n).toBe(qr.version * 4 + 17);
    for (const [r0, c0] of [[0, 0], [0, n - 7], [n - 7, 0]] as const) {
      for (let r = 0; r < 7; r++) {
        for (let c = 0; c < 7; c++) {
          const ring = Math.max(Math.abs(r - 3), Math.abs(c - 3));
          expect(m[r0 + r]![c0 + c]).toBe(ring !== 2);
        }
      }
    }
    for (let i = 8; i < n - 8; i++) {
      expect(m[6]![i]).toBe(i % 2 === 0);
      expect(m[i]![6]).toBe(i % 2 === 0);
    }
    expect(m[n - 8]![8]).toBe(true);
  });

  test("format information is a valid BCH code word naming the level and mask, twice", () => {
    for (const ecc of ["L", "M", "Q", "H"] as const) {
      const qr = encodeQr(`format ${ecc}`, ecc);
      const bits = formatBitsAt(qr) ^ 0x5412;
      expect(polyMod(bits, 0x537)).toBe(0);
      expect(bits >>> 10).toBe(({ L: 1, M: 0, Q: 3, H: 2 }[ecc] << 3) | qr.mask);
      // The second copy (top-right row 8, bottom-left column 8) carries the same bits.
      const n = qr.size;
      let second = 0;
      for (let i = 0; i < 8; i++) second |= (qr.modules[8]![n - 1 - i] ? 1 : 0) << i;
      for (let i = 8; i < 15; i++) second |= (qr.modules[n - 15 + i]![8] ? 1 : 0) << i;
      expect(second).toBe(formatBitsAt(qr));
    }
  });

  test("version information (7+) is a valid BCH(18,6) code word", () => {
    const qr = encodeQr("x".repeat(200), "M");
    expect(qr.version).toBeGreaterThanOrEqual(7);
    let bits = 0;
    for (let i = 0; i < 18; i++) if (qr.modules[Math.floor(i / 3)]![qr.size - 11 + (i % 3)]) bits |= 1 << i;
    expect(bits >>> 12).toBe(qr.version);
    expect(polyMod(bits, 0x1f25)).toBe(0);
  });

  test("svg path has one square per dark module, offset by the quiet zone", () => {
    const qr = encodeQr("A", "L");
    const dark = qr.modules.flat().filter(Boolean).length;
    const path = qrSvgPath(qr, 4);
    expect(path.match(/M/g)!.length).toBe(dark);
    expect(path.startsWith("M4 4h1v1h-1z")).toBe(true); // top-left finder corner
  });
});

describe("encoder choice (lean-qr, see ui/qr.ts)", () => {
  test("an uppercase invoice goes in alphanumeric mode: 253 characters fit version 9 at M, not 12 as bytes", () => {
    const text = receiveQrText("bolt11", "lnbcrt300n1p5xyzexample" + "q".repeat(220));
    expect(text.length).toBe(253);
    expect(encodeQr(text, "M").version).toBe(9);
    expect(encodeQr(text.toLowerCase(), "M").version).toBe(12);
  });

  test("the level is exactly the one asked for, never raised", () => {
    // 10 alphanumeric characters fit version 1 even at H; M must still say M.
    expect(formatBitsAt(encodeQr("ABCDEFGHIJ", "M")) ^ 0x5412).toBeLessThan(8 << 10);
  });
});

/** Only QR alphanumeric-mode characters (ISO/IEC 18004 table 5). */
const isAlphanumeric = (text: string) => [...text].every((ch) => "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".includes(ch));

describe("payload text", () => {
  test("bolt11 and bech32 addresses are uppercased into alphanumeric-mode URIs", () => {
    const inv = "lnbc2500n1pexample0qqq";
    expect(receiveQrText("bolt11", inv)).toBe("LIGHTNING:LNBC2500N1PEXAMPLE0QQQ");
    expect(isAlphanumeric(receiveQrText("bolt11", inv))).toBe(true);
    expect(receiveQrText("address", "bc1qexample")).toBe("BITCOIN:BC1QEXAMPLE");
    expect(receiveQrText("address", "sp1qMixed")).toBe("sp1qMixed");
  });
});

// A real decoder reads what we drew: the only proof that phones will scan it.
const zbar = spawnSync("zbarimg", ["--version"]).status === 0;

function toPbm(qr: QrCode, scale = 3, margin = 4): string {
  const n = (qr.size + margin * 2) * scale;
  const rows: string[] = [];
  for (let y = 0; y < n; y++) {
    const r = Math.floor(y / scale) - margin;
    let line = "";
    for (let x = 0; x < n; x++) {
      const c = Math.floor(x / scale) - margin;
      line += r >= 0 && c >= 0 && r < qr.size && c < qr.size && qr.modules[r]![c] ? "1" : "0";
    }
    rows.push(line);
  }
  return `P1\n${n} ${n}\n${rows.join("\n")}\n`;
}

describe.skipIf(!zbar)("QR codes decode with zbarimg", () => {
  test("across modes, levels and versions 1–40", () => {
    const dir = mkdtempSync(join(tmpdir(), "qr-"));
    try {
      const cases: [string, Ecc][] = [
        ["HELLO WORLD", "Q"],
        ["https://example.com/?a=1&b=2", "H"],
        [receiveQrText("bolt11", "lnbc25u1p" + "qpzry9x8gf2tvdw0s3jn54khce6mua7l".repeat(10)), "M"],
        ["sp1qMixedCase address and UTF-8: zahlung für Jobs ✓", "M"],
      ];
      const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 .-";
      for (const len of [30, 90, 160, 400, 700, 1100, 1600, 2300, 2900]) {
        let s = "";
        for (let i = 0; i < len; i++) s += alphabet[(i * 7 + len) % alphabet.length];
        cases.push([s, "L"]);
        if (len <= 2300) cases.push([s.toUpperCase().replace(/[^0-9A-Z .-]/g, "Z"), len > 1600 ? "Q" : "M"]);
      }
      const versions = new Set<number>();
      for (const [i, [text, ecc]] of cases.entries()) {
        const qr = encodeQr(text, ecc);
        versions.add(qr.version);
        const file = join(dir, `${i}.pbm`);
        writeFileSync(file, toPbm(qr));
        const out = spawnSync("zbarimg", ["-q", "--raw", file], { encoding: "utf8" });
        expect({ i, version: qr.version, ecc, decoded: out.stdout.replace(/\n$/, "") }).toEqual({ i, version: qr.version, ecc, decoded: text });
      }
      expect(Math.max(...versions)).toBeGreaterThanOrEqual(35);
      expect(versions.size).toBeGreaterThanOrEqual(12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});
