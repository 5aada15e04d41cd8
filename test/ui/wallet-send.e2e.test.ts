// The dashboard's SEND dialog, end to end: the real App and server, headless Chromium, and the
// Lightning test double as the wallet (a payment can't settle offline). Money leaves only with the
// vault password; a pending payment is shown pending, never "Sent"; a send that times out after
// paying and is sent again (SEND pressed again) pays once. Skipped where no Chromium is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, launchChromium, openPage } from "../fixtures/browser.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { startWalletTestApp, type TestApp } from "../fixtures/test-app.ts";

const PASSWORD = "test-app-password";

describe.skipIf(!CHROMIUM)("SEND in the dashboard (real app, headless Chromium, Lightning test double)", () => {
  const wallet = new LightningDouble({ balanceSats: 10_000, sendFeeSats: 1 });
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    t = await startWalletTestApp(wallet);
    browser = await launchChromium();
    // 400/401/503 answers are what these tests provoke.
    page = await openPage(browser, t.app.url, { height: 760, problems, ignore: /status of (40[013]|503)/ });
  }, 30_000); // Chromium starts slowly on a busy machine
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  const review = async (destination: string, amount: string) => {
    await page.locator("[data-testid=wallet-send]").click();
    await page.locator("[data-testid=send-destination]").fill(destination);
    await page.locator("[data-testid=send-amount-input]").fill(amount);
    await page.locator("[data-testid=send-prepare]").click();
    await page.locator("[data-testid=send-confirm]").waitFor({ timeout: 5_000 });
  };

  test("no password or a wrong one: nothing sent, the error is shown; with it: Sent", async () => {
    await review("alice@example.com", "100");
    await page.locator("[data-testid=send-confirm]").click();
    expect(await page.locator("[data-testid=send-confirm-error]").innerText()).toContain("vault password");
    await page.locator("[data-testid=send-password]").fill("not it");
    await page.locator("[data-testid=send-confirm]").click();
    await page.locator("[data-testid=send-confirm-error]").filter({ hasText: "wrong" }).waitFor({ timeout: 5_000 });
    expect(wallet.sent).toHaveLength(0);
    await page.locator("[data-testid=send-password]").fill(PASSWORD);
    await page.locator("[data-testid=send-confirm]").click();
    await page.locator("[data-testid=send-done]").waitFor({ timeout: 5_000 });
    expect(await page.locator("[data-testid=send-done]").getAttribute("data-status")).toBe("completed");
    expect(await page.locator("[data-testid=send-done]").innerText()).toBe("Sent 100 sats (fee 1).");
    expect(wallet.sent).toHaveLength(1);
    await page.keyboard.press("Escape");
  }, 20_000);

  test("a pending payment is shown pending, not 'Sent'", async () => {
    wallet.failNextSend("pending");
    await review("bob@example.com", "50");
    await page.locator("[data-testid=send-password]").fill(PASSWORD);
    await page.locator("[data-testid=send-confirm]").click();
    await page.locator("[data-testid=send-done]").waitFor({ timeout: 5_000 });
    expect(await page.locator("[data-testid=send-done]").getAttribute("data-status")).toBe("pending");
    const text = await page.locator("[data-testid=send-done]").innerText();
    expect(text).toStartWith("Pending:");
    expect(text).not.toContain("Sent");
    await page.keyboard.press("Escape");
  }, 20_000);

  test("a send that times out after paying, sent again from the same dialog: paid once", async () => {
    wallet.failNextSend("timeout-after-paying");
    const before = wallet.sent.length;
    await review("carol@example.com", "70");
    await page.locator("[data-testid=send-password]").fill(PASSWORD);
    await page.locator("[data-testid=send-confirm]").click();
    await page.locator("[data-testid=send-confirm-error]").filter({ hasText: "may or may not have gone through" }).waitFor({ timeout: 5_000 });
    await page.locator("[data-testid=send-password]").fill(PASSWORD);
    await page.locator("[data-testid=send-confirm]").click();
    await page.locator("[data-testid=send-done]").waitFor({ timeout: 5_000 });
    expect(wallet.sent.length).toBe(before + 1);
    await page.keyboard.press("Escape");
    // Reviewing the same send again after a timeout says it would reuse the earlier key.
    wallet.failNextSend("network-before-paying");
    await review("dave@example.com", "80");
    await page.locator("[data-testid=send-password]").fill(PASSWORD);
    await page.locator("[data-testid=send-confirm]").click();
    await page.locator("[data-testid=send-confirm-error]").waitFor({ timeout: 5_000 });
    await page.keyboard.press("Escape");
    await review("dave@example.com", "80");
    await page.locator("[data-testid=send-retry]").waitFor({ timeout: 5_000 });
    await page.keyboard.press("Escape");
    expect(problems).toEqual([]);
  }, 30_000);
});
