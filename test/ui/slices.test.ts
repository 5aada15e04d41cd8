// The computed slices of ui/state.ts: a reader of one part of the snapshot hears of a change to that
// part only. Panels read these (test below), so a token streaming into a running job redraws the
// jobs, not the wallet, provider, network or earnings panels.
import { effect } from "@preact/signals";
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import type { JobView } from "../../src/jobs/events.ts";
import type { RelayView } from "../../src/nostr/events.ts";
import type { Snapshot } from "../../src/server/snapshot.ts";
import type { StreamPayloads, StreamType } from "../../ui/events.ts";
import {
  activeCount,
  activeJobs,
  applyEvent,
  benchmarks,
  market,
  marketReport,
  identityState,
  initialUiState,
  jobs,
  provider,
  relays,
  relaysUp,
  servedCount,
  ui,
  wallet,
  type StreamEvent,
} from "../../ui/state.ts";

const T0 = 1_700_000_000_000;
const job = (id: string, over: Partial<JobView> = {}): JobView => ({
  id,
  kind: 5050,
  customer: "c".repeat(64),
  model: "m",
  status: "processing",
  promptPreview: "hi",
  tokens: 0,
  tokensPerSec: null,
  amountMsats: null,
  bolt11: null,
  error: null,
  encrypted: false,
  createdAt: T0,
  updatedAt: T0,
  ...over,
});
const relay = (url: string, state: RelayView["state"], latencyMs: number | null = null): RelayView => ({ url, state, latencyMs, error: null, since: T0 });
const snapshot = (): Snapshot => ({
  version: "0.1.0",
  identity: { state: "unlocked", npub: "npub1xyz" },
  provider: { online: true, blockers: [], paymentMode: "upfront", perJobMsats: 1_000, per1kTokensMsats: 0, announcementId: null },
  wallet: { state: "ready", network: "regtest", balanceSats: 100, lightningAddress: null, message: null },
  earnings: { todaySats: 0, todayJobs: 0, weekSats: 0, weekJobs: 0, allSats: 0, allJobs: 0, days: [], byModel: [] },
  jobs: [job("a")],
  ollama: { url: "http://127.0.0.1:11434", reachable: true, version: "0.5.7", error: null },
  models: [{ name: "m", family: null, parameterSize: null, quantization: null, sizeBytes: 1, served: true }],
  relays: [relay("wss://a", "connected", 50), relay("wss://b", "connecting")],
});
const ev = <K extends StreamType>(type: K, properties: StreamPayloads[K]) => ({ type, properties }) as StreamEvent;
const fold = (e: StreamEvent) => (ui.value = applyEvent(ui.value!, e));

/** How many times an effect reading `read()` ran (the first run included). */
function runs(read: () => unknown): { count: number; stop: () => void } {
  const r = { count: 0, stop: () => {} };
  r.stop = effect(() => {
    read();
    r.count++;
  });
  return r;
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
  ui.value = null;
  market.value = null;
});

test("a running job's tokens reach the job slices only", () => {
  ui.value = initialUiState(snapshot());
  const w = runs(() => wallet.value);
  const p = runs(() => provider.value);
  const active = runs(() => activeCount.value);
  const up = runs(() => relaysUp.value);
  const served = runs(() => servedCount.value);
  const list = runs(() => activeJobs.value);
  stops.push(w.stop, p.stop, active.stop, up.stop, served.stop, list.stop);
  const before = wallet.value;
  for (let n = 1; n <= 20; n++) fold(ev("job.progress.updated", { id: "a", tokens: n, tokensPerSec: 10, preview: "x".repeat(n) }));
  expect(jobs.value[0]!.tokens).toBe(20);
  expect(list.count).toBe(21);
  expect(wallet.value).toBe(before);
  expect([w.count, p.count, active.count, up.count, served.count]).toEqual([1, 1, 1, 1, 1]);
  // A second job arriving moves the count; the wallet still hears nothing.
  fold(ev("job.status.changed", { job: job("b", { status: "queued", createdAt: T0 + 1 }) }));
  expect([active.count, activeCount.value, w.count]).toEqual([2, 2, 1]);
});

test("a relay's latency reaches the relay list, not its count; a drop reaches both", () => {
  ui.value = initialUiState(snapshot());
  const list = runs(() => relays.value);
  const up = runs(() => relaysUp.value);
  stops.push(list.stop, up.stop);
  fold(ev("relay.status.changed", { relay: relay("wss://a", "connected", 80) }));
  expect([list.count, up.count, relaysUp.value]).toEqual([2, 1, 1]);
  fold(ev("relay.status.changed", { relay: relay("wss://a", "disconnected") }));
  expect([list.count, up.count, relaysUp.value]).toEqual([3, 2, 0]);
});

test("identityState is null before the first snapshot and follows identity.state.changed", () => {
  expect(identityState.value).toBeNull();
  ui.value = initialUiState(snapshot());
  const id = runs(() => identityState.value);
  stops.push(id.stop);
  fold(ev("wallet.status.changed", { wallet: { ...snapshot().wallet, balanceSats: 5 } }));
  expect(id.count).toBe(1);
  fold(ev("identity.state.changed", { identity: { state: "locked", npub: "npub1xyz" } }));
  expect([identityState.value, id.count]).toEqual(["locked", 2]);
});

test("components read slices, never the whole state", async () => {
  const dir = join(import.meta.dir, "../../ui/components");
  const readers: string[] = [];
  for await (const f of new Bun.Glob("*.ts").scan(dir)) {
    const text = await Bun.file(join(dir, f)).text();
    if (/\bui\.(value|peek\(\))/.test(text)) readers.push(f);
  }
  expect(readers).toEqual([]);
});

test("the market slices: the last benchmark per model; a token streaming into a job leaves them alone", () => {
  ui.value = initialUiState(snapshot());
  const bench = (model: string, at: number, tokensPerSec: number) => ({ model, machine: "x", at, ttftMs: 100, tokensPerSec, concurrency: 1, tokensPerSecConcurrent: tokensPerSec, jobsPerHour: 60, maxTokens: 1024, backend: null });
  expect(benchmarks.value).toEqual({});
  expect(marketReport.value).toBeNull();
  market.value = {
    report: {} as never,
    suggestions: [],
    reader: null,
    current: { perJobMsats: 1_000, per1kTokensMsats: 0, floorMsats: 0, models: {} },
    benchmarks: [bench("a", T0 + 5, 20), bench("a", T0 + 9, 30), bench("a", T0 + 1, 10), bench("b", T0, 7)],
  };
  expect(Object.fromEntries(Object.entries(benchmarks.value).map(([m, b]) => [m, b.tokensPerSec]))).toEqual({ a: 30, b: 7 });
  const r = runs(() => benchmarks.value);
  stops.push(r.stop);
  fold(ev("job.progress.updated", { id: "a", tokens: 5, tokensPerSec: 10, preview: "x" }));
  expect(r.count).toBe(1);
});
