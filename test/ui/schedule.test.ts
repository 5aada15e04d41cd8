// The SCHEDULE settings' grid and form (ui/schedule.ts) and the provider panel's "today" line, pure.
import { expect, test } from "bun:test";
import { Schedule, Pause } from "../../src/config.ts";
import { gridToWeekly, limitValue, scheduleFormToPatch, scheduleToForm, weeklyToGrid } from "../../ui/schedule.ts";
import { todayText } from "../../ui/components/provider.ts";

const empty = { mon: [], tue: [], wed: [], thu: [], fri: [], sat: [], sun: [] };

test("ranges → grid: an overnight range spills into the next morning; Sunday night into Monday", () => {
  const g = weeklyToGrid({ ...empty, fri: ["18:30-02:00"], sun: ["23:00-01:00"] });
  const on = (d: number) => g[d]!.flatMap((v, h) => (v ? [h] : []));
  expect(on(4)).toEqual([18, 19, 20, 21, 22, 23]); // Fri (18:30 touches the 18h cell)
  expect(on(5)).toEqual([0, 1]); // Sat morning
  expect(on(6)).toEqual([23]); // Sun
  expect(on(0)).toEqual([0]); // Mon 00:00-01:00
});

test("grid → ranges: runs of hours, 24:00 at midnight; the result is valid config and maps back to the same grid", () => {
  const g = weeklyToGrid(empty);
  for (const h of [0, 1, 2, 22, 23]) g[0]![h] = true;
  g[6] = Array(24).fill(true);
  const w = gridToWeekly(g);
  expect(w.mon).toEqual(["00:00-03:00", "22:00-24:00"]);
  expect(w.sun).toEqual(["00:00-24:00"]);
  expect(w.tue).toEqual([]);
  expect(Schedule.safeParse({ weekly: w }).success).toBe(true);
  expect(weeklyToGrid(w)).toEqual(g);
});

test("form → patch: empty limits mean none (null), bad numbers are named, an untouched grid is not sent", () => {
  const f = scheduleToForm(Schedule.parse({ enabled: true, weekly: { mon: ["09:15-17:45"] }, maxJobsPerDay: 5 }), Pause.parse({}));
  const ok = scheduleFormToPatch({ ...f, maxJobsPerDay: "", maxGpuHoursPerDay: "1.5" });
  expect(ok.ok).toBe(true);
  if (!ok.ok) return;
  expect(ok.patch.schedule).toEqual({ enabled: true, graceSecs: 300, maxJobsPerDay: null, maxSatsPerDay: null, maxGpuHoursPerDay: 1.5 });
  expect(Schedule.safeParse({ ...Schedule.parse({}), ...ok.patch.schedule, maxJobsPerDay: null }).success).toBe(true);
  const touched = scheduleFormToPatch({ ...f, gridTouched: true });
  expect(touched.ok && touched.patch.schedule.weekly).toMatchObject({ mon: ["09:00-18:00"] });
  const bad = scheduleFormToPatch({ ...f, maxJobsPerDay: "2.5", maxGpuHoursPerDay: "25", holdSecs: "-1" });
  expect(bad.ok).toBe(false);
  if (bad.ok) return;
  expect(Object.keys(bad.errors).sort()).toEqual(["holdSecs", "maxGpuHoursPerDay", "maxJobsPerDay"]);
  expect(limitValue("0", true)).toBeNaN();
  expect(limitValue(" ", true)).toBeNull();
});

test("today's line: use against limits, GPU time in hours", () => {
  expect(todayText({ jobs: 3, sats: 120.7, gpuMs: 1_800_000, maxJobs: 20, maxSats: null, maxGpuHours: 4 })).toBe("3/20 jobs · 120 sats · 0.5/4 h GPU");
  expect(todayText({ jobs: 0, sats: 0, gpuMs: 0, maxJobs: null, maxSats: 1000, maxGpuHours: null })).toBe("0 jobs · 0/1,000 sats · 0.0 h GPU");
});
