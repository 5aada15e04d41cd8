import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  EARNINGS_DAYS,
  localDateKey,
  localDayStart,
  localWeekStart,
  calendarWindow,
  localCalendar,
  summarizeCalendar,
  type EarningsInput,
} from "../../src/ledger/earnings.ts";

/** The summary at `now`, on the local calendar of the test's zone. */
const summarize = (input: EarningsInput, now: Date) => summarizeCalendar(input, localCalendar(now));

// Europe/Berlin switches to summer time on 29 March 2026 (a 23-hour day) and back on 25 October
// (25 hours): the local-day arithmetic must still give whole calendar days.
const savedTz = process.env.TZ;
beforeAll(() => {
  process.env.TZ = "Europe/Berlin";
});
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

const empty = { recentPayments: [], recentSuccessfulJobs: [], allMsats: 0, allJobs: 0, byModel: [] };

describe("local calendar helpers", () => {
  test("the time zone override is in effect", () => {
    // 2026-03-29T12:00Z is 14:00 in Berlin summer time.
    expect(new Date(Date.UTC(2026, 2, 29, 12)).getHours()).toBe(14);
  });

  test("day starts are local midnights, also across DST changes", () => {
    const dstDay = new Date(2026, 2, 29, 15);
    const start = localDayStart(dstDay);
    const next = localDayStart(dstDay, 1);
    expect([start.getHours(), next.getHours(), next.getDate()]).toEqual([0, 0, 30]);
    expect(next.getTime() - start.getTime()).toBe(23 * 3600_000);
    const back = localDayStart(new Date(2026, 9, 25, 10));
    expect(localDayStart(back, 1).getTime() - back.getTime()).toBe(25 * 3600_000);
    expect(localDateKey(new Date(2026, 0, 5, 23, 59))).toBe("2026-01-05");
  });

  test("weeks start on Monday", () => {
    for (let d = 23; d <= 29; d++) {
      expect(localDateKey(localWeekStart(new Date(2026, 2, d, 12)))).toBe("2026-03-23"); // Mon 23 … Sun 29
    }
    expect(localDateKey(localWeekStart(new Date(2026, 2, 30, 0, 0)))).toBe("2026-03-30");
    // A week that spans a month and a year boundary.
    expect(localDateKey(localWeekStart(new Date(2027, 0, 1)))).toBe("2026-12-28");
  });

  test("the recent window covers 14 days and the whole week, up to the end of today", () => {
    const now = new Date(2026, 2, 31, 10);
    const w = calendarWindow(localCalendar(now));
    expect(localDateKey(new Date(w.start))).toBe("2026-03-18");
    expect(localDateKey(new Date(w.end))).toBe("2026-04-01");
  });
});

describe("summarizeCalendar", () => {
  test("14 zero-filled local days, oldest first, crossing the DST switch", () => {
    const e = summarize(empty, new Date(2026, 3, 2, 8));
    expect(e.days).toHaveLength(EARNINGS_DAYS);
    expect(e.days[0]!.date).toBe("2026-03-20");
    expect(e.days[13]!.date).toBe("2026-04-02");
    expect(new Set(e.days.map((d) => d.date)).size).toBe(14);
  });

  test("records land in the right local day around the DST switch and midnight", () => {
    const now = new Date(2026, 2, 30, 12); // Monday after the switch
    const e = summarize(
      {
        recentPayments: [
          { receivedAt: new Date(2026, 2, 29, 23, 59, 59, 999).getTime(), amountMsats: 1000 }, // Sunday (23 h day)
          { receivedAt: new Date(2026, 2, 30, 0, 0).getTime(), amountMsats: 2000 }, // Monday 00:00
          { receivedAt: new Date(2026, 2, 29, 1, 30).getTime(), amountMsats: 500 }, // before the switch
          { receivedAt: new Date(2026, 2, 31, 0, 0).getTime(), amountMsats: 9999 }, // tomorrow: ignored
        ],
        recentSuccessfulJobs: [{ at: new Date(2026, 2, 29, 3, 30).getTime(), jobs: 1 }, { at: new Date(2026, 2, 30, 11).getTime(), jobs: 1 }],
        allMsats: 13_499,
        allJobs: 2,
        byModel: [
          { model: "b", msats: 1000, jobs: 1 },
          { model: "a", msats: 1000, jobs: 1 },
          { model: "c", msats: 5000, jobs: 0 },
        ],
      },
      now,
    );
    expect(e.todaySats).toBe(2);
    expect(e.todayJobs).toBe(1);
    expect(e.weekSats).toBe(2); // the week began this Monday
    expect(e.weekJobs).toBe(1);
    expect(e.days.at(-2)).toEqual({ date: "2026-03-29", sats: 1.5, jobs: 1 });
    expect(e.days.at(-1)).toEqual({ date: "2026-03-30", sats: 2, jobs: 1 });
    expect(e.allSats).toBe(13.499);
    expect(e.byModel.map((m) => m.model)).toEqual(["c", "a", "b"]); // by sats, then jobs, then name
  });

  test("fractional sats are kept (rounding is the UI's job)", () => {
    const now = new Date(2026, 5, 1, 12);
    const e = summarize({ ...empty, recentPayments: [{ receivedAt: now.getTime(), amountMsats: 1 }], allMsats: 1 }, now);
    expect(e.todaySats).toBe(0.001);
    expect(e.allSats).toBe(0.001);
  });
});
