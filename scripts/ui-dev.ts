// MOCK API FOR UI DEVELOPMENT ONLY. Serves the built dashboard with an in-memory imitation of the
// real server's /api (same routes, same shapes, same CSP), plus a simulated provider: jobs arrive,
// stream tokens over SSE, get paid; relays jitter; pulls progress. Nothing here talks to Nostr,
// Ollama or a wallet, and none of it is used by the product.
//
//   bun scripts/ui-dev.ts [--port 5177] [--scenario dashboard|empty|onboarding|locked]
//   bun scripts/ui-dev.ts --shots test-artifacts/ui    # screenshots at 1100×760 and 800×600
//   The mock app itself (seeded data, the imitated /api, the simulation): scripts/ui-dev-mock.ts.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildUi, type UiBundle } from "../ui/build.ts";
import { HttpError, MockApp, type Scenario } from "./ui-dev-mock.ts";

export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'";

export interface MockServer {
  url: string;
  app: MockApp;
  stop(): Promise<void>;
}

/** Builds the UI once (or takes a bundle) and serves it with the mock API on 127.0.0.1. */
export async function startMockServer(opts: { port?: number; scenario?: Scenario; simulate?: boolean; tickMs?: number; bundle?: UiBundle; rebuild?: boolean } = {}): Promise<MockServer> {
  let bundle = opts.bundle ?? (await buildUi());
  const app = new MockApp(opts.scenario ?? "dashboard");
  if (opts.simulate !== false) app.simulate(opts.tickMs);
  const headers = (type: string) => ({ "content-type": type, "content-security-policy": CSP, "cache-control": "no-store", "x-content-type-options": "nosniff" });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    // SSE streams stay open between heartbeats (10 s): Bun's default idle timeout is 10 s.
    idleTimeout: 0,
    fetch: async (req) => {
      const url = new URL(req.url);
      if (url.pathname === "/") {
        if (url.searchParams.has("token")) return new Response(null, { status: 302, headers: { location: "/", "set-cookie": "compute_session=mock; HttpOnly; SameSite=Strict; Path=/" } });
        if (opts.rebuild) bundle = await buildUi();
        return new Response(bundle.html, { headers: headers("text/html; charset=utf-8") });
      }
      if (url.pathname === "/app.js") return new Response(bundle.js, { headers: headers("text/javascript; charset=utf-8") });
      if (url.pathname === "/app.css") return new Response(bundle.css, { headers: headers("text/css; charset=utf-8") });
      if (url.pathname === "/api/events") return app.stream(req);
      if (!url.pathname.startsWith("/api/")) return new Response("not found", { status: 404 });
      let body: Record<string, unknown> = {};
      if (req.method !== "GET") {
        const text = await req.text();
        if (text) {
          if (!(req.headers.get("content-type") ?? "").includes("application/json")) {
            return Response.json({ error: { name: "invalid_input", message: "Send JSON." } }, { status: 415 });
          }
          try {
            body = JSON.parse(text);
          } catch {
            return Response.json({ error: { name: "invalid_input", message: "The body is not valid JSON." } }, { status: 400 });
          }
        }
      }
      try {
        return Response.json(await app.handle(req, body), { headers: { "cache-control": "no-store" } });
      } catch (err) {
        if (err instanceof HttpError) return Response.json({ error: { name: err.errName, message: err.message } }, { status: err.status });
        return Response.json({ error: { name: "internal", message: String(err) } }, { status: 500 });
      }
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    app,
    stop: async () => {
      app.stop();
      await server.stop(true);
    },
  };
}

/** A system Chromium for screenshots and browser tests (Playwright can't download its own here). */
export function findChromium(): string | null {
  return process.env.CHROMIUM_PATH || Bun.which("chromium") || Bun.which("chromium-browser") || Bun.which("google-chrome") || null;
}

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

