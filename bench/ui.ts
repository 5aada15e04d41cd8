// Dashboard budgets, measured against the REAL app (src/app.ts) in headless Chromium. Figures are
// printed, never asserted:
//   - the UI bundle: app.js gzipped (budget ≤ 60 KB), built fresh from ui/ (ui/build.ts);
//   - first render: navigation start (the ?token= link, redirect included) → the dashboard's
//     testid in the DOM, and → the next animation frame (when it can be painted); median of 5,
//     each in a fresh browser context (budget ≤ 300 ms);
//   - event → DOM: an event published on the app's bus (EarningsChanged, and JobProgress for a
//     shown job) until the page's DOM shows it, timed in the page by a MutationObserver with
//     performance.timeOrigin + now() against the same clock in Bun, the offset calibrated by the
//     tightest of several round trips; median of 20 each (budget ≤ 100 ms).
// Only 127.0.0.1 is touched: a local relay, a fake Ollama, a Lightning test double as the wallet.
//
//   bun bench/ui.ts            prints the figures
//   import { runUiBench }      returns them as { name: number } (milliseconds, kilobytes)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM_FLAGS, findChromium } from "../scripts/ui-dev.ts";
import { App } from "../src/app.ts";
import { JobProgress, JobStatusChanged, type JobView } from "../src/jobs/events.ts";
import { EarningsChanged } from "../src/ledger/events.ts";
import { LightningDouble } from "../test/fixtures/lightning-double.ts";
import { startOllamaServer } from "../test/fixtures/ollama-server.ts";
import { startRelay } from "../test/fixtures/relay.ts";
import { buildUi } from "../ui/build.ts";

export const UI_BUDGETS = { jsGzipKB: 60, firstRenderMs: 300, eventToDomMs: 100 } as const;

