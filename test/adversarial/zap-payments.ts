// Shared set-up of the adversarial tests that drive Payments (src/wallet/payments.ts) directly: a
// real ledger file in a temporary folder and the Lightning test double as the wallet (Lightning
// settlement can't happen offline).
import { expect } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "../../src/bus.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { Payments } from "../../src/wallet/payments.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";

const hex = (n: number) => randomBytes(n).toString("hex");

/** Books every payment the wallet lists, as earlier runs would have. */
export async function bookAll(wallet: LightningDouble, ledger: Ledger): Promise<void> {
  for (const p of await wallet.listPayments()) {
    ledger.creditPayment({ id: p.id, jobId: null, amountMsats: p.amountMsats, bolt11: null, paymentHash: null, source: "other", receivedAt: p.receivedAt });
  }
}

/** Payments started with zaps on (a Lightning address registered on the double; `payUrl` is its
 * LNURL-pay endpoint), `history` past receives in the wallet and booked already; `cleanups`
 * stops it and closes and removes the ledger. `job()` adds a job due 21 sats. */
export async function zapPayments(cleanups: Array<() => unknown>, prefix: string, o: { payUrl?: string | null; history?: number; now?: () => number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ledger = Ledger.open(join(dir, "ledger.sqlite"));
  const wallet = new LightningDouble();
  wallet.lnurlPayUrl = o.payUrl ?? null;
  await wallet.connect();
  await wallet.registerLightningAddress("provider");
  if (o.history !== undefined) {
    wallet.addHistory(o.history);
    await bookAll(wallet, ledger);
  }
  const payments = new Payments({ wallet, ledger, bus: new Bus(), reconcileMs: 60_000, walletCallMs: 2_000, zapGraceMs: 5_000, now: o.now });
  cleanups.push(() => {
    payments.stop();
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  payments.start();
  expect(await payments.zapsEnabled()).toBe(true);
  const job = () => {
    const id = hex(32);
    ledger.insertJob({ id, kind: 5050, customer: hex(32), requestJson: "{}", status: "payment-required", createdAt: Date.now() });
    ledger.updateJob(id, { amountMsats: 21_000 });
    return id;
  };
  return { ledger, wallet, payments, job };
}
