// A provider with a long past, through the real App (App.start on a data dir with an identity), a
// real relay, the fake Ollama and a customer built from nostr-tools alone. The wallet is the
// Lightning test double (test/fixtures/lightning-double.ts: real BOLT #11 invoices, the test plays
// the payer; `pageReads` counts page reads as the SDK pays for them), because Lightning settlement
// can't happen offline.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "../../src/app.ts";
import { Vault } from "../../src/identity/vault.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { paths } from "../../src/paths.ts";
import { startCustomer } from "../fixtures/customer.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay } from "../fixtures/relay.ts";
import { until } from "../jobs/harness.ts";

const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const PASSWORD = "correct horse battery";

let fake: FakeOllama;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => fake.stop());

describe("a provider whose wallet has 20,000 past payments (real App, Lightning test double)", () => {
  test("a job paid while it was down (the 20,001st payment) is answered after the restart; reconciliation reads a page or two per pass, not the history", async () => {
    const relay = await startRelay();
    cleanups.push(() => relay.stop());
    const dataDir = mkdtempSync(join(tmpdir(), "compute-long-history-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    await Vault.create(paths(dataDir).vault, { mnemonic: MNEMONIC, passphrase: "" }, PASSWORD, { scrypt: { N: 1024, r: 8, p: 1 } });
    writeFileSync(join(dataDir, "config.json"), JSON.stringify({ limits: { perCustomerPerMinute: 1000, partialIntervalMs: 100_000, allowPrivateUrls: true } }));
    const customer = await startCustomer([relay.url]);
    cleanups.push(() => customer.close());

    // Months of business: 20,000 receives, booked by earlier runs.
    const wallet = new LightningDouble();
    await wallet.connect();
    wallet.addHistory(20_000);
    const ledger = Ledger.open(paths(dataDir).ledger);
    for (const p of await wallet.listPayments()) {
      ledger.creditPayment({ id: p.id, jobId: null, amountMsats: p.amountMsats, bolt11: null, paymentHash: null, source: "other", receivedAt: p.receivedAt });
    }
    ledger.close();

    const start = async () => {
      const app = await App.start({
        dataDir,
        env: {},
        password: PASSWORD,
        flags: { port: 0, relays: [relay.url], ollamaUrl: fake.url, paymentMode: "upfront", priceMsats: 8_000, logLevel: "error" },
        walletFactory: () => wallet,
        reconcileMs: 250,
        walletCallMs: 2_000,
        zapGraceMs: 1_500,
        ollamaProbeMs: 200,
      });
      cleanups.push(() => app.stop());
      await until(() => app.controller.snapshot().wallet.state === "ready", 3000, "wallet ready");
      await app.controller.setOnline(true);
      return app;
    };

    const first = await start();
    const req = customer.request({ inputs: [["paid while down", "text"]] });
    await customer.publish(req);
    const due = await customer.waitForStatus(req.id, "payment-required");
    await first.stop();
    const paid = wallet.settleWhileDown(due.tags.find((t) => t[0] === "amount")![2]!);

    const second = await start();
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
