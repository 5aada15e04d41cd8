import { describe, expect, test } from "bun:test";
import {
  barHeights,
  dayOfMonth,
  formatAgo,
  formatBytes,
  formatInt,
  formatLatency,
  formatMsats,
  formatTps,
  jobLabel,
  jobTone,
  parseSatsToMsats,
  parseWholeSats,
  percent,
  relayTone,
  shortId,
  shortNpub,
  walletTone,
} from "../../ui/format.ts";

describe("amounts", () => {
  test("formatInt groups thousands and shows a dash for nothing", () => {
    expect(formatInt(0)).toBe("0");
    expect(formatInt(999)).toBe("999");
    expect(formatInt(1000)).toBe("1,000");
    expect(formatInt(1234567)).toBe("1,234,567");
    expect(formatInt(-48210)).toBe("-48,210");
    expect(formatInt(null)).toBe("—");
    expect(formatInt(Number.NaN)).toBe("—");
  });

  test("formatMsats shows sats with a fraction only when there is one", () => {
    expect(formatMsats(10_000)).toBe("10");
    expect(formatMsats(1_500)).toBe("1.5");
    expect(formatMsats(1)).toBe("0.001");
    expect(formatMsats(1_234_567_890)).toBe("1,234,567.89");
    expect(formatMsats(0)).toBe("0");
    expect(formatMsats(undefined)).toBe("—");
  });

  test("parseSatsToMsats reads what people type", () => {
    expect(parseSatsToMsats("10")).toBe(10_000);
    expect(parseSatsToMsats(" 0.5 ")).toBe(500);
    expect(parseSatsToMsats("1,000")).toBe(1_000_000);
    expect(parseSatsToMsats("0.001")).toBe(1);
    expect(parseSatsToMsats("")).toBeNull();
    expect(parseSatsToMsats("0.0001")).toBeNaN();
    expect(parseSatsToMsats("-1")).toBeNaN();
    expect(parseSatsToMsats("ten")).toBeNaN();
  });

  test("parseWholeSats wants a positive integer or nothing", () => {
    expect(parseWholeSats("2500")).toBe(2500);
    expect(parseWholeSats("2,500")).toBe(2500);
    expect(parseWholeSats("  ")).toBeNull();
    expect(parseWholeSats("0")).toBeNaN();
    expect(parseWholeSats("1.5")).toBeNaN();
    expect(parseWholeSats("99999999999999999999")).toBeNaN();
  });
});

describe("sizes, ids, times", () => {
  test("formatBytes uses decimal units like Ollama", () => {
    expect(formatBytes(2_019_393_189)).toBe("2.0 GB");
    expect(formatBytes(4_683_087_332)).toBe("4.7 GB");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(123_456_789)).toBe("123 MB");
    expect(formatBytes(-1)).toBe("—");
  });

  test("shortId and shortNpub", () => {
    expect(shortId("abcdef0123456789")).toBe("abcdef01");
    expect(shortId("abc")).toBe("abc");
    const npub = "npub1" + "q".repeat(58);
    expect(shortNpub(npub)).toBe(`${npub.slice(0, 12)}…${npub.slice(-6)}`);
    expect(shortNpub(null)).toBe("");
  });

  test("formatTps, formatLatency", () => {
    expect(formatTps(31.46)).toBe("31.5");
    expect(formatTps(123.4)).toBe("123");
    expect(formatTps(null)).toBe("—");
    expect(formatLatency(84.4)).toBe("84 ms");
    expect(formatLatency(12_300)).toBe("12 s");
    expect(formatLatency(null)).toBe("—");
  });

  test("formatAgo", () => {
    const now = 1_000_000_000;
    expect(formatAgo(now - 2_000, now)).toBe("now");
    expect(formatAgo(now - 12_000, now)).toBe("12s ago");
    expect(formatAgo(now - 5 * 60_000, now)).toBe("5m ago");
    expect(formatAgo(now - 3 * 3_600_000, now)).toBe("3h ago");
    expect(formatAgo(now - 3 * 86_400_000, now)).toBe("3d ago");
    expect(formatAgo(now + 10_000, now)).toBe("now");
  });

  test("percent and dayOfMonth", () => {
    expect(percent(25, 100)).toBe(25);
    expect(percent(150, 100)).toBe(100);
    expect(percent(null, 100)).toBeNull();
    expect(percent(1, 0)).toBeNull();
    expect(dayOfMonth("2025-11-04")).toBe("4");
    expect(dayOfMonth("bad")).toBe("bad");
  });
});

describe("tones and labels", () => {
  test("every job status has a tone and a label", () => {
    for (const s of ["received", "payment-required", "paid", "queued", "processing", "success", "error", "cancelled", "expired"]) {
      expect(["ok", "warn", "bad", "idle", "busy"]).toContain(jobTone(s));
      expect(jobLabel(s).length).toBeGreaterThan(0);
    }
    expect(jobTone("success")).toBe("ok");
    expect(jobTone("error")).toBe("bad");
    expect(jobTone("payment-required")).toBe("warn");
    expect(jobLabel("processing")).toBe("generating");
    expect(jobLabel("mystery")).toBe("mystery");
  });
  test("relays and wallet", () => {
    expect(relayTone("connected")).toBe("ok");
    expect(relayTone("connecting")).toBe("warn");
    expect(relayTone("failed")).toBe("bad");
    expect(relayTone("disconnected")).toBe("idle");
    expect(walletTone("ready")).toBe("ok");
    expect(walletTone("error")).toBe("bad");
    expect(walletTone("locked")).toBe("idle");
  });
});

describe("barHeights", () => {
  test("scales to the largest day, keeps a visible stub for small days and zero for none", () => {
    expect(barHeights([0, 50, 100], 60)).toEqual([0, 30, 60]);
    expect(barHeights([1, 1000], 60)).toEqual([2, 60]);
    expect(barHeights([0, 0], 60)).toEqual([0, 0]);
    expect(barHeights([], 60)).toEqual([]);
  });
});