/** Screenshots of every scenario at both target sizes (plus the dialogs) into `dir`. */
async function shots(dir: string): Promise<void> {
  const { chromium } = await import("playwright-core");
  const executablePath = findChromium();
  if (!executablePath) throw new Error("No Chromium found: install Debian's chromium or set CHROMIUM_PATH.");
  mkdirSync(dir, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "compute-ui-shots-"));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath, args: CHROMIUM_FLAGS, viewport: { width: 1100, height: 760 } });
  const bundle = await buildUi();
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on("console", (m) => {
      if (m.type() === "error") process.stderr.write(`console: ${m.text()}\n`);
    });
    page.on("pageerror", (e) => process.stderr.write(`pageerror: ${e.message}\n`));
    for (const scenario of ["dashboard", "empty", "onboarding", "locked"] as const) {
      const srv = await startMockServer({ scenario, bundle });
      try {
        for (const [w, h] of [[1100, 760], [800, 600]] as const) {
          await page.setViewportSize({ width: w, height: h });
          await page.goto(srv.url);
          await page.waitForSelector("[data-testid=dashboard], [data-testid=onboarding], [data-testid=unlock]");
          await Bun.sleep(900);
          await page.screenshot({ path: join(dir, `${scenario}-${w}x${h}.png`) });
          if (scenario === "dashboard" && w === 1100) {
            await page.screenshot({ path: join(dir, `${scenario}-${w}-full.png`), fullPage: true });
            await page.click("[data-testid=wallet-receive]");
            await page.fill("[data-testid=receive-amount]", "2500");
            await page.click("[data-testid=receive-create]");
            await page.waitForSelector("[data-testid=receive-qr]");
            await page.screenshot({ path: join(dir, "receive.png") });
            await page.keyboard.press("Escape");
            await page.click("[data-testid=wallet-send]");
            await page.fill("[data-testid=send-destination]", "lnbc10u1pexample");
            await page.click("[data-testid=send-prepare]");
            await page.waitForSelector("[data-testid=send-review]");
            await page.screenshot({ path: join(dir, "send-review.png") });
            await page.keyboard.press("Escape");
            await page.click("[data-testid=open-settings]");
            await page.waitForSelector("[data-testid=settings-save]");
            await page.screenshot({ path: join(dir, "settings.png") });
            await page.keyboard.press("Escape");
            await page.fill("[data-testid=pull-input]", "phi3");
            await page.click("[data-testid=pull-button]");
            await Bun.sleep(1200);
            await page.screenshot({ path: join(dir, "pull.png") });
          }
          if (scenario === "onboarding" && w === 1100) {
            await page.click("[data-testid=onboard-create]");
            await page.waitForSelector("[data-testid=mnemonic-word]");
            await page.screenshot({ path: join(dir, "onboarding-words.png") });
            const words = await page.$$eval("[data-testid=mnemonic-word]", (els) => els.map((e) => e.textContent ?? ""));
            await page.check("[data-testid=mnemonic-written]");
            await page.click("[data-testid=mnemonic-continue]");
            for (let i = 0; i < 3; i++) {
              const pos = Number(await page.getAttribute(`[data-testid=verify-word-${i}]`, "data-position"));
              await page.fill(`[data-testid=verify-word-${i}]`, i === 2 ? "wrong" : words[pos - 1]!);
            }
            await page.click("[data-testid=verify-continue]");
            await page.screenshot({ path: join(dir, "onboarding-verify.png") });
            await page.goto(srv.url);
            await page.click("[data-testid=onboard-import]");
            await page.fill("[data-testid=import-mnemonic]", "abandon ability able about above absent absorb abstract absurd abuse access acci");
            await Bun.sleep(400);
            await page.screenshot({ path: join(dir, "onboarding-import.png") });
          }
        }
      } finally {
        await srv.stop();
      }
    }
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "5177" },
      scenario: { type: "string", default: "dashboard" },
      shots: { type: "string" },
    },
  });
  if (values.shots) {
    await shots(values.shots);
    process.stdout.write(`screenshots written to ${values.shots}\n`);
    process.exit(0);
  }
  const scenario = values.scenario as Scenario;
  if (!["dashboard", "empty", "onboarding", "locked"].includes(scenario)) {
    process.stderr.write(`unknown scenario ${scenario}\n`);
    process.exit(2);
  }
  const srv = await startMockServer({ port: Number(values.port), scenario, rebuild: true });
  process.stdout.write(`MOCK API (UI development only) at ${srv.url}  scenario=${scenario}  password="${srv.app.password}"\n`);
}
