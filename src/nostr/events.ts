import { z } from "zod";
import { defineEvent } from "../bus.ts";

export const RelayState = z.enum(["connecting", "connected", "failed", "disconnected"]);
export const RelayView = z.object({
  url: z.string(),
  state: RelayState,
  latencyMs: z.number().nullable(),
  error: z.string().nullable(),
  /** Unix ms of the last state change. */
  since: z.number(),
});
export type RelayView = z.infer<typeof RelayView>;

export const RelayStatusChanged = defineEvent("relay.status.changed", z.object({ relay: RelayView }));
export const RelayListChanged = defineEvent("relay.list.changed", z.object({ relays: z.array(RelayView) }));
