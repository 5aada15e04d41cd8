// The engine's per-request work against an in-process pool that records every subscription and
// publish: the NIP-09 cancel watch (one kind 5 subscription on the ids of the held jobs, updated at
// most once per 250 ms window and only when a job joins the set, so REQs can be counted), and the
// seen marks that make a request arriving through several relays count once.
import { afterEach, describe, expect, test } from "bun:test";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { ConfigSchema } from "../../src/config.ts";
import { Engine, type EngineInference, type EnginePool } from "../../src/jobs/engine.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import type { NostrEvent } from "../../src/nostr/nip90.ts";
import { until } from "./harness.ts";

interface Sub {
  filters: Array<{ kinds?: number[]; "#e"?: string[]; since?: number }>;
  onEvent(event: NostrEvent, relay: string): void;
  closed: boolean;
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

/** An engine whose generations run until the test finishes them by prompt. */
async function world(maxConcurrentJobs = 4, ledger = Ledger.open(":memory:")) {
  const subs: Sub[] = [];
  const published: NostrEvent[] = [];
  const pool: EnginePool = {
    subscribe(filters, handlers) {
      const sub: Sub = { filters: filters as Sub["filters"], onEvent: handlers.onEvent, closed: false };
      subs.push(sub);
      return { close: () => void (sub.closed = true) };
    },
    async publish(event) {
      published.push(event);
      return [{ relay: "ws://stub", ok: true, message: "" }];
    },
    async fetch() {
      return [];
    },
  };
  const running = new Map<string, () => void>();
  const inference: EngineInference = {
    servedModels: () => ["m:latest"],
    async warm() {},
    generate({ prompt, signal }) {
      return new Promise((resolve, reject) => {
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        running.set(prompt, () => resolve({ text: `answer to ${prompt}`, tokens: 3, tokensPerSec: null }));
      });
    },
  };
  const sk = generateSecretKey();
  // One customer sends every burst here: its share of the queue (tested in admission.test.ts and
  // fairness-delivery.e2e.test.ts) is lifted like its rate limit.
  const config = ConfigSchema.parse({ relays: ["ws://127.0.0.1:1"], pricing: { mode: "free" }, limits: { maxConcurrentJobs, perCustomerPerMinute: 1000, maxQueuedPerCustomer: 1000, partialIntervalMs: 100_000 } });
  const engine = new Engine({ bus: new Bus(), pool, inference, ledger, payments: null, secretKey: sk, pubkey: getPublicKey(sk), config: () => config });
  await engine.goOnline();
  stops.push(async () => {
    await engine.stop(50);
    ledger.close();
  });
  const customer = generateSecretKey();
  const requests = subs.find((s) => s.filters.some((f) => f.kinds?.includes(5050)))!;
  const cancelSubs = () => subs.filter((s) => s.filters.some((f) => f.kinds?.includes(5)));
  return {
    engine,
    ledger,
    published,
    cancelSubs,
    openCancelSub: () => cancelSubs().filter((s) => !s.closed),
    request(text: string, tags: string[][] = []): NostrEvent {
      return finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [["i", text, "text"], ...tags], content: "" }, customer) as NostrEvent;
    },
    deliver(ev: NostrEvent, relay = "ws://stub") {
      requests.onEvent(ev, relay);
    },
    send(text: string): NostrEvent {
      const ev = this.request(text);
      this.deliver(ev);
      return ev;
    },
    cancel(jobId: string): NostrEvent {
      return finalizeEvent({ kind: 5, created_at: Math.floor(Date.now() / 1000), tags: [["e", jobId], ["k", "5050"]], content: "" }, customer) as NostrEvent;
    },
    async waitRunning(prompt: string) {
      await until(() => running.has(prompt), 2000, `${prompt} running`);
    },
    finish(prompt: string) {
      running.get(prompt)!();
      running.delete(prompt);
    },
    status: (id: string) => engine.jobs().find((j) => j.id === id)?.status,
  };
}

