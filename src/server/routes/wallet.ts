// /api/wallet/*: receive, send (quote, then confirm with the vault password), balance, payments,
// Lightning address, Breez API key.
import { z } from "zod";
import { AppError } from "../../errors.ts";
import type { WalletApi } from "../controller.ts";
import { jsonBody, newRouter, type PasswordGuard } from "./common.ts";

const Sats = z.int().positive().max(21e14);

export function walletRoutes(api: WalletApi, withPassword: PasswordGuard) {
  const r = newRouter();
  r.post("/receive", jsonBody(z.strictObject({ amountSats: Sats.optional() })), async (c) => c.json(await api.walletReceive(c.req.valid("json").amountSats)));
  r.post("/send/prepare", jsonBody(z.strictObject({ destination: z.string().trim().min(1).max(2000), amountSats: Sats.optional() })), async (c) => {
    const { destination, amountSats } = c.req.valid("json");
    return c.json(await api.walletPrepareSend(destination, amountSats));
  });
  // Money leaves only with the vault password, under the same attempt limit as unlock and reveal:
  // the dashboard token alone (in logs, browser history, a cookie every 127.0.0.1 port gets) can't drain the wallet.
  const ConfirmBody = z.strictObject({
    id: z.string().min(1).max(200),
    password: z.string({ error: "the vault password is needed to send" }).min(1, "the vault password is needed to send").max(1024),
  });
  r.post("/send/confirm", jsonBody(ConfirmBody), async (c) => {
    const { id, password } = c.req.valid("json");
    const sent = await withPassword(() => api.walletConfirmSend(id, password));
    // A pending or failed payment is said as such; only "completed" has certainly paid.
    return c.json({ ok: sent.status !== "failed", ...sent });
  });

  r.get("/balance", async (c) => c.json(await api.walletBalance()));
  r.get("/payments", async (c) => {
    const raw = c.req.query("limit");
    const limit = raw === undefined ? 50 : /^\d{1,4}$/.test(raw) ? Math.min(Number(raw), 1000) : NaN;
    if (!Number.isInteger(limit)) throw new AppError("invalid_input", "limit must be a whole number from 0 to 1000.");
    const payments = await api.walletPayments(limit);
    // Received payments come from the ledger; sent ones from the wallet, which may be away.
    let sent: unknown[] | null = null;
    let sentError: string | null = null;
    try {
      sent = await api.walletSent(limit);
      if (sent === null) sentError = "The wallet is not connected: sent payments show once it is.";
    } catch (err) {
      sentError = err instanceof Error ? err.message : String(err);
    }
    return c.json({ payments, sent, sentError });
  });
  r.get("/lightning-address", async (c) => c.json({ lightningAddress: await api.walletLightningAddress() }));
  r.put("/lightning-address", jsonBody(z.strictObject({ username: z.string().trim().min(1).max(64) })), async (c) =>
    c.json({ lightningAddress: await api.walletSetLightningAddress(c.req.valid("json").username) }),
  );
  r.delete("/lightning-address", async (c) => {
    await api.walletDeleteLightningAddress();
    return c.json({ ok: true });
  });
  // A Breez API key for a build that carries none: saved, answered masked, never echoed back.
  r.get("/breez-key", (c) => c.json(api.walletBreezKey()));
  r.put("/breez-key", jsonBody(z.strictObject({ apiKey: z.string().max(4096) })), async (c) => c.json(await api.walletSetBreezKey(c.req.valid("json").apiKey)));
  return r;
}
