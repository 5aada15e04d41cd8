import { describe, expect, test } from "bun:test";
import { aggregate } from "../../src/market/aggregate.ts";
import { MAX_PLAUSIBLE_MSATS, parameterBillions, sizeClass, toRecord, type MarketRecord } from "../../src/market/records.ts";
import { median } from "../../src/market/stats.ts";
import { announcement, buildMarketSim, provider, sign } from "../fixtures/market-sim.ts";

/** Copies of one signed event under fresh ids (aggregate() is pure; the pool checks signatures before it). */
function copies<E extends { id: string; created_at: number }>(e: E, n: number, vary: (i: number) => Partial<E>): E[] {
  return Array.from({ length: n }, (_, i) => ({ ...e, ...vary(i), id: Bun.hash(`${e.id}${i}`).toString(16).padStart(16, "0").repeat(4).slice(0, 64) }));
}

function records(events: Parameters<typeof toRecord>[0][], receivedAt: number): MarketRecord[] {
  return events.map((e) => toRecord(e, receivedAt)).filter((r): r is MarketRecord => r !== null);
}

describe("market figures from the simulated market", () => {
  const sim = buildMarketSim();
  // Received later than created (a look back): times come from created_at.
  const report = aggregate(records(sim.events, sim.now), { now: sim.now, since: sim.since, me: sim.me.pubkey, myModels: sim.myModels });

  test("demand: requests, customers, answered, unserved, pending, models, bids", () => {
    const d = report.demand;
    expect(d.requests).toBe(sim.expected.requests);
    expect(d.customers).toBe(sim.expected.customers);
    expect(d.answered).toBe(sim.expected.answered);
    expect(d.unserved.requests).toBe(sim.expected.unserved);
    expect(d.pending).toBe(sim.expected.pending);
    expect(d.unserved.forMe).toBe(sim.expected.unservedForMe);
    expect(d.answeredBy).toEqual(sim.expected.answeredBy);
    expect(Object.fromEntries(d.models.map((m) => [m.model, m.requests]))).toEqual(sim.expected.modelRequests);
    expect(d.bids.median).toBe(sim.expected.medianBidMsats);
    expect(d.requestsPerHour).toBeCloseTo(sim.expected.requests / 6, 1);
  });

  test("providers: names, liveness, jobs answered, median result time, prices; we are ranked among them", () => {
    const byKey = new Map(report.providers.map((p) => [p.pubkey, p]));
    expect(report.providers.length).toBe(Object.keys(sim.expected.perProvider).length);
    for (const [pk, want] of Object.entries(sim.expected.perProvider)) {
      const got = byKey.get(pk)!;
      expect(got).toBeDefined();
      expect(got.jobsAnswered).toBe(want.jobs);
      expect(got.medianResultSecs).toBe(want.medianSecs);
      expect(got.pricePerJob.median).toBe(want.medianPriceMsats);
      expect(got.alive).toBe(want.alive);
      expect(got.name).toBe(want.name || null);
    }
    const mine = byKey.get(sim.me.pubkey)!;
    expect(mine.me).toBe(true);
    expect(report.myRank).toBe(report.providers.findIndex((p) => p.me) + 1);
    expect(byKey.get(sim.providers[0]!.pubkey)!.encryption).toBe(true);
    // 200 characters ≈ 50 tokens; delta asks 25 000 msats on its results: 500 000 msats per 1k.
    const delta = sim.providers[3]!;
    expect(byKey.get(delta.pubkey)!.pricePer1kTokens.median).toBe((delta.priceMsats * 1000) / 50);
  });

  test("the market price of a model is the median over the other providers serving it", () => {
    const llama = report.prices.find((p) => p.model === "llama3.2:3b")!;
    expect(llama.providers).toBe(sim.expected.llamaProviders);
    expect(llama.medianPerJobMsats).toBe(sim.expected.llamaMedianMsats);
    expect(llama.sizeClass).toBe("small");
  });
});

