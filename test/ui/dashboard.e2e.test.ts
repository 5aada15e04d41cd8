// Drives the built dashboard in headless Chromium against the MOCK API of scripts/ui-dev.ts: checks
// that the page runs under the CSP, that stream events show within a second, that commands round
// trip, that a dropped stream reconnects and re-reads the snapshot, and the onboarding/unlock flows.
// Skipped where no Chromium is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM_FLAGS, findChromium, startMockServer, type MockServer } from "../../scripts/ui-dev.ts";
import { buildUi, type UiBundle } from "../../ui/build.ts";

const CHROMIUM = findChromium();
const hasChromium = CHROMIUM !== null;

/** Polls `read` until `ok` holds, failing after `ms` with the last value seen. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(last)} after ${ms} ms`);
    await Bun.sleep(25);
    last = await read();
  }
  return last;
}

describe.skipIf(!hasChromium)("dashboard in a browser (mock API)", () => {
  let browser: Browser;
  let bundle: UiBundle;
  const problems: string[] = [];

  beforeAll(async () => {
    const { chromium } = await import("playwright-core");
    bundle = await buildUi();
    // launch() gives every run a fresh temporary profile of its own.
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: CHROMIUM_FLAGS });
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function open(srv: MockServer, size = { width: 1100, height: 760 }): Promise<Page> {
    const page = await browser.newPage({ viewport: size });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      const t = m.text();
      // Closing the mock with a stream open is expected noise; anything else is a defect.
      if (m.type() === "error" && !t.includes("ERR_INCOMPLETE_CHUNKED_ENCODING") && !t.includes("status of 4")) problems.push(`console: ${t}`);
    });
    await page.goto(`${srv.url}/?token=abc`);
    return page;
  }

  test("live dashboard: events show within a second, commands round trip, reconnect re-reads", async () => {
    const srv = await startMockServer({ scenario: "dashboard", simulate: false, bundle });
    const page = await open(srv);
    try {
      const text = (sel: string) => page.locator(sel).first().innerText();
      await page.waitForSelector("[data-testid=dashboard]");
      expect(await text("[data-testid=balance]")).toBe("48,210");
      expect(await page.locator("[data-testid=relay-row]").count()).toBe(3);
      expect(await page.locator("[data-testid=model-row]").count()).toBe(3);
      expect(await text("[data-testid=earnings-today]")).toBe(String(srv.app.state.earnings.todaySats));
      expect(await page.locator("[data-testid=earnings-bar]").count()).toBe(14);
      await until(() => page.getAttribute("[data-testid=connection]", "data-state"), (v) => v === "live", 3_000, "connection");

      // A progress event from the server reaches the job row quickly.
      const running = srv.app.state.jobs.find((j) => j.status === "processing")!;
      const row = `[data-testid=job-row][data-job-id="${running.id}"]`;
      srv.app.emit("job.progress.updated", { id: running.id, tokens: 999, tokensPerSec: 12.34, preview: "streamed words" });
      await until(() => text(`${row} [data-testid=job-tokens]`), (v) => v === "999", 1_000, "job tokens");
      expect(await text(`${row} [data-testid=job-tps]`)).toBe("12.3");
      expect(await text(`${row} [data-testid=job-preview]`)).toContain("streamed words");

      srv.app.emit("wallet.status.changed", { wallet: { ...srv.app.state.wallet, balanceSats: 50_000 } });
      await until(() => text("[data-testid=balance]"), (v) => v === "50,000", 1_000, "balance");

      // Commands: cancel a job, go offline, serve a model, add a relay, and a server error shown.
      await page.click(`${row} [data-testid=job-cancel]`);
      await until(() => page.getAttribute(row, "data-status"), (v) => v === "cancelled", 2_000, "cancelled");
      await page.click("[data-testid=online-toggle]");
      await until(() => page.getAttribute("[data-testid=online-toggle]", "data-online"), (v) => v === "false", 2_000, "offline");
      const mistral = '[data-testid=model-row][data-model="mistral:7b-instruct"]';
      await page.click(`${mistral} [data-testid=model-serve-toggle]`);
      await until(() => page.getAttribute(mistral, "data-served"), (v) => v === "true", 2_000, "served");
      await page.fill("[data-testid=relay-input]", "relay.example.org");
      await page.click("[data-testid=relay-add]");
      const added = '[data-testid=relay-row][data-url="wss://relay.example.org"]';
      await until(() => page.getAttribute(added, "data-state"), (v) => v === "connected", 3_000, "new relay");
      await page.fill("[data-testid=relay-input]", "wss://relay.example.org");
      await page.click("[data-testid=relay-add]");
      await until(() => text("[data-testid=relay-error]"), (v) => v.includes("already in the list"), 2_000, "relay error");

      // The stream drops; the page reconnects by itself and re-reads the snapshot.
      srv.app.state.wallet.balanceSats = 1;
      srv.app.dropStreams();
      await until(() => text("[data-testid=balance]"), (v) => v === "1", 5_000, "balance after reconnect");

      // Lock, a wrong password, then the right one.
      await page.click("[data-testid=lock]");
      await page.waitForSelector("[data-testid=unlock-password]");
      await page.fill("[data-testid=unlock-password]", "not it");
      await page.click("[data-testid=unlock-submit]");
      await until(() => text("[data-testid=unlock-error]"), (v) => v === "Wrong password.", 2_000, "unlock error");
      await page.fill("[data-testid=unlock-password]", srv.app.password);
      await page.click("[data-testid=unlock-submit]");
      await page.waitForSelector("[data-testid=dashboard]", { timeout: 3_000 });
    } finally {
      await page.close();
      await srv.stop();
    }
    expect(problems).toEqual([]);
  }, 30_000);

  test("onboarding: generate, prove the backup, set a password", async () => {
    const srv = await startMockServer({ scenario: "onboarding", simulate: false, bundle });
    const page = await open(srv, { width: 800, height: 600 });
    try {
      await page.click("[data-testid=onboard-create]");
      await page.waitForSelector("[data-testid=mnemonic-word]");
      const words = await page.$$eval("[data-testid=mnemonic-word]", (els) => els.map((e) => e.textContent ?? ""));
      expect(words.length).toBe(12);
      expect(await page.isDisabled("[data-testid=mnemonic-continue]")).toBe(true);
      await page.check("[data-testid=mnemonic-written]");
      await page.click("[data-testid=mnemonic-continue]");
      // Going back shows the same words (they may already be on paper), not a new phrase.
      await page.click("[data-testid=verify-back]");
      await page.waitForSelector("[data-testid=mnemonic-word]");
      expect(await page.$$eval("[data-testid=mnemonic-word]", (els) => els.map((e) => e.textContent ?? ""))).toEqual(words);
      await page.check("[data-testid=mnemonic-written]");
      await page.click("[data-testid=mnemonic-continue]");
      const positions: number[] = [];
      for (let i = 0; i < 3; i++) positions.push(Number(await page.getAttribute(`[data-testid=verify-word-${i}]`, "data-position")));
      expect(new Set(positions).size).toBe(3);
      // One wrong answer keeps the user on this step.
      for (const [i, pos] of positions.entries()) await page.fill(`[data-testid=verify-word-${i}]`, i === 0 ? "zzz" : words[pos - 1]!);
      await page.click("[data-testid=verify-continue]");
      expect(await page.locator("[data-testid=password]").count()).toBe(0);
      await page.fill("[data-testid=verify-word-0]", words[positions[0]! - 1]!.toUpperCase());
      await page.click("[data-testid=verify-continue]");
      await page.fill("[data-testid=password]", "hunter22");
      await page.fill("[data-testid=password-confirm]", "hunter23");
      await page.click("[data-testid=create-identity]");
      await until(() => page.locator("[data-testid=password-error]").innerText(), (v) => v.includes("differ"), 2_000, "mismatch");
      await page.fill("[data-testid=password-confirm]", "hunter22");
      await page.click("[data-testid=create-identity]");
      await page.waitForSelector("[data-testid=dashboard]", { timeout: 5_000 });
      expect(srv.app.password).toBe("hunter22");
      expect(await page.locator("[data-testid=npub]").innerText()).toMatch(/^npub1/);

      // Import: suggestions while typing, and the checksum error from the server.
      const srv2 = await startMockServer({ scenario: "onboarding", simulate: false, bundle });
      try {
        await page.goto(srv2.url);
        await page.click("[data-testid=onboard-import]");
        await page.locator("[data-testid=import-mnemonic]").pressSequentially("abandon aban");
        await until(() => page.locator("[data-testid=suggestion]").allInnerTexts(), (v) => v.includes("abandon"), 2_000, "suggestions");
        await page.fill("[data-testid=import-mnemonic]", Array(12).fill("abandon").join(" "));
        await page.click("[data-testid=import-continue]");
        await until(() => page.locator("[data-testid=import-error]").innerText(), (v) => v.includes("checksum"), 2_000, "checksum error");
      } finally {
        // Leave the page first: a page still on srv2 retries its event stream against the stopped
        // server and logs a refused connection.
        await page.goto("about:blank");
        await srv2.stop();
      }
    } finally {
      await page.close();
      await srv.stop();
    }
    expect(problems).toEqual([]);
  }, 30_000);
});
