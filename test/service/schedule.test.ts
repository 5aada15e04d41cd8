// The weekly schedule and the daily limits are pure functions of the clock, in the process's local
// time. Run under a TZ set here, across the daylight-saving changes of New York and Berlin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConfigSchema, Schedule } from "../../src/config.ts";
import { isOpen, nextChange, nextMidnight, sellGate, type Weekly } from "../../src/service/schedule.ts";

const saved = process.env.TZ;
afterAll(() => {
  if (saved === undefined) delete process.env.TZ;
  else process.env.TZ = saved;
});

const week = (w: Partial<Weekly>): Weekly => ({ mon: [], tue: [], wed: [], thu: [], fri: [], sat: [], sun: [], ...w });
const Z = (iso: string) => Date.parse(iso);
const sched = (over: Record<string, unknown>) => Schedule.parse(over);
const none = { jobs: 0, sats: 0, gpuMs: 0 };

describe("America/New_York (DST 2026-03-08 02:00→03:00, 2026-11-01 02:00→01:00)", () => {
  beforeAll(() => {
    process.env.TZ = "America/New_York";
  });

  test("a night range crosses midnight: Mon 18:00 to Tue 08:00", () => {
    const w = week({ mon: ["18:00-08:00"] });
    expect(isOpen(w, Z("2026-06-01T21:59:00Z"))).toBe(false); // Mon 17:59 EDT
    expect(isOpen(w, Z("2026-06-01T22:00:00Z"))).toBe(true); // Mon 18:00
    expect(isOpen(w, Z("2026-06-02T11:59:00Z"))).toBe(true); // Tue 07:59
    expect(isOpen(w, Z("2026-06-02T12:00:00Z"))).toBe(false); // Tue 08:00
    expect(nextChange(w, Z("2026-06-01T12:00:00Z"))).toBe(Z("2026-06-01T22:00:00Z"));
    expect(nextChange(w, Z("2026-06-01T23:00:00Z"))).toBe(Z("2026-06-02T12:00:00Z"));
  });

  test("spring forward: 01:00-04:00 on the change day lasts 2 real hours; Monday 09:00 is 13:00Z, not 14:00Z", () => {
    const w = week({ sun: ["01:00-04:00"], mon: ["09:00-17:00"] });
    expect(nextChange(w, Z("2026-03-07T17:00:00Z"))).toBe(Z("2026-03-08T06:00:00Z")); // Sun 01:00 EST
    expect(isOpen(w, Z("2026-03-08T06:30:00Z"))).toBe(true); // 01:30 EST
    expect(isOpen(w, Z("2026-03-08T07:30:00Z"))).toBe(true); // 03:30 EDT (02:xx never happened)
    expect(nextChange(w, Z("2026-03-08T06:30:00Z"))).toBe(Z("2026-03-08T08:00:00Z")); // 04:00 EDT
    expect(nextChange(w, Z("2026-03-08T17:00:00Z"))).toBe(Z("2026-03-09T13:00:00Z")); // Mon 09:00 EDT
  });

  test("fall back: a 09:00-17:00 Sunday is 8 real hours, starting at 14:00Z (EST)", () => {
    const w = week({ sun: ["09:00-17:00"] });
    const open = nextChange(w, Z("2026-10-31T16:00:00Z"))!;
    expect(open).toBe(Z("2026-11-01T14:00:00Z"));
    expect(nextChange(w, open)! - open).toBe(8 * 3600_000);
  });

  test("a weekend written as 00:00-24:00 twice is one spell: open from Sat 00:00 until Mon 00:00", () => {
    const w = week({ sat: ["00:00-24:00"], sun: ["00:00-24:00"] });
    expect(nextChange(w, Z("2026-06-05T16:00:00Z"))).toBe(Z("2026-06-06T04:00:00Z"));
    expect(nextChange(w, Z("2026-06-06T16:00:00Z"))).toBe(Z("2026-06-08T04:00:00Z"));
  });

  test("the daily limits hold until local midnight: on the spring-forward day that is 23 hours after the last midnight", () => {
    const noon = Z("2026-03-08T16:00:00Z"); // 12:00 EDT
    expect(nextMidnight(noon)).toBe(Z("2026-03-09T04:00:00Z"));
    expect(nextMidnight(noon) - nextMidnight(Z("2026-03-07T17:00:00Z"))).toBe(23 * 3600_000);
    const g = sellGate(sched({ maxJobsPerDay: 3 }), { ...none, jobs: 3 }, noon);
    expect(g).toEqual({ open: false, reason: "today's limit of 3 jobs is reached (back at midnight)", until: Z("2026-03-09T04:00:00Z") });
    expect(sellGate(sched({ maxJobsPerDay: 3 }), { ...none, jobs: 2 }, noon).open).toBe(true);
    expect(sellGate(sched({ maxSatsPerDay: 100 }), { ...none, sats: 100.5 }, noon).reason).toContain("100 sats");
    expect(sellGate(sched({ maxGpuHoursPerDay: 1.5 }), { ...none, gpuMs: 5_400_000 }, noon).reason).toContain("1.5 h of GPU time");
    expect(sellGate(sched({ maxGpuHoursPerDay: 1.5 }), { ...none, gpuMs: 5_399_999 }, noon).open).toBe(true);
  });

  test("schedule on: closed outside the hours with when it opens; off: always open; on with no hours: closed", () => {
    const s = sched({ enabled: true, weekly: { mon: ["18:00-23:00"] } });
    const g = sellGate(s, none, Z("2026-06-02T16:00:00Z")); // Tue 12:00
    expect(g).toEqual({ open: false, reason: "outside the schedule (back at Mon 18:00)", until: Z("2026-06-08T22:00:00Z") });
    expect(sellGate(s, none, Z("2026-06-08T21:00:00Z")).reason).toBe("outside the schedule (back at 18:00)");
    expect(sellGate({ ...s, enabled: false }, none, Z("2026-06-02T16:00:00Z")).open).toBe(true);
    expect(sellGate(sched({ enabled: true }), none, Z("2026-06-02T16:00:00Z"))).toEqual({ open: false, reason: "outside the schedule (no hours set)", until: null });
    expect(nextChange(week({ mon: ["00:00-24:00"], tue: ["00:00-24:00"], wed: ["00:00-24:00"], thu: ["00:00-24:00"], fri: ["00:00-24:00"], sat: ["00:00-24:00"], sun: ["00:00-24:00"] }), Date.now())).toBeNull();
  });
});

