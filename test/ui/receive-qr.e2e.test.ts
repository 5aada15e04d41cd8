// The receive QR as the payer's phone sees it: the real App and server, the dashboard in headless
// Chromium, the Lightning test double as the wallet (an invoice can't be made offline otherwise).
// The QR element is screenshotted as Chromium drew it and read back with zbarimg, then the text is
// decoded as the invoice the wallet issued. Skipped where Chromium or zbarimg is missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { decodeBolt11 } from "../../src/util/bolt11.ts";
import { CHROMIUM, launchChromium, openPage } from "../fixtures/browser.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { startWalletTestApp, type TestApp } from "../fixtures/test-app.ts";

const ZBAR = spawnSync("zbarimg", ["--version"]).status === 0;

describe.skipIf(!CHROMIUM || !ZBAR)("the receive QR in the dashboard decodes to the invoice (real app, headless Chromium, Lightning test double, zbarimg)", () => {
  const wallet = new LightningDouble({ balanceSats: 0 });
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), "receive-qr-"));

  beforeAll(async () => {
    t = await startWalletTestApp(wallet);
    browser = await launchChromium();
    page = await openPage(browser, t.app.url, { height: 900 });
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("RECEIVE 2100 sats: zbarimg reads LIGHTNING:<invoice> off the screenshot, and it is the wallet's invoice", async () => {
    await page.locator("[data-testid=wallet-receive]").click();
    await page.locator("[data-testid=receive-amount]").fill("2100");
    await page.locator("[data-testid=receive-create]").click();
    const qr = page.locator("[data-testid=receive-qr]");
    await qr.waitFor({ timeout: 5_000 });
    const file = join(dir, "receive-qr.png");
    await qr.screenshot({ path: file });
    const out = spawnSync("zbarimg", ["-q", "--raw", file], { encoding: "utf8" });
    const text = out.stdout.replace(/\n$/, "");
    expect(text).toStartWith("LIGHTNING:LNBCRT");
    const invoice = decodeBolt11(text);
    expect(invoice.amountMsats).toBe(2_100_000);
    const shown = await page.locator("[data-testid=receive-text]").innerText();
    expect(text).toBe(`LIGHTNING:${shown.trim()}`.toUpperCase());
    expect(invoice.paymentHash).toBe(decodeBolt11(shown.trim()).paymentHash);
  }, 20_000);
});
