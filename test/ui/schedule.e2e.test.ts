// SETTINGS › SCHEDULE and the PAUSED badge in headless Chromium against the real app (a real
// relay, the Ollama test server; a fake `nvidia-smi` on PATH prints another program's GPU use,
// as there is no GPU here). Skipped where no Chromium is installed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, launchChromium, openPage } from "../fixtures/browser.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "../jobs/harness.ts";


describe.skipIf(!CHROMIUM)("settings: schedule, and the paused badge (real app, fake nvidia-smi on PATH, headless Chromium)", () => {
  let relay: TestRelay;
  let ollama: FakeOllama;
  let started: TestApp;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const bin = mkdtempSync(join(tmpdir(), "compute-sched-ui-"));
  const csv = join(bin, "gpu.csv");
  const savedPath = process.env.PATH;

  beforeAll(async () => {
    writeFileSync(join(bin, "nvidia-smi"), `#!/bin/sh\ncat "${csv}" 2>/dev/null\nexit 0\n`, { mode: 0o755 });
    writeFileSync(csv, "");
    process.env.PATH = `${bin}:${savedPath}`;
    relay = await startRelay();
    ollama = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
    started = await startTestApp({
      flags: {},
      config: { relays: [relay.url], ollamaUrl: ollama.url, pricing: { mode: "free" }, pause: { enabled: true }, schedule: { maxJobsPerDay: 20 } },
      options: { sentinelProbeMs: 200, sentinelHoldMs: 1000, onlineRetryMs: 100, ollamaProbeMs: 100 },
    });
    await started.app.keepOnline();
    await until(() => started.app.controller.snapshot().provider.online, 10_000, "online");
    browser = await launchChromium();
    page = await openPage(browser, started.app.url, { height: 900, problems, timeout: 10_000 });
  }, 30_000);

  afterAll(async () => {
    process.env.PATH = savedPath;
    await browser?.close();
    await started?.stop();
    await relay?.stop();
    await ollama?.stop();
    rmSync(bin, { recursive: true, force: true });
  });

  test("another program on the GPU: PAUSED beside ONLINE with the reason; gone after the hold; today's use shown", async () => {
    await page.locator("[data-testid=today-usage]").waitFor();
    expect(await page.locator("[data-testid=today-usage]").textContent()).toBe("0/20 jobs · 0 sats · 0.0 h GPU");
    writeFileSync(csv, "777, /usr/bin/blender, 3000 MiB\n");
    await page.locator("[data-testid=paused-badge]").waitFor({ timeout: 5_000 });
    expect(await page.locator("[data-testid=online-state]").textContent()).toBe("ONLINE PAUSED");
    expect(await page.locator("[data-testid=paused-reason]").textContent()).toBe("paused: the GPU is in use by blender");
    mkdirSync(join(import.meta.dir, "../../test-artifacts"), { recursive: true });
    await page.locator("[data-testid=provider-panel]").screenshot({ path: join(import.meta.dir, "../../test-artifacts/provider-paused.png") });
    writeFileSync(csv, "");
    await page.locator("[data-testid=paused-badge]").waitFor({ state: "detached", timeout: 10_000 });
  }, 30_000);

  test("SCHEDULE: mark Saturday and Sunday, a jobs-per-day limit cleared, save: config.json holds it and the app goes offline outside those hours", async () => {
    await page.locator("[data-testid=open-settings]").click();
    await page.locator("[data-testid=settings-schedule]").waitFor();
    expect(await page.locator("[data-testid=schedule-maxJobsPerDay]").inputValue()).toBe("20");
    await page.locator("[data-testid=schedule-enabled]").check();
    await page.locator("[data-testid=schedule-day-sat]").click();
    await page.locator("[data-testid=schedule-day-sun]").click();
    await page.locator("[data-testid=schedule-cell-mon-9]").click();
    expect(await page.locator("[data-testid=schedule-cell-sat-13]").getAttribute("aria-pressed")).toBe("true");
    await page.locator("[data-testid=schedule-maxJobsPerDay]").fill("");
    await page.locator("[data-testid=schedule-maxGpuHoursPerDay]").fill("x");
    await page.locator("[data-testid=settings-save]").click();
    // A bad field: its error shows, nothing is saved.
    await page.locator("#sched-maxGpuHoursPerDay[aria-invalid=true]").waitFor();
    expect(JSON.parse(readFileSync(join(started.dataDir, "config.json"), "utf8")).schedule.enabled).toBeUndefined();
    await page.locator("[data-testid=schedule-maxGpuHoursPerDay]").fill("2.5");
    await page.evaluate(() => document.querySelector("[data-testid=settings-schedule]")!.scrollIntoView());
    await page.screenshot({ path: join(import.meta.dir, "../../test-artifacts/settings-schedule.png") });
    await page.locator("[data-testid=settings-save]").click();
    await page.locator("[data-testid=settings-dialog]").waitFor({ state: "detached", timeout: 3_000 });

    const saved = JSON.parse(readFileSync(join(started.dataDir, "config.json"), "utf8")).schedule;
    expect(saved).toMatchObject({ enabled: true, maxGpuHoursPerDay: 2.5, weekly: { sat: ["00:00-24:00"], sun: ["00:00-24:00"], mon: ["09:00-10:00"], tue: [] } });
    expect(saved.maxJobsPerDay).toBeUndefined(); // cleared: no limit
    const now = new Date();
    const inHours = now.getDay() === 0 || now.getDay() === 6 || (now.getDay() === 1 && now.getHours() === 9);
    await until(() => started.app.controller.snapshot().provider.online === inHours, 5_000, "online state per the schedule");
    if (!inHours) await page.locator("[data-testid=blocker]", { hasText: "Not selling now: outside the schedule" }).waitFor();
    expect(problems).toEqual([]);
  }, 60_000);
});
