import { describe, expect, test } from "bun:test";
import type { JobView } from "../../src/jobs/events.ts";
import type { RelayView } from "../../src/nostr/events.ts";
import type { Snapshot } from "../../src/server/snapshot.ts";
import type { StreamPayloads, StreamType } from "../../ui/events.ts";
import { applyEvent, initialUiState, MAX_JOBS, parseStreamData, replaceSnapshot, sortJobs, Sync, type StreamEvent, type UiState } from "../../ui/state.ts";

const T0 = 1_700_000_000_000;

function job(id: string, over: Partial<JobView> = {}): JobView {
  return {
    id,
    kind: 5050,
    customer: "c".repeat(64),
    model: "llama3.2:3b",
    status: "processing",
    promptPreview: "hi",
    tokens: 0,
    tokensPerSec: null,
    amountMsats: 10_000,
    bolt11: null,
    error: null,
    encrypted: false,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    version: "0.1.0",
    identity: { state: "unlocked", npub: "npub1xyz" },
    provider: { online: false, blockers: [], paymentMode: "upfront", perJobMsats: 10_000, per1kTokensMsats: 0, announcementId: null },
    wallet: { state: "ready", network: "regtest", balanceSats: 100, lightningAddress: null, message: null },
    earnings: { todaySats: 0, todayJobs: 0, weekSats: 0, weekJobs: 0, allSats: 0, allJobs: 0, days: [], byModel: [] },
    jobs: [],
    ollama: { url: "http://127.0.0.1:11434", reachable: true, version: "0.5.7", error: null },
    models: [],
    relays: [],
    ...over,
  };
}

// Payloads typed by the server's event schemas (ui/events.ts): a test can't fold a shape the server never sends.
const ev = <K extends StreamType>(type: K, properties: StreamPayloads[K]): StreamEvent => ({ type, properties }) as StreamEvent;
/** A type this page does not know (a newer server's). */
const unknownEv = (type: string, properties: Record<string, unknown>) => ({ type, properties }) as unknown as StreamEvent;

describe("parseStreamData", () => {
  test("accepts {type, properties} and defaults missing properties to {}", () => {
    expect(parseStreamData(JSON.stringify({ type: "server.heartbeat" }))).toEqual({ type: "server.heartbeat", properties: {} });
    expect(parseStreamData('{"type":"a.b.c","properties":{"x":1}}')).toEqual(unknownEv("a.b.c", { x: 1 }));
  });
  test("rejects what is not an event", () => {
    for (const bad of ["", "not json", "[]", "null", '{"properties":{}}', '{"type":1}', '{"type":"x","properties":[1]}', '{"type":"x","properties":"s"}']) {
      expect(parseStreamData(bad)).toBeNull();
    }
    expect(parseStreamData(42)).toBeNull();
  });
});

describe("applyEvent: jobs", () => {
  test("job.status.changed inserts a new job and replaces a known one", () => {
    let s = initialUiState(snapshot());
    s = applyEvent(s, ev("job.status.changed", { job: job("a", { status: "queued" }) }));
    expect(s.snapshot.jobs.map((j) => [j.id, j.status])).toEqual([["a", "queued"]]);
    s = applyEvent(s, ev("job.status.changed", { job: job("a", { status: "processing" }) }));
    expect(s.snapshot.jobs.map((j) => [j.id, j.status])).toEqual([["a", "processing"]]);
  });

  test("job.progress.updated sets tokens, speed and the preview; ignores unknown ids and going backwards", () => {
    let s = initialUiState(snapshot({ jobs: [job("a", { tokens: 5 })] }));
    s = applyEvent(s, ev("job.progress.updated", { id: "a", tokens: 40, tokensPerSec: 31.5, preview: "Once upon" }), T0 + 5);
    expect(s.snapshot.jobs[0]).toMatchObject({ tokens: 40, tokensPerSec: 31.5, updatedAt: T0 + 5 });
    expect(s.previews.a).toBe("Once upon");
    const same = applyEvent(s, ev("job.progress.updated", { id: "a", tokens: 39, tokensPerSec: 1, preview: "x" }));
    expect(same).toBe(s);
    expect(applyEvent(s, ev("job.progress.updated", { id: "zzz", tokens: 99, tokensPerSec: 1, preview: "" }))).toBe(s);
    // A null speed keeps the last known one.
    s = applyEvent(s, ev("job.progress.updated", { id: "a", tokens: 41, tokensPerSec: null, preview: "Once upon a" }));
    expect(s.snapshot.jobs[0]!.tokensPerSec).toBe(31.5);
  });

  test("sortJobs: active oldest first, then finished newest first, capped", () => {
    const jobs = [
      job("done-old", { status: "success", updatedAt: T0 + 1 }),
      job("run", { status: "processing", createdAt: T0 + 5 }),
      job("wait", { status: "payment-required", createdAt: T0 + 2 }),
      job("done-new", { status: "error", updatedAt: T0 + 9 }),
    ];
    expect(sortJobs(jobs).map((j) => j.id)).toEqual(["wait", "run", "done-new", "done-old"]);
    const many = Array.from({ length: 70 }, (_, i) => job(`f${i}`, { status: "success", updatedAt: T0 + i }));
    const sorted = sortJobs([...many, job("live", { status: "queued" })]);
    expect(sorted.length).toBe(MAX_JOBS);
    expect(sorted[0]!.id).toBe("live");
    expect(sorted[1]!.id).toBe("f69");
  });

  test("previews of jobs that fell off the list are dropped", () => {
    const many = Array.from({ length: MAX_JOBS }, (_, i) => job(`f${i}`, { status: "success", updatedAt: T0 + 100 + i }));
    let s: UiState = { ...initialUiState(snapshot({ jobs: [job("old", { status: "success", updatedAt: T0 }), ...many.slice(0, MAX_JOBS - 1)] })), previews: { old: "text" } };
    s = applyEvent(s, ev("job.status.changed", { job: job("new", { status: "success", updatedAt: T0 + 999 }) }));
    expect(s.snapshot.jobs.some((j) => j.id === "old")).toBe(false);
    expect(s.previews.old).toBeUndefined();
  });
});

