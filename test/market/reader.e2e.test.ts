// The market reader on a real relay (fixture over websockets) through the real RelayPool, seeded
// with the simulated market: the figures match the fixture's plan, a restart resumes from the
// newest stored event, and a budget cuts floods without dropping the rest.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSecretKey } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { MarketReader } from "../../src/market/reader.ts";
import { MarketStore } from "../../src/market/store.ts";
import { RelayPool } from "../../src/nostr/pool.ts";
import { buildMarketSim, sign } from "../fixtures/market-sim.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { cleanups, runCleanups, until } from "../nostr/helpers.ts";

afterEach(runCleanups);

async function seeded(): Promise<{ relay: TestRelay; sim: ReturnType<typeof buildMarketSim> }> {
  const relay = await startRelay();
  cleanups.push(() => relay.stop());
  const sim = buildMarketSim();
  for (const e of sim.events) await relay.inject(e as never);
  return { relay, sim };
}

function pool(url: string): RelayPool {
  const p = new RelayPool({ relays: [url], bus: new Bus(), signer: { secretKey: generateSecretKey() }, allowInsecureLocal: true });
  p.start();
  cleanups.push(() => p.stop());
  return p;
}

function store(dir = mkdtempSync(join(tmpdir(), "market-"))) {
  const s = MarketStore.open(join(dir, "market.sqlite"));
  return { s, dir };
}

test("the reader subscribed to a relay shows the simulated market's figures; a restart does not download it again", async () => {
  const { relay, sim } = await seeded();
  const { s, dir } = store();
  const reader = new MarketReader({ store: s, flushMs: 20 });
  reader.start(pool(relay.url));
  // Heartbeats/announcements keep one per key; everything else is stored.
  await until(() => (reader.flush(), s.count() >= sim.events.length), 10_000, "all events stored");
  const report = reader.report({ sinceSec: sim.since, me: sim.me.pubkey, myModels: sim.myModels });
  expect(report.demand.requests).toBe(sim.expected.requests);
  expect(report.demand.answered).toBe(sim.expected.answered);
  expect(report.demand.unserved.requests).toBe(sim.expected.unserved);
  expect(report.demand.unserved.forMe).toBe(sim.expected.unservedForMe);
  expect(report.providers.find((p) => p.pubkey === sim.providers[0]!.pubkey)!.medianResultSecs).toBe(sim.expected.perProvider[sim.providers[0]!.pubkey]!.medianSecs);
  expect(report.prices.find((p) => p.model === "llama3.2:3b")!.medianPerJobMsats).toBe(sim.expected.llamaMedianMsats);
  reader.stop();
  s.close();

  // Restart on the same file: the traffic filter starts at the newest stored event less a minute.
  const again = MarketStore.open(join(dir, "market.sqlite"));
  cleanups.push(() => again.close());
  const newest = Math.max(...sim.events.filter((e) => [5050, 6050, 7000].includes(e.kind)).map((e) => e.created_at));
  const reader2 = new MarketReader({ store: again, flushMs: 20 });
  const before = relay.connections().length;
  reader2.start(pool(relay.url));
  await until(() => relay.connections().length > before && relay.connections().at(-1)!.requests.length > 0, 5000, "subscribed");
  const traffic = relay
    .connections()
    .at(-1)!
    .requests.flatMap((r) => r.filters)
    .find((f) => Array.isArray(f.kinds) && (f.kinds as number[]).includes(5050))!;
  expect(traffic.since).toBe(newest - 60);
  await Bun.sleep(300);
  // Only the last minute's traffic (the pending request) came again, and nothing was stored twice.
  const trafficAgain = sim.events.filter((e) => [5050, 6050, 7000].includes(e.kind) && e.created_at >= newest - 60).length;
  expect(reader2.stats.received).toBeLessThanOrEqual(trafficAgain + 10);
  reader2.flush();
  expect(reader2.stats.kept).toBe(0);
  reader2.stop();
}, 30_000);

test("a pubkey flooding the relay is cut by the per-key budget; other events still get in; nothing crashes", async () => {
  const relay = await startRelay();
  cleanups.push(() => relay.stop());
  const { s } = store();
  cleanups.push(() => s.close());
  const reader = new MarketReader({ store: s, flushMs: 20, budget: { perPubkeyPerMin: 20 } });
  reader.start(pool(relay.url));
  await until(() => relay.connections().some((c) => c.requests.length > 0), 5000, "subscribed");
  const spammer = generateSecretKey();
  const honest = generateSecretKey();
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 60; i++) await relay.inject(sign(spammer, 5050, now - i, [["param", "model", "x"], ["bid", "1"]], `spam ${i}`) as never);
  // A huge request (300 kB content) is dropped unread.
  await relay.inject(sign(honest, 5050, now, [["param", "model", "llama3.2:3b"]], "y".repeat(300_000)) as never);
  await relay.inject(sign(honest, 5050, now, [["param", "model", "llama3.2:3b"], ["bid", "5000"]], "hello") as never);
  await until(() => reader.stats.received >= 62, 10_000, "events received");
  reader.flush();
  expect(reader.stats.dropped.flood).toBe(40);
  expect(reader.stats.dropped.huge).toBe(1);
  const r = reader.report({ sinceSec: now - 3600 });
  expect(r.demand.requests).toBe(21);
  expect(r.demand.models.find((m) => m.model === "llama3.2:3b")!.requests).toBe(1);
  reader.stop();
}, 30_000);
