// The wallet failing or hanging under a running provider (real App, upfront mode, the Lightning
// test double as wallet): paid jobs are refused with a clear reason, free jobs (a model priced at
// 0) are not affected, and nothing is ever credited that wasn't paid.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import type { App } from "../../src/app.ts";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { prepareDataDir, startApp, until } from "../fixtures/stress-app.ts";

const PRICE_MSATS = 5_000;
let fake: FakeOllama;
let relay: TestRelay;
const live: Array<{ app: App; customer: Customer; dir: string }> = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => void unhandled.push(e);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }, { name: "tiny" }], instant: true });
  relay = await startRelay();
});
afterEach(async () => {
  for (const { app, customer, dir } of live.splice(0)) {
    customer.close();
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
afterAll(async () => {
  await relay.stop();
  await fake.stop();
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

async function setUp(wallet: LightningDouble) {
  const { dataDir } = await prepareDataDir({
    relays: [relay.url],
    ollamaUrl: fake.url,
    provider: { defaultModel: "llama3.2" },
    // llama3.2 costs PRICE_MSATS up front; tiny is free.
    pricing: { mode: "upfront", perJobMsats: PRICE_MSATS, models: { tiny: { perJobMsats: 0 } } },
  });
  const app = await startApp(dataDir, { wallet });
  const customer = await startCustomer([relay.url]);
  live.push({ app, customer, dir: dataDir });
  await until(() => app.controller.snapshot().wallet.state === "ready", 5000, "wallet ready");
  await until(() => app.controller.snapshot().relays.every((r) => r.state === "connected"), 5000, "relay connected");
  await app.controller.setOnline(true);
  return { app, customer };
}

/** A reason for a person: one line, not empty, no stack frames, no file paths. */
function expectClearReason(text: string | null | undefined): void {
  expect(text ?? "").not.toBe("");
  expect(text).not.toMatch(/\n|\bat .+:\d+:\d+|\.ts\b|Error:/);
}

const paid = (c: Customer, prompt: string) => c.request({ inputs: [[prompt, "text"]], params: { model: "llama3.2" } });
const free = (c: Customer, prompt: string) => c.request({ inputs: [[prompt, "text"]], params: { model: "tiny" } });

test("wallet failing: paid jobs get a clear error, free jobs run, nothing is credited; it recovers when the wallet does", async () => {
  const wallet = new LightningDouble();
  const { app, customer } = await setUp(wallet);
  wallet.setFailing("fail");

  const p1 = paid(customer, "paid while failing");
  const f1 = free(customer, "free while failing");
  await customer.publish(p1);
  await customer.publish(f1);
  const err = await customer.waitForStatus(p1.id, "error", 5000);
  expectClearReason(err.extra);
  expect(err.extra).toMatch(/wallet|charge|payment/i);
  expect(customer.feedback(p1.id).map((f) => f.status)).toEqual(["error"]);
  expect(customer.results(p1.id)).toEqual([]);
  expect((await customer.waitForResult(f1.id, 5000)).content).toBe(fakeAnswer("free while failing"));
  expect(customer.feedback(f1.id).some((f) => f.status === "payment-required")).toBe(false);
  expect(fake.requests("/api/generate").filter((r) => r.body?.prompt === "paid while failing")).toEqual([]);
  expect(await app.controller.walletPayments()).toEqual([]);
  expect(app.controller.snapshot().earnings.allSats).toBe(0);
  expect(app.controller.snapshot().jobs.find((j) => j.id === p1.id)).toMatchObject({ status: "error" });

  // The wallet comes back: the next paid job is invoiced, paid once, credited once.
  wallet.setFailing("none");
  const p2 = paid(customer, "paid after recovery");
  await customer.publish(p2);
  const due = await customer.waitForStatus(p2.id, "payment-required", 5000);
  const payment = wallet.settle(due.tags.find((t) => t[0] === "amount")![2]!);
  wallet.emitDuplicate(payment.id); // the SDK may report a payment twice
  expect((await customer.waitForResult(p2.id, 5000)).content).toBe(fakeAnswer("paid after recovery"));
  const credited = await app.controller.walletPayments();
  expect(credited.map((p) => [p.id, p.jobId, p.amountMsats])).toEqual([[payment.id, p2.id, PRICE_MSATS]]);
  expect(app.controller.snapshot().earnings.allSats).toBe(PRICE_MSATS / 1000);
});

test("wallet hanging: free jobs run meanwhile; the hung paid job ends with an error when the call fails, never a charge", async () => {
  const wallet = new LightningDouble();
  const { app, customer } = await setUp(wallet);
  wallet.setFailing("hang");

  const p1 = paid(customer, "paid while hung");
  await customer.publish(p1);
  await until(() => app.controller.snapshot().jobs.some((j) => j.id === p1.id), 3000, "paid job received");
  // Free jobs keep flowing while the wallet call hangs.
  for (const prompt of ["free one", "free two", "free three"]) {
    const f = free(customer, prompt);
    await customer.publish(f);
    expect((await customer.waitForResult(f.id, 5000)).content).toBe(fakeAnswer(prompt));
  }
  expect(customer.feedback(p1.id)).toEqual([]);

  // The wallet call finally fails (the double releases hung calls with an error).
  wallet.setFailing("none");
  const err = await customer.waitForStatus(p1.id, "error", 5000);
  expectClearReason(err.extra);
  expect(err.extra).toMatch(/wallet|charge|payment/i);
  expect(customer.results(p1.id)).toEqual([]);
  expect(await app.controller.walletPayments()).toEqual([]);
  expect(app.controller.snapshot().earnings.allSats).toBe(0);
});

test("a wallet that can't connect: going online in a paid mode is refused with a reason; free mode still goes online", async () => {
  const wallet = new LightningDouble();
  wallet.setFailing("fail");
  const { dataDir } = await prepareDataDir({ relays: [relay.url], ollamaUrl: fake.url, pricing: { mode: "upfront", perJobMsats: PRICE_MSATS } });
  const app = await startApp(dataDir, { wallet });
  const customer = await startCustomer([relay.url]);
  live.push({ app, customer, dir: dataDir });
  await until(() => app.controller.snapshot().relays.every((r) => r.state === "connected"), 5000, "relay connected");
  let refused: Error | null = null;
  await app.controller.setOnline(true).catch((e) => (refused = e as Error));
  expect(refused).not.toBeNull();
  expectClearReason(refused!.message);
  expect(refused!.message).toMatch(/wallet/i);
  expect(app.controller.snapshot().provider.online).toBe(false);
  expect(app.controller.snapshot().provider.blockers.some((b) => /wallet/i.test(b))).toBe(true);

  await app.controller.updateSettings({ pricing: { mode: "free" } });
  await app.controller.setOnline(true);
  const f = customer.request({ inputs: [["free at last", "text"]] });
  await customer.publish(f);
  expect((await customer.waitForResult(f.id, 5000)).content).toBe(fakeAnswer("free at last"));
  expect(await app.controller.walletPayments()).toEqual([]);
});
