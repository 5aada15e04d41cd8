// The MARKET panel in headless Chromium against the real app: a relay seeded with the simulated
// market (our own provider in it signed by the app's key), the Ollama test server. The panel shows
// the fixture's figures and our rank, the suggested price with its reason; USE SUGGESTED saves it
// (and nothing changed before the click); BENCHMARK runs and shows the figures, in MARKET and in
// MODELS (the same component), and MODELS shows the server's refusal while a job runs; the price
// floor typed in SETTINGS › PRICING is saved and lifts the suggestion. Skipped where no Chromium is
// installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hexToBytes } from "@noble/hashes/utils.js";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, launchChromium, openPage } from "../fixtures/browser.ts";
import { buildMarketSim } from "../fixtures/market-sim.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "../jobs/harness.ts";


describe.skipIf(!CHROMIUM)("MARKET panel (real app, seeded relay, headless Chromium)", () => {
  // Our provider in the simulation is the app's identity (TEST_MNEMONIC's NIP-06 key).
  const sim = buildMarketSim(undefined, hexToBytes("7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a"));
  let relay: TestRelay;
  let ollama: FakeOllama;
  let started: TestApp;
  let browser: Browser;
  let page: Page;
  let customer: Customer | undefined;
  const problems: string[] = [];

  beforeAll(async () => {
    relay = await startRelay();
    for (const e of sim.events) await relay.inject(e as never);
    ollama = await startOllamaServer({ models: [{ name: "llama3.2:3b" }], tokensPerSec: 400, responseTokens: 200 });
    started = await startTestApp({ flags: {}, config: { relays: [relay.url], ollamaUrl: ollama.url, pricing: { perJobMsats: 10_000 } } });
    await until(() => started.app.controller.marketView().report.demand.requests === sim.expected.requests, 15_000, "market read");
    browser = await launchChromium();
    // 409: the benchmark refused while a job runs (the last test), shown in the row.
    page = await openPage(browser, started.app.url, { height: 900, problems, ignore: /status of 40[0139]/, selector: "[data-testid=market-panel]" });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    customer?.close();
    await started?.stop();
    await relay?.stop();
    await ollama?.stop();
  }, 30_000);

  test("figures from the fixture, our rank, and the suggested price with its reason", async () => {
    await page.locator("[data-testid=market-answered]").waitFor({ timeout: 10_000 });
    expect(await page.locator("[data-testid=market-answered]").innerText()).toBe(String(sim.expected.answered));
    expect(await page.locator("[data-testid=market-unserved]").innerText()).toBe(String(sim.expected.unserved));
    expect(await page.locator("[data-testid=market-for-me]").innerText()).toBe(String(sim.expected.unservedForMe));
    expect(await page.locator("[data-testid=market-me]").innerText()).toContain("YOU");
    expect(await page.locator("[data-testid=market-rank]").innerText()).toMatch(/You rank #\d of 5/);
    const s = page.locator("[data-testid=market-suggestion][data-model='llama3.2:3b']");
    expect(await s.locator("[data-testid=market-current]").innerText()).toBe("10 sats");
    expect(await s.locator("[data-testid=market-suggested]").innerText()).toBe("25 sats");
    expect(await s.locator("[data-testid=market-reason]").innerText()).toContain("Median of 3 providers serving llama3.2:3b is 25 sats/job");
    // Shown, not applied.
    expect(started.app.controller.settings().pricing.perJobMsats).toBe(10_000);
    expect(problems).toEqual([]);
  }, 30_000);

  test("SETTINGS › PRICING shows the market's price beside ours; USE SUGGESTED fills the field, SAVE applies it", async () => {
    await page.locator("[data-testid=open-settings]").click();
    const hint = page.locator("[data-testid=settings-market-hint]");
    await hint.waitFor({ timeout: 10_000 });
    expect(await hint.innerText()).toContain("25 sats/job · yours 10 sats · suggested 25 sats");
    await page.locator("[data-testid=settings-use-suggested]").click();
    expect(await page.locator("[data-testid=settings-perJobSats]").inputValue()).toBe("25");
    // Filled, not saved: the price changes only with SAVE.
    expect(started.app.controller.settings().pricing.perJobMsats).toBe(10_000);
    await page.locator("[data-testid=settings-save]").click();
    await until(() => started.app.controller.settings().pricing.perJobMsats === 25_000, 5_000, "saved");
    // Back to 10 for the next test.
    await started.app.controller.updateSettings({ pricing: { perJobMsats: 10_000 } });
    await page.reload();
    await page.waitForSelector("[data-testid=market-panel] [data-testid=market-answered]");
    expect(problems).toEqual([]);
  }, 30_000);

  test("USE SUGGESTED saves the price; BENCHMARK measures the model and shows it", async () => {
    const s = page.locator("[data-testid=market-suggestion][data-model='llama3.2:3b']");
    await s.locator("[data-testid=market-use-suggested]").click();
    await until(() => started.app.controller.settings().pricing.perJobMsats === 25_000, 5_000, "price saved");
    await s.locator("[data-testid=market-current]").getByText("25 sats").waitFor({ timeout: 5_000 });
    await s.locator("[data-testid=market-benchmark]").click();
    await s.locator("[data-testid=market-bench]").waitFor({ timeout: 30_000 });
    expect(await s.locator("[data-testid=market-bench]").innerText()).toMatch(/first token \d+ ms · [\d.]+ tok\/s/);
    expect(problems).toEqual([]);
  }, 60_000);

  test("SETTINGS › PRICING: a floor typed in sats is saved, shown in MARKET and lifts the suggestion; emptied, it is none", async () => {
    const s = page.locator("[data-testid=market-suggestion][data-model='llama3.2:3b']");
    const suggestedBefore = await s.locator("[data-testid=market-suggested]").innerText();
    await page.locator("[data-testid=open-settings]").click();
    const floor = page.locator("[data-testid=settings-floorSats]");
    await floor.waitFor({ timeout: 10_000 });
    expect(await floor.inputValue()).toBe("");
    // A bad amount is refused in the form, nothing saved.
    await floor.fill("forty");
    await page.locator("[data-testid=settings-save]").click();
    expect(await page.locator("#set-floorSats-error").innerText()).toContain("amount in sats");
    expect(started.app.controller.settings().pricing.floorMsats).toBe(0);
    await floor.fill("40");
    await page.locator("[data-testid=settings-save]").click();
    await until(() => started.app.controller.settings().pricing.floorMsats === 40_000, 5_000, "floor saved");
    await page.locator("[data-testid=settings-dialog]").waitFor({ state: "detached", timeout: 5_000 });
    // The market view is read again after a save: the floor and a suggestion at or above it.
    await page.locator("[data-testid=market-floor]").getByText("Your floor: 40 sats per job.").waitFor({ timeout: 5_000 });
    await s.locator("[data-testid=market-suggested]").getByText("40 sats").waitFor({ timeout: 5_000 });
    expect(await s.locator("[data-testid=market-reason]").innerText()).toContain("floor");
    expect(suggestedBefore).not.toBe("40 sats");
    // Reopened, the field shows it; emptied and saved, there is no floor.
    await page.locator("[data-testid=open-settings]").click();
    await floor.waitFor({ timeout: 10_000 });
    expect(await floor.inputValue()).toBe("40");
    await floor.fill("");
    await page.locator("[data-testid=settings-save]").click();
    await until(() => started.app.controller.settings().pricing.floorMsats === 0, 5_000, "floor cleared");
    await page.locator("[data-testid=market-floor]").waitFor({ state: "detached", timeout: 5_000 });
    expect(problems).toEqual([]);
  }, 60_000);

  test("MODELS: the served model's last figures (same as MARKET's) and its BENCHMARK button measuring again", async () => {
    const row = page.locator("[data-testid=model-row][data-model='llama3.2:3b']");
    const figures = row.locator("[data-testid=model-bench]");
    await figures.waitFor({ timeout: 10_000 });
    const market = page.locator("[data-testid=market-suggestion][data-model='llama3.2:3b'] [data-testid=market-bench]");
    expect(await figures.innerText()).toBe(await market.innerText());
    const before = started.app.controller.marketView().benchmarks.find((b) => b.model === "llama3.2:3b")!.at;
    await row.locator("[data-testid=model-benchmark]").click();
    await until(() => started.app.controller.marketView().benchmarks.find((b) => b.model === "llama3.2:3b")!.at > before, 30_000, "benchmark run again");
    await page.locator("[data-testid=toast]").getByText(/llama3\.2:3b: [\d.]+ tokens\/s/).first().waitFor({ timeout: 10_000 });
    const b = started.app.controller.marketView().benchmarks.find((x) => x.model === "llama3.2:3b")!;
    await figures.getByText(`${b.tokensPerSec} tok/s`).waitFor({ timeout: 5_000 });
    expect(await figures.innerText()).toMatch(/^first token [\d,]+ ms · [\d.]+ tok\/s.* · ~[\d,]+ jobs\/h$/);
    expect(problems).toEqual([]);
  }, 60_000);

  test("MODELS: BENCHMARK while a job runs shows the server's refusal in the model's row", async () => {
    // A free provider online, a slow model: a customer's job holds it while we click.
    await started.app.controller.updateSettings({ pricing: { mode: "free" } });
    ollama.setPacing({ tokensPerSec: 5, responseTokens: 400 });
    await started.app.controller.setOnline(true);
    customer = await startCustomer([relay.url]);
    const req = customer.request({ inputs: [["a long answer please", "text"]], params: { model: "llama3.2:3b" } });
    await customer.publish(req);
    await until(() => started.app.controller.snapshot().jobs.some((j) => j.status === "processing"), 15_000, "a job running");
    const row = page.locator("[data-testid=model-row][data-model='llama3.2:3b']");
    await row.locator("[data-testid=model-benchmark]").click();
    const refusal = row.locator("[data-testid=model-bench-error]");
    await refusal.waitFor({ timeout: 10_000 });
    expect(await refusal.innerText()).toMatch(/1 job is running: the benchmark would slow them/);
    await started.app.controller.setOnline(false);
    ollama.setPacing({ tokensPerSec: 400, responseTokens: 200 });
    expect(problems).toEqual([]);
  }, 60_000);
});
