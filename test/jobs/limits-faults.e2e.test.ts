// The provider end to end, part 3: admission limits, throttled partial feedback, the job timeout,
// and a misbehaving Ollama (500, cut stream, stall, refused connection) followed by recovery.
import { describe, expect, test } from "bun:test";
import { fakeAnswer } from "../fixtures/ollama-server.ts";
import { providerSuite, until } from "./harness.ts";

const { fake, provider } = providerSuite();

const prompts = () => fake.requests("/api/generate").filter((r) => r.body?.prompt).map((r) => r.body.prompt as string);

describe("admission", () => {
  test("queue full → busy, try later (1 running, 1 queued, third refused); the queued one runs after", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 100, responseTokens: 40 });
    const p = await provider({ config: { limits: { maxConcurrentJobs: 1, queueSize: 1 } } });
    const c = p.customer;
    const [a, b, d] = ["one", "two", "three"].map((w) => c.request({ inputs: [[w, "text"]] }));
    await c.publish(a!);
    await c.waitForStatus(a!.id, "processing");
    await c.publish(b!);
    await until(() => p.engine.jobs().find((j) => j.id === b!.id)?.status === "queued", 3000, "b queued");
    await c.publish(d!);
    const busy = await c.waitForStatus(d!.id, "error");
    expect(busy.extra).toBe("busy, try later");
    await c.waitForResult(a!.id);
    const rb = await c.waitForResult(b!.id);
    expect(rb.content).toBe(fakeAnswer("two", { responseTokens: 40 }));
    expect(prompts()).toEqual(["one", "two"]);
    expect(c.results(d!.id)).toEqual([]);
  });

  test("a queued job's customer hears at once that it is queued, and it starts without a second processing feedback", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 40, responseTokens: 30 });
    const p = await provider({ config: { limits: { maxConcurrentJobs: 1, partialIntervalMs: 600_000 } } });
    const c = p.customer;
    const first = c.request({ inputs: [["first in line", "text"]] });
    const second = c.request({ inputs: [["second in line", "text"]] });
    await c.publish(first);
    await c.waitForStatus(first.id, "processing");
    await c.publish(second);
    // Acknowledged while the first one still generates.
    const ack = await c.waitForStatus(second.id, "processing", 3000);
    expect(ack.extra).toBe("queued: 1 other job running or waiting");
    expect(p.engine.jobs().find((j) => j.id === second.id)?.status).toBe("queued");
    expect(c.results(first.id)).toEqual([]);
    expect((await c.waitForResult(second.id, 5000)).content).toBe(fakeAnswer("second in line", { responseTokens: 30 }));
    expect(c.feedback(second.id).map((f) => f.status)).toEqual(["processing"]);
  });

  test("a queued job whose NIP-40 expiration passes while it waits is never started", async () => {
    // The first job generates for 4 s; the second expires 2-3 s after it is made (NIP-40 counts
    // whole seconds), so it is admitted and queued even on a slow machine, and expires while waiting.
    fake.setPacing({ instant: false, tokensPerSec: 40, responseTokens: 160 });
    const p = await provider({ config: { limits: { maxConcurrentJobs: 1 } } });
    const c = p.customer;
    const first = c.request({ inputs: [["long first", "text"]] });
    await c.publish(first);
    await c.waitForStatus(first.id, "processing");
    const second = c.request({ inputs: [["short lived", "text"]], expiration: Math.floor(Date.now() / 1000) + 3 });
    await c.publish(second);
    await until(() => p.engine.jobs().find((j) => j.id === second.id)?.status === "queued", 3000, "second queued");
    await c.waitForResult(first.id, 10_000);
    await until(() => p.ledger.getJob(second.id)?.status === "expired", 2000, "second expired");
    expect(prompts()).toEqual(["long first"]);
    // Told it was queued, then never started.
    expect(c.feedback(second.id).map((f) => f.status)).toEqual(["processing"]);
  });

  test("per-customer rate limit: the request past the limit is refused; another customer is not affected", async () => {
    const p = await provider({ config: { limits: { perCustomerPerMinute: 2 } } });
    const c = p.customer;
    const reqs = [1, 2, 3].map((n) => c.request({ inputs: [[`rate ${n}`, "text"]] }));
    for (const r of reqs) await c.publish(r);
    await c.waitForResult(reqs[0]!.id);
    await c.waitForResult(reqs[1]!.id);
    const err = await c.waitForStatus(reqs[2]!.id, "error");
    expect(err.extra).toContain("at most 2 per minute");
    const other = await p.newCustomer();
    const ok = other.request({ inputs: [["someone else", "text"]] });
    await other.publish(ok);
    await other.waitForResult(ok.id);
  });

  test("max input bytes, deny list, and bid in free mode", async () => {
    const denied = await import("nostr-tools/pure").then((m) => m.generateSecretKey());
    const deniedPk = (await import("nostr-tools/pure")).getPublicKey(denied);
    const p = await provider({ config: { limits: { maxInputBytes: 20, deny: [deniedPk] } } });
    const c = p.customer;
    const long = c.request({ inputs: [["this prompt is longer than twenty bytes", "text"]] });
    const lowBid = c.request({ inputs: [["tiny bid", "text"]], bidMsats: 0 });
    await c.publish(long);
    await c.publish(lowBid);
    const tooBig = await c.waitForStatus(long.id, "error");
    expect(tooBig.extra).toContain("at most 20");
    // Free mode: the bid does not matter.
    expect((await c.waitForResult(lowBid.id)).content).toBe(fakeAnswer("tiny bid"));
    const { startCustomer } = await import("../fixtures/customer.ts");
    const bad = await startCustomer(p.urls, { secretKey: denied });
    try {
      const req = bad.request({ inputs: [["let me in", "text"]] });
      await bad.publish(req);
      const err = await bad.waitForStatus(req.id, "error");
      expect(err.extra).toContain("does not accept jobs from you");
    } finally {
      bad.close();
    }
    expect(prompts()).toEqual(["tiny bid"]);
  });
});

