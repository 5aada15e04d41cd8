// The app gives memory back when it has been quiet (src/util/idle-trim.ts): once after start-up,
// once after each busy spell, and jobs run as before after a trim (the trim drops compiled code).
// Real relay, the Ollama test server, a customer from nostr-tools, the real App, the real trim.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { App } from "../../src/app.ts";
import { readPublicIdentity } from "../../src/paths.ts";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "../jobs/harness.ts";

const QUIET_MS = 400;
let fake: FakeOllama;
let relay: TestRelay;
let customer: Customer;
let started: TestApp;
let app: App;
let dataDir: string;

beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
  relay = await startRelay();
  customer = await startCustomer([relay.url]);
  started = await startTestApp({
    flags: { relays: [relay.url], ollamaUrl: fake.url, paymentMode: "free" },
    config: { limits: { perCustomerPerMinute: 1000, partialIntervalMs: 100_000 } },
    options: { ollamaProbeMs: 200, idleTrimMs: QUIET_MS },
  });
  ({ app, dataDir } = started);
  await app.controller.setOnline(true);
});

afterAll(async () => {
  await started?.stop();
  customer?.close();
  await relay?.stop();
  await fake?.stop();
});

test("trims once after start-up, again after a job, and serves jobs after each trim", async () => {
  const trimmer = app.trimmer!;
  await until(() => trimmer.trims >= 1, 10_000, "trim after start-up");
  const afterStart = trimmer.trims;
  // Quiet: no second trim without activity.
  await Bun.sleep(QUIET_MS * 3);
  expect(trimmer.trims).toBe(afterStart);

  const provider = readPublicIdentity(dataDir)!.pubkey;
  for (const prompt of ["after the first trim", "after the second trim"]) {
    const before = trimmer.trims;
    const req = customer.request({ inputs: [[prompt, "text"]], provider });
    await customer.publish(req);
    const result = await customer.waitForResult(req.id, 10_000);
    expect(result.content).toBe(fakeAnswer(prompt));
    await until(() => trimmer.trims >= before + 1, 10_000, "trim after the job");
  }
}, 40_000);
