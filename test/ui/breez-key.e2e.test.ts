// The WALLET panel on a build without a Breez API key (real App and server, the real Spark wallet
// on mainnet, headless Chromium): it says where to get a key and takes a pasted one; once saved the
// paste field goes and the wallet starts. The internet is blocked in this process (fetch refuses
// every host but loopback): the wallet never reaches Breez. Skipped where no Chromium is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { loopbackOnlyFetch } from "../fixtures/common.ts";
import { CHROMIUM, launchChromium, openPage } from "../fixtures/browser.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";

const DEAD = 9;
const KEY = "e2e-pasted-breez-key-" + "k".repeat(40) + "9z9z";
const realFetch = globalThis.fetch;

describe.skipIf(!CHROMIUM)("WALLET: paste a Breez API key (real app, headless Chromium)", () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    globalThis.fetch = loopbackOnlyFetch(realFetch);
    t = await startTestApp({ flags: { relays: [`ws://127.0.0.1:${DEAD}`], ollamaUrl: `http://127.0.0.1:${DEAD}`, paymentMode: "free", network: "mainnet" } });
    browser = await launchChromium();
    page = await openPage(browser, t.app.url, { height: 760, problems, ignore: /status of 40[013]/ });
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    globalThis.fetch = realFetch;
  }, 30_000);

  test("the panel says where to get a key; a short one is refused; the pasted key is saved and the field goes", async () => {
    const form = page.locator("[data-testid=breez-key-form]");
    await form.waitFor({ timeout: 5_000 });
    expect(await form.innerText()).toContain("request one free from Breez");
    await page.locator("[data-testid=breez-key-input]").fill("short");
    await page.locator("[data-testid=breez-key-save]").click();
    await form.getByText("doesn't look like a Breez API key").waitFor({ timeout: 5_000 });
    await page.locator("[data-testid=breez-key-input]").fill(KEY);
    await page.locator("[data-testid=breez-key-save]").click();
    await form.waitFor({ state: "detached", timeout: 5_000 });
    expect(JSON.parse(readFileSync(join(t.dataDir, "config.json"), "utf8")).breezApiKey).toBe(KEY);
    expect(await page.locator("[data-testid=wallet-state]").getAttribute("data-state")).not.toBe("not_configured");
    expect(await page.content()).not.toContain(KEY);
    expect(problems).toEqual([]);
  }, 30_000);
});
