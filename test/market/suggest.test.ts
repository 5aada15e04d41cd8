import { expect, test } from "bun:test";
import { ConfigSchema } from "../../src/config.ts";
import { aggregate } from "../../src/market/aggregate.ts";
import { toRecord, type MarketRecord } from "../../src/market/records.ts";
import { suggestionFor } from "../../src/market/service.ts";
import { suggestPrice, TYPICAL_JOB_TOKENS } from "../../src/market/suggest.ts";
import { buildMarketSim } from "../fixtures/market-sim.ts";

const sim = buildMarketSim();
const report = aggregate(
  sim.events.map((e) => toRecord(e, sim.now)).filter((r): r is MarketRecord => r !== null),
  { now: sim.now, since: sim.since, me: sim.me.pubkey, myModels: sim.myModels },
);
const llama = report.prices.find((p) => p.model === "llama3.2:3b")!;
const current = { perJobMsats: 10_000, per1kTokensMsats: 0 };
/** A benchmark that makes a typical job take `secs`. */
const bench = (secs: number) => ({ model: "llama3.2:3b", machine: "m", at: 0, ttftMs: 0, tokensPerSec: TYPICAL_JOB_TOKENS / secs, concurrency: 1, tokensPerSecConcurrent: 0, jobsPerHour: 0, maxTokens: 2048, backend: null });

test("the same model: the others' median, nudged by the square root of how much faster we are", () => {
  expect(llama.medianPerJobMsats).toBe(sim.expected.llamaMedianMsats);
  const theirs = llama.medianResultSecs!;
  const s = suggestPrice({ model: "llama3.2:3b", report, benchmark: bench(theirs / 1.96), floorMsats: 0, current });
  expect(s.basis).toBe("model");
  expect(s.providers).toBe(sim.expected.llamaProviders);
  expect(s.speedRatio).toBeCloseTo(1.96, 2);
  expect(s.perJobMsats).toBe(Math.ceil((sim.expected.llamaMedianMsats * 1.4) / 1000) * 1000);
  expect(s.reason).toBe(`Median of 3 providers serving llama3.2:3b is 25 sats/job; you are 2.0× faster than their median: 35 sats.`);
  // Slower: cheaper, but never below half a square root step (factor bounds).
  const slow = suggestPrice({ model: "llama3.2:3b", report, benchmark: bench(theirs * 100), floorMsats: 0, current });
  expect(slow.perJobMsats).toBe(Math.ceil((25_000 * Math.SQRT1_2) / 1000) * 1000);
  expect(slow.reason).toContain("slower");
});

test("never below the owner's floor; no benchmark says so; nothing is applied", () => {
  const s = suggestPrice({ model: "llama3.2:3b", report, benchmark: null, floorMsats: 40_000, current });
  expect(s.perJobMsats).toBe(40_000);
  expect(s.reason).toBe("Median of 3 providers serving llama3.2:3b is 25 sats/job; no benchmark yet (run compute benchmark): 25 sats, raised to your floor of 40 sats.");
  expect(s.currentPerJobMsats).toBe(10_000);
});

test("no one serves the model: the same size class; nothing seen: keep the current price (or the floor)", () => {
  const cls = suggestPrice({ model: "phi3:3.8b", report, benchmark: null, floorMsats: 0, current });
  expect(cls.basis).toBe("size-class");
  expect(cls.sizeClass).toBe("small");
  expect(cls.marketPerJobMsats).toBe(25_000);
  expect(cls.reason).toContain("small (2-5B) models (no one serves phi3:3.8b)");
  const none = suggestPrice({ model: "llama3.1:70b", report, benchmark: null, floorMsats: 12_000, current });
  expect(none.basis).toBe("none");
  expect(none.perJobMsats).toBe(12_000);
  expect(none.reason).toBe("No prices seen for llama3.1:70b or other huge (50B and more) models yet: keep 12 sats/job (your floor).");
});

test("suggestionFor: the owner's per-model price and the benchmark are found under any spelling of the model", () => {
  const config = ConfigSchema.parse({ pricing: { mode: "upfront", perJobMsats: 10_000, models: { Phi3: { perJobMsats: 30_000 } } } });
  expect(suggestionFor("phi3:latest", report, [], config).currentPerJobMsats).toBe(30_000);
  const s = suggestionFor("llama3.2:3b", report, [{ ...bench(1), model: "LLAMA3.2:3b" }], config);
  expect(s.currentPerJobMsats).toBe(10_000);
  expect(s.speedRatio).not.toBeNull();
});
