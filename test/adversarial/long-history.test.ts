// Reconciliation with a long wallet history (issue 10, point 3), Payments (src/wallet/payments.ts)
// with a real ledger file and the Lightning test double (test/fixtures/lightning-double.ts: real
// BOLT #11 invoices, the test plays the payer; `pageReads` counts the wallet's page reads as the
// SDK pays for them, 100 payments a page). A payment that lands while we are down is seen however
// long the history, and a pass over a wallet with nothing new costs O(1) page reads.
import { afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "../../src/bus.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { Payments, newestReceived } from "../../src/wallet/payments.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { bookAll } from "./zap-payments.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const hex = (n: number) => randomBytes(n).toString("hex");

/** A ledger file in a temporary folder, closed and removed after the test. */
function tempLedger(): Ledger {
  const dir = mkdtempSync(join(tmpdir(), "long-history-"));
  const ledger = Ledger.open(join(dir, "ledger.sqlite"));
  cleanups.push(() => {
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return ledger;
}

/** Payments on the wallet and ledger (reconciled by hand: the timer is a minute), stopped after the test. */
function startPayments(wallet: LightningDouble, ledger: Ledger): Payments {
  const payments = new Payments({ wallet, ledger, bus: new Bus(), reconcileMs: 60_000, walletCallMs: 2_000, zapGraceMs: 150 });
  cleanups.push(() => payments.stop());
  return payments;
}

describe("a wallet with 20,000 past payments (Lightning test double)", () => {
  test("the 20,001st, paid while we were down, is credited to its job on start; a reconcile of the unchanged wallet reads one page", async () => {
    const ledger = tempLedger();
    const wallet = new LightningDouble();
    await wallet.connect();
    // 20,000 receives over the last two weeks, a minute apart, all booked on earlier runs.
    wallet.addHistory(20_000);
    await bookAll(wallet, ledger);
    // A job's invoice, paid while we were down: no event, only the wallet's list has it.
    const jobId = hex(32);
    ledger.insertJob({ id: jobId, kind: 5050, customer: hex(32), requestJson: "{}", status: "payment-required", createdAt: Date.now() });
    const inv = await wallet.createInvoice({ amountMsats: 5_000, description: "compute job", expirySecs: 600 });
    ledger.updateJob(jobId, { amountMsats: 5_000, bolt11: inv.bolt11, paymentHash: inv.paymentHash });
    const paid = wallet.settleWhileDown(inv.bolt11);

    const payments = startPayments(wallet, ledger);
    let reads = wallet.pageReads;
    expect(await payments.reconcile()).toBe(1);
    console.log(`first reconcile after the restart: ${wallet.pageReads - reads} page reads`);
    expect(wallet.pageReads - reads).toBeLessThanOrEqual(2);
    expect(ledger.getJob(jobId)?.status).toBe("paid");
    expect(ledger.getPayment(paid.id)).toMatchObject({ jobId, source: "invoice", amountMsats: 5_000 });

    // Nothing new: one page.
    reads = wallet.pageReads;
    expect(await payments.reconcile()).toBe(0);
    expect(wallet.pageReads - reads).toBe(1);

    // Three more arrive while we are down (no events): one page still covers them.
    const more = [];
    for (let i = 0; i < 3; i++) more.push(wallet.receiveTransferWhileDown(2_000));
    reads = wallet.pageReads;
    expect(await payments.reconcile()).toBe(3);
    expect(wallet.pageReads - reads).toBe(1);
    for (const p of more) expect(ledger.getPayment(p.id)).toMatchObject({ source: "other", amountMsats: 2_000 });

    // History (`compute wallet history`): the newest 20, newest first, from one page.
    reads = wallet.pageReads;
    const recent = await newestReceived(wallet, 20);
    expect(wallet.pageReads - reads).toBe(1);
    expect(recent.slice(0, 4).map((p) => p.id)).toEqual([...more.map((p) => p.id)].reverse().concat(paid.id));
  }, 60_000);

  test("250 new payments while we were down (more than a page) are all credited, reading only the pages they fill", async () => {
    const ledger = tempLedger();
    const wallet = new LightningDouble();
    await wallet.connect();
    wallet.addHistory(20_000);
    await bookAll(wallet, ledger);
    const fresh = [];
    for (let i = 0; i < 250; i++) fresh.push(wallet.receiveTransferWhileDown(1_000));
    const payments = startPayments(wallet, ledger);
    const reads = wallet.pageReads;
    expect(await payments.reconcile()).toBe(250);
    expect(wallet.pageReads - reads).toBeLessThanOrEqual(4);
    for (const p of fresh) expect(ledger.getPayment(p.id)).not.toBeNull();
  }, 60_000);

  test("a payment stamped a day in the future (a wrong clock somewhere) hides none of the 150 that arrive after it", async () => {
    const ledger = tempLedger();
    const clock = { t: Date.now() };
    const wallet = new LightningDouble({ now: () => clock.t });
    await wallet.connect();
    wallet.addHistory(1_000);
    clock.t = Date.now() + 86_400_000;
    wallet.receiveTransferWhileDown(1_000);
    clock.t = Date.now();
    const payments = startPayments(wallet, ledger);
    expect(await payments.reconcile()).toBe(1_001);
    const fresh = [];
    for (let i = 0; i < 150; i++) {
      clock.t = Date.now() + i;
      fresh.push(wallet.receiveTransferWhileDown(1_000));
    }
    expect(await payments.reconcile()).toBe(150);
    for (const p of fresh) expect(ledger.getPayment(p.id)).not.toBeNull();
  }, 60_000);
});