describe("applyEvent: everything else", () => {
  test("relay.status.changed upserts by url; relay.list.changed replaces", () => {
    const r = (url: string, state: RelayView["state"], latencyMs: number | null = null): RelayView => ({ url, state, latencyMs, error: null, since: T0 });
    let s = initialUiState(snapshot({ relays: [r("wss://a", "connecting")] }));
    s = applyEvent(s, ev("relay.status.changed", { relay: r("wss://a", "connected", 80) }));
    s = applyEvent(s, ev("relay.status.changed", { relay: r("wss://b", "failed") }));
    expect(s.snapshot.relays.map((x) => [x.url, x.state, x.latencyMs])).toEqual([
      ["wss://a", "connected", 80],
      ["wss://b", "failed", null],
    ]);
    s = applyEvent(s, ev("relay.list.changed", { relays: [r("wss://c", "connecting")] }));
    expect(s.snapshot.relays.map((x) => x.url)).toEqual(["wss://c"]);
  });

  test("whole-view events replace their part of the snapshot", () => {
    const s0 = initialUiState(snapshot());
    const provider = { ...s0.snapshot.provider, online: true, blockers: [] };
    expect(applyEvent(s0, ev("provider.state.changed", { provider })).snapshot.provider.online).toBe(true);
    const wallet = { ...s0.snapshot.wallet, balanceSats: 777 };
    expect(applyEvent(s0, ev("wallet.status.changed", { wallet })).snapshot.wallet.balanceSats).toBe(777);
    const identity = { state: "locked" as const, npub: "npub1xyz" };
    expect(applyEvent(s0, ev("identity.state.changed", { identity })).snapshot.identity.state).toBe("locked");
    const ollama = { ...s0.snapshot.ollama, reachable: false, error: "down" };
    expect(applyEvent(s0, ev("ollama.status.changed", { ollama })).snapshot.ollama.reachable).toBe(false);
    const models = [{ name: "m", family: null, parameterSize: null, quantization: null, sizeBytes: 1, served: true }];
    expect(applyEvent(s0, ev("ollama.models.changed", { models })).snapshot.models).toEqual(models);
    const earnings = { ...s0.snapshot.earnings, todaySats: 42, days: [{ date: "2025-01-01", sats: 42, jobs: 1 }] };
    expect(applyEvent(s0, ev("earnings.totals.changed", { earnings })).snapshot.earnings.todaySats).toBe(42);
  });

  test("pull progress and payments are kept beside the snapshot", () => {
    let s = initialUiState(snapshot());
    s = applyEvent(s, ev("ollama.pull.progress", { model: "phi3", status: "pulling", total: 100, completed: 25, done: false, error: null }), T0);
    expect(s.pulls.phi3).toEqual({ model: "phi3", status: "pulling", total: 100, completed: 25, done: false, error: null, at: T0 });
    s = applyEvent(s, ev("ollama.pull.progress", { model: "phi3", status: "error", total: null, completed: null, done: true, error: "no such model" }), T0 + 1);
    expect(s.pulls.phi3).toMatchObject({ done: true, error: "no such model", total: null });
    s = applyEvent(s, ev("wallet.payment.received", { paymentId: "p1", amountMsats: 21_000, jobId: null }), T0 + 2);
    expect(s.lastPayment).toEqual({ paymentId: "p1", amountMsats: 21_000, jobId: null, at: T0 + 2 });
  });

  // Payloads are the server's, typed by its event schemas (ui/events.ts); the frame is checked in
  // parseStreamData. What is left to fold safely is a type this page does not know.
  test("unknown types and the server's own frames leave the state untouched (same object)", () => {
    const s = initialUiState(snapshot({ jobs: [job("a")] }));
    for (const e of [unknownEv("something.new", { x: 1 }), unknownEv("job.status.removed", { id: "a" }), ev("server.heartbeat", {}), ev("server.connected", {})]) {
      expect(applyEvent(s, e)).toBe(s);
    }
  });
});

