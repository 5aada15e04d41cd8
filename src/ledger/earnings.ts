// Earnings arithmetic on local calendar days, kept pure so it can be tested against any clock.
// Days and weeks follow the machine's local time zone; a week starts on Monday (ISO 8601).
// Boundaries are computed with calendar arithmetic (new Date(y, m, d)), never by adding 24 h, so a
// daylight-saving day of 23 or 25 hours is still one day.
import type { Earnings } from "./events.ts";

export const EARNINGS_DAYS = 14;

/** Local midnight starting the day `offset` days after the day containing `d`. */
export function localDayStart(d: Date, offset = 0): Date {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + offset);
}

/** Local midnight of the Monday starting the week containing `d`. */
export function localWeekStart(d: Date): Date {
  const sinceMonday = (d.getDay() + 6) % 7; // getDay: 0 = Sunday
  return localDayStart(d, -sinceMonday);
}

/** YYYY-MM-DD of the local date. */
export function localDateKey(d: Date): string {
  const mm = String(d.getMonth() + 1).padStart(2, "0");
  const dd = String(d.getDate()).padStart(2, "0");
  return `${d.getFullYear()}-${mm}-${dd}`;
}

/** The window of recent records a calendar's summary needs: [start, end) in unix ms. */
export function calendarWindow(cal: LocalCalendar): { start: number; end: number } {
  return { start: Math.min(cal.starts[0]!, cal.weekStart), end: cal.starts[cal.starts.length - 1]! };
}

export interface EarningsInput {
  /** Payments received inside calendarWindow(cal): when and how much. */
  recentPayments: { receivedAt: number; amountMsats: number }[];
  /** Successful jobs inside calendarWindow(cal), counted by finish time (one entry per time slot, not per job). */
  recentSuccessfulJobs: { at: number; jobs: number }[];
  allMsats: number;
  allJobs: number;
  byModel: { model: string; msats: number; jobs: number }[];
}

const sats = (msats: number) => msats / 1000;

/**
 * The local calendar the summary needs, as instants: computed from a Date here (localCalendar), or
 * by SQLite for the offline `compute earnings` (earnings-offline.ts, without the JS engine's time-
 * zone data); both must give the same numbers.
 */
export interface LocalCalendar {
  /** YYYY-MM-DD of the last EARNINGS_DAYS local days, oldest first, ending today. */
  days: string[];
  /** Unix ms of the first instant of each of those days, then of tomorrow (EARNINGS_DAYS + 1). */
  starts: number[];
  /** Unix ms of the start of this week's Monday. */
  weekStart: number;
}

export function localCalendar(now: Date): LocalCalendar {
  const starts: number[] = [];
  for (let i = -(EARNINGS_DAYS - 1); i <= 1; i++) starts.push(localDayStart(now, i).getTime());
  return { days: starts.slice(0, -1).map((t) => localDateKey(new Date(t))), starts, weekStart: localWeekStart(now).getTime() };
}

/** The summary on a given calendar: only number comparisons, no Date method. */
export function summarizeCalendar(input: EarningsInput, cal: LocalCalendar): Earnings {
  const bounds = cal.starts;
  const todayStart = bounds[bounds.length - 2]!;
  const weekStart = cal.weekStart;
  const end = bounds[bounds.length - 1]!;
  const days = cal.days.map((date) => ({ date, msats: 0, jobs: 0 }));
  const bucket = (t: number) => {
    if (t < bounds[0]! || t >= end) return -1;
    let i = 0;
    while (t >= bounds[i + 1]!) i++;
    return i;
  };

  let todayMsats = 0;
  let weekMsats = 0;
  let todayJobs = 0;
  let weekJobs = 0;
  for (const p of input.recentPayments) {
    if (p.receivedAt >= end) continue;
    if (p.receivedAt >= todayStart) todayMsats += p.amountMsats;
    if (p.receivedAt >= weekStart) weekMsats += p.amountMsats;
    const i = bucket(p.receivedAt);
    if (i >= 0) days[i]!.msats += p.amountMsats;
  }
  for (const { at: t, jobs } of input.recentSuccessfulJobs) {
    if (t >= end) continue;
    if (t >= todayStart) todayJobs += jobs;
    if (t >= weekStart) weekJobs += jobs;
    const i = bucket(t);
    if (i >= 0) days[i]!.jobs += jobs;
  }
  return {
    todaySats: sats(todayMsats),
    todayJobs,
    weekSats: sats(weekMsats),
    weekJobs,
    allSats: sats(input.allMsats),
    allJobs: input.allJobs,
    days: days.map((d) => ({ date: d.date, sats: sats(d.msats), jobs: d.jobs })),
    byModel: input.byModel
      .map((m) => ({ model: m.model, sats: sats(m.msats), jobs: m.jobs }))
      .sort((a, b) => b.sats - a.sats || b.jobs - a.jobs || (a.model < b.model ? -1 : a.model > b.model ? 1 : 0)),
  };
}
