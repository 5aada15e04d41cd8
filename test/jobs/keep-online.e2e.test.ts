// `--online` (config `online`) means "be online whenever compute can be": a headless provider
// started at boot, or restarted after a crash, must not stay offline because its wallet was still
// connecting, its network was down for the first wallet connect, or Ollama started after it.
// Real App, real relay, the Ollama test server; the wallet is the Lightning test double (a payment
// can't settle offline), switched to failing and back to stand for a network that is down.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "./harness.ts";

let fake: FakeOllama;
let relay: TestRelay;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
  relay = await startRelay();
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  await fake.setFault(null);
});
afterAll(async () => {
  await relay?.stop();
  await fake?.stop();
});

async function start(opts: { mode: "upfront" | "free"; wallet?: LightningDouble }): Promise<TestApp & { lines: string[] }> {
  const wallet = opts.wallet ?? new LightningDouble();
  const t = await startTestApp({
    flags: { relays: [relay.url], ollamaUrl: fake.url, paymentMode: opts.mode },
    options: { walletFactory: () => wallet, ollamaProbeMs: 100, onlineRetryMs: 100, walletRetryMs: [50, 100] },
  });
  cleanups.push(() => t.stop());
  const lines: string[] = [];
  await t.app.keepOnline((line) => lines.push(line));
  return { ...t, lines };
}

const online = (t: TestApp) => t.app.controller.snapshot().provider.online;

test("paid mode, wallet failing to connect at start: not online, one clear line; online once the wallet reconnects by itself", async () => {
  const wallet = new LightningDouble();
  wallet.setFailing("fail");
  const t = await start({ mode: "upfront", wallet });
  await Bun.sleep(400);
  expect(online(t)).toBe(false);
  // Several retries happened; the reason is said once.
  expect(t.lines).toHaveLength(1);
  expect(t.lines[0]).toMatch(/^not online yet: Can't take paid jobs: .*it goes online by itself once that is fixed/);
  expect(t.app.controller.snapshot().wallet.state).not.toBe("ready");
  wallet.setFailing("none");
  await until(() => online(t), 5_000, "online after the wallet came back");
  expect(t.app.controller.snapshot().wallet.state).toBe("ready");
  expect(t.lines.at(-1)).toBe("online");
  // Its announcement reached the relay: really online.
  await until(() => relay.events().some((e) => e.kind === 31990), 5_000, "announcement on the relay");
});

test("Ollama not running at start: online as soon as it answers", async () => {
  await fake.setFault("refuse");
  const t = await start({ mode: "free" });
  await Bun.sleep(300);
  expect(online(t)).toBe(false);
  expect(t.lines).toEqual([`not online yet: Ollama is not running at ${fake.url}: install it from ollama.com, then \`ollama pull llama3.2\`. (it goes online by itself once that is fixed)`]);
  await fake.setFault(null);
  await until(() => online(t), 5_000, "online after Ollama came up");
  expect(t.lines.at(-1)).toBe("online");
});

test("going offline by hand ends --online: a wallet that comes back later does not take it online", async () => {
  const wallet = new LightningDouble();
  wallet.setFailing("fail");
  const t = await start({ mode: "upfront", wallet });
  await t.app.controller.setOnline(false);
  wallet.setFailing("none");
  await until(() => t.app.controller.snapshot().wallet.state === "ready", 5_000, "wallet reconnected");
  await Bun.sleep(400);
  expect(online(t)).toBe(false);
  expect(t.lines.filter((l) => l === "online")).toHaveLength(0);
});

test("online, then locked and unlocked again: --online takes it back online", async () => {
  const t = await start({ mode: "free" });
  expect(online(t)).toBe(true);
  expect(t.lines).toEqual(["online"]);
  await t.app.controller.lock();
  expect(online(t)).toBe(false);
  await t.app.controller.unlock("test-app-password");
  await until(() => online(t), 5_000, "online after unlock");
});
