// Earnings reach the dashboards at most once a second and only while one listens (issue 16: every
// finished job recomputed and published them, dashboard or not). The real App on a temp data dir.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { EarningsChanged, type Earnings } from "../src/ledger/events.ts";
import type { Ledger } from "../src/ledger/ledger.ts";
import { startOllamaServer, type FakeOllama } from "./fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "./fixtures/relay.ts";
import { startTestApp, type TestApp } from "./fixtures/test-app.ts";

let relay: TestRelay;
let fake: FakeOllama;
let started: TestApp;
beforeAll(async () => {
  relay = await startRelay();
  fake = await startOllamaServer({ instant: true });
  started = await startTestApp({ flags: { relays: [relay.url], ollamaUrl: fake.url, paymentMode: "free" } });
});
afterAll(async () => {
  await started?.stop();
  await fake.stop();
  await relay.stop();
});

const ledgerOf = (t: TestApp) => (t.app as unknown as { ledger: Ledger }).ledger;
let n = 0;
function finishedJob(ledger: Ledger): void {
  const id = (++n).toString(16).padStart(64, "0");
  ledger.admitJob({ id, kind: 5050, customer: "c".repeat(64), requestJson: "{}", status: "success", model: "llama3.2:latest", createdAt: Date.now() }, 5050);
}

test("no dashboard listening: nothing is computed or published", async () => {
  const got: Earnings[] = [];
  const off = started.app.bus.subscribe(EarningsChanged, (p) => got.push(p.earnings));
  for (let i = 0; i < 5; i++) started.app.publishEarnings();
  await Bun.sleep(1200);
  off();
  expect(got).toEqual([]);
});

test("a dashboard listening: a burst of changes gives one event now and one a second later with the last figures", async () => {
  const ledger = ledgerOf(started);
  const got: { at: number; earnings: Earnings }[] = [];
  const offAll = started.app.bus.subscribeAll(() => {});
  const off = started.app.bus.subscribe(EarningsChanged, (p) => got.push({ at: performance.now(), earnings: p.earnings }));
  try {
    await Bun.sleep(1100); // clear of any earlier publish
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) {
      finishedJob(ledger);
      started.app.publishEarnings();
    }
    await Bun.sleep(1500);
    expect(got.length).toBe(2);
    expect(got[0]!.at - t0).toBeLessThan(200);
    expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(900);
    // The later one carries every change of the burst.
    expect(got[1]!.earnings).toEqual(ledger.earnings());
    expect(got[1]!.earnings.allJobs - got[0]!.earnings.allJobs).toBe(19);
  } finally {
    off();
    offAll();
  }
});

test("payments and 'paid late' notes go through the same feed: a payment booked and a late note each reach a listening dashboard", async () => {
  const { PaymentReceived } = await import("../src/wallet/events.ts");
  const { JobStatusChanged } = await import("../src/jobs/events.ts");
  const got: Earnings[] = [];
  const offAll = started.app.bus.subscribeAll(() => {});
  const off = started.app.bus.subscribe(EarningsChanged, (p) => got.push(p.earnings));
  try {
    await Bun.sleep(1100); // clear of any earlier publish
    started.app.bus.publish(PaymentReceived, { paymentId: "p-feed", amountMsats: 1000, jobId: null });
    await Bun.sleep(50);
    expect(got.length).toBe(1);
    await Bun.sleep(1100);
    const job = { id: "f".repeat(64), kind: 5050, customer: "c".repeat(64), model: null, status: "expired" as const, promptPreview: "", tokens: 0, tokensPerSec: null, amountMsats: 1000, bolt11: null, error: "paid late: not served: you had cancelled it", encrypted: false, createdAt: Date.now(), updatedAt: Date.now() };
    started.app.bus.publish(JobStatusChanged, { job });
    // Another job's failure is no change to the earnings.
    started.app.bus.publish(JobStatusChanged, { job: { ...job, id: "e".repeat(64), status: "error", error: "the job failed" } });
    await Bun.sleep(50);
    expect(got.length).toBe(2);
  } finally {
    off();
    offAll();
  }
});
