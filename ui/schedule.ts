// The weekly grid of the SCHEDULE settings: hour cells ↔ config ranges ("HH:MM-HH:MM" per day,
// src/config.ts Schedule). Pure, so it is tested without a browser.
import type { Pause, Schedule } from "../src/config.ts";
import { parseRange, type Day, type Weekly } from "../src/service/schedule.ts";

/** The grid's rows, Monday first. */
export const GRID_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const satisfies readonly Day[];
/** grid[day][hour]: selling in that hour (days Monday first, as the grid shows them). */
export type Grid = boolean[][];

const PREV: Record<Day, Day> = { mon: "sun", tue: "mon", wed: "tue", thu: "wed", fri: "thu", sat: "fri", sun: "sat" };

/** A cell is on when any part of its hour is in a range (a range past midnight spills into the next day). */
export function weeklyToGrid(weekly: Partial<Weekly>): Grid {
  const grid = GRID_DAYS.map(() => Array<boolean>(24).fill(false));
  GRID_DAYS.forEach((day, d) => {
    const mark = (from: number, to: number) => {
      for (let h = 0; h < 24; h++) if (h * 60 < to && (h + 1) * 60 > from) grid[d]![h] = true;
    };
    for (const r of (weekly[day] ?? []).map(parseRange)) {
      if (r.end > r.start) mark(r.start, r.end);
      else mark(r.start, 1440);
    }
    for (const r of (weekly[PREV[day]] ?? []).map(parseRange)) if (r.end <= r.start) mark(0, r.end);
  });
  return grid;
}

/** Runs of on-cells → "HH:00-HH:00" ranges per day (24:00 ends a run at midnight). */
export function gridToWeekly(grid: Grid): Weekly {
  const hh = (h: number) => `${String(h).padStart(2, "0")}:00`;
  const out = {} as Weekly;
  GRID_DAYS.forEach((day, d) => {
    const ranges: string[] = [];
    let start: number | null = null;
    for (let h = 0; h <= 24; h++) {
      const on = h < 24 && grid[d]![h]!;
      if (on && start === null) start = h;
      if (!on && start !== null) {
        ranges.push(`${hh(start)}-${h === 24 ? "24:00" : hh(h)}`);
        start = null;
      }
    }
    out[day] = ranges;
  });
  return out;
}

/** A positive number, or null for an empty field (no limit); NaN for anything else. */
export function limitValue(text: string, integer: boolean): number | null {
  const t = text.trim();
  if (t === "") return null;
  if (!/^\d+(\.\d+)?$/.test(t)) return NaN;
  const n = Number(t);
  if (n <= 0 || (integer && !Number.isInteger(n))) return NaN;
  return n;
}

/** The SCHEDULE section's fields as typed (numbers as text until saved). */
export interface ScheduleForm {
  enabled: boolean;
  grid: Grid;
  /** Only a touched grid is saved: ranges finer than an hour in config.json stay as written. */
  gridTouched: boolean;
  graceSecs: string;
  maxJobsPerDay: string;
  maxSatsPerDay: string;
  maxGpuHoursPerDay: string;
  pauseEnabled: boolean;
  nvidia: boolean;
  ollama: boolean;
  idleSecs: string;
  holdSecs: string;
  running: "finish" | "cancel";
}
export type ScheduleErrors = Partial<Record<"graceSecs" | "maxJobsPerDay" | "maxSatsPerDay" | "maxGpuHoursPerDay" | "idleSecs" | "holdSecs", string>>;

export function scheduleToForm(s: Schedule, p: Pause): ScheduleForm {
  const str = (n: number | null) => (n === null ? "" : String(n));
  return {
    enabled: s.enabled,
    grid: weeklyToGrid(s.weekly),
    gridTouched: false,
    graceSecs: String(s.graceSecs),
    maxJobsPerDay: str(s.maxJobsPerDay),
    maxSatsPerDay: str(s.maxSatsPerDay),
    maxGpuHoursPerDay: str(s.maxGpuHoursPerDay),
    pauseEnabled: p.enabled,
    nvidia: p.nvidia,
    ollama: p.ollama,
    idleSecs: String(p.idleSecs),
    holdSecs: String(p.holdSecs),
    running: p.running,
  };
}

export function scheduleFormToPatch(
  f: ScheduleForm,
): { ok: true; patch: { schedule: Record<string, unknown>; pause: Record<string, unknown> } } | { ok: false; errors: ScheduleErrors } {
  const errors: ScheduleErrors = {};
  const whole = (key: "graceSecs" | "idleSecs" | "holdSecs", max: number) => {
    const t = f[key].trim();
    const n = /^\d{1,6}$/.test(t) ? Number(t) : NaN;
    if (!(n >= 0 && n <= max)) errors[key] = `A whole number from 0 to ${max.toLocaleString("en-US")}.`;
    return n;
  };
  const limit = (key: "maxJobsPerDay" | "maxSatsPerDay" | "maxGpuHoursPerDay", integer: boolean, max = Infinity) => {
    const n = limitValue(f[key], integer);
    if (n !== null && !(n <= max)) errors[key] = integer ? "Empty for no limit, or a whole number above 0." : `Empty for no limit, or hours above 0 up to ${max}.`;
    return n;
  };
  const schedule: Record<string, unknown> = {
    enabled: f.enabled,
    graceSecs: whole("graceSecs", 86_400),
    maxJobsPerDay: limit("maxJobsPerDay", true),
    maxSatsPerDay: limit("maxSatsPerDay", true),
    maxGpuHoursPerDay: limit("maxGpuHoursPerDay", false, 24),
  };
  if (f.gridTouched) schedule.weekly = gridToWeekly(f.grid);
  const pause = { enabled: f.pauseEnabled, nvidia: f.nvidia, ollama: f.ollama, idleSecs: whole("idleSecs", 86_400), holdSecs: whole("holdSecs", 86_400), running: f.running };
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, patch: { schedule, pause } };
}