describe("progress", () => {
  test("partial feedback is throttled: a few partials, not one per token, each a prefix of the result", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 60, responseTokens: 60 });
    const p = await provider({ config: { limits: { partialIntervalMs: 200 } } });
    const c = p.customer;
    const req = c.request({ inputs: [["stream it", "text"]] });
    await c.publish(req);
    const result = await c.waitForResult(req.id, 5000);
    await Bun.sleep(100);
    const partials = c.feedback(req.id).filter((f) => f.status === "partial");
    // ~1 s of generation at one partial per 200 ms: about 4, never 60.
    expect(partials.length).toBeGreaterThanOrEqual(2);
    expect(partials.length).toBeLessThanOrEqual(7);
    for (const f of partials) {
      expect(f.content.length).toBeGreaterThan(0);
      expect(result.content.startsWith(f.content)).toBe(true);
    }
    const times = partials.map((f) => f.event.created_at);
    expect([...times].sort()).toEqual(times);
  });

  test("encrypted partial feedback is encrypted too", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 60, responseTokens: 40 });
    const p = await provider({ config: { limits: { partialIntervalMs: 200 } } });
    const c = p.customer;
    const req = c.request({ inputs: [["quiet please", "text"]], provider: p.pubkey, encrypt: "nip44" });
    await c.publish(req);
    const result = await c.waitForResult(req.id, 5000);
    const partials = c.feedback(req.id).filter((f) => f.status === "partial");
    expect(partials.length).toBeGreaterThan(0);
    for (const f of partials) {
      expect(f.encrypted).toBe(true);
      expect(result.content.startsWith(f.content)).toBe(true);
      expect(f.event.content).not.toContain("echo");
    }
  });
});

