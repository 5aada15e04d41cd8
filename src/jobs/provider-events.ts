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
});
export type ProviderView = z.infer<typeof ProviderView>;

export const ProviderChanged = defineEvent("provider.state.changed", z.object({ provider: ProviderView }));
