// A wallet call that never returns must not hold a paid job forever: the customer hears an error
// within a bound (the wallet calls are bounded at 15 s; this test allows 20 s), free jobs keep
// running meanwhile, and nothing is credited.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import type { App } from "../../src/app.ts";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { prepareDataDir, startApp, until } from "../fixtures/stress-app.ts";

const BOUND_MS = 20_000;
let fake: FakeOllama;
let relay: TestRelay;
let app: App | null = null;
let customer: Customer | null = null;
let dir = "";

beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }, { name: "tiny" }], instant: true });
  relay = await startRelay();
});
afterAll(async () => {
  customer?.close();
  await app?.stop();
  await relay.stop();
  await fake.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

test(
  `a hanging wallet: the paid job gets a clear error within ${BOUND_MS / 1000} s; free jobs run meanwhile; nothing credited`,
  async () => {
    const wallet = new LightningDouble();
    const prepared = await prepareDataDir({
      relays: [relay.url],
      ollamaUrl: fake.url,
      provider: { defaultModel: "llama3.2" },
      pricing: { mode: "upfront", perJobMsats: 3000, models: { tiny: { perJobMsats: 0 } } },
    });
    dir = prepared.dataDir;
    app = await startApp(dir, { wallet });
    customer = await startCustomer([relay.url]);
    await until(() => app!.controller.snapshot().wallet.state === "ready" && app!.controller.snapshot().relays[0]!.state === "connected", 5000, "ready");
    await app.controller.setOnline(true);
    wallet.setFailing("hang");
    const t0 = Date.now();
    const req = customer.request({ inputs: [["hung payment", "text"]], params: { model: "llama3.2" } });
    await customer.publish(req);
    const f = customer.request({ inputs: [["free meanwhile", "text"]], params: { model: "tiny" } });
    await customer.publish(f);
    expect((await customer.waitForResult(f.id, 5000)).content).toBe(fakeAnswer("free meanwhile"));
    const err = await customer.waitForStatus(req.id, "error", BOUND_MS);
    const tookMs = Date.now() - t0;
    expect(err.extra ?? "").not.toBe("");
    expect(err.extra).not.toMatch(/\n|\bat .+:\d+:\d+|\.ts\b/);
    expect(customer.results(req.id)).toEqual([]);
    expect(await app.controller.walletPayments()).toEqual([]);
    expect(app.controller.snapshot().earnings.allSats).toBe(0);
    console.log(`hanging wallet: the paid job was refused after ${tookMs} ms: "${err.extra}"`);
  },
  BOUND_MS + 10_000,
);
