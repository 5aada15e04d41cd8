// "Get paid", end to end, through App.start: the real Payments and Engine wired by the app, a real
// relay, the fake Ollama, and a NIP-90 customer built from nostr-tools alone. The wallet is the
// Lightning test double (real, decodable BOLT #11 invoices; the test plays the payer with settle),
// because settlement can't happen offline.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { App } from "../../src/app.ts";
import { paths } from "../../src/paths.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { decodeBolt11 } from "../../src/util/bolt11.ts";
import type { Wallet } from "../../src/wallet/wallet.ts";
import { amountTag, fakeOllamaPerFile, receiptFor, ShortInvoiceDouble, world as sharedWorld, zap } from "../adversarial/world.ts";
import { startCustomer } from "../fixtures/customer.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { fakeAnswer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { until } from "./harness.ts";

const PASSWORD = "correct horse battery"; // what world() seals the vault with

let fake: FakeOllama;
const cleanups: Array<() => unknown> = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => void unhandled.push(e);

beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
});
fakeOllamaPerFile(cleanups, (f) => (fake = f));
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

/** A data dir with an identity, a relay, a customer; `start` runs the app with `wallet` (test/adversarial/world.ts). */
const world = (wallet: Wallet, opts: Parameters<typeof sharedWorld>[3]) => sharedWorld(fake, cleanups, wallet, opts);
const earnedSats = (app: App) => app.controller.snapshot().earnings.todaySats;

