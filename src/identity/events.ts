import { z } from "zod";
import { defineEvent } from "../bus.ts";

export const IdentityView = z.object({
  state: z.enum(["none", "locked", "unlocked"]),
  npub: z.string().nullable(),
});
export type IdentityView = z.infer<typeof IdentityView>;

export const IdentityChanged = defineEvent("identity.state.changed", z.object({ identity: IdentityView }));
