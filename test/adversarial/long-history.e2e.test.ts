// A provider with a long past, through the real App (App.start on a data dir with an identity), a
// real relay, the fake Ollama and a customer built from nostr-tools alone. The wallet is the
// Lightning test double (test/fixtures/lightning-double.ts: real BOLT #11 invoices, the test plays
// the payer; `pageReads` counts page reads as the SDK pays for them), because Lightning settlement
// can't happen offline.
import { describe, expect, test } from "bun:test";
import { Ledger } from "../../src/ledger/ledger.ts";
import { paths } from "../../src/paths.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { fakeAnswer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { fakeOllamaPerFile, world } from "./world.ts";

let fake: FakeOllama;
const cleanups: Array<() => unknown> = [];
fakeOllamaPerFile(cleanups, (f) => (fake = f));

describe("a provider whose wallet has 20,000 past payments (real App, Lightning test double)", () => {
  test("a job paid while it was down (the 20,001st payment) is answered after the restart; reconciliation reads a page or two per pass, not the history", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 8_000, walletCallMs: 2_000 });
    const { dataDir, customer } = w;

    // Months of business: 20,000 receives, booked by earlier runs.
    await wallet.connect();
    wallet.addHistory(20_000);
    const ledger = Ledger.open(paths(dataDir).ledger);
    for (const p of await wallet.listPayments()) {
      ledger.creditPayment({ id: p.id, jobId: null, amountMsats: p.amountMsats, bolt11: null, paymentHash: null, source: "other", receivedAt: p.receivedAt });
    }
    ledger.close();

    const first = await w.start();
    const req = customer.request({ inputs: [["paid while down", "text"]] });
    await customer.publish(req);
    const due = await customer.waitForStatus(req.id, "payment-required");
    await first.stop();
    const paid = wallet.settleWhileDown(due.tags.find((t) => t[0] === "amount")![2]!);

    const second = await w.start();
    expect((await customer.waitForResult(req.id, 8000)).content).toBe(fakeAnswer("paid while down"));
    expect((await second.controller.walletPayments(1)).map((p) => [p.id, p.jobId])).toEqual([[paid.id, req.id]]);

    // A second of passes (every 250 ms) over the unchanged wallet.
    const reads = wallet.pageReads;
    await Bun.sleep(1_000);
    const used = wallet.pageReads - reads;
    console.log(`1 s of reconciliation over 20,001 payments: ${used} page reads`);
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(12);
    expect(customer.results(req.id)).toHaveLength(1);
  }, 60_000);
});