describe("pay first (upfront), Lightning test double", () => {
  test("payment-required with the amount and a bolt11 for it; settle → the job runs once; credited once; earnings up", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "upfront", priceMsats: 21_000 });
    const app = await w.start();
    const before = earnedSats(app);
    const req = w.customer.request({ inputs: [["pay me first", "text"]], bidMsats: 50_000 });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    const [, msats, bolt11] = amountTag(due)!;
    expect(msats).toBe("21000");
    const inv = decodeBolt11(bolt11!);
    expect(inv).toMatchObject({ network: "regtest", amountMsats: 21_000 });
    expect(wallet.issued().map((i) => i.bolt11)).toEqual([bolt11!]);
    await Bun.sleep(150);
    expect(w.prompts()).toEqual([]);

    const paid = wallet.settle(bolt11!);
    const result = await w.customer.waitForResult(req.id);
    expect(result.content).toBe(fakeAnswer("pay me first"));
    // The SDK reporting the payment again, and reconciliation passes: still one credit.
    wallet.emitDuplicate(paid.id);
    await Bun.sleep(600);
    expect(await app.controller.walletPayments()).toEqual([{ id: paid.id, jobId: req.id, amountMsats: 21_000, bolt11: bolt11!.toLowerCase(), paymentHash: inv.paymentHash, source: "invoice", receivedAt: paid.receivedAt }]);
    expect(earnedSats(app) - before).toBe(21);
    expect(w.customer.results(req.id)).toHaveLength(1);
    expect(w.prompts()).toEqual(["pay me first"]);
    expect(app.controller.snapshot().jobs.find((j) => j.id === req.id)?.status).toBe("success");
  });

  test("unpaid until the invoice expires → nothing runs, the job is expired, the customer is told", async () => {
    const wallet = new ShortInvoiceDouble(1);
    const w = await world(wallet, { mode: "upfront", priceMsats: 5_000 });
    const app = await w.start();
    const req = w.customer.request({ inputs: [["never paid", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    expect(decodeBolt11(amountTag(due)![2]!).expirySecs).toBe(1);
    const err = await w.customer.waitForStatus(req.id, "error", 4000);
    expect(err.extra).toContain("invoice expired unpaid");
    expect(app.controller.snapshot().jobs.find((j) => j.id === req.id)?.status).toBe("expired");
    // Too late: the invoice can't be paid any more, and nothing ever ran or was credited.
    expect(() => wallet.settle(amountTag(due)![2]!)).toThrow("expired");
    expect(w.prompts()).toEqual([]);
    expect(await app.controller.walletPayments()).toEqual([]);
  });

  test("a bid below the price → an error stating our price; no invoice", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "upfront", priceMsats: 21_000 });
    await w.start();
    const req = w.customer.request({ bidMsats: 1_000 });
    await w.customer.publish(req);
    const err = await w.customer.waitForStatus(req.id, "error");
    expect(err.extra).toBe("bid 1000 msats is below this provider's price of 21000 msats");
    expect(wallet.issued()).toEqual([]);
  });

  test("paid while the provider is down → after the restart the job is credited once and answered once", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "upfront", priceMsats: 8_000 });
    const first = await w.start();
    const req = w.customer.request({ inputs: [["paid while down", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    await first.stop();
    // Shutting down doesn't close an open invoice: the customer hears nothing more.
    expect(w.customer.feedback(req.id).map((f) => f.status)).toEqual(["payment-required"]);
    const paid = wallet.settleWhileDown(amountTag(due)![2]!);

    const second = await w.start();
    const result = await w.customer.waitForResult(req.id);
    expect(result.content).toBe(fakeAnswer("paid while down"));
    await Bun.sleep(600); // a few reconciliation passes
    expect(w.customer.results(req.id)).toHaveLength(1);
    expect(w.prompts()).toEqual(["paid while down"]);
    expect((await second.controller.walletPayments()).map((p) => [p.id, p.jobId])).toEqual([[paid.id, req.id]]);
    expect(second.controller.snapshot().earnings.todaySats).toBe(8);
  });

  test("a paid job still queued at shutdown is kept, not cancelled: it runs once after the restart", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "upfront", priceMsats: 2_000, config: { limits: { maxConcurrentJobs: 1, perCustomerPerMinute: 1000, partialIntervalMs: 100_000, allowPrivateUrls: true } } });
    const first = await w.start();
    await fake.setPacing({ instant: false, timeToFirstTokenMs: 700 });
    try {
      const a = w.customer.request({ inputs: [["running at shutdown", "text"]] });
      const b = w.customer.request({ inputs: [["queued at shutdown", "text"]] });
      for (const req of [a, b]) {
        await w.customer.publish(req);
        wallet.settle(amountTag(await w.customer.waitForStatus(req.id, "payment-required"))![2]!);
      }
      await until(() => first.controller.snapshot().jobs.find((j) => j.id === b.id)?.status === "queued", 3000, "b queued");
      await first.stop();
      expect((await w.customer.waitForResult(a.id)).content).toBe(fakeAnswer("running at shutdown"));
      // Paid, then told it was queued; set aside at shutdown without an error.
      expect(w.customer.feedback(b.id).map((f) => f.status)).toEqual(["payment-required", "processing"]);
      await w.start();
      expect((await w.customer.waitForResult(b.id, 5000)).content).toBe(fakeAnswer("queued at shutdown"));
      await Bun.sleep(200);
      expect(w.customer.results(b.id)).toHaveLength(1);
      expect(w.prompts().sort()).toEqual(["queued at shutdown", "running at shutdown"]);
    } finally {
      await fake.setPacing({ instant: true, timeToFirstTokenMs: 0 });
    }
  });

  test("the wallet failing or hanging → upfront jobs refused with a clear message; nothing credited", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "upfront", priceMsats: 5_000 });
    const app = await w.start();
    const message = "this provider's wallet could not create an invoice just now; please try again later";
    for (const mode of ["fail", "hang"] as const) {
      wallet.setFailing(mode);
      const req = w.customer.request({ inputs: [[`wallet ${mode}`, "text"]] });
      await w.customer.publish(req);
      const err = await w.customer.waitForStatus(req.id, "error", 3000);
      expect(err.extra).toBe(message);
      expect(w.customer.feedback(req.id).map((f) => f.status)).toEqual(["error"]);
    }
    wallet.setFailing("none");
    await Bun.sleep(300);
    expect(await app.controller.walletPayments()).toEqual([]);
    expect(w.prompts()).toEqual([]);
    // Back to normal: the next job gets its invoice.
    const ok = w.customer.request({ inputs: [["wallet back", "text"]] });
    await w.customer.publish(ok);
    await w.customer.waitForStatus(ok.id, "payment-required");
  });
});

