// The compiled `compute` binary, run from a folder with no node_modules in reach: --version,
// --headless answering HTTP and serving a job end to end, and the real window under Xvfb.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Relay } from "nostr-tools/relay";
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { imageStats, screenshot, startXvfb } from "../fixtures/xvfb.ts";

const ROOT = join(import.meta.dir, "../..");
const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const NPUB = "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu";
const ARTIFACTS = join(ROOT, "test-artifacts");

let dir: string;
let bin: string;
let relay: TestRelay;
let ollama: FakeOllama;

function baseEnv(dataDir: string): Record<string, string> {
  // No node_modules in reach: the binary runs from a temp folder with a minimal environment.
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, COMPUTE_DATA_DIR: dataDir, COMPUTE_PASSWORD: "binary-test-pw", COMPUTE_LOG_LEVEL: "warn" };
}

async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const reader = stream.getReader();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      if (!chunk || chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
      const m = text.match(pattern);
      if (m) return m;
    }
  } finally {
    reader.releaseLock();
  }
  throw new Error(`pattern ${pattern} not seen in: ${text.slice(0, 500)}`);
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist/compute"))) {
    const b = Bun.spawnSync(["bun", "build.ts", "--host-only"], { cwd: ROOT, stdout: "ignore", stderr: "inherit" });
    if (b.exitCode !== 0) throw new Error("build failed");
  }
  dir = mkdtempSync(join(tmpdir(), "compute-bin-"));
  bin = join(dir, "compute");
  copyFileSync(join(ROOT, "dist/compute"), bin);
  Bun.spawnSync(["chmod", "755", bin]);
  mkdirSync(ARTIFACTS, { recursive: true });
  relay = await startRelay();
  ollama = await startOllamaServer({ instant: true });
  const init = Bun.spawnSync([bin, "init", "--import"], { cwd: dir, env: baseEnv(join(dir, "data")), stdin: Buffer.from(MNEMONIC) });
  expect(init.stderr.toString()).not.toContain("error");
  expect(init.stdout.toString()).toContain(NPUB);
}, 60_000);

afterAll(async () => {
  await relay?.stop();
  await ollama?.stop();
});

