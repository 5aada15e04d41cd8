// The sentinel counts GPU time per local day in the ledger (gpu_usage): the time at least one job
// is generating (from a job's first token, its first progress, to its end; jobs generating at once
// count their shared time once), written with the next periodic check and at stop (not one commit
// per job), read back by a later sentinel (a restart).
import { expect, test } from "bun:test";
import { Bus } from "../../src/bus.ts";
import { ConfigSchema } from "../../src/config.ts";
import { JobProgress, JobStatusChanged, type JobView } from "../../src/jobs/events.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { localDateKey } from "../../src/service/schedule.ts";
import { Sentinel } from "../../src/service/sentinel.ts";

function setUp() {
  const ledger = Ledger.open(":memory:");
  const bus = new Bus();
  const config = ConfigSchema.parse({});
  const clock = { now: new Date(2026, 2, 10, 12, 0, 0).getTime() };
  const make = () =>
    new Sentinel({
      bus,
      config: () => config,
      earnedToday: () => ({ jobs: 0, sats: 0 }),
      gpu: { ms: (day) => ledger.gpuMs(day), add: (day, ms) => ledger.addGpuMs(day, ms) },
      servedModels: () => [],
      ollamaUrl: () => config.ollamaUrl,
      onChange: () => {},
      now: () => clock.now,
      probeMs: 3_600_000,
    });
  const job = (id: string, status: JobView["status"]): JobView => ({
    id, kind: 5050, customer: "c".repeat(64), model: null, status, promptPreview: "", tokens: 0, tokensPerSec: null,
    amountMsats: null, bolt11: null, error: null, encrypted: false, createdAt: clock.now, updatedAt: clock.now,
  });
  const firstToken = (id: string) => bus.publish(JobProgress, { id, tokens: 1, tokensPerSec: null, preview: "" });
  const status = (id: string, s: JobView["status"]) => bus.publish(JobStatusChanged, { job: job(id, s) });
  return { ledger, bus, clock, make, job, firstToken, status, day: localDateKey(clock.now) };
}

test("GPU time of finished jobs is kept per day in the ledger and survives a new sentinel", () => {
  const { ledger, bus, clock, make, job, firstToken, day } = setUp();
  const first = make();
  first.start();
  try {
    bus.publish(JobStatusChanged, { job: job("a", "processing") });
    // Waiting at the model server (behind another job) before its first token: not GPU time.
    clock.now += 30_000;
    expect(first.usage().gpuMs).toBe(0);
    firstToken("a");
    clock.now += 90_000;
    expect(first.usage().gpuMs).toBe(90_000); // running: counted live, not stored yet
    expect(ledger.gpuMs(day)).toBe(0);
    bus.publish(JobStatusChanged, { job: job("a", "success") });
    bus.publish(JobStatusChanged, { job: job("b", "processing") });
    firstToken("b");
    clock.now += 10_000;
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

test("two jobs generating at once (a model server running requests in parallel) count their shared time once", () => {
  const { ledger, clock, make, firstToken, status, day } = setUp();
  const sentinel = make();
  sentinel.start();
  try {
    status("a", "processing");
    status("b", "processing");
    firstToken("a");
    clock.now += 20_000; // a alone
    firstToken("b");
    clock.now += 30_000; // both
    expect(sentinel.usage().gpuMs).toBe(50_000);
    status("a", "success");
    clock.now += 10_000; // b alone
    status("b", "success");
    expect(sentinel.usage().gpuMs).toBe(60_000);
    clock.now += 60_000; // nothing generating: no time counted
    expect(sentinel.usage().gpuMs).toBe(60_000);
  } finally {
    sentinel.stop();
  }
  expect(ledger.gpuMs(day)).toBe(60_000);
  ledger.close();
});

test("busy without a pause: the periodic write stores the time so far (a crash loses at most one period)", () => {
  const { ledger, clock, make, firstToken, status, day } = setUp();
  const sentinel = make();
  sentinel.start();
  try {
    status("a", "processing");
    firstToken("a");
    clock.now += 40_000;
    status("b", "processing");
    firstToken("b");
    status("a", "success"); // b still generating: the busy stretch goes on
    clock.now += 5_000;
    (sentinel as unknown as { saveGpu(): void }).saveGpu();
    expect(ledger.gpuMs(day)).toBe(45_000);
    clock.now += 15_000;
    expect(sentinel.usage().gpuMs).toBe(60_000);
    status("b", "success");
  } finally {
    sentinel.stop();
  }
  expect(ledger.gpuMs(day)).toBe(60_000);
  ledger.close();
});