describe("replaceSnapshot", () => {
  test("keeps previews only for jobs still present and sorts jobs", () => {
    const prev: UiState = { ...initialUiState(snapshot({ jobs: [job("a"), job("b")] })), previews: { a: "x", b: "y" } };
    const next = replaceSnapshot(prev, snapshot({ jobs: [job("b", { status: "success" }), job("c", { status: "queued" })] }));
    expect(next.previews).toEqual({ b: "y" });
    expect(next.snapshot.jobs.map((j) => j.id)).toEqual(["c", "b"]);
  });
});

describe("Sync", () => {
  function deferred<T>() {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  }

  test("events that arrive while the snapshot is being fetched are replayed on top of it", async () => {
    const pending = deferred<Snapshot>();
    const seen: (UiState | null)[] = [];
    const sync = new Sync(() => pending.promise, (s) => seen.push(s));
    sync.handle(ev("server.connected", {}));
    sync.handle(ev("job.status.changed", { job: job("a", { status: "queued" }) }));
    sync.handle(ev("job.status.changed", { job: job("a", { status: "processing" }) }));
    expect(seen).toEqual([]); // nothing to show before the snapshot
    pending.resolve(snapshot({ jobs: [job("a", { status: "received" })] }));
    await pending.promise;
    await Bun.sleep(0);
    expect(sync.state!.snapshot.jobs[0]!.status).toBe("processing");
    expect(seen.length).toBe(1);
    // After the sync, events apply at once.
    sync.handle(ev("job.progress.updated", { id: "a", tokens: 3, tokensPerSec: 1, preview: "" }));
    expect(sync.state!.snapshot.jobs[0]!.tokens).toBe(3);
    expect(seen.length).toBe(2);
  });

  test("a reconnect re-fetches; a superseded fetch is ignored", async () => {
    const first = deferred<Snapshot>();
    const second = deferred<Snapshot>();
    const fetches = [first, second];
    const sync = new Sync(() => fetches.shift()!.promise, () => {});
    sync.handle(ev("server.connected", {}));
    sync.handle(ev("server.connected", {}));
    second.resolve(snapshot({ version: "new" }));
    await Bun.sleep(0);
    first.resolve(snapshot({ version: "old" }));
    await Bun.sleep(0);
    expect(sync.state!.snapshot.version).toBe("new");
  });

  test("a failed fetch reports the error and folds held events into the state it has", async () => {
    let fail = false;
    const gate = deferred<void>();
    const errors: unknown[] = [];
    const sync = new Sync(
      async () => {
        if (fail) {
          await gate.promise;
          throw new Error("offline");
        }
        return snapshot();
      },
      () => {},
      (e) => errors.push(e),
    );
    await sync.resync();
    fail = true;
    const p = sync.resync();
    sync.handle(ev("wallet.status.changed", { wallet: { ...snapshot().wallet, balanceSats: 5 } }));
    expect(sync.state!.snapshot.wallet.balanceSats).toBe(100); // held while syncing
    gate.resolve();
    await p;
    expect(errors.map(String)).toEqual(["Error: offline"]);
    expect(sync.state!.snapshot.wallet.balanceSats).toBe(5);
  });

  test("heartbeats change nothing", async () => {
    let changes = 0;
    const sync = new Sync(async () => snapshot(), () => changes++);
    await sync.resync();
    sync.handle(ev("server.heartbeat", {}));
    expect(changes).toBe(1);
  });
});
