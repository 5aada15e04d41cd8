// A paid (upfront) job with a silent relay among ours (one that takes the connection and never
// answers): the customer pays as soon as the payment-required feedback reaches it through the
// healthy relay, and the job should start at once, not when the silent relay's publish deadline
// passes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import type { App } from "../../src/app.ts";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { prepareDataDir, startApp, until } from "../fixtures/stress-app.ts";

let fake: FakeOllama;
let good: TestRelay;
let silent: TestRelay;
let app: App | null = null;
let customer: Customer | null = null;
let dir = "";

beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
  good = await startRelay();
  silent = await startRelay({ mode: "silent" });
});
afterAll(async () => {
  customer?.close();
  await app?.stop();
  await good.stop();
  await silent.stop();
  await fake.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

// Was a bug (src/jobs/engine.ts, chargeFirst): it awaited the payment-required feedback's publish
// on every relay before it awaited the payment, so a silent relay held a paid job for the whole
// publish deadline (the result came 10.0 s after the payment). The publish now goes out in the
// background, after the payment waiter is registered.
test(
  "upfront with a silent relay: a paid job's result comes within 3 s of the payment",
  async () => {
    const wallet = new LightningDouble();
    const prepared = await prepareDataDir({ relays: [good.url, silent.url], ollamaUrl: fake.url, pricing: { mode: "upfront", perJobMsats: 2000 } });
    dir = prepared.dataDir;
    app = await startApp(dir, { wallet });
    customer = await startCustomer([good.url]);
    await until(() => app!.controller.snapshot().wallet.state === "ready" && app!.controller.snapshot().relays[0]!.state === "connected", 5000, "ready");
    await app.controller.setOnline(true);
    const req = customer.request({ inputs: [["pay and go", "text"]], relays: [good.url] });
    await customer.publish(req);
    const due = await customer.waitForStatus(req.id, "payment-required", 5000);
    const paidAt = Date.now();
    wallet.settle(due.tags.find((t) => t[0] === "amount")![2]!);
    await customer.waitForResult(req.id, 3000);
    expect(Date.now() - paidAt).toBeLessThan(3000);
  },
  15_000,
);