describe("pay after, Lightning test double", () => {
  test("the result carries the amount for the tokens made and a bolt11 for it; settle → credited; earnings up", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "after", priceMsats: 3_000, per1k: 200_000 });
    const app = await w.start();
    const req = w.customer.request({ inputs: [["one two three", "text"]] });
    await w.customer.publish(req);
    const result = await w.customer.waitForResult(req.id);
    expect(result.content).toBe(fakeAnswer("one two three"));
    const [, msats, bolt11] = amountTag(result)!;
    // "echo: one two three" is 4 tokens at the fake: 3000 + 200000 * 4 / 1000 = 3800, asked as
    // whole sats in both the amount tag and the bolt11 (what the invoice can ask).
    expect(msats).toBe("4000");
    expect(decodeBolt11(bolt11!).amountMsats).toBe(4_000);
    const before = earnedSats(app);
    wallet.settle(bolt11!);
    await until(() => earnedSats(app) - before === 4, 2000, "earnings up");
    expect((await app.controller.walletPayments()).map((p) => [p.jobId, p.amountMsats, p.source])).toEqual([[req.id, 4_000, "invoice"]]);
  });

  test("a wallet that can't make the invoice doesn't cost the customer the answer: amount only, no bolt11", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "after", priceMsats: 3_000 });
    await w.start();
    wallet.setFailing("fail");
    const req = w.customer.request({ inputs: [["no invoice today", "text"]] });
    await w.customer.publish(req);
    const result = await w.customer.waitForResult(req.id);
    expect(result.content).toBe(fakeAnswer("no invoice today"));
    expect(amountTag(result)).toEqual(["amount", "3000"]);
  });
});

describe("the free allowance (pricing.freeJobsPerCustomer)", () => {
  test("a customer's first jobs are free, then they pay; the count survives a restart", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "upfront", priceMsats: 5_000, config: { pricing: { freeJobsPerCustomer: 1 } } });
    const first = await w.start();
    const a = w.customer.request({ inputs: [["first one free", "text"]], bidMsats: 1 });
    await w.customer.publish(a);
    expect((await w.customer.waitForResult(a.id)).content).toBe(fakeAnswer("first one free"));
    expect(w.customer.feedback(a.id).map((f) => f.status)).not.toContain("payment-required");
    await first.stop();
    await w.start();
    const b = w.customer.request({ inputs: [["second one paid", "text"]] });
    await w.customer.publish(b);
    expect(amountTag(await w.customer.waitForStatus(b.id, "payment-required"))![1]).toBe("5000");
    // Another customer still has theirs.
    const other = await startCustomer([w.relay.url]);
    cleanups.push(() => other.close());
    const c = other.request({ inputs: [["someone new", "text"]] });
    await other.publish(c);
    expect((await other.waitForResult(c.id)).content).toBe(fakeAnswer("someone new"));
    expect(wallet.issued()).toHaveLength(1);
  });
});