describe("Europe/Berlin (DST 2026-03-29 02:00→03:00)", () => {
  beforeAll(() => {
    process.env.TZ = "Europe/Berlin";
  });

  test("nights 22:00-06:00 every day: the change night is one hour shorter, the next evening starts at 20:00Z", () => {
    const all = ["22:00-06:00"];
    const w = week({ mon: all, tue: all, wed: all, thu: all, fri: all, sat: all, sun: all });
    const close = nextChange(w, Z("2026-03-28T22:00:00Z"))!; // Sat 23:00 CET, open
    expect(close).toBe(Z("2026-03-29T04:00:00Z")); // Sun 06:00 CEST
    expect(close - Z("2026-03-28T21:00:00Z")).toBe(7 * 3600_000); // opened Sat 22:00 CET
    expect(nextChange(w, close)).toBe(Z("2026-03-29T20:00:00Z")); // Sun 22:00 CEST
  });
});

describe("config", () => {
  test("ranges are checked: HH:MM-HH:MM, 24:00 only as an end, not empty", () => {
    expect(ConfigSchema.safeParse({ schedule: { weekly: { mon: ["22:00-06:00", "00:00-24:00"] } } }).success).toBe(true);
    for (const bad of ["25:00-26:00", "24:00-01:00", "8:00-9:00", "09:00-09:00", "09:00 - 10:00"]) {
      const r = ConfigSchema.safeParse({ schedule: { weekly: { mon: [bad] } } });
      expect(r.success, bad).toBe(false);
    }
    expect(ConfigSchema.safeParse({ schedule: { weekly: { someday: [] } } }).success).toBe(false);
  });
});
