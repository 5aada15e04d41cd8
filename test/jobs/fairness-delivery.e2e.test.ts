// The provider end to end: fairness between customers in the queue (each customer's share of it,
// limits.maxQueuedPerCustomer, and the round-robin order), and a result that reached no relay
// when it was published but was delivered later by the pool's outbox: the job's "no relay
// accepted the result" note is cleared, in memory, in the ledger and on the bus.
import { describe, expect, test } from "bun:test";
import type { Event } from "nostr-tools/pure";
import { JobStatusChanged, type JobView } from "../../src/jobs/events.ts";
import { fakeAnswer } from "../fixtures/ollama-server.ts";
import { providerSuite, until, type Provider } from "./harness.ts";

const { fake, provider, tempDir } = providerSuite();

const UNDELIVERED = "no relay accepted the result";
const prompts = () => fake.requests("/api/generate").filter((r) => r.body?.prompt).map((r) => r.body.prompt as string);
/** Short answers for the waiting jobs (num_predict), while the first one runs until cancelled. */
const SHORT = { max_tokens: 3 };
/** 30 tokens at 2 a second: a job that runs until the test lets it finish (setPacing instant). */
const SLOW = { instant: false, tokensPerSec: 2, responseTokens: 30 };

describe("fairness between customers", () => {
  test("a heavy customer is held to its share of the queue while a light one is taken, and served before the heavy one's next job", async () => {
    // The first job would run for 30 s: it holds the only slot until the operator cancels it, so
    // the queue is built without a race against the clock.
    fake.setPacing({ instant: false, tokensPerSec: 100, responseTokens: 3000 });
    const p = await provider({ config: { limits: { maxConcurrentJobs: 1, queueSize: 10, maxQueuedPerCustomer: 2 } } });
    const heavy = p.customer;
    const light = await p.newCustomer();
    const h = ["h1", "h2", "h3", "h4"].map((w, i) => heavy.request({ inputs: [[w, "text"]], params: i === 0 ? {} : SHORT }));
    await heavy.publish(h[0]!);
    await heavy.waitForStatus(h[0]!.id, "processing");
    for (const r of [h[1]!, h[2]!]) {
      await heavy.publish(r);
      await until(() => p.engine.jobs().find((j) => j.id === r.id)?.status === "queued", 3000, "queued");
    }
    // Its third waiting job is one past its share: refused with a reason it can act on, though
    // the queue has room.
    await heavy.publish(h[3]!);
    const capped = await heavy.waitForStatus(h[3]!.id, "error");
    expect(capped.extra).toBe("you already have 2 jobs waiting here (at most 2 per customer); try again when one finishes");
    expect(p.ledger.getJob(h[3]!.id)).toBeNull();
    // Another customer still gets in.
    const l1 = light.request({ inputs: [["l1", "text"]], params: SHORT });
    await light.publish(l1);
    await until(() => p.engine.jobs().find((j) => j.id === l1.id)?.status === "queued", 3000, "light job queued");
    expect(p.engine.jobs().filter((j) => j.status === "queued").map((j) => j.id)).toEqual([h[1]!.id, h[2]!.id, l1.id]);
    // The slot frees: the queue runs in turns, one job per customer per round, not in arrival
    // order (h2, h3, l1 would keep the light customer waiting behind the heavy one's burst).
    expect(p.engine.cancel(h[0]!.id)).toBe(true);
    await heavy.waitForStatus(h[0]!.id, "error");
    const answers = await Promise.all([heavy.waitForResult(h[1]!.id), heavy.waitForResult(h[2]!.id), light.waitForResult(l1.id)]);
    expect(answers.map((a) => a.content)).toEqual(["h2", "h3", "l1"].map((w) => fakeAnswer(w, { responseTokens: 3000, numPredict: 3 })));
    expect(prompts()).toEqual(["h1", "h2", "l1", "h3"]);
    expect(heavy.results(h[3]!.id)).toEqual([]);
    // With its jobs done, the heavy customer is within its share again.
    const h5 = heavy.request({ inputs: [["h5", "text"]], params: SHORT });
    await heavy.publish(h5);
    await heavy.waitForResult(h5.id);
  });

  test("a customer new to the queue waits at most one round behind a customer with many jobs", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 100, responseTokens: 3000 });
    const p = await provider({ config: { limits: { maxConcurrentJobs: 1, queueSize: 10, maxQueuedPerCustomer: 3 } } });
    const a = p.customer;
    const b = await p.newCustomer();
    const c = await p.newCustomer();
    const first = a.request({ inputs: [["a0", "text"]] });
    await a.publish(first);
    await a.waitForStatus(first.id, "processing");
    const queue = async (who: typeof a, word: string) => {
      const r = who.request({ inputs: [[word, "text"]], params: SHORT });
      await who.publish(r);
      await until(() => p.engine.jobs().find((j) => j.id === r.id)?.status === "queued", 3000, `${word} queued`);
      return r;
    };
    const waiting = [await queue(a, "a1"), await queue(a, "a2"), await queue(a, "a3"), await queue(b, "b1"), await queue(b, "b2"), await queue(c, "c1")];
    expect(p.engine.cancel(first.id)).toBe(true);
    await Promise.all(waiting.map((r) => [a, b, c].find((x) => x.pubkey === r.pubkey)!.waitForResult(r.id)));
    // Rounds: a1 b1 c1 | a2 b2 | a3.
    expect(prompts()).toEqual(["a0", "a1", "b1", "c1", "a2", "b2", "a3"]);
  });
});

