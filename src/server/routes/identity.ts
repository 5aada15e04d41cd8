// The seed phrase and the vault: /api/onboarding/*, /api/unlock, /api/lock, /api/identity/reveal.
// Unlock and reveal count wrong passwords (PasswordGuard).
import { z } from "zod";
import type { IdentityApi } from "../controller.ts";
import { jsonBody, newRouter, Password, type PasswordGuard } from "./common.ts";

export function identityRoutes(api: IdentityApi, withPassword: PasswordGuard) {
  const r = newRouter();
  r.post("/onboarding/generate", jsonBody(z.strictObject({ words: z.union([z.literal(12), z.literal(24)]).default(12) })), (c) =>
    c.json({ mnemonic: api.generateMnemonic(c.req.valid("json").words) }),
  );
  r.post("/onboarding/validate", jsonBody(z.strictObject({ mnemonic: z.string().max(1000) })), (c) => c.json(api.validateMnemonic(c.req.valid("json").mnemonic)));
  r.get("/onboarding/suggest", (c) => {
    const prefix = (c.req.query("prefix") ?? "").trim().toLowerCase().slice(0, 20);
    return c.json({ words: api.suggestWords(prefix) });
  });
  r.post("/onboarding/create", jsonBody(z.strictObject({ mnemonic: z.string().max(1000), passphrase: z.string().max(1000).optional(), password: Password })), async (c) =>
    c.json(await api.createIdentity(c.req.valid("json"))),
  );
  r.post("/unlock", jsonBody(z.strictObject({ password: Password })), async (c) => {
    const { password } = c.req.valid("json");
    await withPassword(() => api.unlock(password));
    return c.json({ ok: true });
  });
  r.post("/lock", async (c) => {
    await api.lock();
    return c.json({ ok: true });
  });
  r.post("/identity/reveal", jsonBody(z.strictObject({ password: Password })), async (c) => {
    const { password } = c.req.valid("json");
    const mnemonic = await withPassword(() => api.revealMnemonic(password));
    return c.json({ mnemonic });
  });
  return r;
}
