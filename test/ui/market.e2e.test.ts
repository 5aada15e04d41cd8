// The MARKET panel in headless Chromium against the real app: a relay seeded with the simulated
// market (our own provider in it signed by the app's key), the Ollama test server. The panel shows
// the fixture's figures and our rank, the suggested price with its reason; USE SUGGESTED saves it
// (and nothing changed before the click); BENCHMARK runs and shows the figures. Skipped where no
// Chromium is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hexToBytes } from "@noble/hashes/utils.js";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM_FLAGS, findChromium } from "../../scripts/ui-dev.ts";
import { buildMarketSim } from "../fixtures/market-sim.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "../jobs/harness.ts";

const CHROMIUM = findChromium();

describe.skipIf(!CHROMIUM)("MARKET panel (real app, seeded relay, headless Chromium)", () => {
  // Our provider in the simulation is the app's identity (TEST_MNEMONIC's NIP-06 key).
  const sim = buildMarketSim(undefined, hexToBytes("7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a"));
  let relay: TestRelay;
  let ollama: FakeOllama;
  let started: TestApp;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    relay = await startRelay();
    for (const e of sim.events) await relay.inject(e as never);
    ollama = await startOllamaServer({ models: [{ name: "llama3.2:3b" }], tokensPerSec: 400, responseTokens: 200 });
    started = await startTestApp({ flags: {}, config: { relays: [relay.url], ollamaUrl: ollama.url, pricing: { perJobMsats: 10_000 } } });
    await until(() => started.app.marketView().report.demand.requests === sim.expected.requests, 15_000, "market read");
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_FLAGS });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" && !/status of 40[013]/.test(m.text())) problems.push(`console: ${m.text()}`);
    });
    await page.goto(started.app.url);
    await page.waitForSelector("[data-testid=market-panel]");
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
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
    expect(started.app.settings().pricing.perJobMsats).toBe(10_000);
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
    expect(started.app.settings().pricing.perJobMsats).toBe(10_000);
    await page.locator("[data-testid=settings-save]").click();
    await until(() => started.app.settings().pricing.perJobMsats === 25_000, 5_000, "saved");
    // Back to 10 for the next test.
    await started.app.updateSettings({ pricing: { perJobMsats: 10_000 } });
    await page.reload();
    await page.waitForSelector("[data-testid=market-panel] [data-testid=market-answered]");
    expect(problems).toEqual([]);
  }, 30_000);

  test("USE SUGGESTED saves the price; BENCHMARK measures the model and shows it", async () => {
    const s = page.locator("[data-testid=market-suggestion][data-model='llama3.2:3b']");
    await s.locator("[data-testid=market-use-suggested]").click();
    await until(() => started.app.settings().pricing.perJobMsats === 25_000, 5_000, "price saved");
    await s.locator("[data-testid=market-current]").getByText("25 sats").waitFor({ timeout: 5_000 });
    await s.locator("[data-testid=market-benchmark]").click();
    await s.locator("[data-testid=market-bench]").waitFor({ timeout: 30_000 });
    expect(await s.locator("[data-testid=market-bench]").innerText()).toMatch(/first token \d+ ms · [\d.]+ tok\/s/);
    expect(problems).toEqual([]);
  }, 60_000);
});
