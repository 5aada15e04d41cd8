// Issue 10 point 2, the attacker's (or the unlucky customer's) steps end to end through App.start:
// money that lands for a job late, or while the provider is down, or for a job a crash
// interrupted, is never kept silently. The wallet is the Lightning test double (settlement can't
// happen offline); everything else is real (relay, App, ledger file, NIP-90 customer).
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Ledger } from "../../src/ledger/ledger.ts";
import { paths } from "../../src/paths.ts";
import type { CreateInvoiceRequest } from "../../src/wallet/wallet.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { fakeAnswer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { amountTag, fakeOllamaPerFile, receiptFor, ShortInvoiceDouble, until, world, zap } from "./world.ts";

setDefaultTimeout(20_000);
let fake: FakeOllama;
const cleanups: Array<() => unknown> = [];

fakeOllamaPerFile(cleanups, (f) => (fake = f));
afterEach(async () => {
  await fake.setPacing({ instant: true, timeToFirstTokenMs: 0 });
});

const MIN = 60_000;

/** Moves a job's ledger timestamps back, as if the provider had been down that long (the file is closed by the app). */
function ageJob(dataDir: string, id: string, ms: number): void {
  const ledger = Ledger.open(paths(dataDir).ledger);
  try {
    const row = ledger.getJob(id)!;
    ledger.updateJob(id, { updatedAt: row.updatedAt - ms });
  } finally {
    ledger.close();
  }
}