describe("a result delivered late by the outbox", () => {
  /**
   * The job generating slowly (SLOW: it would take 15 s) holds its result back until both relays
   * are down and the pool has seen it; then it finishes at once and the publish gives up at its
   * deadline (3 s here). With 1.5 s of generation, a loaded machine could still be stopping the
   * relays when the result went out: a relay took it, and the undelivered note never came.
   */
  async function answeredDuringOutage(p: Provider): Promise<Event> {
    const views: JobView[] = [];
    const unsubscribe = p.bus.subscribe(JobStatusChanged, ({ job }) => void views.push(job));
    const c = p.customer;
    const req = c.request({ inputs: [["late answer", "text"]] });
    await c.publish(req);
    await c.waitForStatus(req.id, "processing");
    for (const r of p.relays) await r.stop();
    await until(() => p.pool.views().every((v) => v.state !== "connected"), 3000, "relays shown down");
    expect(p.ledger.getJob(req.id)?.status).toBe("processing");
    fake.setPacing({ instant: true });
    await until(() => p.ledger.getJob(req.id)?.error === UNDELIVERED, 10_000, "the undelivered note");
    expect(p.ledger.getJob(req.id)?.status).toBe("success");
    expect(p.engine.jobs().find((j) => j.id === req.id)).toMatchObject({ status: "success", error: UNDELIVERED });
    expect(views.filter((v) => v.id === req.id).at(-1)).toMatchObject({ status: "success", error: UNDELIVERED });
    unsubscribe();
    // Kept for a resend after a restart, as long as no relay has it.
    expect(p.ledger.pendingResults().map((e) => e.jobId)).toEqual([req.id]);
    return req;
  }

  test("relays down when the result is published, back later: the result reaches them and the note is cleared", async () => {
    fake.setPacing(SLOW);
    const p = await provider();
    const req = await answeredDuringOutage(p);
    const views: JobView[] = [];
    p.bus.subscribe(JobStatusChanged, ({ job }) => void views.push(job));
    for (const r of p.relays) await r.restart();
    await until(() => p.stored(6050, req.id).length >= 1, 10_000, "the result on a relay");
    await until(() => p.ledger.getJob(req.id)?.error === null, 3000, "the note cleared in the ledger");
    const row = p.ledger.getJob(req.id)!;
    expect(row.status).toBe("success");
    expect(p.stored(6050, req.id)[0]!.id).toBe(row.resultEventId!);
    expect(p.stored(6050, req.id)[0]!.content).toBe(fakeAnswer("late answer", { responseTokens: 30 }));
    expect(p.engine.jobs().find((j) => j.id === req.id)).toMatchObject({ status: "success", error: null });
    // The dashboard hears it once, however many relays got it late.
    await until(() => p.stored(6050, req.id, 1).length === 1 && p.stored(6050, req.id, 0).length === 1, 5000, "both relays have it");
    await Bun.sleep(100);
    const after = views.filter((v) => v.id === req.id);
    expect(after.map((v) => [v.status, v.error])).toEqual([["success", null]]);
    expect(p.ledger.pendingResults()).toEqual([]);
  }, 30_000);

  test("after a restart: a pending result resent while the relays are down is delivered later by the outbox; the row's note is cleared", async () => {
    fake.setPacing(SLOW);
    const dir = tempDir("compute-late-");
    const ledgerPath = `${dir}/ledger.db`;
    const first = await provider({ ledgerPath });
    const req = await answeredDuringOutage(first);
    await first.stop(); // the pool's outbox goes with it; the pending result stays in the ledger
    const p = await provider({ ledgerPath, secretKey: first.secretKey, offline: true });
    const views: JobView[] = [];
    p.bus.subscribe(JobStatusChanged, ({ job }) => void views.push(job));
    for (const r of p.relays) await r.stop();
    await until(() => p.pool.views().every((v) => v.state !== "connected"), 3000, "relays shown down");
    await p.engine.recover(); // the resend reaches no relay (its deadline passes)
    expect(p.ledger.getJob(req.id)).toMatchObject({ status: "success", error: UNDELIVERED });
    expect(p.ledger.pendingResults()).toHaveLength(1);
    for (const r of p.relays) await r.restart();
    await until(() => p.ledger.getJob(req.id)?.error === null, 10_000, "the note cleared in the ledger");
    expect(p.stored(6050, req.id).map((e) => e.id)).toContain(p.ledger.getJob(req.id)!.resultEventId!);
    expect(views.filter((v) => v.id === req.id).map((v) => [v.status, v.error])).toEqual([["success", null]]);
    expect(p.ledger.pendingResults()).toEqual([]);
  }, 40_000);

  test("relays that refuse the result: nothing is kept for later and the note stays", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 20, responseTokens: 20 });
    const p = await provider();
    const c = p.customer;
    const req = c.request({ inputs: [["refused answer", "text"]] });
    await c.publish(req);
    await c.waitForStatus(req.id, "processing");
    for (const r of p.relays) r.setMode("reject");
    await until(() => p.ledger.getJob(req.id)?.error === UNDELIVERED, 5000, "the undelivered note");
    for (const r of p.relays) r.setMode("normal");
    expect(Object.values(p.pool.pending()).every((n) => n === 0)).toBe(true);
    expect(p.ledger.getJob(req.id)).toMatchObject({ status: "success", error: UNDELIVERED });
  });
});
