import { z } from "zod";
import { defineEvent } from "../bus.ts";

export const WalletView = z.object({
  state: z.enum(["locked", "not_configured", "connecting", "ready", "error"]),
  network: z.enum(["mainnet", "regtest"]),
  balanceSats: z.number().int().nullable(),
  lightningAddress: z.string().nullable(),
  /** Why it is not ready, in words that say what to do. */
  message: z.string().nullable(),
});
export type WalletView = z.infer<typeof WalletView>;

export const WalletStatusChanged = defineEvent("wallet.status.changed", z.object({ wallet: WalletView }));
export const PaymentReceived = defineEvent(
  "wallet.payment.received",
  z.object({ paymentId: z.string(), amountMsats: z.number().int(), jobId: z.string().nullable() }),
);