describe("zaps (NIP-57), Lightning test double", () => {
  test("a zap of the payment-required feedback pays for the job — only once our wallet has the payment; a forged receipt does nothing", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "upfront", priceMsats: 21_000 });
    const app = await w.start();
    expect(await app.controller.walletSetLightningAddress("provider")).toEqual({ address: "provider@double.invalid", lnurl: null });

    // A forged receipt first: a zap "paid" to some other node, naming a job's feedback.
    const forgedJob = w.customer.request({ inputs: [["forged zap", "text"]] });
    await w.customer.publish(forgedJob);
    const forgedDue = await w.customer.waitForStatus(forgedJob.id, "payment-required");
    const elsewhere = new LightningDouble();
    await elsewhere.connect();
    const forged = await zap(elsewhere, { customer: w.customer, provider: w.pubkey, eventId: forgedDue.event.id, msats: 21_000 });
    elsewhere.settle(forged.invoice.bolt11);
    await w.relay.inject(receiptFor(forged.request, forged.invoice.bolt11, w.pubkey));
    // A receipt for a zap invoice of ours that was never paid: no better.
    const unpaid = await zap(wallet, { customer: w.customer, provider: w.pubkey, eventId: forgedDue.event.id, msats: 21_000 });
    await w.relay.inject(receiptFor(unpaid.request, unpaid.invoice.bolt11, w.pubkey));

    // The real thing.
    const req = w.customer.request({ inputs: [["zap to run", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    const z = await zap(wallet, { customer: w.customer, provider: w.pubkey, eventId: due.event.id, msats: 21_000 });
    const paid = wallet.settle(z.invoice.bolt11);
    await w.relay.inject(receiptFor(z.request, z.invoice.bolt11, w.pubkey));
    const result = await w.customer.waitForResult(req.id);
    expect(result.content).toBe(fakeAnswer("zap to run"));

    await Bun.sleep(500);
    expect(await app.controller.walletPayments()).toEqual([{ id: paid.id, jobId: req.id, amountMsats: 21_000, bolt11: z.invoice.bolt11.toLowerCase(), paymentHash: z.invoice.paymentHash, source: "zap", receivedAt: paid.receivedAt }]);
    expect(app.controller.snapshot().jobs.find((j) => j.id === forgedJob.id)?.status).toBe("payment-required");
    expect(w.customer.results(forgedJob.id)).toEqual([]);
    expect(w.prompts()).toEqual(["zap to run"]);
  });

  test("which events belong to which job survives a restart: a zap paid while we were down still pays its job", async () => {
    const wallet = new LightningDouble();
    const w = await world(wallet, { mode: "upfront", priceMsats: 5_000 });
    const first = await w.start();
    await first.controller.walletSetLightningAddress("provider");
    const req = w.customer.request({ inputs: [["zapped while down", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    // The customer's wallet gets a zap invoice for the feedback (from the LNURL server, made by our wallet)…
    const z = await zap(wallet, { customer: w.customer, provider: w.pubkey, eventId: due.event.id, msats: 5_000 });
    await first.stop();
    const ledger = Ledger.open(paths(w.dataDir).ledger);
    expect(ledger.zapTarget(due.event.id)).toBe(req.id);
    ledger.close();
    // …and pays it while we are down; the receipt waits on the relay.
    const paid = wallet.settleWhileDown(z.invoice.bolt11);
    await w.relay.inject(receiptFor(z.request, z.invoice.bolt11, w.pubkey));

    const second = await w.start();
    const result = await w.customer.waitForResult(req.id);
    expect(result.content).toBe(fakeAnswer("zapped while down"));
    expect((await second.controller.walletPayments()).map((p) => [p.id, p.jobId, p.source])).toEqual([[paid.id, req.id, "zap"]]);
    expect(w.customer.results(req.id)).toHaveLength(1);
  });
});

describe("going online", () => {
  test("a paid mode with a wallet that isn't ready is refused, naming both ways out", async () => {
    // The real Spark wallet on mainnet without a Breez API key: not configured (no network needed).
    const w = await world(null as unknown as Wallet, { mode: "upfront" });
    const spark = await App.start({
      dataDir: w.dataDir,
      env: {},
      password: PASSWORD,
      flags: { port: 0, relays: [w.relay.url], ollamaUrl: fake.url, paymentMode: "upfront", network: "mainnet", logLevel: "error" },
    });
    cleanups.push(() => spark.stop());
    await until(() => spark.controller.snapshot().wallet.state === "not_configured", 3000, "wallet not configured");
    const err = await spark.controller.setOnline(true).catch((e) => e);
    expect(err.message).toContain("Can't take paid jobs");
    expect(err.message).toContain("BREEZ_API_KEY");
    expect(err.message).toContain("Configure the wallet, or run with --payment-mode free");
    expect(spark.controller.snapshot().provider.online).toBe(false);
    await spark.stop();

    // A wallet that never connects.
    const broken = new LightningDouble();
    broken.setFailing("fail");
    const app = await App.start({
      dataDir: w.dataDir,
      env: {},
      password: PASSWORD,
      flags: { port: 0, relays: [w.relay.url], ollamaUrl: fake.url, paymentMode: "after", logLevel: "error" },
      walletFactory: () => broken,
    });
    cleanups.push(() => app.stop());
    const err2 = await app.controller.setOnline(true).catch((e) => e);
    expect(err2.message).toBe("Can't take paid jobs: the wallet is not connected yet. Configure the wallet, or run with --payment-mode free.");
    expect(app.controller.snapshot().provider.blockers.join(" ")).toContain("use payment mode free");
  });
});
