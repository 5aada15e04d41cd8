// Relays that misbehave without going away, against the real App (product pool defaults): one
// accepts the connection but never answers anything (silent), one refuses every event we send
// (reject). Jobs still complete through the healthy relay, and the relay status says what each
// one is doing.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import type { App } from "../../src/app.ts";
import { AWAITING_ANSWER, DEFAULT_TIMEOUTS } from "../../src/nostr/relay-link.ts";
import { RelayStatusChanged, type RelayView } from "../../src/nostr/events.ts";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { prepareDataDir, startApp, until } from "../fixtures/stress-app.ts";

let fake: FakeOllama;
let good: TestRelay;
let silent: TestRelay;
let rejecting: TestRelay;
const live: Array<{ app: App; customer: Customer; dir: string }> = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => void unhandled.push(e);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
});
afterEach(async () => {
  for (const { app, customer, dir } of live.splice(0)) {
    customer.close();
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const r of [good, silent, rejecting]) await r?.stop();
}, 30_000);
afterAll(async () => {
  await fake.stop();
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

async function setUp(config: Record<string, unknown>) {
  good = await startRelay();
  silent = await startRelay({ mode: "silent" });
  rejecting = await startRelay({ mode: "reject" });
  const { dataDir } = await prepareDataDir({ relays: [good.url, silent.url, rejecting.url], ollamaUrl: fake.url, ...config });
  const app = await startApp(dataDir);
  const statuses: Array<RelayView & { at: number }> = [];
  app.bus.subscribe(RelayStatusChanged, ({ relay }) => void statuses.push({ ...relay, at: Date.now() }));
  // The customer uses the healthy relay only (a silent relay would hold its publishes too).
  const customer = await startCustomer([good.url]);
  live.push({ app, customer, dir: dataDir });
  await until(() => app.controller.snapshot().relays.find((r) => r.url === good.url)?.state === "connected", 5000, "good relay connected");
  await app.controller.setOnline(true);
  return { app, customer, statuses };
}

const view = (app: App, r: TestRelay) => app.controller.snapshot().relays.find((v) => v.url === r.url)!;

test(
  "a silent relay and a refusing one: jobs complete through the healthy relay; each one's status says what it does",
  async () => {
    const { app, customer, statuses } = await setUp({ pricing: { mode: "free" } });
    const t0 = Date.now();
    const req = customer.request({ inputs: [["through the good one", "text"]], relays: [good.url] });
    await customer.publish(req);
    const result = await customer.waitForResult(req.id, 5000);
    const resultMs = Date.now() - t0;
    expect(result.content).toBe(fakeAnswer("through the good one"));
    // The result didn't wait for the silent relay's publish deadline.
    expect(resultMs).toBeLessThan(DEFAULT_TIMEOUTS.publishMs / 2);

    // The refusing relay: connected, and its error says it refuses our events.
    await until(() => view(app, rejecting).error !== null, 3000, "refusal shown");
    expect(view(app, rejecting)).toMatchObject({ state: "connected", error: "refuses our events: blocked: test" });
    expect(view(app, good)).toMatchObject({ state: "connected", error: null });
    expect(rejecting.events()).toEqual([]);

    // The silent relay never answers a REQ: it is never shown connected (its socket is open but
    // it is "waiting for the relay to answer"), never shows a latency, and within the probe's
    // deadline it is marked failed with the reason.
    await until(() => view(app, silent).error === AWAITING_ANSWER, 3000, "silent relay's socket open");
    expect(view(app, silent)).toMatchObject({ state: "connecting", latencyMs: null });
    await until(
      () => statuses.some((s) => s.url === silent.url && s.state === "failed" && /not responding/.test(s.error ?? "")),
      DEFAULT_TIMEOUTS.pingMs + 3000,
      "silent relay failed as not responding",
    );
    expect(statuses.filter((s) => s.url === silent.url && s.latencyMs !== null)).toEqual([]);
    expect(statuses.filter((s) => s.url === silent.url && s.state === "connected")).toEqual([]);
    // GO ONLINE's checklist and the dashboard count only relays that answer.
    expect(app.controller.snapshot().relays.filter((r) => r.state === "connected").map((r) => r.url).sort()).toEqual([good.url, rejecting.url].sort());
    expect(statuses.filter((s) => s.url === good.url).at(-1)?.latencyMs).not.toBeNull();

    // Answered once, on the good relay only.
    const results = good.events().filter((e) => e.kind === 6050);
    expect(results.map((e) => e.id)).toEqual([result.event.id]);
    expect(fake.requests("/api/generate").filter((r) => r.body?.prompt === "through the good one")).toHaveLength(1);
    // The silent relay was sent the result (it never said OK), the refusing one refused it.
    expect(silent.connections().reduce((n, c) => n + c.events, 0)).toBeGreaterThan(0);
    console.log(`silent+reject relays: result at the customer after ${resultMs} ms`);
  },
  DEFAULT_TIMEOUTS.pingMs + 15_000,
);