export interface UiBenchOptions {
  /** First-render runs (default 5). */
  renders?: number;
  /** Events per event → DOM series (default 20). */
  events?: number;
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const nearestRank = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
/** Wall-clock ms with sub-ms precision: the clock Chromium's performance.timeOrigin is on too. */
const wallNow = () => performance.timeOrigin + performance.now();

/**
 * Installed before any page script (init scripts are not subject to the page's CSP): records when
 * the dashboard first enters the DOM, and the animation frame after, both in ms since navigation start.
 */
function watchFirstDashboard(): void {
  const w = window as unknown as { __dash?: { dom: number; frame: number | null } };
  const check = () => {
    if (w.__dash || !document.querySelector("[data-testid=dashboard]")) return;
    const seen = { dom: performance.now(), frame: null as number | null };
    w.__dash = seen;
    requestAnimationFrame(() => (seen.frame = performance.now()));
    mo.disconnect();
  };
  const mo = new MutationObserver(check);
  mo.observe(document, { childList: true, subtree: true });
}

/** Page side: resolves with the wall-clock time at which `selector`'s text first equals `expected`. */
function armWatch(page: Page, selector: string, expected: string): Promise<void> {
  return page.evaluate(
    ([sel, want]) => {
      const w = window as unknown as { __hit?: Promise<number> };
      w.__hit = new Promise<number>((resolve) => {
        const done = () => {
          if (document.querySelector(sel)?.textContent?.trim() !== want) return false;
          resolve(performance.timeOrigin + performance.now());
          return true;
        };
        if (done()) return;
        const mo = new MutationObserver(() => {
          if (done()) mo.disconnect();
        });
        mo.observe(document.body, { childList: true, subtree: true, characterData: true });
      });
    },
    [selector, expected] as const,
  );
}

/** Bun-clock minus page-clock offset, from the round trip with the smallest RTT. */
async function clockOffset(page: Page, samples = 15): Promise<{ offset: number; rtt: number }> {
  let best = { offset: 0, rtt: Infinity };
  for (let i = 0; i < samples; i++) {
    const t0 = wallNow();
    const tp = await page.evaluate(() => performance.timeOrigin + performance.now());
    const t1 = wallNow();
    if (t1 - t0 < best.rtt) best = { offset: (t0 + t1) / 2 - tp, rtt: t1 - t0 };
  }
  return best;
}

export async function runUiBench(opts: UiBenchOptions = {}): Promise<Record<string, number>> {
  const log = opts.log ?? (() => {});
  const renders = opts.renders ?? 5;
  const events = opts.events ?? 20;
  const out: Record<string, number> = {};

  // ---- bundle size (fresh from the sources) ----
  const bundle = await buildUi();
  out.uiJsKB = round(Buffer.byteLength(bundle.js) / 1024);
  out.uiJsGzipKB = round(Bun.gzipSync(Buffer.from(bundle.js), { level: 9 }).length / 1024);
  out.uiCssGzipKB = round(Bun.gzipSync(Buffer.from(bundle.css), { level: 9 }).length / 1024);
  log(`ui bundle: app.js ${out.uiJsKB} KB, ${out.uiJsGzipKB} KB gzipped; app.css ${out.uiCssGzipKB} KB gzipped`);
  // The app serves ui/dist (embedded at import): say so when it is not what the sources build.
  try {
    if (readFileSync(join(import.meta.dir, "../ui/dist/app.js"), "utf8") !== bundle.js) log("warning: ui/dist is stale (run `bun ui/build.ts`); the browser figures are for the stale bundle");
  } catch {
    log("warning: no ui/dist/app.js (run `bun ui/build.ts`)");
  }

  const chromium = findChromium();
  if (!chromium) {
    log("no Chromium found (install chromium or set CHROMIUM_PATH): browser figures skipped");
    return out;
  }

  const relay = await startRelay();
  const ollama = await startOllamaServer({ instant: true });
  const dataDir = mkdtempSync(join(tmpdir(), "compute-bench-ui-"));
  let app: App | null = null;
  let browser: Browser | null = null;
  try {
    app = await App.start({
      dataDir,
      env: {},
      flags: { port: 0, relays: [relay.url], ollamaUrl: ollama.url, paymentMode: "free", logLevel: "error" },
      walletFactory: () => new LightningDouble({ balanceSats: 21_000 }),
    });
    await app.controller.createIdentity({ mnemonic: app.controller.generateMnemonic(12), password: "bench password" });
    // A dashboard as a person sees it: unlocked, relay connected, online.
    for (let i = 0; i < 200 && !app.controller.snapshot().relays.some((r) => r.state === "connected"); i++) await Bun.sleep(25);
    await app.controller.setOnline(true);

    const { chromium: pw } = await import("playwright-core");
    browser = await pw.launch({ executablePath: chromium, args: CHROMIUM_FLAGS });

    // ---- first render ----
    const dom: number[] = [];
    const frame: number[] = [];
    for (let i = 0; i < renders; i++) {
      // A fresh context each time: no cookie, no cache, the token exchange included.
      const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
      try {
        await ctx.addInitScript(watchFirstDashboard);
        const page = await ctx.newPage();
        await page.goto(app.url);
        await page.waitForSelector("[data-testid=dashboard]");
        await page.waitForFunction(() => (window as unknown as { __dash?: { frame: number | null } }).__dash?.frame != null);
        const t = await page.evaluate(() => (window as unknown as { __dash: { dom: number; frame: number } }).__dash);
        dom.push(t.dom);
        frame.push(t.frame);
      } finally {
        await ctx.close();
      }
    }
    out.firstRenderDomMedianMs = round(median(dom));
    out.firstRenderMedianMs = round(median(frame));
    out.firstRenderMinMs = round(Math.min(...frame));
    out.firstRenderMaxMs = round(Math.max(...frame));
    log(`first render (to the frame after the dashboard is in the DOM), ms: ${frame.map((x) => round(x)).join(", ")}`);

    // ---- event → DOM ----
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    try {
      const page = await ctx.newPage();
      await page.goto(app.url);
      await page.waitForSelector("[data-testid=dashboard]");
      await page.waitForSelector('[data-testid=connection][data-state="live"]');
      const { offset, rtt } = await clockOffset(page);
      out.clockRttMs = round(rtt, 2);
      const base = app.controller.snapshot().earnings;

      /** `step(i)` names the text the DOM must come to show and how to send the event that shows it. */
      const series = async (name: string, selector: string, step: (i: number) => { expected: string; send: () => void }) => {
        const lat: number[] = [];
        for (let i = 0; i < events; i++) {
          // A random phase against the page's frames, as real events have.
          await Bun.sleep(30 + Math.random() * 40);
          const { expected, send } = step(i);
          await armWatch(page, selector, expected);
          const t0 = wallNow();
          send();
          const hit = await page.evaluate(() => (window as unknown as { __hit: Promise<number> }).__hit);
          lat.push(hit + offset - t0);
        }
        out[`${name}MedianMs`] = round(median(lat));
        out[`${name}P95Ms`] = round(nearestRank(lat, 95));
        out[`${name}MaxMs`] = round(Math.max(...lat));
        // A negative figure would mean the clock calibration is off by more than the latency.
        log(`${name}, ms: min ${round(Math.min(...lat))}, median ${out[`${name}MedianMs`]}, p95 ${out[`${name}P95Ms`]}, max ${out[`${name}MaxMs`]}`);
      };

      // EarningsChanged → the TODAY figure.
      const a = app;
      await series("eventToDomEarnings", "[data-testid=earnings-today]", (i) => ({
        expected: String(101 + i),
        send: () => a.bus.publish(EarningsChanged, { earnings: { ...base, todaySats: 101 + i } }),
      }));

      // JobProgress for a job shown as processing → its token counter (the streaming hot path).
      const now = Date.now();
      const job: JobView = {
        id: "be".repeat(32),
        kind: 5050,
        customer: "cd".repeat(32),
        model: "llama3.2:latest",
        status: "processing",
        promptPreview: "bench",
        tokens: 0,
        tokensPerSec: null,
        amountMsats: null,
        bolt11: null,
        error: null,
        encrypted: false,
        createdAt: now,
        updatedAt: now,
      };
      a.bus.publish(JobStatusChanged, { job });
      const row = `[data-testid=job-row][data-job-id="${job.id}"]`;
      await page.waitForSelector(row);
      await series("eventToDomProgress", `${row} [data-testid=job-tokens]`, (i) => ({
        expected: String(10 * (i + 1)),
        send: () => a.bus.publish(JobProgress, { id: job.id, tokens: 10 * (i + 1), tokensPerSec: 40, preview: `token ${10 * (i + 1)}` }),
      }));
      a.bus.publish(JobStatusChanged, { job: { ...job, status: "cancelled", updatedAt: Date.now() } });
    } finally {
      await ctx.close();
    }
    out.eventToDomMedianMs = Math.max(out.eventToDomEarningsMedianMs!, out.eventToDomProgressMedianMs!);
    return out;
  } finally {
    await browser?.close();
    await app?.stop();
    await relay.stop();
    await ollama.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The figures against their budgets, one line each. */
export function formatUiBench(r: Record<string, number>): string {
  const row = (label: string, value: number | undefined, unit: string, budget?: number) =>
    value === undefined
      ? `  ${label.padEnd(44)} skipped`
      : `  ${label.padEnd(44)} ${String(value).padStart(7)} ${unit.padEnd(3)}${budget === undefined ? "" : `  (budget ≤ ${budget}: ${value <= budget ? "within" : "OVER"})`}`;
  return [
    "dashboard (real app, headless Chromium)",
    row("app.js gzipped (level 9)", r.uiJsGzipKB, "KB", UI_BUDGETS.jsGzipKB),
    row("app.css gzipped (level 9)", r.uiCssGzipKB, "KB"),
    row("first render, median (frame after insert)", r.firstRenderMedianMs, "ms", UI_BUDGETS.firstRenderMs),
    row("first render, median (in the DOM)", r.firstRenderDomMedianMs, "ms"),
    row("first render, min", r.firstRenderMinMs, "ms"),
    row("first render, max", r.firstRenderMaxMs, "ms"),
    row("event → DOM, EarningsChanged, median", r.eventToDomEarningsMedianMs, "ms", UI_BUDGETS.eventToDomMs),
    row("event → DOM, EarningsChanged, p95", r.eventToDomEarningsP95Ms, "ms"),
    row("event → DOM, JobProgress, median", r.eventToDomProgressMedianMs, "ms", UI_BUDGETS.eventToDomMs),
    row("event → DOM, JobProgress, p95", r.eventToDomProgressP95Ms, "ms"),
    row("clock calibration round trip", r.clockRttMs, "ms"),
  ].join("\n");
}

if (import.meta.main) {
  const r = await runUiBench({ log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${formatUiBench(r)}\n`);
  process.exit(0);
}
