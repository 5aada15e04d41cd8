// Pause when the machine is busy, and the schedule/limits, end to end: the real App online on the
// test relay with the Ollama test server. The busy signals are faked only at the process
// boundary: a fake `nvidia-smi` on PATH prints a scripted CSV (there is no GPU here), the Ollama
// test server lists a model another client loaded, and a scripted idle-time source stands in for
// X11/logind. A customer built from nostr-tools sends the jobs.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "../jobs/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "compute-pause-"));
const csv = join(dir, "nvidia.csv");
const savedPath = process.env.PATH;
let relay: TestRelay;
let fake: FakeOllama;
let customer: Customer;
const cleanups: Array<() => Promise<unknown>> = [];

const PROBE_MS = 250;
const HOLD_MS = 1500;
let idle: { idleMs: number | null; idleHint: boolean | null } = { idleMs: null, idleHint: null };

beforeAll(async () => {
  writeFileSync(join(dir, "nvidia-smi"), `#!/bin/sh\ncat "${csv}" 2>/dev/null\nexit 0\n`, { mode: 0o755 });
  writeFileSync(csv, "");
  process.env.PATH = `${dir}:${savedPath}`;
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }, { name: "qwen2.5:7b" }], instant: true });
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  writeFileSync(csv, "");
  idle = { idleMs: null, idleHint: null };
  fake.setPacing({ instant: true });
  await unload("qwen2.5:7b");
}, 20_000);
afterAll(async () => {
  process.env.PATH = savedPath;
  await fake?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function unload(model: string) {
  await fetch(`${fake.url}/api/generate`, { method: "POST", body: JSON.stringify({ model, prompt: "", keep_alive: 0 }) });
}

/**
 * Every app here has the same identity and takes unaddressed requests, and a new app reads the
 * relay's requests of the last minutes (the since window) into its fresh ledger: on a relay shared
 * by the file, it ran the earlier tests' jobs again (a daily limit of 1 used up by an old job, a
 * newcomer refused behind two replayed ones). So each app gets its own relay and customer, which
 * go when it stops (`relay` and `customer` are the current app's).
 */
async function start(config: Record<string, unknown>): Promise<TestApp & { lines: string[] }> {
  const ownRelay = await startRelay();
  const ownCustomer = await startCustomer([ownRelay.url]);
  let app: TestApp | undefined;
  // One clean-up per app (the closing-hours test pops it itself): the app, then its customer and relay.
  cleanups.push(async () => {
    await app?.stop();
    ownCustomer.close();
    await ownRelay.stop();
  });
  relay = ownRelay;
  customer = ownCustomer;
  const t = (app = await startTestApp({
    flags: { relays: [relay.url], ollamaUrl: fake.url, paymentMode: "free" },
    config: { provider: { servedModels: ["llama3.2"] }, ...config },
    options: { ollamaProbeMs: 100, onlineRetryMs: 100, sentinelProbeMs: PROBE_MS, sentinelHoldMs: HOLD_MS, idleSource: async () => idle },
  }));
  const lines: string[] = [];
  await t.app.keepOnline((l) => lines.push(l));
  await until(() => t.app.controller.snapshot().provider.online, 10_000, "online");
  return { ...t, lines };
}

const provider = (t: TestApp) => t.app.controller.snapshot().provider;

let asked = 0;
/**
 * A request never sent before: the same tags signed by the same key in the same second are the
 * same event id, and waiting on it would match the replies to the earlier job (a "busy, try
 * another provider" read as this job's, an old result read as "finished within the grace").
 */
function newRequest() {
  const req = customer.request({ inputs: [[`hello ${++asked}`, "text"]], params: { model: "llama3.2" } });
  expect(customer.all().filter((r) => r.event.tags.some((x) => x[0] === "e" && x[1] === req.id))).toEqual([]);
  return req;
}
const PAUSE = { pause: { enabled: true, ollama: true, nvidia: true } };

async function timeToPause(t: TestApp): Promise<number> {
  const t0 = performance.now();
  await until(() => provider(t).paused != null, 5_000, "paused");
  return performance.now() - t0;
}

describe("pause when busy", () => {
  test("GPU used by another process (fake nvidia-smi on PATH, scripted CSV): paused within one probe interval, newcomers get 'busy, try another provider', resumed after the hold", async () => {
    const t = await start(PAUSE);
    expect(provider(t).paused).toBeNull();
    writeFileSync(csv, "4242, /usr/local/bin/ollama, 4000 MiB\n");
    await Bun.sleep(PROBE_MS * 3);
    expect(provider(t).paused).toBeNull(); // our backend only: not busy

    writeFileSync(csv, "4242, /usr/local/bin/ollama, 4000 MiB\n777, /usr/bin/blender, 3000 MiB\n");
    const ms = await timeToPause(t);
    // One probe interval, plus the probe's own run (spawning the script) on a loaded machine.
    expect(ms).toBeLessThan(PROBE_MS + 750);
    expect(provider(t).paused).toBe("the GPU is in use by blender");
    expect(provider(t).online).toBe(true); // still announced: paused, not offline
    // `compute status` says it too.
    const st = Bun.spawn([process.execPath, "src/index.ts", "status", "--data-dir", t.dataDir], { cwd: join(import.meta.dir, "../.."), stdout: "pipe", stderr: "pipe", env: { ...process.env, COMPUTE_LOG_LEVEL: "error" } });
    expect(await new Response(st.stdout).text()).toContain("provider      ONLINE, paused: the GPU is in use by blender");

    const req = newRequest();
    await customer.publish(req);
    const fb = await customer.waitForStatus(req.id, "error", 10_000);
    expect(fb.extra).toBe("busy, try another provider");

    writeFileSync(csv, "");
    const free = performance.now();
    await until(() => provider(t).paused === null, 10_000, "resumed");
    const held = performance.now() - free;
    expect(held).toBeGreaterThanOrEqual(HOLD_MS - PROBE_MS);
    console.log(`pause after ${Math.round(ms)} ms (probe ${PROBE_MS} ms); resume after ${Math.round(held)} ms free (hold ${HOLD_MS} ms)`);

    const again = newRequest();
    await customer.publish(again);
    await customer.waitForResult(again.id, 10_000);
  }, 40_000);

  test("the heartbeat says paused (status tag, no reason) while paused", async () => {
    const t = await start({ ...PAUSE });
    writeFileSync(csv, "777, /usr/bin/blender, 3000 MiB\n");
    await timeToPause(t);
    // The engine's next beat carries it; going online again sends one at once (a second later:
    // the relay keeps one replaceable 11998 per second and key).
    await Bun.sleep(1100);
    await t.app.controller.setOnline(false);
    await t.app.controller.setOnline(true);
    await until(() => relay.events().some((e) => e.kind === 11998 && e.tags.some((x) => x[0] === "status" && x[1] === "paused")), 5_000, "paused heartbeat");
    const beat = relay.events().findLast((e) => e.kind === 11998)!;
    expect(beat.content).toBe("paused");
    expect(JSON.stringify(beat)).not.toContain("blender");
  }, 30_000);

  test("Ollama test server lists a model another client loaded: paused; unloaded: resumed after the hold", async () => {
    const t = await start(PAUSE);
    await fetch(`${fake.url}/api/generate`, { method: "POST", body: JSON.stringify({ model: "qwen2.5:7b", prompt: "", keep_alive: "5m" }) });
    await timeToPause(t);
    expect(provider(t).paused).toBe("Ollama has qwen2.5:7b loaded for another client");
    await unload("qwen2.5:7b");
    await until(() => provider(t).paused === null, 10_000, "resumed");
  }, 30_000);

  test("no flapping: a GPU signal toggling every second keeps it paused throughout (one pause, one resume)", async () => {
    // The hold (1.5 s) is longer than the toggle: it must never resume while the signal flickers.
    const t = await start(PAUSE);
    const seen: Array<string | null> = [];
    const unsub = t.app.bus.subscribe((await import("../../src/jobs/provider-events.ts")).ProviderChanged, ({ provider }) => {
      if (seen.at(-1) !== (provider.paused ?? null)) seen.push(provider.paused ?? null);
    });
    for (let i = 0; i < 6; i++) {
      writeFileSync(csv, i % 2 === 0 ? "777, /usr/bin/blender, 3000 MiB\n" : "");
      await Bun.sleep(1000);
    }
    expect(provider(t).paused).not.toBeNull();
    writeFileSync(csv, "");
    await until(() => provider(t).paused === null, 10_000, "resumed");
    unsub();
    expect(seen.filter((s) => s !== null).length).toBe(1);
    expect(seen.at(-1)).toBeNull();
  }, 30_000);

  test("scripted idle source: the owner at the keyboard pauses; idle longer than idleSecs resumes after the hold", async () => {
    const t = await start({ pause: { enabled: true, nvidia: false, ollama: false, idleSecs: 60 } });
    idle = { idleMs: 2_000, idleHint: null };
    await timeToPause(t);
    expect(provider(t).paused).toBe("the owner is at the keyboard");
    idle = { idleMs: 120_000, idleHint: null };
    await until(() => provider(t).paused === null, 10_000, "resumed");
  }, 30_000);

  test("jobs in flight, pause.running=finish: the running job still gets its result", async () => {
    const t = await start({ pause: { enabled: true, running: "finish" } });
    fake.setPacing({ instant: false, tokensPerSec: 20, responseTokens: 40 });
    const req = newRequest();
    await customer.publish(req);
    await customer.waitForStatus(req.id, "processing", 10_000);
    writeFileSync(csv, "777, /usr/bin/blender, 3000 MiB\n");
    await timeToPause(t);
    const result = await customer.waitForResult(req.id, 15_000);
    expect(result.content.length).toBeGreaterThan(0);
  }, 30_000);

  test("jobs in flight, pause.running=cancel: running and queued jobs are stopped with 'busy, try another provider'", async () => {
    const t = await start({ pause: { enabled: true, running: "cancel" } });
    fake.setPacing({ instant: false, tokensPerSec: 10, responseTokens: 200 });
    const req = newRequest();
    await customer.publish(req);
    await customer.waitForStatus(req.id, "processing", 10_000);
    writeFileSync(csv, "777, /usr/bin/blender, 3000 MiB\n");
    await timeToPause(t);
    const fb = await customer.waitForStatus(req.id, "error", 10_000);
    expect(fb.extra).toContain("busy, try another provider");
    expect(customer.results(req.id)).toHaveLength(0);
  }, 30_000);
});

describe("schedule and daily limits", () => {
  test("outside the hours: offline with the announcement withdrawn; hours opened: back online by itself", async () => {
    const t = await start({});
    const announced = provider(t).announcementId!;
    await t.app.controller.updateSettings({ schedule: { enabled: true, weekly: { mon: [], tue: [], wed: [], thu: [], fri: [], sat: [], sun: [] } } } as never);
    await until(() => !provider(t).online, 5_000, "offline by schedule");
    expect(provider(t).offline).toBe("outside the schedule (no hours set)");
    expect(t.lines.at(-1)).toBe("offline: outside the schedule (no hours set)");
    await until(() => relay.events().some((e) => e.kind === 5 && e.tags.some((x) => x[0] === "e" && x[1] === announced)), 5_000, "withdrawal");
    // GO ONLINE by hand says why not.
    await expect(t.app.controller.setOnline(true)).rejects.toThrow(/Not selling now: outside the schedule/);
    const all = ["00:00-24:00"];
    await t.app.controller.updateSettings({ schedule: { weekly: { mon: all, tue: all, wed: all, thu: all, fri: all, sat: all, sun: all } } } as never);
    await until(() => provider(t).online, 5_000, "back online by itself");
    expect(provider(t).offline).toBeNull();
  }, 30_000);

  test("the schedule closes: the dashboard's last provider event says why and until when", async () => {
    const t = await start({});
    const { ProviderChanged } = await import("../../src/jobs/provider-events.ts");
    const events: Array<{ online: boolean; offline?: string | null; offlineUntil?: number | null }> = [];
    t.app.bus.subscribe(ProviderChanged, ({ provider }) => events.push(provider));
    // Open for half an hour a day, two hours from now: closed now, with a time it opens again.
    const h = String((new Date().getHours() + 2) % 24).padStart(2, "0");
    const day = [`${h}:00-${h}:30`];
    await t.app.controller.updateSettings({ schedule: { enabled: true, weekly: { mon: day, tue: day, wed: day, thu: day, fri: day, sat: day, sun: day } } } as never);
    await until(() => !provider(t).online, 5_000, "offline by schedule");
    await Bun.sleep(300);
    // The dashboard replaces its provider with each event: the last one must carry the reason.
    const last = events.at(-1)!;
    expect(last.online).toBe(false);
    expect(last.offline).toMatch(/^outside the schedule \(back at /);
    expect(last.offlineUntil).toBeGreaterThan(Date.now());
  }, 30_000);

  test("jobs per day: after the limit's last job, offline until midnight; today's use is shown", async () => {
    const t = await start({ schedule: { maxJobsPerDay: 1 } });
    const req = newRequest();
    await customer.publish(req);
    await customer.waitForResult(req.id, 10_000);
    await until(() => !provider(t).online, 5_000, "offline by the limit");
    expect(provider(t).offline).toBe("today's limit of 1 jobs is reached (back at midnight)");
    expect(provider(t).today).toMatchObject({ jobs: 1, maxJobs: 1 });
    expect(provider(t).offlineUntil).toBe(new Date(new Date().getFullYear(), new Date().getMonth(), new Date().getDate() + 1).getTime());
  }, 30_000);

  test("closing hours with a job running: it finishes within the grace; with grace 0 it is cancelled", async () => {
    const closed = { enabled: true, weekly: { mon: [], tue: [], wed: [], thu: [], fri: [], sat: [], sun: [] } };
    for (const [graceSecs, finishes] of [[300, true], [0, false]] as const) {
      const t = await start({ schedule: { graceSecs } });
      fake.setPacing({ instant: false, tokensPerSec: 20, responseTokens: 30 });
      const req = newRequest();
      await customer.publish(req);
      await customer.waitForStatus(req.id, "processing", 10_000);
      await t.app.controller.updateSettings({ schedule: closed } as never);
      if (finishes) {
        expect((await customer.waitForResult(req.id, 15_000)).content.length).toBeGreaterThan(0);
      } else {
        const fb = await customer.waitForStatus(req.id, "error", 10_000);
        expect(fb.extra).toContain("selling hours ended");
      }
      fake.setPacing({ instant: true });
      await cleanups.pop()!();
    }
  }, 60_000);
});
