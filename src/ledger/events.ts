import { z } from "zod";
import { defineEvent } from "../bus.ts";

export const DayEarnings = z.object({ date: z.string(), sats: z.number(), jobs: z.number().int() });
export const Earnings = z.object({
  todaySats: z.number(),
  todayJobs: z.number().int(),
  weekSats: z.number(),
  weekJobs: z.number().int(),
  allSats: z.number(),
  allJobs: z.number().int(),
  /** The last 14 local days, oldest first. */
  days: z.array(DayEarnings),
  byModel: z.array(z.object({ model: z.string(), sats: z.number(), jobs: z.number().int() })),
  /** Pay-after charges answered and not (fully) paid: what customers owe, and for how many jobs. */
  unpaidSats: z.number().optional(),
  unpaidJobs: z.number().int().optional(),
  /** Payments that landed for an expired or cancelled job that could not be run (wallet history says which). */
  paidLateNotServed: z.number().int().optional(),
});
export type Earnings = z.infer<typeof Earnings>;

export const EarningsChanged = defineEvent("earnings.totals.changed", z.object({ earnings: Earnings }));
