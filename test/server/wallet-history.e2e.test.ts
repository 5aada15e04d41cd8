// The wallet's HISTORY on the dashboard, end to end: the real App (src/app.ts) on a data dir with an
// unlocked identity, headless Chromium, and the Lightning test double as the wallet (a payment
// can't settle offline). A payment received (booked in the ledger) and sends made from the SEND
// dialog, one of them still pending, show newest first with their fee; a wallet that is away says
// so instead of hiding the sent list silently. Skipped where no Chromium is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, launchChromium, openPage } from "../fixtures/browser.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { startWalletTestApp, type TestApp } from "../fixtures/test-app.ts";

const ARTIFACTS = join(import.meta.dir, "../../test-artifacts");

describe.skipIf(!CHROMIUM)("wallet history in the dashboard (real app, headless Chromium)", () => {
  const wallet = new LightningDouble({ balanceSats: 10_000 });
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    t = await startWalletTestApp(wallet);
    browser = await launchChromium();
    page = await openPage(browser, t.app.url, { height: 760, problems, ignore: /status of 40[13]/ });
  }, 30_000); // Chromium starts slowly on a busy machine
  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  const rows = () =>
    page.$$eval("[data-testid=history-row]", (els) => els.map((e) => ({ kind: e.getAttribute("data-kind"), flag: e.getAttribute("data-flag"), text: (e as HTMLElement).innerText.replace(/\s+/g, " ").trim() })));

  test("empty at first; then a receive and sends (one pending) newest first, with fees; reloaded when the balance moves", async () => {
    await page.locator("[data-testid=wallet-history]").click();
    await page.locator("[data-testid=history-empty]").waitFor({ timeout: 3_000 });

    // A payment comes in (an invoice the wallet issued, paid by someone).
    const invoice = await wallet.createInvoice({ amountMsats: 21_000, description: "tip", expirySecs: 600 });
    wallet.settle(invoice.bolt11);
    await page.locator("[data-testid=history-row]").first().waitFor({ timeout: 3_000 });
    expect(await rows()).toEqual([{ kind: "received", flag: "", text: "now +21 invoice" }]);
    await page.keyboard.press("Escape");

    // A send from the SEND dialog, to an invoice with a description.
    const payee = new LightningDouble();
    await payee.connect();
    const bill = await payee.createInvoice({ amountMsats: 100_000, description: "coffee", expirySecs: 600 });
    await page.locator("[data-testid=wallet-send]").click();
    await page.locator("[data-testid=send-destination]").fill(bill.bolt11);
    await page.locator("[data-testid=send-prepare]").click();
    await page.locator("[data-testid=send-password]").fill("test-app-password");
    await page.locator("[data-testid=send-confirm]").click();
    await page.locator("[data-testid=send-done]").waitFor({ timeout: 5_000 });
    await page.keyboard.press("Escape");
    // One the wallet reports as still in flight.
    wallet.recordSend({ amountSats: 7, feeSats: 0, status: "pending", destination: "bob@example.com" });

    await page.locator("[data-testid=wallet-history]").click();
    const seen = await (async () => {
      for (let i = 0; i < 100; i++) {
        const r = await rows();
        if (r.length === 3) return r;
        await Bun.sleep(30);
      }
      return rows();
    })();
    // "now" turns into "10s ago" when a busy machine makes the steps above slow: compare without it.
    const age = /^(now|\d+s ago) /;
    expect(seen.map((r) => ({ ...r, text: r.text.replace(age, "") }))).toEqual([
      { kind: "sent", flag: "pending", text: "-7 sent over Lightning PENDING" },
      { kind: "sent", flag: "", text: "-101 sent over Lightning, fee 1 sat: coffee" },
      { kind: "received", flag: "", text: "+21 invoice" },
    ]);
    for (const r of seen) expect(r.text).toMatch(age);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "wallet-history.png") });
    expect(problems).toEqual([]);
  }, 20_000);

  test("a wallet that is away: receives still listed, and a note says sent payments can't be", async () => {
    await page.keyboard.press("Escape");
    wallet.setFailing("fail");
    await page.locator("[data-testid=wallet-history]").click();
    await page.locator("[data-testid=history-sent-note]").waitFor({ timeout: 3_000 });
    expect(await page.locator("[data-testid=history-sent-note]").innerText()).toContain("Sent payments are not listed: Lightning double: simulated failure");
    expect((await rows()).map((r) => r.kind)).toEqual(["received"]);
    wallet.setFailing("none");
    expect(problems).toEqual([]);
  }, 15_000);
});
