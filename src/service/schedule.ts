// When to sell: weekly hours in local time and daily limits, as pure functions of a clock. Local
// time is the machine's (the TZ of the process): wall-clock fields come from Date's local getters
// and boundaries are built with new Date(y, m, d, h, min), never by adding hours, so a 23- or
// 25-hour daylight-saving day keeps its hours where the owner wrote them.
import type { Schedule } from "../config.ts";

export const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type Day = (typeof DAYS)[number];
export type Weekly = Record<Day, string[]>;

/** "HH:MM-HH:MM" → minutes of the day; an end at or before the start runs past midnight. */
export function parseRange(range: string): { start: number; end: number } {
  const m = /^(\d\d):(\d\d)-(\d\d):(\d\d)$/.exec(range);
  if (!m) throw new Error(`bad time range '${range}'`);
  return { start: Number(m[1]) * 60 + Number(m[2]), end: Number(m[3]) * 60 + Number(m[4]) };
}

const minuteOf = (d: Date) => d.getHours() * 60 + d.getMinutes();

/**
 * Whether `t` falls in the weekly hours. A range on a day covers [start, end) of that day; one
 * whose end is not after its start ("22:00-06:00") covers the rest of that day and the next
 * morning until the end.
 */
export function isOpen(weekly: Weekly, t: number): boolean {
  const d = new Date(t);
  const day = d.getDay();
  const min = minuteOf(d);
  for (const r of weekly[DAYS[day]!].map(parseRange)) {
    if (r.end > r.start ? min >= r.start && min < r.end : min >= r.start) return true;
  }
  for (const r of weekly[DAYS[(day + 6) % 7]!].map(parseRange)) {
    if (r.end <= r.start && min < r.end) return true;
  }
  return false;
}

/**
 * The next moment after `t` when isOpen changes, or null if it never does (always or never
 * open). Candidates are each range's start and end on the next 8 calendar days, built in local
 * time (a start inside a skipped spring-forward hour lands just after it, as Date does).
 */
export function nextChange(weekly: Weekly, t: number): number | null {
  const now = new Date(t);
  const open = isOpen(weekly, t);
  const candidates: number[] = [];
  for (let off = -1; off <= 8; off++) {
    const base = new Date(now.getFullYear(), now.getMonth(), now.getDate() + off);
    for (const r of weekly[DAYS[base.getDay()]!].map(parseRange)) {
      for (const [min, dayShift] of [[r.start, 0], [r.end, r.end <= r.start ? 1 : 0]] as const) {
        const c = new Date(base.getFullYear(), base.getMonth(), base.getDate() + dayShift, Math.floor(min / 60), min % 60).getTime();
        if (c > t) candidates.push(c);
      }
    }
    // Midnight, for ranges ending at 24:00 (written 00:00 of the next day).
    candidates.push(new Date(base.getFullYear(), base.getMonth(), base.getDate() + 1).getTime());
  }
  for (const c of [...new Set(candidates)].filter((c) => c > t).sort((a, b) => a - b)) {
    if (isOpen(weekly, c) !== open) return c;
  }
  return null;
}

/** The next local midnight after `t` (when the daily limits start again). */
export function nextMidnight(t: number): number {
  const d = new Date(t);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
}

/** "YYYY-MM-DD" of the local day holding `t`. */
export function localDateKey(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export interface UsageToday {
  jobs: number;
  sats: number;
  gpuMs: number;
}

export type Gate = { open: true; reason: null; until: number | null } | { open: false; reason: string; until: number | null };

/** "Mon 18:00" (or "18:00" when it is later today), local time. */
export function when(t: number, now: number): string {
  const d = new Date(t);
  const hm = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  if (localDateKey(t) === localDateKey(now)) return hm;
  return `${["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getDay()]} ${hm}`;
}

/**
 * Whether to sell now: the daily limits first (they hold until midnight), then the weekly hours
 * (when the schedule is on). `until` is when the answer changes by itself, if known.
 */
export function sellGate(s: Schedule, usage: UsageToday, now: number): Gate {
  const midnight = nextMidnight(now);
  if (s.maxJobsPerDay !== null && usage.jobs >= s.maxJobsPerDay) {
    return { open: false, reason: `today's limit of ${s.maxJobsPerDay} jobs is reached (back at midnight)`, until: midnight };
  }
  if (s.maxSatsPerDay !== null && usage.sats >= s.maxSatsPerDay) {
    return { open: false, reason: `today's limit of ${s.maxSatsPerDay} sats is reached (back at midnight)`, until: midnight };
  }
  if (s.maxGpuHoursPerDay !== null && usage.gpuMs >= s.maxGpuHoursPerDay * 3_600_000) {
    return { open: false, reason: `today's limit of ${s.maxGpuHoursPerDay} h of GPU time is reached (back at midnight)`, until: midnight };
  }
  if (!s.enabled) return { open: true, reason: null, until: null };
  const next = nextChange(s.weekly, now);
  if (isOpen(s.weekly, now)) return { open: true, reason: null, until: next };
  return { open: false, reason: next === null ? "outside the schedule (no hours set)" : `outside the schedule (back at ${when(next, now)})`, until: next };
}