describe("limits on a running job", () => {
  test("job timeout → error feedback naming the limit; the generation is aborted", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 20, responseTokens: 200 });
    const p = await provider({ config: { limits: { jobTimeoutSecs: 1 } } });
    const c = p.customer;
    const req = c.request({ inputs: [["never ending", "text"]] });
    const before = fake.aborts();
    await c.publish(req);
    const err = await c.waitForStatus(req.id, "error", 4000);
    expect(err.extra).toContain("limit of 1 s");
    await fake.waitFor(() => fake.aborts() > before, 2000);
    expect(c.results(req.id)).toEqual([]);
    expect(p.ledger.getJob(req.id)?.status).toBe("error");
  });

  test("a job waiting in Ollama's own queue behind another doesn't run its time limit down: the limit counts from its first token", async () => {
    // Ollama here generates one request at a time (OLLAMA_NUM_PARALLEL 1) and queues the next; the
    // provider sends it two. Each generates for ~1.4 s, under the 2 s limit; the second waits ~1.4 s
    // first, 2.8 s in all.
    fake.setPacing({ instant: false, tokensPerSec: 20, responseTokens: 28 });
    const p = await provider({ config: { limits: { maxConcurrentJobs: 2, jobTimeoutSecs: 2, partialIntervalMs: 600_000 } } });
    const c = p.customer;
    const [a, b] = ["first at the model", "second at the model"].map((w) => c.request({ inputs: [[w, "text"]] }));
    await c.publish(a!);
    await c.publish(b!);
    expect((await c.waitForResult(a!.id, 6000)).content).toBe(fakeAnswer("first at the model", { responseTokens: 28 }));
    expect((await c.waitForResult(b!.id, 6000)).content).toBe(fakeAnswer("second at the model", { responseTokens: 28 }));
    expect(c.feedback(b!.id).map((f) => f.status)).not.toContain("error");
  });

  test("a model that never starts answering → error feedback naming the wait; the request is aborted", async () => {
    fake.setPacing({ instant: false, timeToFirstTokenMs: 5000, tokensPerSec: 100, responseTokens: 5 });
    const p = await provider({ config: { limits: { jobTimeoutSecs: 1 } } });
    const c = p.customer;
    const req = c.request({ inputs: [["no first token", "text"]] });
    const before = fake.aborts();
    await c.publish(req);
    const err = await c.waitForStatus(req.id, "error", 4000);
    expect(err.extra).toContain("did not start answering within this provider's limit of 1 s");
    await fake.waitFor(() => fake.aborts() > before, 2000);
    expect(p.ledger.getJob(req.id)?.status).toBe("error");
  });
});

describe("Ollama faults", () => {
  const cases = [
    { fault: "500" as const, expect: "llama runner process has terminated" },
    { fault: "cut" as const, expect: "stopped answering" },
    { fault: "stall" as const, expect: "stopped answering" },
    { fault: "error-line" as const, expect: "generation failed" },
  ];
  for (const k of cases) {
    test(`${k.fault} → error feedback with a clear reason; the next job succeeds once it clears`, async () => {
      fake.setPacing({ instant: false, tokensPerSec: 200, responseTokens: 20 });
      const p = await provider({ stallTimeoutMs: 300 });
      const c = p.customer;
      await fake.setFault(k.fault, { afterTokens: 3, paths: ["/api/generate"] });
      const bad = c.request({ inputs: [["doomed", "text"]] });
      await c.publish(bad);
      const err = await c.waitForStatus(bad.id, "error", 4000);
      expect(err.extra).toContain(k.expect);
      expect(err.extra).toStartWith("generation failed");
      expect(err.extra).not.toContain("http://");
      expect(c.results(bad.id)).toEqual([]);
      await fake.setFault(null);
      const good = c.request({ inputs: [["recovered", "text"]] });
      await c.publish(good);
      expect((await c.waitForResult(good.id, 4000)).content).toBe(fakeAnswer("recovered", { responseTokens: 20 }));
    });
  }

  test("Ollama refusing connections → error feedback; while it's gone, no models; after it returns, jobs succeed", async () => {
    // No periodic probe: the test drives what the provider knows about Ollama.
    const p = await provider({ probeIntervalMs: 60_000 });
    const c = p.customer;
    await fake.setFault("refuse");
    const bad = c.request({ inputs: [["nobody home", "text"]] });
    await c.publish(bad);
    const err = await c.waitForStatus(bad.id, "error", 4000);
    expect(err.extra).toBe("generation failed: Ollama is not running");
    // The failed generation made Inference look again: nothing is served now.
    await until(() => p.inference.servedModels().length === 0, 3000, "models gone");
    const meanwhile = c.request({ inputs: [["still nobody", "text"]] });
    await c.publish(meanwhile);
    expect((await c.waitForStatus(meanwhile.id, "error")).extra).toContain("no models are available");
    await fake.setFault(null);
    await p.inference.refresh();
    const good = c.request({ inputs: [["back again", "text"]] });
    await c.publish(good);
    expect((await c.waitForResult(good.id, 4000)).content).toBe(fakeAnswer("back again"));
    // The announcement was never replaced by one with no models while Ollama was away.
    const announced = p.published(31990).map((e) => JSON.parse(e.content).nip90Params.model.values);
    expect(announced.length).toBeGreaterThan(0);
    for (const values of announced) expect(values.length).toBeGreaterThan(0);
  });
});
