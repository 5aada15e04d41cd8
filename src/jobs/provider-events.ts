import { z } from "zod";
import { defineEvent } from "../bus.ts";

export const ProviderView = z.object({
  online: z.boolean(),
  /** Why GO ONLINE can't work right now ("Ollama is not running at …"); empty when it can. */
  blockers: z.array(z.string()),
  paymentMode: z.enum(["upfront", "after", "free"]),
  perJobMsats: z.number().int(),
  per1kTokensMsats: z.number().int(),
  announcementId: z.string().nullable(),
  /** Taking no new jobs because the owner's machine is busy: why (src/service/busy.ts). */
  paused: z.string().nullable().optional(),
  /** Offline by the schedule or a daily limit: why, and when that ends by itself (unix ms). */
  offline: z.string().nullable().optional(),
  offlineUntil: z.number().nullable().optional(),
  /** Today's use against the daily limits (null limit = none). */
  today: z
    .object({ jobs: z.number(), sats: z.number(), gpuMs: z.number(), maxJobs: z.number().nullable(), maxSats: z.number().nullable(), maxGpuHours: z.number().nullable() })
    .optional(),
});
export type ProviderView = z.infer<typeof ProviderView>;

export const ProviderChanged = defineEvent("provider.state.changed", z.object({ provider: ProviderView }));