describe("compiled binary", () => {
  test("--version runs with no node_modules in reach", () => {
    const r = Bun.spawnSync([bin, "--version"], { cwd: dir, env: baseEnv(join(dir, "data")) });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toMatch(/^compute \d+\.\d+\.\d+/);
  });

  test("--headless answers HTTP, serves the dashboard and a job, stops cleanly on SIGTERM", async () => {
    const proc = Bun.spawn([bin, "--headless", "--online", "--payment-mode", "free", "--port", "0", "--relay", relay.url, "--ollama-url", ollama.url], {
      cwd: dir,
      env: baseEnv(join(dir, "data")),
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const [, url] = await readUntil(proc.stdout, /Dashboard: (http:\/\/\S+)/, 15_000);
      const base = url!.replace(/\/\?token=.*$/, "");
      const token = url!.split("token=")[1]!;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const page = await fetch(`${base}/`);
      expect(await page.text()).toContain("/app.js");
      expect((await fetch(`${base}/api/state`)).status).toBe(401);
      const state = (await (await fetch(`${base}/api/state`, { headers: { authorization: `Bearer ${token}` } })).json()) as any;
      expect(state.identity).toEqual({ state: "unlocked", npub: NPUB });

      // A customer written from nostr-tools primitives sends a job through the relay.
      const customer = generateSecretKey();
      const r = await Relay.connect(relay.url);
      const req = finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [["i", "compiled binary says hi", "text"]], content: "" }, customer);
      const result = new Promise<string>((resolve) => {
        r.subscribe([{ kinds: [6050], "#e": [req.id] }], { onevent: (e) => resolve(e.content) });
      });
      // Wait until the provider's subscription is live (its announcement is on the relay).
      for (let i = 0; i < 50 && !relay.events().some((e) => e.kind === 31990); i++) await Bun.sleep(100);
      await r.publish(req);
      const text = await Promise.race([result, Bun.sleep(10_000).then(() => "timeout")]);
      r.close();
      expect(text).toContain("compiled binary says hi");
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
  }, 40_000);

  test("the Breez wallet (regtest) connects inside the binary with node_modules hidden; --online in a paid mode waits for it and goes online", async () => {
    // The SDK reads its wasm from its own folder unless build.ts embedded it: hide the folder for real.
    const root = process.getuid?.() === 0;
    const cmd = [bin, "--headless", "--online", "--network", "regtest", "--port", "0", "--relay", relay.url, "--ollama-url", ollama.url];
    const proc = root
      ? Bun.spawn(["unshare", "-m", "sh", "-c", `mount -t tmpfs none "${join(ROOT, "node_modules")}" && exec "$@"`, "sh", ...cmd], { cwd: dir, env: baseEnv(join(dir, "data")), stdout: "pipe", stderr: "pipe" })
      : Bun.spawn(cmd, { cwd: dir, env: baseEnv(join(dir, "data")), stdout: "pipe", stderr: "pipe" });
    if (!root) console.warn("not root: node_modules could not be hidden from the binary in this run");
    try {
      const [, url] = await readUntil(proc.stdout, /Dashboard: (http:\/\/\S+)/, 15_000);
      const base = url!.replace(/\/\?token=.*$/, "");
      const token = url!.split("token=")[1]!;
      let wallet: any = null;
      for (let i = 0; i < 50; i++) {
        wallet = ((await (await fetch(`${base}/api/state`, { headers: { authorization: `Bearer ${token}` } })).json()) as any).wallet;
        if (wallet.state === "ready" || wallet.state === "error") break;
        await Bun.sleep(200);
      }
      expect(wallet).toMatchObject({ state: "ready", network: "regtest", balanceSats: 0 });
      // The default payment mode is paid: --online had to wait for the wallet (it used to give up
      // with "the wallet is not connected yet" and idle offline).
      let provider: any = null;
      for (let i = 0; i < 50; i++) {
        provider = ((await (await fetch(`${base}/api/state`, { headers: { authorization: `Bearer ${token}` } })).json()) as any).provider;
        if (provider.online) break;
        await Bun.sleep(100);
      }
      expect(provider).toMatchObject({ online: true, paymentMode: "upfront" });
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await proc.exited).toBe(0);
  }, 40_000);

  test("without a display the window mode says so and suggests --headless", () => {
    const env = baseEnv(join(dir, "data"));
    const r = Bun.spawnSync([bin], { cwd: dir, env });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("--headless");
  });

  test("the real window under Xvfb shows the dashboard", async () => {
    const x = await startXvfb();
    const proc = Bun.spawn([bin, "--port", "0", "--relay", relay.url, "--ollama-url", ollama.url, "--payment-mode", "free"], {
      cwd: dir,
      env: { ...baseEnv(join(dir, "data")), DISPLAY: x.display },
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const [, url] = await readUntil(proc.stderr, /also at (http:\/\/\S+)\)/, 15_000);
      expect(url).toContain("token=");
      // Give WebKit time to load and render the page, then look at the pixels.
      const shot = join(ARTIFACTS, "window.png");
      let stats = { colors: 0, mean: 0 };
      for (let i = 0; i < 20 && stats.colors < 200; i++) {
        await Bun.sleep(500);
        await screenshot(x.display, shot);
        stats = await imageStats(shot);
      }
      // A blank or black window has a handful of colours; the HUD has text, lights and frames.
      expect(stats.colors).toBeGreaterThan(200);
      expect(stats.mean).toBeGreaterThan(0.01);
      expect(stats.mean).toBeLessThan(0.6); // dark HUD, not a white error page
      // Closing the window (WM_DELETE_WINDOW, as a window manager's close button sends) stops the app.
      await closeWindow(x.display, "Compute");
      expect(await Promise.race([proc.exited, Bun.sleep(10_000).then(() => "still running")])).toBe(0);
      expect(existsSync(join(dir, "data", "compute.lock"))).toBe(false);
    } finally {
      proc.kill("SIGTERM");
      await proc.exited;
      await x.stop();
    }
  }, 60_000);

  test("a second `compute` opens a window on the running one instead of starting another", async () => {
    const x = await startXvfb();
    const env = { ...baseEnv(join(dir, "data")), DISPLAY: x.display };
    const first = Bun.spawn([bin, "--headless", "--port", "0", "--relay", relay.url, "--ollama-url", ollama.url, "--payment-mode", "free"], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
    let second: ReturnType<typeof Bun.spawn> | null = null;
    try {
      const [, url] = await readUntil(first.stdout, /Dashboard: (http:\/\/\S+)/, 15_000);
      second = Bun.spawn([bin, "--port", "0"], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
      await readUntil(second.stderr as ReadableStream<Uint8Array>, /already running \(pid \d+\); opening its dashboard/, 15_000);
      const shot = join(ARTIFACTS, "window-second.png");
      let stats = { colors: 0, mean: 0 };
      for (let i = 0; i < 20 && stats.colors < 200; i++) {
        await Bun.sleep(500);
        await screenshot(x.display, shot);
        stats = await imageStats(shot);
      }
      expect(stats.colors).toBeGreaterThan(200);
      await closeWindow(x.display, "Compute");
      expect(await Promise.race([second.exited, Bun.sleep(10_000).then(() => "still running")])).toBe(0);
      // The first instance is untouched.
      expect((await fetch(url!.replace(/\/\?token=.*$/, "/healthz"))).status).toBe(200);
    } finally {
      second?.kill("SIGTERM");
      first.kill("SIGTERM");
      await first.exited;
      await x.stop();
    }
  }, 60_000);
});

async function closeWindow(display: string, title: string): Promise<void> {
  const p = Bun.spawn(["/usr/bin/python3", join(import.meta.dir, "../fixtures/x-close-window.py"), title], { env: { ...process.env, DISPLAY: display }, stdout: "pipe", stderr: "pipe" });
  const out = await new Response(p.stdout).text();
  if ((await p.exited) !== 0 || !out.includes("sent")) throw new Error(`could not close the window: ${await new Response(p.stderr).text()}`);
}
