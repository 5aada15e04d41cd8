// A flood of forged zap receipts against Payments (src/wallet/payments.ts), with a real ledger file
// and the Lightning test double (test/fixtures/lightning-double.ts: real BOLT #11 invoices, the
// test plays the payers; Lightning settlement can't happen offline). Receipts cost nothing to
// make: they must neither push real pending claims out nor make the wallet read its history.
import { afterEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import { readZapClaim, type ZapClaim } from "../../src/nostr/nip57.ts";
import { zapPayments } from "./zap-payments.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const US = getPublicKey(generateSecretKey());
const hex = (n: number) => randomBytes(n).toString("hex");

async function setup(history: number) {
  const { ledger, wallet, payments, job } = await zapPayments(cleanups, "zap-flood-", { history });
  await payments.reconcile();
  return { ledger, wallet, payments, jobId: job() };
}

function zapRequest(eventId: string, msats: number): Event {
  return finalizeEvent({ kind: 9734, created_at: Math.floor(Date.now() / 1000), tags: [["p", US], ["e", eventId], ["amount", String(msats)], ["relays", "ws://127.0.0.1:1"]], content: "" }, generateSecretKey());
}

function receipt(request: Event, bolt11: string): Event {
  return finalizeEvent(
    { kind: 9735, created_at: Math.floor(Date.now() / 1000), tags: [["p", US], ["e", request.tags.find((t) => t[0] === "e")![1]!], ["bolt11", bolt11], ["description", JSON.stringify(request)]], content: "" },
    generateSecretKey(),
  );
}

function claimOf(ev: Event): ZapClaim {
  const r = readZapClaim(ev, US);
  if (!r.ok) throw new Error(`claim refused: ${r.reason}`);
  return r.claim;
}

describe("a flood of forged zap receipts (Lightning test double)", () => {
  test("attacker publishes 20,000 receipts with made-up payment hashes naming a real job while a real zap's receipt waits for its payment: a handful of wallet page reads, the real zap still credited", async () => {
    const { ledger, wallet, payments, jobId } = await setup(3_000);
    // The real zap: its receipt arrives before our wallet has the payment.
    const request = zapRequest(hex(32), 21_000);
    const inv = await wallet.zapInvoice(JSON.stringify(request), 21_000);
    const real = claimOf(receipt(request, inv.bolt11));
    expect(await payments.zapReceived(real, jobId)).toBe("waiting");

    // The flood: each receipt well formed, each naming a payment hash nobody ever paid us.
    const reads = wallet.pageReads;
    const started = performance.now();
    for (let i = 0; i < 20_000; i++) {
      const forged: ZapClaim = { ...real, receiptId: hex(32), paymentHash: hex(32), bolt11: real.bolt11 };
      const outcome = await payments.zapReceived(forged, jobId);
      expect(outcome === "waiting" || outcome === "rejected").toBe(true);
    }
    const ms = performance.now() - started;
    const used = wallet.pageReads - reads;
    console.log(`20,000 forged receipts: ${used} wallet page reads, ${Math.round(ms)} ms`);
    // At most one incremental look per second of flood, each a page or two: never the history.
    expect(used).toBeLessThanOrEqual(4 + 2 * Math.ceil(ms / 1000));
    expect(ledger.getJob(jobId)?.status).toBe("payment-required");

    // The real payment lands: booked for the job, once.
    const paid = wallet.settle(inv.bolt11);
    expect(ledger.getJob(jobId)?.status).toBe("paid");
    expect(ledger.getPayment(paid.id)).toMatchObject({ jobId, source: "zap", amountMsats: 21_000 });
  }, 180_000);
});
