// The sentinel counts GPU time per local day in the ledger (gpu_usage): a job's time from its
// first token (its first progress) to its end, counted when it ends, written with the next periodic check and at stop
// (not one commit per job), read back by a later sentinel (a restart).
import { expect, test } from "bun:test";
import { Bus } from "../../src/bus.ts";
import { ConfigSchema } from "../../src/config.ts";
import { JobProgress, JobStatusChanged, type JobView } from "../../src/jobs/events.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { localDateKey } from "../../src/service/schedule.ts";
import { Sentinel } from "../../src/service/sentinel.ts";

test("GPU time of finished jobs is kept per day in the ledger and survives a new sentinel", () => {
  const ledger = Ledger.open(":memory:");
  const bus = new Bus();
  const config = ConfigSchema.parse({});
  let now = new Date(2026, 2, 10, 12, 0, 0).getTime();
  const make = () =>
    new Sentinel({
      bus,
      config: () => config,
      earnedToday: () => ({ jobs: 0, sats: 0 }),
      gpu: { ms: (day) => ledger.gpuMs(day), add: (day, ms) => ledger.addGpuMs(day, ms) },
      servedModels: () => [],
      ollamaUrl: () => config.ollamaUrl,
      onChange: () => {},
      now: () => now,
      probeMs: 3_600_000,
    });
  const job = (id: string, status: JobView["status"]): JobView => ({
    id, kind: 5050, customer: "c".repeat(64), model: null, status, promptPreview: "", tokens: 0, tokensPerSec: null,
    amountMsats: null, bolt11: null, error: null, encrypted: false, createdAt: now, updatedAt: now,
  });
  const day = localDateKey(now);
  const first = make();
  first.start();
  try {
    const firstToken = (id: string) => bus.publish(JobProgress, { id, tokens: 1, tokensPerSec: null, preview: "" });
    bus.publish(JobStatusChanged, { job: job("a", "processing") });
    // Waiting at the model server (behind another job) before its first token: not GPU time.
    now += 30_000;
    expect(first.usage().gpuMs).toBe(0);
    firstToken("a");
    now += 90_000;
    expect(first.usage().gpuMs).toBe(90_000); // running: counted live, not stored yet
    expect(ledger.gpuMs(day)).toBe(0);
    bus.publish(JobStatusChanged, { job: job("a", "success") });
    bus.publish(JobStatusChanged, { job: job("b", "processing") });
    firstToken("b");
    now += 10_000;
    // Later progress doesn't restart the clock.
    firstToken("b");
    bus.publish(JobStatusChanged, { job: job("b", "error") });
    // Counted at once, written later: no ledger commit per finished job.
    expect(first.usage().gpuMs).toBe(100_000);
    expect(ledger.gpuMs(day)).toBe(0);
  } finally {
    first.stop();
  }
  // Stopping writes what was counted.
  expect(ledger.gpuMs(day)).toBe(100_000);
  const second = make();
  expect(second.usage().gpuMs).toBe(100_000);
  ledger.close();
});
