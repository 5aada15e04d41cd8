// HISTORY and RECEIVE don't move under the pointer: the real App and server, the dashboard in
// headless Chromium, the Lightning test double as the wallet. Every frame while a dialog opens
// (HISTORY: "Loading…", then its table) or takes a payment (RECEIVE: "Received N sats"), where
// its controls are is noted; none may move after it first shows (a click aimed at it could miss).
// Skipped where no Chromium is installed.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, launchChromium, openPage, watchMoves } from "../fixtures/browser.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { startWalletTestApp, type TestApp } from "../fixtures/test-app.ts";

describe.skipIf(!CHROMIUM)("wallet dialogs keep their controls in place (real app, headless Chromium, Lightning test double)", () => {
  const wallet = new LightningDouble({ balanceSats: 0 });
  let t: TestApp;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    t = await startWalletTestApp(wallet);
    // Enough payments for a table taller than the "Loading…" line.
    for (let i = 1; i <= 12; i++) wallet.receiveTransfer(i * 1000);
    browser = await launchChromium();
    page = await openPage(browser, t.app.url, { height: 900 });
  }, 30_000);
  // A test that failed with its dialog open must not leave it over the next one's buttons.
  afterEach(async () => {
    if (await page.locator("dialog[open]").count()) await page.keyboard.press("Escape");
  });
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  async function close(testid: string) {
    await page.locator(`[data-testid=${testid}] [data-testid=dialog-close]`).click();
    await page.locator(`[data-testid=${testid}]`).waitFor({ state: "detached", timeout: 3_000 });
  }

  test("HISTORY: the close button stays where it first shows while the table loads", async () => {
    const moves = await watchMoves(page, ["dialog-close"]);
    await page.locator("[data-testid=wallet-history]").click({ timeout: 10_000 });
    await page.locator("[data-testid=history-table]").waitFor({ timeout: 5_000 });
    expect(await page.locator("[data-testid=history-row]").count()).toBe(12);
    await Bun.sleep(500);
    expect(await moves()).toEqual([]);
    await close("history-dialog");
  }, 20_000);

  test("RECEIVE: 'Received N sats' shows without moving the form or the close button", async () => {
    await page.locator("[data-testid=wallet-receive]").click();
    await page.locator("[data-testid=receive-amount]").waitFor({ timeout: 5_000 });
    const moves = await watchMoves(page, ["dialog-close", "receive-amount", "receive-create"]);
    await Bun.sleep(200);
    wallet.receiveTransfer(21_000);
    const notice = page.locator("[data-testid=receive-paid]");
    await notice.waitFor({ timeout: 5_000 });
    expect(await notice.innerText()).toBe("Received 21 sats.");
    await Bun.sleep(500);
    expect(await moves()).toEqual([]);
    await close("receive-dialog");
  }, 20_000);
});