describe("cancel watch", () => {
  test("a burst of jobs costs one kind 5 REQ, after the window, naming every held job", async () => {
    const w = await world(2);
    const events = Array.from({ length: 8 }, (_, i) => w.send(`burst ${i}`));
    await w.waitRunning("burst 0");
    // Within the window nothing is opened yet.
    expect(w.cancelSubs()).toHaveLength(0);
    await until(() => w.cancelSubs().length > 0, 1000, "cancel watch opened");
    await Bun.sleep(300);
    expect(w.cancelSubs()).toHaveLength(1);
    const filter = w.cancelSubs()[0]!.filters[0]!;
    expect(filter.kinds).toEqual([5]);
    expect([...filter["#e"]!].sort()).toEqual(events.map((e) => e.id).sort());
    // `since` reaches back past the oldest request, so a kind 5 sent before the REQ is found.
    expect(filter.since).toBeLessThanOrEqual(Math.min(...events.map((e) => e.created_at)) - 60);
  });

  test("jobs leaving the set never reopen the subscription; a job joining it does, once, without the stale ids", async () => {
    const w = await world(4);
    const a = w.send("a");
    const b = w.send("b");
    await w.waitRunning("a");
    await w.waitRunning("b");
    await until(() => w.openCancelSub().length === 1, 1000, "cancel watch opened");
    w.finish("a");
    await until(() => w.status(a.id) === "success", 1000, "a done");
    await Bun.sleep(400);
    // a left: the subscription still names it and nothing was reopened.
    expect(w.cancelSubs()).toHaveLength(1);
    const c = w.send("c");
    await w.waitRunning("c");
    await until(() => w.cancelSubs().length === 2, 1000, "reopened for c");
    await Bun.sleep(300);
    expect(w.cancelSubs()).toHaveLength(2);
    expect(w.cancelSubs()[0]!.closed).toBe(true);
    expect([...w.openCancelSub()[0]!.filters[0]!["#e"]!].sort()).toEqual([b.id, c.id].sort());
    // The last jobs end: the watch is closed, not reopened.
    w.finish("b");
    w.finish("c");
    await until(() => w.openCancelSub().length === 0, 1000, "cancel watch closed");
    expect(w.cancelSubs()).toHaveLength(2);
  });

  test("a job over within the window needs no REQ at all", async () => {
    const w = await world(4);
    const a = w.send("quick");
    await w.waitRunning("quick");
    w.finish("quick");
    await until(() => w.status(a.id) === "success", 1000, "done");
    await Bun.sleep(400);
    expect(w.cancelSubs()).toHaveLength(0);
  });

  test("a kind 5 arriving on the watch stops the job; one for a job that has ended is ignored", async () => {
    const w = await world(4);
    const a = w.send("to cancel");
    const b = w.send("done first");
    await w.waitRunning("to cancel");
    await w.waitRunning("done first");
    await until(() => w.openCancelSub().length === 1, 1000, "cancel watch opened");
    w.finish("done first");
    await until(() => w.status(b.id) === "success", 1000, "b done");
    const sub = w.openCancelSub()[0]!;
    sub.onEvent(w.cancel(b.id), "ws://stub");
    sub.onEvent(w.cancel(a.id), "ws://stub");
    await until(() => w.status(a.id) === "cancelled", 1000, "a cancelled");
    expect(w.status(b.id)).toBe("success");
    // NIP-09: the customer who cancelled hears nothing more about that job.
    await Bun.sleep(50);
    const about = (id: string) => w.published.filter((e) => e.tags.some((t) => t[0] === "e" && t[1] === id));
    expect(about(a.id).map((e) => e.tags.find((t) => t[0] === "status")?.[1])).toEqual(["processing"]);
    expect(about(b.id).filter((e) => e.kind === 6050)).toHaveLength(1);
  });
});

describe("seen requests", () => {
  const about = (published: NostrEvent[], id: string, kind: number) => published.filter((e) => e.kind === kind && e.tags.some((t) => t[0] === "e" && t[1] === id));

  test("a request taken on is recorded and marked seen together; its copy from another relay is ignored", async () => {
    const w = await world(4);
    const ev = w.request("twice");
    w.deliver(ev, "ws://one");
    w.deliver(ev, "ws://two");
    await w.waitRunning("twice");
    expect(w.ledger.isSeen(ev.id)).toBe(true);
    expect(w.ledger.getJob(ev.id)).toMatchObject({ status: "processing", relay: "ws://one" });
    w.finish("twice");
    await until(() => about(w.published, ev.id, 6050).length === 1, 1000, "result");
    w.deliver(ev, "ws://three");
    await Bun.sleep(50);
    expect(about(w.published, ev.id, 6050)).toHaveLength(1);
    expect(w.engine.jobs().filter((j) => j.id === ev.id)).toHaveLength(1);
  });

  test("a refused request is marked seen: one error feedback, however many relays bring it", async () => {
    const w = await world(4);
    const ev = w.request("bad param", [["param", "temperature", "hot"]]);
    w.deliver(ev, "ws://one");
    w.deliver(ev, "ws://two");
    await until(() => about(w.published, ev.id, 7000).length > 0, 1000, "error feedback");
    await Bun.sleep(50);
    expect(about(w.published, ev.id, 7000).map((e) => e.tags.find((t) => t[0] === "status")?.[1])).toEqual(["error"]);
    expect(w.ledger.isSeen(ev.id)).toBe(true);
    expect(w.ledger.getJob(ev.id)).toBeNull();
  });

  test("a request already in the ledger whose seen mark was pruned is not answered again, and is marked seen", async () => {
    const ledger = Ledger.open(":memory:");
    const w = await world(4, ledger);
    const ev = w.request("answered long ago");
    ledger.insertJob({ id: ev.id, kind: 5050, customer: ev.pubkey, requestJson: JSON.stringify(ev), status: "success", createdAt: Date.now() - 3 * 24 * 3600_000 });
    expect(ledger.isSeen(ev.id)).toBe(false);
    w.deliver(ev);
    await until(() => ledger.isSeen(ev.id), 1000, "marked seen");
    await Bun.sleep(50);
    expect(about(w.published, ev.id, 7000)).toEqual([]);
    expect(about(w.published, ev.id, 6050)).toEqual([]);
    expect(ledger.getJob(ev.id)?.status).toBe("success");
  });
});
