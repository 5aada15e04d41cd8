// A dashboard save must not undo this run's command-line settings: the App used to reread only
// config.json after a save, so `--payment-mode free` and `--relay` silently fell back to the file's
// values (a free run started charging). Real App, real relay, the Ollama test server.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";

let fake: FakeOllama;
let relay: TestRelay;
let t: TestApp;

beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
  relay = await startRelay();
  // The file says upfront, 5 sats a job, another relay; the command line says free and our relay.
  t = await startTestApp({
    flags: { relays: [relay.url], ollamaUrl: fake.url, paymentMode: "free" },
    config: { relays: ["wss://relay.invalid"], pricing: { mode: "upfront", perJobMsats: 5_000 } },
  });
});
afterAll(async () => {
  await t?.stop();
  await relay?.stop();
  await fake?.stop();
});

test("after saving a limit, a price and a served model, the run keeps its --payment-mode and --relay; the saves apply at once and reach the file", async () => {
  const file = () => JSON.parse(readFileSync(join(t.dataDir, "config.json"), "utf8"));
  await t.app.controller.updateSettings({ limits: { maxQueuedPerCustomer: 3 }, pricing: { perJobMsats: 7_000 } });
  await t.app.controller.setServedModels(["llama3.2:latest"]);
  expect(t.app.config.pricing.mode).toBe("free");
  expect(t.app.config.relays).toEqual([relay.url]);
  expect(t.app.config.ollamaUrl).toBe(fake.url);
  expect(t.app.config.limits.maxQueuedPerCustomer).toBe(3);
  expect(t.app.config.pricing.perJobMsats).toBe(7_000);
  expect(t.app.config.provider.servedModels).toEqual(["llama3.2:latest"]);
  expect(t.app.controller.settings().pricing).toMatchObject({ mode: "free", perJobMsats: 7_000 });
  // Saved: what was changed; not saved: this run's flags.
  expect(file()).toMatchObject({ relays: ["wss://relay.invalid"], pricing: { mode: "upfront", perJobMsats: 7_000 }, limits: { maxQueuedPerCustomer: 3 } });
  // Still free: going online needs no wallet.
  await t.app.controller.setOnline(true);
  expect(t.app.controller.snapshot().provider).toMatchObject({ online: true, paymentMode: "free" });
});

test("a bad change is refused before anything is written or applied", async () => {
  const before = readFileSync(join(t.dataDir, "config.json"), "utf8");
  await expect(t.app.controller.updateSettings({ limits: { maxQueuedPerCustomer: -1 } })).rejects.toThrow(/limits\.maxQueuedPerCustomer/);
  expect(readFileSync(join(t.dataDir, "config.json"), "utf8")).toBe(before);
  expect(t.app.config.limits.maxQueuedPerCustomer).toBe(3);
});
