// The real Breez Spark SDK, offline on regtest (no API key needed; fetch refuses every host but
// loopback for the whole file), with a long history written into the SDK's own storage file
// (its schema, read back by its own listPayments): 20,000 Spark receives, then the payment of a
// job's invoice carrying the zap request the LNURL server kept with it. Payments reconciles with
// SparkWallet as the product does; the test counts the SDK's listPayments calls (page reads).
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { randomBytes, randomUUID } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Bus } from "../../src/bus.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { Payments } from "../../src/wallet/payments.ts";
import { SparkWallet } from "../../src/wallet/spark.ts";
import { offlineFileRoot } from "../fixtures/common.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";

const MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const root = offlineFileRoot("spark-history-");

function findStorage(dir: string): string | null {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      const found = findStorage(p);
      if (found) return found;
    } else if (name === "storage.sql") return p;
  }
  return null;
}

describe("the real Breez SDK (offline, regtest) with 20,000 receives in its storage", () => {
  test("the 20,001st (a job's invoice, paid while we were down) is credited; the SDK hands over the zap request it kept; an unchanged wallet costs one page", async () => {
    const dataDir = join(root, "wallet");
    const first = new SparkWallet({ mnemonic: MNEMONIC, network: "regtest", dataDir, timeoutMs: 8_000 });
    await first.connect();
    expect(first.view().state).toBe("ready");
    await first.disconnect();
    const storage = findStorage(dataDir);
    expect(storage).not.toBeNull();

    // The history, written as the SDK writes payments: 20,000 Spark receives a minute apart, the
    // newest an hour ago; then the job's invoice, paid now over Lightning, with LNURL metadata.
    const node = new LightningDouble();
    await node.connect();
    const inv = await node.createInvoice({ amountMsats: 21_000, description: "compute job", expirySecs: 600 });
    const zapRequest = JSON.stringify({ kind: 9734, note: "what the LNURL server kept" });
    const now = Math.floor(Date.now() / 1000);
    const ids: string[] = [];
    const times: number[] = [];
    const db = new Database(storage!);
    db.transaction(() => {
      const pay = db.prepare("INSERT INTO payments (id, payment_type, status, amount, fees, timestamp, method, spark) VALUES (?, 'receive', 'completed', ?, '0', ?, ?, ?)");
      for (let i = 0; i < 20_000; i++) {
        const id = randomUUID();
        ids.push(id);
        times.push(now - 3600 - (20_000 - 1 - i) * 60);
        pay.run(id, "1", times[i]!, JSON.stringify("spark"), 1);
      }
      pay.run("job-payment", "21", now, JSON.stringify("lightning"), null);
      db.prepare("INSERT INTO payment_details_lightning (payment_id, invoice, payment_hash, destination_pubkey, description, htlc_status, htlc_expiry_time) VALUES (?, ?, ?, ?, ?, 'preimageShared', 0)").run(
        "job-payment",
        inv.bolt11,
        inv.paymentHash,
        node.nodePubkey,
        "compute job",
      );
      db.prepare("INSERT INTO lnurl_receive_metadata (payment_hash, nostr_zap_request) VALUES (?, ?)").run(inv.paymentHash, zapRequest);
    })();
    db.close();

    // Our ledger from earlier runs: the history is booked, the job waits for its payment.
    const ledger = Ledger.open(join(root, "ledger.sqlite"));
    ids.forEach((id, i) => ledger.creditPayment({ id, jobId: null, amountMsats: 1_000, bolt11: null, paymentHash: null, source: "other", receivedAt: times[i]! * 1000 }));
    const jobId = randomBytes(32).toString("hex");
    ledger.insertJob({ id: jobId, kind: 5050, customer: randomBytes(32).toString("hex"), requestJson: "{}", status: "payment-required", createdAt: Date.now() });
    ledger.updateJob(jobId, { amountMsats: 21_000, bolt11: inv.bolt11, paymentHash: inv.paymentHash });

    const wallet = new SparkWallet({ mnemonic: MNEMONIC, network: "regtest", dataDir, timeoutMs: 8_000 });
    await wallet.connect();
    try {
      // Count the SDK's page reads.
      const sdk = (wallet as unknown as { sdk: { listPayments: (r: unknown) => Promise<unknown> } }).sdk;
      const list = sdk.listPayments.bind(sdk);
      let calls = 0;
      sdk.listPayments = (r: unknown) => {
        calls++;
        return list(r);
      };

      const top = await wallet.receivedPage({ offset: 0, limit: 100 });
      expect(top.end).toBe(false);
      expect(top.payments[0]).toEqual({ id: "job-payment", amountMsats: 21_000, bolt11: inv.bolt11, paymentHash: inv.paymentHash, receivedAt: now * 1000, zapRequest });
      expect(top.payments[1]).toMatchObject({ id: ids.at(-1), amountMsats: 1_000, bolt11: null, paymentHash: null, zapRequest: null });
      const last = await wallet.receivedPage({ offset: 20_000, limit: 100 });
      expect(last).toEqual({ payments: [expect.objectContaining({ id: ids[0] })], end: true });

      const payments = new Payments({ wallet, ledger, bus: new Bus(), reconcileMs: 60_000, walletCallMs: 8_000, zapGraceMs: 150 });
      calls = 0;
      expect(await payments.reconcile()).toBe(1);
      expect(ledger.getJob(jobId)?.status).toBe("paid");
      expect(ledger.getPayment("job-payment")).toMatchObject({ jobId, amountMsats: 21_000, source: "invoice" });
      expect(calls).toBe(1);
      calls = 0;
      expect(await payments.reconcile()).toBe(0);
      expect(calls).toBe(1);
      payments.stop();
    } finally {
      await wallet.disconnect();
      ledger.close();
    }
  }, 120_000);
});
