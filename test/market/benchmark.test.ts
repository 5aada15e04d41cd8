// The benchmark through the real inference layer (Router → Ollama backend) against the paced
// Ollama test server, whose rate and first-token delay are known: the measured figures must land
// near them. And it is refused while jobs run.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus } from "../../src/bus.ts";
import { ConfigSchema } from "../../src/config.ts";
import { Router } from "../../src/inference/router.ts";
import { BENCH_TOKENS, runBenchmark } from "../../src/market/benchmark.ts";
import { MarketService } from "../../src/market/service.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";

const RATE = 40;
const TTFT = 150;
let ollama: FakeOllama;
let router: Router;

beforeAll(async () => {
  ollama = await startOllamaServer({ tokensPerSec: RATE, timeToFirstTokenMs: TTFT, responseTokens: 500, numParallel: 2, models: [{ name: "llama3.2:3b", parameterSize: "3.2B" }] });
  router = new Router({ backends: [{ name: "local", type: "ollama", url: ollama.url, maxConcurrent: 2 }], aliases: {}, bus: new Bus(), servedModels: null });
  await router.refresh();
});
afterAll(async () => {
  router.stop();
  await ollama.stop();
});

test("measured tokens/s, first-token time and capacity match the paced server within a tolerance", async () => {
  expect(router.servedModels()).toEqual(["llama3.2:3b"]);
  const r = await runBenchmark({ generate: (p) => router.generate(p), model: "llama3.2:3b", concurrency: 2, defaultMaxTokens: 1000, benchTokens: 24, prompts: ["one two", "three four"] });
  expect(r.tokensPerSec).toBeGreaterThan(RATE * 0.75);
  expect(r.tokensPerSec).toBeLessThan(RATE * 1.25);
  expect(r.ttftMs).toBeGreaterThanOrEqual(TTFT * 0.9);
  expect(r.ttftMs).toBeLessThan(TTFT + 400);
  // Two streams at once on a server running two in parallel: twice the rate.
  expect(r.concurrency).toBe(2);
  expect(r.tokensPerSecConcurrent).toBeGreaterThan(RATE * 2 * 0.75);
  expect(r.tokensPerSecConcurrent).toBeLessThan(RATE * 2 * 1.25);
  // The server's own capacity: two at once, each 150 ms + 1000 tokens at 40/s ≈ 286 jobs/hour.
  const known = (2 * 3600) / (TTFT / 1000 + 1000 / RATE);
  expect(r.jobsPerHour).toBeGreaterThan(known * 0.8);
  expect(r.jobsPerHour).toBeLessThan(known * 1.25);
  expect(BENCH_TOKENS).toBeGreaterThan(0);
}, 60_000);

test("the benchmark is refused while jobs run, and kept per model and machine when it runs", async () => {
  let running = 1;
  const dir = mkdtempSync(join(tmpdir(), "bench-"));
  const config = ConfigSchema.parse({ limits: { maxTokensCap: 100 } });
  const svc = new MarketService({
    dataDir: dir,
    config: () => config,
    pubkey: () => null,
    servedModels: () => router.servedModels(),
    generate: (p) => router.generate(p),
    concurrency: () => 1,
    jobsRunning: () => running,
  });
  try {
    await expect(svc.benchmark("llama3.2:3b")).rejects.toThrow(/1 job is running/);
    await expect(svc.benchmark("nope:1b")).rejects.toThrow(/not a served model/);
    running = 0;
    const rec = await svc.benchmark();
    expect(rec.model).toBe("llama3.2:3b");
    expect(svc.view().benchmarks.map((b) => b.model)).toEqual(["llama3.2:3b"]);
  } finally {
    svc.close();
  }
}, 60_000);
