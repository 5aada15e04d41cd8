// scripts/ui-dev.ts's mock of GET /api/market and POST /api/models/benchmark (for UI development):
// the same shapes as the real routes, prices suggested by the real src/market/suggest.ts (so the
// owner's floor holds), the benchmark refused while jobs run as the real one is.
import { expect, test } from "bun:test";
import { MockApp } from "../../scripts/ui-dev-mock.ts";

const call = (app: MockApp, method: string, path: string, body: Record<string, unknown> = {}) => app.handle(new Request(`http://127.0.0.1${path}`, { method }), body);

test("the dashboard scenario's market: other providers and us ranked, demand, a suggestion per served model, a benchmark", async () => {
  const app = new MockApp("dashboard");
  try {
    const m = (await call(app, "GET", "/api/market")) as ReturnType<MockApp["market"]>;
    const served = app.state.models.filter((x) => x.served).map((x) => x.name);
    expect(m.suggestions.map((s) => s.model)).toEqual(served);
    expect(m.report.providers.filter((p) => p.me)).toHaveLength(1);
    expect(m.report.myRank).toBe(m.report.providers.findIndex((p) => p.me) + 1);
    expect(m.report.demand.answered).toBeLessThanOrEqual(m.report.demand.requests);
    expect(m.benchmarks.map((b) => b.model)).toEqual(["llama3.2:3b"]);
    // A floor above every market price: each suggestion is at least the floor.
    await call(app, "PUT", "/api/settings", { pricing: { floorMsats: 500_000 } });
    const floored = (await call(app, "GET", "/api/market")) as ReturnType<MockApp["market"]>;
    expect(floored.current.floorMsats).toBe(500_000);
    for (const s of floored.suggestions) expect(s.perJobMsats).toBeGreaterThanOrEqual(500_000);
  } finally {
    app.stop();
  }
});

test("the mock benchmark: refused while jobs run, then measured and kept; a model not served is not found", async () => {
  const app = new MockApp("dashboard");
  try {
    await expect(call(app, "POST", "/api/models/benchmark", { model: "qwen2.5:7b" })).rejects.toThrow(/jobs are running/);
    await expect(call(app, "POST", "/api/models/benchmark", { model: "mistral:7b-instruct" })).rejects.toThrow(/not a served model/);
    app.state.jobs = app.state.jobs.filter((j) => !["processing", "queued", "paid"].includes(j.status));
    const b = (await call(app, "POST", "/api/models/benchmark", { model: "qwen2.5:7b" })) as { tokensPerSec: number; jobsPerHour: number };
    expect(b.tokensPerSec).toBeGreaterThan(0);
    expect(b.jobsPerHour).toBeGreaterThan(0);
    const m = (await call(app, "GET", "/api/market")) as ReturnType<MockApp["market"]>;
    expect(m.benchmarks.map((x) => x.model).sort()).toEqual(["llama3.2:3b", "qwen2.5:7b"]);
  } finally {
    app.stop();
  }
}, 10_000);
