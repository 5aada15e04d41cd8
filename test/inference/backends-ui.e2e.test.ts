// MODELS › BACKENDS in headless Chromium against the REAL app (an Ollama test server, an
// OpenAI-compatible test server, a real relay, all on 127.0.0.1): a light per backend, adding one
// (a clear error for a URL where nothing answers and for the wrong type), the models it brings, a
// backend going down shown with its reason, removing one. Skipped where no Chromium is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, launchChromium, openPage } from "../fixtures/browser.ts";
import { closedPort } from "../fixtures/common.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startOpenAIServer, type FakeOpenAI } from "../fixtures/openai-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";


describe.skipIf(!CHROMIUM)("MODELS › BACKENDS (real app, headless Chromium)", () => {
  let relay: TestRelay;
  let ollama: FakeOllama;
  let openai: FakeOpenAI;
  let started: TestApp;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const row = (name: string) => page.locator(`[data-testid=backend-row][data-name="${name}"]`);

  beforeAll(async () => {
    relay = await startRelay();
    ollama = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
    openai = await startOpenAIServer({ models: ["Qwen/Qwen2.5-7B-Instruct"], instant: true });
    started = await startTestApp({ flags: {}, config: { relays: [relay.url], ollamaUrl: ollama.url, pricing: { mode: "free" } }, options: { ollamaProbeMs: 100 } });
    browser = await launchChromium();
    // A refused add answers 4xx/5xx on purpose; the browser logs those as console errors.
    page = await openPage(browser, started.app.url, { height: 900, problems, ignore: /status of (400|503)/, timeout: 10_000 });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await started?.stop();
    await Promise.all([relay?.stop(), ollama?.stop(), openai?.stop()]);
  });

  test("the one Ollama shows as a backend with a green light", async () => {
    await row("ollama").waitFor();
    await page.waitForSelector('[data-testid=backend-row][data-name="ollama"][data-healthy="true"]', { timeout: 5_000 });
    expect(await page.locator("[data-testid=backend-row]").count()).toBe(1);
    // The only backend can't be removed.
    expect(await row("ollama").locator("[data-testid=backend-remove]").isDisabled()).toBe(true);
  });

  test("a URL where nothing answers, and an OpenAI server added as Ollama, are refused with the reason", async () => {
    await page.locator("[data-testid=backend-url]").fill(`http://127.0.0.1:${closedPort()}`);
    await page.locator("[data-testid=backend-add]").click();
    await expect(page.locator("[data-testid=backend-error]").textContent({ timeout: 10_000 })).resolves.toMatch(/Ollama does not answer at http:\/\/127\.0\.0\.1:\d+/);
    await page.locator("[data-testid=backend-url]").fill(openai.url);
    await page.locator("[data-testid=backend-add]").click();
    await page.waitForFunction(() => /choose the type openai/.test(document.querySelector("[data-testid=backend-error]")?.textContent ?? ""), null, { timeout: 10_000 });
    expect(await page.locator("[data-testid=backend-row]").count()).toBe(1);
  });

  test("adding the OpenAI server: a second light, its model in the list with the backend named", async () => {
    await page.locator("[data-testid=backend-url]").fill(`${openai.url}/v1`);
    await page.locator("[data-testid=backend-type]").selectOption("openai");
    await page.locator("[data-testid=backend-add]").click();
    await page.waitForSelector("[data-testid=backend-row] >> nth=1", { timeout: 10_000 });
    const name = await page.locator("[data-testid=backend-row]").nth(1).getAttribute("data-name");
    expect(name).toBe(`127.0.0.1:${openai.port}`);
    await page.waitForSelector(`[data-testid=backend-row][data-name="${name}"][data-healthy="true"]`);
    await page.waitForSelector('[data-testid=model-row][data-model="Qwen/Qwen2.5-7B-Instruct"]', { timeout: 5_000 });
    expect(await page.locator('[data-testid=model-row][data-model="Qwen/Qwen2.5-7B-Instruct"] [data-testid=model-backends]').textContent()).toBe(`on ${name}`);
    expect(await page.locator("[data-testid=backend-error]").count()).toBe(0);
    mkdirSync("test-artifacts", { recursive: true });
    await page.locator("[data-testid=models-panel]").screenshot({ path: join("test-artifacts", "models-backends.png") });
  });

  test("a backend that goes down turns red with its reason, and green again when back", async () => {
    await ollama.setFault("refuse");
    await page.waitForSelector('[data-testid=backend-row][data-name="ollama"][data-healthy="false"]', { timeout: 5_000 });
    expect(await row("ollama").locator("[data-testid=backend-error-line]").textContent()).toMatch(/not running/);
    await ollama.setFault(null);
    await page.waitForSelector('[data-testid=backend-row][data-name="ollama"][data-healthy="true"]', { timeout: 5_000 });
  });

  test("removing the Ollama backend: its row and its model go", async () => {
    await row("ollama").locator("[data-testid=backend-remove]").click();
    await row("ollama").waitFor({ state: "detached", timeout: 5_000 });
    await page.waitForSelector('[data-testid=model-row][data-model="llama3.2:latest"]', { state: "detached", timeout: 5_000 });
    expect(problems).toEqual([]);
  });
});