describe("paid late or while down (Lightning test double)", () => {
  test("customer pays the invoice while the provider is down past the configured expiry: job runs after restart", async () => {
    // The invoice lives 3 s; the customer pays it while the provider is down, and the provider
    // comes back after it expired. The job's row is aged past the configured expiry (10 min), as
    // a longer outage would leave it.
    const wallet = new ShortInvoiceDouble(3);
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 8_000, config: { pricing: { invoiceExpirySecs: 600 } } });
    const first = await w.start();
    const req = w.customer.request({ inputs: [["paid at minute nine", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    await first.stop();
    const paid = wallet.settleWhileDown(amountTag(due)![2]!);
    ageJob(w.dataDir, req.id, 11 * MIN);
    const expiresAt = wallet.issued()[0]!.expiresAt;
    await Bun.sleep(Math.max(0, expiresAt - Date.now() + 200));

    const second = await w.start();
    const result = await w.customer.waitForResult(req.id, 5000);
    expect(result.content).toBe(fakeAnswer("paid at minute nine"));
    await Bun.sleep(600);
    expect(w.customer.results(req.id)).toHaveLength(1);
    expect((await second.controller.walletPayments()).map((p) => [p.id, p.jobId])).toEqual([[paid.id, req.id]]);
    expect(second.controller.snapshot().jobs.find((j) => j.id === req.id)?.status).toBe("success");
  });

  test("customer pays, after a restart, an invoice whose own expiry is later than the configured one: job runs", async () => {
    // A wallet that makes one-hour invoices whatever it is asked: the invoice, not the config, says when it expires.
    class HourInvoices extends LightningDouble {
      override createInvoice(req: CreateInvoiceRequest) {
        return super.createInvoice({ ...req, expirySecs: 3600 });
      }
    }
    const wallet = new HourInvoices();
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 3_000, config: { pricing: { invoiceExpirySecs: 600 } } });
    const first = await w.start();
    const req = w.customer.request({ inputs: [["invoice still good", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    await first.stop();
    ageJob(w.dataDir, req.id, 11 * MIN);
    await w.start();
    await Bun.sleep(500);
    wallet.settle(amountTag(due)![2]!);
    expect((await w.customer.waitForResult(req.id, 5000)).content).toBe(fakeAnswer("invoice still good"));
  });

  test("customer's payment lands just after the invoice expired (in flight at expiry): the job runs anyway", async () => {
    const wallet = new ShortInvoiceDouble(1);
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 5_000 });
    const app = await w.start();
    const req = w.customer.request({ inputs: [["paid a moment late", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    await w.customer.waitForStatus(req.id, "error", 4000);
    expect(app.controller.snapshot().jobs.find((j) => j.id === req.id)?.status).toBe("expired");
    const paid = wallet.settle(amountTag(due)![2]!, { force: true });
    const result = await w.customer.waitForResult(req.id, 5000);
    expect(result.content).toBe(fakeAnswer("paid a moment late"));
    await Bun.sleep(400);
    expect(w.customer.results(req.id)).toHaveLength(1);
    expect((await app.controller.walletPayments()).map((p) => [p.id, p.jobId])).toEqual([[paid.id, req.id]]);
  });

  test("customer zaps the payment-required feedback after the invoice expired and the receipt comes after the payment was booked as a plain receive: the job runs", async () => {
    const wallet = new ShortInvoiceDouble(1);
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 5_000 });
    const app = await w.start();
    await app.controller.walletSetLightningAddress("provider");
    const req = w.customer.request({ inputs: [["zapped after expiry", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    await w.customer.waitForStatus(req.id, "error", 4000);
    // The zap invoice is made for the zap request (its own expiry), paid; its receipt is slow.
    const request = w.customer.sign({ kind: 9734, tags: [["p", w.pubkey], ["e", due.event.id], ["amount", "5000"], ["relays", w.relay.url]], content: "" });
    const inv = await LightningDouble.prototype.createInvoice.call(wallet, { amountMsats: 5_000, description: JSON.stringify(request), expirySecs: 600 });
    const paid = wallet.settle(inv.bolt11);
    await Bun.sleep(2_000); // past the zap grace (1.5 s): booked as a plain receive
    await w.relay.inject(receiptFor(request, inv.bolt11, w.pubkey));
    const result = await w.customer.waitForResult(req.id, 5000);
    expect(result.content).toBe(fakeAnswer("zapped after expiry"));
    expect((await app.controller.walletPayments()).map((p) => [p.id, p.jobId, p.source])).toEqual([[paid.id, req.id, "zap"]]);
  });

  test("customer cancels the job, then pays its invoice: not served, the customer is told, the owner sees 'paid late: not served' with the customer's pubkey", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 4_000 });
    const app = await w.start();
    const req = w.customer.request({ inputs: [["cancel then pay", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    await w.customer.cancel(req.id);
    await until(() => app.controller.snapshot().jobs.find((j) => j.id === req.id)?.status === "cancelled", 3000, "cancelled");
    const paid = wallet.settle(amountTag(due)![2]!);
    const told = await w.customer.waitForStatus(req.id, "error", 4000);
    expect(told.extra).toContain("paid");
    expect(told.extra).toContain("not run");
    await Bun.sleep(400);
    expect(w.prompts()).toEqual([]);
    expect(w.customer.results(req.id)).toEqual([]);
    const [row] = await app.controller.walletPayments();
    expect(row).toMatchObject({ id: paid.id, jobId: req.id, note: "paid late: not served", customer: w.customer.pubkey });
    expect(app.controller.snapshot().jobs.find((j) => j.id === req.id)?.error).toContain("paid late: not served");
    expect(app.controller.snapshot().earnings.paidLateNotServed).toBe(1);
    // `compute wallet history`, asking the running compute, says it too.
    const env: Record<string, string | undefined> = { ...process.env, COMPUTE_DATA_DIR: w.dataDir, COMPUTE_LOG_LEVEL: "error" };
    delete env.COMPUTE_PASSWORD;
    const cli = Bun.spawn(["bun", "src/index.ts", "wallet", "history"], { cwd: new URL("../..", import.meta.url).pathname, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 15_000 });
    const [out, errOut, code] = await Promise.all([new Response(cli.stdout).text(), new Response(cli.stderr).text(), cli.exited]);
    expect({ code, errOut }).toEqual({ code: 0, errOut: "" });
    expect(out).toContain(`PAID LATE: NOT SERVED (customer ${w.customer.pubkey})`);
  });

  test("customer zaps the payment-required feedback and the provider is killed while the job runs: the job runs once after restart", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 6_000 });
    const first = await w.start();
    await first.controller.walletSetLightningAddress("provider");
    const req = w.customer.request({ inputs: [["zapped then crashed", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    await fake.setPacing({ instant: false, timeToFirstTokenMs: 30_000 });
    const z = await zap(wallet, { customer: w.customer, provider: w.pubkey, eventId: due.event.id, msats: 6_000 });
    const paid = wallet.settle(z.invoice.bolt11);
    await w.relay.inject(receiptFor(z.request, z.invoice.bolt11, w.pubkey));
    await until(() => first.controller.snapshot().jobs.find((j) => j.id === req.id)?.status === "processing", 5000, "processing");
    await first.stop();
    // What kill -9 leaves: the row still says processing (a clean stop set it back to paid).
    const ledger = Ledger.open(paths(w.dataDir).ledger);
    ledger.updateJob(req.id, { status: "processing" });
    expect(ledger.findPaymentByHash(z.invoice.paymentHash)?.jobId).toBe(req.id);
    ledger.close();
    await fake.setPacing({ instant: true, timeToFirstTokenMs: 0 });

    const second = await w.start();
    const result = await w.customer.waitForResult(req.id, 5000);
    expect(result.content).toBe(fakeAnswer("zapped then crashed"));
    await Bun.sleep(400);
    expect(w.customer.results(req.id)).toHaveLength(1);
    expect(w.customer.feedback(req.id).filter((f) => f.status === "error")).toEqual([]);
    expect((await second.controller.walletPayments()).map((p) => [p.id, p.jobId, p.source])).toEqual([[paid.id, req.id, "zap"]]);
  }, 20_000);
});