describe("bad input is bounded and never skews the medians", () => {
  const sim = buildMarketSim();
  const base = aggregate(records(sim.events, sim.now), { now: sim.now, since: sim.since, me: sim.me.pubkey, myModels: sim.myModels });
  const nowSec = Math.floor(sim.now / 1000);

  test("a provider asking absurd amounts: the amounts are dropped, the market median does not move", () => {
    const liar = provider({ name: "Liar", picture: "", models: ["llama3.2:3b"], priceMsats: 0, delaySecs: 1, announced: true, heartbeatAgoSecs: 10, amountOnResult: false });
    const req = sim.events.find((e) => e.kind === 5050)!;
    const bad = [
      announcement(liar, nowSec - 100, { pricing: { perJobMsats: 1e18 } }),
      ...["99999999999999999", "-5", "1e9", "NaN", String(MAX_PLAUSIBLE_MSATS + 1)].map((a, i) => sign(liar.key, 7000, nowSec - 50 + i, [["e", req.id], ["status", "payment-required"], ["amount", a]])),
    ];
    const r = aggregate(records([...sim.events, ...bad], sim.now), { now: sim.now, since: sim.since, me: sim.me.pubkey, myModels: sim.myModels });
    const row = r.providers.find((p) => p.pubkey === liar.pubkey)!;
    expect(row.pricePerJob.count).toBe(0);
    expect(row.listedPerJobMsats).toBeNull();
    expect(r.prices.find((p) => p.model === "llama3.2:3b")!.medianPerJobMsats).toBe(sim.expected.llamaMedianMsats);
  });

  test("a provider flooding 500 cheap prices counts once in the market price", () => {
    const flooder = provider({ name: "Cheap", picture: "", models: ["llama3.2:3b"], priceMsats: 1_000, delaySecs: 1, announced: true, heartbeatAgoSecs: 10, amountOnResult: false });
    const reqs = sim.events.filter((e) => e.kind === 5050);
    const one = sign(flooder.key, 7000, nowSec - 3000, [["e", reqs[0]!.id], ["status", "payment-required"], ["amount", "1000"]]);
    const flood = [announcement(flooder, nowSec - 100), ...copies(one, 500, (i) => ({ created_at: nowSec - 3000 + i, tags: [["e", reqs[i % reqs.length]!.id], ["status", "payment-required"], ["amount", "1000"]] }))];
    const r = aggregate(records([...sim.events, ...flood], sim.now), { now: sim.now, since: sim.since, me: sim.me.pubkey, myModels: sim.myModels });
    const llama = r.prices.find((p) => p.model === "llama3.2:3b")!;
    expect(llama.providers).toBe(sim.expected.llamaProviders + 1);
    // Four providers: 1 000, 21 000, 25 000, 30 000 → 23 000; a mean of 500 floods would be ~1 000.
    expect(llama.medianPerJobMsats).toBe(23_000);
  });

  test("a customer flooding 2 000 requests with huge bids: counted up to the cap, bids median unchanged", () => {
    const spam = provider({ name: "", picture: "", models: [], priceMsats: 0, delaySecs: 0, announced: false, heartbeatAgoSecs: null, amountOnResult: false });
    const flood = copies(sign(spam.key, 5050, nowSec - 4000, [["param", "model", "llama3.2:3b"], ["bid", "900000000"]]), 2000, (i) => ({ created_at: nowSec - 4000 + i }));
    const r = aggregate(records([...sim.events, ...flood], sim.now), { now: sim.now, since: sim.since, me: sim.me.pubkey, myModels: sim.myModels });
    expect(r.demand.requests).toBe(sim.expected.requests + 2000);
    expect(r.demand.floods).toBe(1);
    expect(r.demand.countedRequests).toBe(sim.expected.requests + 20 * 6);
    // Five customers' medians now: the flooder is one of five.
    expect(r.demand.bids.count).toBe(5);
    // The flooder is one customer of five: the median stays among the real customers' bids (≤ 50 000).
    expect(r.demand.bids.median).toBeLessThanOrEqual(50_000);
    expect(r.demand.bids.median).toBeGreaterThanOrEqual(base.demand.bids.min!);
  });

  test("wrong kinds, announcements for other job kinds, feedback answering nothing, future and huge events are dropped", () => {
    const p = provider({ name: "X", picture: "", models: ["m"], priceMsats: 0, delaySecs: 0, announced: true, heartbeatAgoSecs: 1, amountOnResult: false });
    expect(toRecord(sign(p.key, 1, nowSec, [], "hello"), sim.now)).toBeNull();
    expect(toRecord(sign(p.key, 31990, nowSec, [["k", "5300"], ["d", "x"]], "{}"), sim.now)).toBeNull();
    expect(toRecord(sign(p.key, 7000, nowSec, [["status", "payment-required"], ["amount", "1000"]]), sim.now)).toBeNull();
    expect(toRecord(sign(p.key, 5050, nowSec + 86_400, []), sim.now)).toBeNull();
    const huge = toRecord(sign(p.key, 31990, nowSec, [["k", "5050"], ["d", "x"]], JSON.stringify({ name: "n".repeat(1_000_000) })), sim.now)!;
    expect(huge.info).toEqual({});
    const long = toRecord(sign(p.key, 0, nowSec, [], JSON.stringify({ name: "n".repeat(5000), picture: "javascript:alert(1)" })), sim.now)!;
    expect(long.info!.name!.length).toBe(100);
    expect(long.info!.picture).toBeUndefined();
    expect(toRecord({ id: "zz", pubkey: p.pubkey, created_at: 1, kind: 5050, tags: [], content: "" }, sim.now)).toBeNull();
    expect(toRecord({ ...sign(p.key, 5050, nowSec, []), tags: "nope" as unknown as string[][] }, sim.now)).toBeNull();
  });

  test("thin data: no provider, no demand gives nulls with zero counts, not NaN", () => {
    const r = aggregate([], { now: sim.now, since: sim.since });
    expect(r.providers).toEqual([]);
    expect(r.demand.bids).toEqual({ count: 0, median: null, min: null, max: null });
    expect(r.demand.requestsPerHour).toBe(0);
    expect(base.records).toBeGreaterThan(0);
  });
});

describe("statistics and size classes", () => {
  test("the median resists one outlier", () => {
    expect(median([1, 2, 3, 1e12])).toBe(2.5);
    expect(median([])).toBeNull();
  });
  test("size classes from model names", () => {
    expect(parameterBillions("llama3.2:3b")).toBe(3);
    expect(parameterBillions("qwen2.5:7b-instruct")).toBe(7);
    expect(parameterBillions("mixtral:8x7b")).toBe(56);
    expect(parameterBillions("meta-llama/Llama-3.2-3B-Instruct")).toBe(3);
    expect(parameterBillions("llama3.2")).toBeNull();
    expect(sizeClass("llama3.2:1b")).toBe("tiny");
    expect(sizeClass("llama3.1:70b")).toBe("huge");
  });
});
