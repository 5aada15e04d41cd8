// Every relay down while a job runs, against the real App (product defaults for the pool: publish
// deadline, reconnect backoff): the result finished during the outage goes out when a relay is
// back, on that relay's first reconnection; the relay status on the bus and in the snapshot is
// truthful throughout; nothing is generated or answered twice.
//
// OUTAGE_MS is 5 s in the normal suite and 60 s with COMPUTE_SLOW=1 (longer than the pool's
// 10 s publish deadline, so only the outbox can deliver the result).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import type { App } from "../../src/app.ts";
import { DEFAULT_BACKOFF } from "../../src/nostr/relay-link.ts";
import { RelayStatusChanged, type RelayView } from "../../src/nostr/events.ts";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { SLOW, prepareDataDir, startApp, until } from "../fixtures/stress-app.ts";

const OUTAGE_MS = SLOW ? 60_000 : 5_000;
/** The job generates for this long, so it finishes while every relay is down. */
const TOKENS = 30;
const TOKENS_PER_SEC = 20;

let fake: FakeOllama;
let relays: TestRelay[];
let app: App | null = null;
let customer: Customer | null = null;
let dataDir = "";
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => void unhandled.push(e);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], tokensPerSec: TOKENS_PER_SEC, responseTokens: TOKENS });
  relays = [await startRelay(), await startRelay()];
});

afterAll(async () => {
  customer?.close();
  await app?.stop();
  for (const r of relays) await r.stop();
  await fake.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

const results = (r: TestRelay, jobId: string) => r.events().filter((e) => e.kind === 6050 && e.tags.some((t) => t[0] === "e" && t[1] === jobId));

test(
  `all relays down for ${OUTAGE_MS / 1000} s while a job runs: the result goes out on the first reconnection, status truthful, answered once`,
  async () => {
    const [a, b] = relays as [TestRelay, TestRelay];
    const prepared = await prepareDataDir({ relays: [a.url, b.url], ollamaUrl: fake.url, pricing: { mode: "free" } });
    dataDir = prepared.dataDir;
    app = await startApp(dataDir);
    const statuses: Array<RelayView & { at: number }> = [];
    app.bus.subscribe(RelayStatusChanged, ({ relay }) => void statuses.push({ ...relay, at: Date.now() }));
    await until(() => app!.controller.snapshot().relays.every((r) => r.state === "connected"), 5000, "both relays connected");
    await app.controller.setOnline(true);
    customer = await startCustomer([a.url, b.url]);

    const req = customer.request({ inputs: [["weather the storm", "text"]] });
    await customer.publish(req);
    await customer.waitForStatus(req.id, "processing", 5000);

    // Both relays go away mid-generation.
    const downAt = Date.now();
    await a.stop();
    await b.stop();
    await until(() => app!.controller.snapshot().relays.every((r) => r.state !== "connected"), 3000, "both relays shown down");
    // The job finishes while nobody can hear it.
    await until(() => app!.controller.snapshot().jobs.find((j) => j.id === req.id)?.status === "success", 10_000, "job done during the outage");
    const doneAt = Date.now();
    expect(doneAt - downAt).toBeLessThan(OUTAGE_MS);
    // Truthful all through the outage: never shown connected while both are down.
    while (Date.now() - downAt < OUTAGE_MS) {
      expect(app.controller.snapshot().relays.filter((r) => r.state === "connected")).toEqual([]);
      await Bun.sleep(100);
    }
    expect(statuses.filter((s) => s.at > downAt + 50 && s.state === "connected")).toEqual([]);
    for (const url of [a.url, b.url]) {
      const seen = statuses.filter((s) => s.url === url && s.at >= downAt);
      expect(seen.some((s) => s.state === "disconnected" || s.state === "failed")).toBe(true);
      expect(seen.filter((s) => s.state === "failed").every((s) => !!s.error)).toBe(true);
    }

    // Both come back: each gets the result on its first reconnection (the outbox), however long
    // the outage was; the reconnection itself waits for the pool's backoff (≤ DEFAULT_BACKOFF.maxMs).
    const backAt = Date.now();
    await a.restart();
    await b.restart();
    const reconnectBound = DEFAULT_BACKOFF.maxMs + 5_000;
    const lags: string[] = [];
    await Promise.all(
      [a, b].map(async (r) => {
        await until(() => statuses.some((s) => s.url === r.url && s.state === "connected" && s.at >= backAt), reconnectBound, `${r.url} reconnected`);
        const connectedAt = statuses.find((s) => s.url === r.url && s.state === "connected" && s.at >= backAt)!.at;
        await until(() => results(r, req.id).length === 1, 2_000, `result on ${r.url} right after its reconnection`);
        lags.push(`reconnected ${connectedAt - backAt} ms after its return, had the result ${Date.now() - connectedAt} ms later`);
      }),
    );
    const fresh = await customer.query(a.url, { kinds: [6050], "#e": [req.id] });
    expect(fresh.map((e) => e.content)).toEqual([fakeAnswer("weather the storm", { responseTokens: TOKENS })]);
    expect(app.controller.snapshot().relays.map((r) => r.state)).toEqual(["connected", "connected"]);

    // Answered once: one result event on the relays, one generation, no error feedback.
    await Bun.sleep(500);
    const ids = new Set([...results(a, req.id), ...results(b, req.id)].map((e) => e.id));
    expect(ids.size).toBe(1);
    expect(fake.requests("/api/generate").filter((r) => r.body?.prompt === "weather the storm")).toHaveLength(1);
    const errors = [a, b].flatMap((r) => r.events()).filter((e) => e.kind === 7000 && e.tags.some((t) => t[0] === "status" && t[1] === "error"));
    expect(errors).toEqual([]);
    console.log(`relay outage ${OUTAGE_MS} ms: job done ${doneAt - downAt} ms into it; relays: ${lags.join("; ")}`);
  },
  OUTAGE_MS + DEFAULT_BACKOFF.maxMs + 25_000,
);
