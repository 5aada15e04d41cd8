// GET /api/settings and PUT /api/settings (a patch merged into config.json).
import { z } from "zod";
import { isHttpUrl } from "../../config.ts";
import type { SettingsApi } from "../controller.ts";
import { jsonBody, newRouter } from "./common.ts";

// pricing and limits are checked whole against the config schema when merged (updateConfigFile);
// the profile is checked here, tighter than the file's schema: the picture must be a web address
// a Nostr client can load (NIP-01 kind 0 `picture`), and publishing needs a name.
const ProfilePatch = z
  .strictObject({
    name: z.string().trim().max(100).nullable().optional(),
    about: z.string().trim().max(1000).nullable().optional(),
    picture: z
      .string()
      .trim()
      .max(2000)
      .refine((s) => s === "" || isHttpUrl(s), "must be an http:// or https:// URL, or empty")
      .nullable()
      .optional(),
    publishProfile: z.boolean().nullable().optional(),
  })
  .refine((p) => !(p.publishProfile === true && p.name === ""), { path: ["name"], message: "set a name to publish a profile" });

const SettingsBody = z.strictObject({
  pricing: z.record(z.string(), z.unknown()).optional(),
  limits: z.record(z.string(), z.unknown()).optional(),
  provider: ProfilePatch.optional(),
  // Checked in full against the config schema before anything is written.
  schedule: z.record(z.string(), z.unknown()).optional(),
  pause: z.record(z.string(), z.unknown()).optional(),
});

export function settingsRoutes(api: SettingsApi) {
  const r = newRouter();
  r.get("/", (c) => c.json(api.settings()));
  r.put("/", jsonBody(SettingsBody), async (c) => c.json(await api.updateSettings(c.req.valid("json"))));
  return r;
}
