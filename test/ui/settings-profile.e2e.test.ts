// The settings dialog's PROFILE section and "Partial results every (ms)" in headless Chromium
// against the REAL app (src/app.ts on a fresh data dir with an identity, a real relay and the
// Ollama test server on 127.0.0.1): values saved are kept on reopening and in config.json; a bad
// picture URL or an out-of-range interval shows that field's error and saves nothing.
// Skipped where no Chromium is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, launchChromium, openPage, watchMoves } from "../fixtures/browser.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";


describe.skipIf(!CHROMIUM)("settings: profile and partial interval (real app, headless Chromium)", () => {
  let relay: TestRelay;
  let ollama: FakeOllama;
  let started: TestApp;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const configBytes = () => readFileSync(join(started.dataDir, "config.json"));
  const field = (name: string) => page.locator(`[data-testid=settings-${name}]`);

  beforeAll(async () => {
    relay = await startRelay();
    ollama = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
    started = await startTestApp({ flags: {}, config: { relays: [relay.url], ollamaUrl: ollama.url, pricing: { mode: "free" } } });
    // launchChromium() runs Chromium on a fresh temporary profile (user-data-dir) of its own.
    browser = await launchChromium();
    page = await openPage(browser, started.app.url, { height: 760, problems, timeout: 10_000 });
    // Nothing here should leave the page (a form submitted natively would reload it).
    page.on("framenavigated", (f) => {
      if (f === page.mainFrame()) problems.push(`navigated: ${f.url().replace(/token=[^&]+/, "token=…")}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await started?.stop();
    await relay?.stop();
    await ollama?.stop();
  });

  async function openSettings() {
    await page.locator("[data-testid=open-settings]").click();
    await field("name").waitFor({ timeout: 10_000 });
  }
  /**
   * Clicks SAVE once and waits for a field's error (the form is refused: nothing is saved). A
   * loaded machine can take seconds to re-render; past 10 s the failure says what the dialog shows.
   */
  async function saveExpectingError(id: string) {
    await page.locator("[data-testid=settings-save]").click();
    try {
      await page.locator(`#${id}`).waitFor({ timeout: 10_000 });
    } catch (err) {
      const dialog = page.locator("[data-testid=settings-dialog]");
      const shown = (await dialog.count()) ? (await dialog.innerText()).replace(/\s+/g, " ").slice(0, 1500) : "(the dialog is gone)";
      const toasts = await page.locator("[data-testid=toast]").allInnerTexts();
      mkdirSync(join(import.meta.dir, "../../test-artifacts"), { recursive: true });
      await page.screenshot({ path: join(import.meta.dir, `../../test-artifacts/settings-profile-no-${id}.png`) }).catch(() => {});
      const saved = JSON.stringify(started.app.controller.settings().provider);
      const url = page.url().replace(/token=[^&]+/, "token=…");
      throw new Error(`no #${id} 10 s after SAVE; page ${url}; problems: ${JSON.stringify(problems)}; toasts: ${JSON.stringify(toasts)}; provider settings now: ${saved}; the dialog shows: ${shown}`, { cause: err });
    }
  }
  async function saveAndClose() {
    await page.locator("[data-testid=settings-save]").click();
    await page.locator("[data-testid=settings-dialog]").waitFor({ state: "detached", timeout: 10_000 });
  }

  test("the dialog's controls stay where they first show while it loads", async () => {
    const moves = await watchMoves(page, ["dialog-close", "settings-perJobSats", "settings-use-suggested", "settings-partialIntervalMs", "settings-name", "settings-save", "reveal-password"]);
    await openSettings();
    // What used to come in late (the market's re-read for the price hint) is in by now.
    await page.locator("[data-testid=settings-use-suggested]").waitFor({ timeout: 10_000 });
    await Bun.sleep(1_000);
    expect(await moves()).toEqual([]);
    await page.locator("[data-testid=settings-dialog] button", { hasText: "CANCEL" }).click();
    await page.locator("[data-testid=settings-dialog]").waitFor({ state: "detached", timeout: 10_000 });
  }, 30_000);

  test("a press inside the dialog that is let go over the backdrop (selecting text) keeps it and its edits; a click on the backdrop closes it", async () => {
    await openSettings();
    await field("about").fill("half-typed");
    const dialog = page.locator("[data-testid=settings-dialog]");
    const box = (await field("name").boundingBox())!;
    const frame = (await dialog.boundingBox())!;
    // Down in the name field, up left of the dialog, on the backdrop.
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(Math.max(2, frame.x - 10), box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await Bun.sleep(200);
    expect(await dialog.count()).toBe(1);
    expect(await field("about").inputValue()).toBe("half-typed");
    // A press and release on the backdrop is a click there: the dialog goes, nothing saved.
    await page.mouse.click(Math.max(2, frame.x - 10), frame.y + 20);
    await dialog.waitFor({ state: "detached", timeout: 10_000 });
    expect(started.app.controller.settings().provider?.about).not.toBe("half-typed");
  }, 30_000);

  test("fill the profile and the partial interval, save, reopen: the values are kept", async () => {
    await openSettings();
    // What the config holds now: the defaults.
    expect(await field("name").inputValue()).toBe("compute");
    expect(await field("partialIntervalMs").inputValue()).toBe("2000");
    expect(await field("publishProfile").isChecked()).toBe(false);

    await field("name").fill("Alice's GPU");
    await field("about").fill("A 4090 in a cupboard, answering in Rust and Go.");
    await field("picture").fill("https://example.test/alice.png");
    await field("publishProfile").check();
    await field("partialIntervalMs").fill("750");
    await field("name").scrollIntoViewIfNeeded();
    mkdirSync(join(import.meta.dir, "../../test-artifacts"), { recursive: true });
    await page.screenshot({ path: join(import.meta.dir, "../../test-artifacts/settings-profile.png") });
    await saveAndClose();

    const saved = started.app.controller.settings();
    expect(saved.provider).toEqual({
      name: "Alice's GPU",
      about: "A 4090 in a cupboard, answering in Rust and Go.",
      picture: "https://example.test/alice.png",
      publishProfile: true,
    });
    expect(saved.limits.partialIntervalMs).toBe(750);
    const file = JSON.parse(configBytes().toString("utf8"));
    expect(file.provider.name).toBe("Alice's GPU");
    expect(file.limits.partialIntervalMs).toBe(750);

    await openSettings();
    expect(await field("name").inputValue()).toBe("Alice's GPU");
    expect(await field("about").inputValue()).toBe("A 4090 in a cupboard, answering in Rust and Go.");
    expect(await field("picture").inputValue()).toBe("https://example.test/alice.png");
    expect(await field("publishProfile").isChecked()).toBe(true);
    expect(await field("partialIntervalMs").inputValue()).toBe("750");
    await page.locator("[data-testid=settings-dialog] button", { hasText: "CANCEL" }).click();
    await page.locator("[data-testid=settings-dialog]").waitFor({ state: "detached", timeout: 10_000 });
    expect(problems).toEqual([]);
  }, 30_000);

  test("a bad picture URL or an out-of-range interval shows that field's error and saves nothing", async () => {
    const before = configBytes();
    const settingsBefore = started.app.controller.settings();
    await openSettings();

    await field("picture").fill("not a url");
    await field("partialIntervalMs").fill("50");
    await saveExpectingError("set-picture-error");
    expect(await page.locator("#set-picture-error").innerText()).toContain("https://");
    expect(await page.locator("#set-partialIntervalMs-error").innerText()).toBe("Between 100 and 600000.");
    expect(await field("picture").getAttribute("aria-invalid")).toBe("true");
    expect(await field("partialIntervalMs").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("[data-testid=settings-dialog]").isVisible()).toBe(true);

    // One fixed, the other still wrong (too large now): still nothing saved.
    await field("picture").fill("ftp://example.test/a.png");
    await field("partialIntervalMs").fill("600001");
    await saveExpectingError("set-partialIntervalMs-error");
    expect(await page.locator("#set-picture-error").innerText()).toContain("https://");
    expect(await page.locator("#set-partialIntervalMs-error").innerText()).toBe("Between 100 and 600000.");

    // Publishing needs a name.
    await field("picture").fill("");
    await field("partialIntervalMs").fill("1000");
    await field("name").fill("   ");
    expect(await field("publishProfile").isChecked()).toBe(true); // saved by the test above
    await saveExpectingError("set-name-error");
    expect(await page.locator("#set-name-error").innerText()).toBe("Enter a name to publish your profile.");

    await Bun.sleep(200);
    expect(configBytes().toString("utf8")).toBe(before.toString("utf8"));
    expect(started.app.controller.settings()).toEqual(settingsBefore);
    expect(problems).toEqual([]);
  }, 30_000);

  test("a user who moves on to another field right after a refused SAVE keeps typing there; left alone, focus goes to the first bad field", async () => {
    // The test above leaves its refused form open: start from a fresh one.
    const open = page.locator("[data-testid=settings-dialog]");
    if (await open.count()) {
      await page.locator("[data-testid=settings-dialog] button", { hasText: "CANCEL" }).click();
      await open.waitFor({ state: "detached", timeout: 10_000 });
    }
    await openSettings();
    await field("picture").fill("not a url");
    // SAVE, then at once (before the next frame) into ABOUT: the refusal must not pull focus back,
    // or the next keys would land in PICTURE.
    /** Clicks SAVE (focused first), then focuses `then` at once if given; after two frames, says what has focus. */
    const focusAfterSave = (then: string | null) =>
      page.evaluate(async (then) => {
        const save = document.querySelector<HTMLButtonElement>("[data-testid=settings-save]")!;
        save.focus();
        save.click();
        if (then) document.querySelector<HTMLElement>(`[data-testid=${then}]`)!.focus();
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        return document.activeElement?.getAttribute("data-testid");
      }, then);
    const movedOn = await focusAfterSave("settings-about");
    expect(movedOn).toBe("settings-about");
    await page.keyboard.type("typed after SAVE");
    expect(await field("about").inputValue()).toContain("typed after SAVE");
    expect(await field("picture").inputValue()).toBe("not a url");
    // SAVE left alone: the first field that needs fixing gets focus.
    const leftAlone = await focusAfterSave(null);
    expect(leftAlone).toBe("settings-picture");
    await page.locator("[data-testid=settings-dialog] button", { hasText: "CANCEL" }).click();
    await page.locator("[data-testid=settings-dialog]").waitFor({ state: "detached", timeout: 10_000 });
    expect(problems).toEqual([]);
  }, 30_000);
});
