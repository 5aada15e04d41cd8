import { z } from "zod";
import { defineEvent } from "../bus.ts";

export const JobStatus = z.enum([
  "received",
  "payment-required",
  "paid",
  "queued",
  "processing",
  "success",
  "error",
  "cancelled",
  "expired",
]);
export type JobStatus = z.infer<typeof JobStatus>;

/** What the UI and the API see of a job: never the full prompt of an encrypted request. */
export const JobView = z.object({
  id: z.string(), // the request event id (hex)
  kind: z.number().int(),
  customer: z.string(), // hex pubkey
  model: z.string().nullable(),
  status: JobStatus,
  promptPreview: z.string(), // first 120 chars
  tokens: z.number().int().nonnegative(),
  tokensPerSec: z.number().nonnegative().nullable(),
  amountMsats: z.number().int().nonnegative().nullable(),
  bolt11: z.string().nullable(),
  error: z.string().nullable(),
  encrypted: z.boolean(),
  createdAt: z.number(), // unix ms
  updatedAt: z.number(),
});
export type JobView = z.infer<typeof JobView>;

export const JobStatusChanged = defineEvent("job.status.changed", z.object({ job: JobView }));
export const JobProgress = defineEvent(
  "job.progress.updated",
  z.object({ id: z.string(), tokens: z.number().int(), tokensPerSec: z.number().nullable(), preview: z.string() }),
);
