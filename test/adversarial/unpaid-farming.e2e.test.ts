// Issue 10 points 5 and 6, the attacker's steps end to end through App.start: pubkeys are free, so
// unpaid work (pay-after jobs, the free allowance) must be bounded for all strangers together, a
// customer who didn't pay is asked to pay first, the bid is held against the whole charge, and what
// the customer is told to pay is what the invoice asks. The wallet is the Lightning test double.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { decodeBolt11 } from "../../src/util/bolt11.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { fakeAnswer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { amountTag, fakeOllamaPerFile, receiptFor, until, world, zap } from "./world.ts";

setDefaultTimeout(20_000);
let fake: FakeOllama;
const cleanups: Array<() => unknown> = [];

fakeOllamaPerFile(cleanups, (f) => (fake = f));

describe("pay-after and free jobs can't be farmed (Lightning test double)", () => {
  test("customer takes a pay-after result without paying, then sends another job: asked to pay up front", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "after", priceMsats: 3_000 });
    await w.start();
    const a = w.customer.request({ inputs: [["first, never paid", "text"]] });
    await w.customer.publish(a);
    expect(amountTag(await w.customer.waitForResult(a.id))![1]).toBe("3000");
    const b = w.customer.request({ inputs: [["second, pay first", "text"]] });
    await w.customer.publish(b);
    const due = await w.customer.waitForStatus(b.id, "payment-required");
    await Bun.sleep(200);
    expect(w.prompts()).toEqual(["first, never paid"]);
    wallet.settle(amountTag(due)![2]!);
    const result = await w.customer.waitForResult(b.id);
    expect(result.content).toBe(fakeAnswer("second, pay first"));
    // Paid up front: the result asks for nothing more.
    expect(amountTag(result)).toBeUndefined();
  });

  test("strangers with fresh pubkeys each take one pay-after job and never pay: past the global budget the next one pays first; the dashboard shows what is unpaid", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "after", priceMsats: 3_000, config: { pricing: { maxUnpaidAfterJobs: 2 } } });
    const app = await w.start();
    for (const n of [1, 2]) {
      const c = await w.newCustomer();
      const r = c.request({ inputs: [[`stranger ${n}`, "text"]] });
      await c.publish(r);
      await c.waitForResult(r.id);
    }
    await until(() => app.controller.snapshot().earnings.unpaidJobs === 2, 2000, "two unpaid on the dashboard");
    expect(app.controller.snapshot().earnings.unpaidSats).toBe(6);
    const third = await w.newCustomer();
    const r = third.request({ inputs: [["stranger 3", "text"]] });
    await third.publish(r);
    await third.waitForStatus(r.id, "payment-required");
    await Bun.sleep(200);
    expect(w.prompts().sort()).toEqual(["stranger 1", "stranger 2"]);
  });

  test("strangers with fresh pubkeys each claim the free allowance: past the hourly free budget the next one pays", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 5_000, config: { pricing: { freeJobsPerCustomer: 1, maxFreeJobsPerHour: 2 } } });
    await w.start();
    for (const n of [1, 2]) {
      const c = await w.newCustomer();
      const r = c.request({ inputs: [[`free ${n}`, "text"]] });
      await c.publish(r);
      await c.waitForResult(r.id);
    }
    const third = await w.newCustomer();
    const r = third.request({ inputs: [["free 3", "text"]] });
    await third.publish(r);
    expect(amountTag(await third.waitForStatus(r.id, "payment-required"))![1]).toBe("5000");
  });

  test("customer bids only the per-job part on a per-token pay-after provider and asks for many tokens: refused, quoting the final charge", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "after", priceMsats: 1_000, per1k: 100_000 });
    await w.start();
    const req = w.customer.request({ inputs: [["a long answer for a small bid", "text"]], params: { max_tokens: 100 }, bidMsats: 1_000 });
    await w.customer.publish(req);
    const err = await w.customer.waitForStatus(req.id, "error");
    expect(err.extra).toBe("bid 1000 msats is below this provider's price of 11000 msats");
    await Bun.sleep(200);
    expect(w.prompts()).toEqual([]);
  });
});

describe("the amount tag and the invoice ask the same (Lightning test double)", () => {
  test("customer reads a price that is not whole sats: the amount tag and the bolt11 both ask the whole sats above it", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 21_500 });
    await w.start();
    const req = w.customer.request({ inputs: [["round me", "text"]] });
    await w.customer.publish(req);
    const [, msats, bolt11] = amountTag(await w.customer.waitForStatus(req.id, "payment-required"))!;
    expect(Number(msats)).toBe(decodeBolt11(bolt11!).amountMsats!);
    expect(msats).toBe("22000");
  });

  test("customer zaps exactly the tagged amount of a pay-after result: it counts as full payment", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "after", priceMsats: 2_500 });
    const app = await w.start();
    await app.controller.walletSetLightningAddress("provider");
    const a = w.customer.request({ inputs: [["zap my result", "text"]] });
    await w.customer.publish(a);
    const result = await w.customer.waitForResult(a.id);
    const [, msats, bolt11] = amountTag(result)!;
    expect(Number(msats)).toBe(decodeBolt11(bolt11!).amountMsats!);
    const z = await zap(wallet, { customer: w.customer, provider: w.pubkey, eventId: result.event.id, msats: Number(msats) });
    wallet.settle(z.invoice.bolt11);
    await w.relay.inject(receiptFor(z.request, z.invoice.bolt11, w.pubkey));
    await until(() => app.controller.snapshot().earnings.unpaidJobs === 0, 3000, "nothing unpaid");
    // Paid in full: the next job is not asked to pay first.
    const b = w.customer.request({ inputs: [["after my zap", "text"]] });
    await w.customer.publish(b);
    expect((await w.customer.waitForResult(b.id)).content).toBe(fakeAnswer("after my zap"));
    expect(w.customer.feedback(b.id).map((f) => f.status)).not.toContain("payment-required");
  });
});
