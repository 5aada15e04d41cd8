// What the owner sees of issue 10.2/10.5 on the dashboard, end to end: the real App, a real relay,
// the fake Ollama, headless Chromium, and the Lightning test double as the wallet (settlement can't
// happen offline). A stranger's unpaid pay-after job shows as UNPAID on the EARNINGS panel; a
// payment that came after the customer cancelled shows as "paid late: not served" with the
// customer's pubkey in the wallet's HISTORY (and is counted on the EARNINGS panel).
// Skipped where no Chromium is installed.
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM_FLAGS, findChromium } from "../../scripts/ui-dev.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { amountTag, until, world } from "./world.ts";

const CHROMIUM = findChromium();
setDefaultTimeout(30_000);
let fake: FakeOllama;
let browser: Browser;
const cleanups: Array<() => unknown> = [];
const problems: string[] = [];

async function dashboard(url: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
  cleanups.push(() => page.close());
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(url);
  await page.waitForSelector("[data-testid=dashboard]");
  return page;
}

describe.skipIf(!CHROMIUM)("the owner sees unpaid and late money (real app, headless Chromium, Lightning test double)", () => {
  beforeAll(async () => {
    fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_FLAGS });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    await browser?.close();
    await fake?.stop();
    expect(problems).toEqual([]);
  });

  test("a stranger takes a pay-after result and never pays: the EARNINGS panel shows it unpaid", async () => {
    const w = await world(fake, cleanups, new LightningDouble(), { mode: "after", priceMsats: 3_000 });
    const app = await w.start();
    const page = await dashboard(app.url);
    expect(await page.locator("[data-testid=earnings-unpaid]").count()).toBe(0);
    const r = w.customer.request({ inputs: [["never paid", "text"]] });
    await w.customer.publish(r);
    await w.customer.waitForResult(r.id);
    const line = page.locator("[data-testid=earnings-unpaid]");
    await line.waitFor({ timeout: 5_000 });
    expect((await line.innerText()).replace(/\s+/g, " ").trim()).toBe("UNPAID 3 sats · 1 pay-after job");
  });

  test("a customer cancels, then pays: the wallet HISTORY says 'paid late: not served' with their pubkey", async () => {
    const wallet = new LightningDouble();
    const w = await world(fake, cleanups, wallet, { mode: "upfront", priceMsats: 4_000 });
    const app = await w.start();
    const page = await dashboard(app.url);
    const req = w.customer.request({ inputs: [["cancel then pay", "text"]] });
    await w.customer.publish(req);
    const due = await w.customer.waitForStatus(req.id, "payment-required");
    await w.customer.cancel(req.id);
    await until(() => app.controller.snapshot().jobs.find((j) => j.id === req.id)?.status === "cancelled", 3000, "cancelled");
    wallet.settle(amountTag(due)![2]!);
    await w.customer.waitForStatus(req.id, "error", 4000);
    const line = page.locator("[data-testid=earnings-unpaid]");
    await line.waitFor({ timeout: 5_000 });
    expect(await line.innerText()).toContain("PAID LATE, NOT SERVED 1");
    await page.locator("[data-testid=wallet-history]").click();
    const row = page.locator("[data-testid=history-row]").first();
    await row.waitFor({ timeout: 5_000 });
    expect((await row.innerText()).replace(/\s+/g, " ")).toContain(`invoice — paid late: not served (customer ${w.customer.pubkey})`);
  });
});
