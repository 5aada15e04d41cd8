// Pure formatting for the dashboard: amounts, sizes, ids, times, and the tone (status light colour)
// of each state. No DOM here, so every rule is unit-tested.

export type Tone = "ok" | "warn" | "bad" | "idle" | "busy";

const group = (digits: string) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** 1234567 → "1,234,567". Null or not finite → "—". */
export function formatInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  const sign = n < 0 ? "-" : "";
  return sign + group(String(Math.trunc(Math.abs(n))));
}

/** Millisatoshis shown as sats: whole sats grouped, a fraction only when there is one (1500 → "1.5"). */
export function formatMsats(msats: number | null | undefined): string {
  if (msats === null || msats === undefined || !Number.isFinite(msats)) return "—";
  const sign = msats < 0 ? "-" : "";
  const abs = Math.abs(Math.round(msats));
  const whole = Math.floor(abs / 1000);
  const frac = abs % 1000;
  const fracText = frac === 0 ? "" : "." + String(frac).padStart(3, "0").replace(/0+$/, "");
  return sign + group(String(whole)) + fracText;
}

/**
 * Parses what a user typed as an amount of sats ("1,000", "0.5", " 21 ") into msats. Empty → null;
 * negative, non-numeric or finer than 1 msat → NaN, so the caller can say what is wrong.
 */
export function parseSatsToMsats(text: string): number | null {
  const t = text.trim().replace(/[,_\s]/g, "");
  if (t === "") return null;
  if (!/^\d+(\.\d{0,3})?$/.test(t)) return Number.NaN;
  const [whole, frac = ""] = t.split(".");
  return Number(whole) * 1000 + Number(frac.padEnd(3, "0"));
}

/** Whole sats typed by a user; empty → null, anything else that is not a positive integer → NaN. */
export function parseWholeSats(text: string): number | null {
  const t = text.trim().replace(/[,_\s]/g, "");
  if (t === "") return null;
  if (!/^\d+$/.test(t)) return Number.NaN;
  const n = Number(t);
  return Number.isSafeInteger(n) && n > 0 ? n : Number.NaN;
}

/** Model sizes the way Ollama prints them: decimal units (4.7 GB). */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const text = i === 0 ? String(Math.round(v)) : v >= 100 ? v.toFixed(0) : v.toFixed(1);
  return `${text} ${units[i]}`;
}

/** First characters of a hex id, enough to tell jobs apart on screen. */
export function shortId(id: string, n = 8): string {
  return id.length <= n ? id : id.slice(0, n);
}

/** npub1abcdefgh…uvwxyz: keeps the prefix and the tail a person compares by eye. */
export function shortNpub(npub: string | null): string {
  if (!npub) return "";
  return npub.length <= 20 ? npub : `${npub.slice(0, 12)}…${npub.slice(-6)}`;
}

export function formatTps(tps: number | null | undefined): string {
  if (tps === null || tps === undefined || !Number.isFinite(tps)) return "—";
  return tps >= 100 ? tps.toFixed(0) : tps.toFixed(1);
}

export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${Math.round(ms)} ms`;
}

/** "now", "12s ago", "5m ago", "3h ago", "2d ago". */
export function formatAgo(unixMs: number, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - unixMs) / 1000));
  if (s < 5) return "now";
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ago`;
  return `${Math.floor(h / 24)}d ago`;
}

/** Percent done of a pull, 0–100, or null while the total is unknown. */
export function percent(completed: number | null, total: number | null): number | null {
  if (completed === null || total === null || total <= 0) return null;
  return Math.max(0, Math.min(100, (completed / total) * 100));
}

/** "2025-11-24" → "24" (day of month) and the weekday initial for the chart's axis. */
export function dayOfMonth(date: string): string {
  const m = /^\d{4}-\d{2}-(\d{2})$/.exec(date);
  return m ? String(Number(m[1])) : date;
}

const JOB_TONES: Record<string, Tone> = {
  received: "idle",
  "payment-required": "warn",
  paid: "busy",
  queued: "busy",
  processing: "busy",
  success: "ok",
  error: "bad",
  cancelled: "idle",
  expired: "idle",
};
export const jobTone = (status: string): Tone => JOB_TONES[status] ?? "idle";

const JOB_LABELS: Record<string, string> = {
  received: "received",
  "payment-required": "awaiting payment",
  paid: "paid",
  queued: "queued",
  processing: "generating",
  success: "done",
  error: "error",
  cancelled: "cancelled",
  expired: "expired",
};
export const jobLabel = (status: string): string => JOB_LABELS[status] ?? status;

export function relayTone(state: string): Tone {
  if (state === "connected") return "ok";
  if (state === "connecting") return "warn";
  if (state === "failed") return "bad";
  return "idle";
}

export function walletTone(state: string): Tone {
  if (state === "ready") return "ok";
  if (state === "connecting") return "warn";
  if (state === "error") return "bad";
  return "idle";
}

/**
 * Bar heights for the earnings chart: each day scaled to the largest (at least 1 sat so a quiet
 * fortnight draws flat bars instead of dividing by zero), with a 2-unit stub for days that earned.
 */
export function barHeights(values: number[], maxHeight: number): number[] {
  const max = Math.max(1, ...values);
  return values.map((v) => (v <= 0 ? 0 : Math.max(2, Math.round((v / max) * maxHeight))));
}
