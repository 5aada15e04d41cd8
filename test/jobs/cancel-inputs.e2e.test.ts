// The provider end to end, part 2: NIP-09 cancellation mid-generation, and inputs that must be
// fetched (event, job chaining, url).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { fakeAnswer } from "../fixtures/ollama-server.ts";
import { providerSuite, until } from "./harness.ts";

const { fake, provider } = providerSuite();

const slow = () => fake.setPacing({ instant: false, tokensPerSec: 40, responseTokens: 400 });

describe("cancellation (NIP-09)", () => {
  for (const withK of [true, false]) {
    test(`the customer's kind 5 ${withK ? "with e and k tags" : "with only an e tag"} aborts the generation; no result`, async () => {
      slow();
      const p = await provider();
      const c = p.customer;
      const req = c.request({ inputs: [["a long story", "text"]] });
      await c.publish(req);
      await c.waitForStatus(req.id, "processing");
      await fake.waitFor(() => fake.active() === 1, 3000);
      const abortsBefore = fake.aborts();
      await c.cancel(req.id, { k: withK });
      await fake.waitFor(() => fake.aborts() > abortsBefore, 3000);
      await until(() => p.ledger.getJob(req.id)?.status === "cancelled", 3000, "job cancelled in the ledger");
      await Bun.sleep(300);
      expect(p.stored(6050, req.id)).toEqual([]);
      expect(c.results(req.id)).toEqual([]);
      // NIP-09: after the customer's cancel we send nothing more (in particular no error).
      expect(c.feedback(req.id).map((f) => f.status)).not.toContain("error");
      expect(p.engine.jobs().find((j) => j.id === req.id)?.status).toBe("cancelled");
    });
  }

  test("a kind 5 from someone else does not cancel; the job finishes", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 50, responseTokens: 40 });
    const p = await provider();
    const c = p.customer;
    const mallory = await p.newCustomer();
    const req = c.request({ inputs: [["mine", "text"]] });
    await c.publish(req);
    await c.waitForStatus(req.id, "processing");
    const abortsBefore = fake.aborts();
    await mallory.cancel(req.id);
    const result = await c.waitForResult(req.id, 5000);
    expect(result.content).toBe(fakeAnswer("mine", { responseTokens: 40 }));
    expect(fake.aborts()).toBe(abortsBefore);
    expect(p.ledger.getJob(req.id)?.status).toBe("success");
  });

  test("a queued job cancelled by its customer never starts and sends nothing more", async () => {
    slow();
    const p = await provider({ config: { limits: { maxConcurrentJobs: 1, queueSize: 4 } } });
    const c = p.customer;
    const first = c.request({ inputs: [["first", "text"]] });
    const second = c.request({ inputs: [["second", "text"]] });
    await c.publish(first);
    await c.waitForStatus(first.id, "processing");
    await c.publish(second);
    await until(() => p.engine.jobs().find((j) => j.id === second.id)?.status === "queued", 3000, "second queued");
    await c.cancel(second.id);
    await until(() => p.ledger.getJob(second.id)?.status === "cancelled", 3000, "second cancelled");
    // Stop the first one too (still slow, so the cancel can't lose a race with its end); the
    // second must never reach Ollama.
    await c.cancel(first.id);
    await until(() => p.ledger.getJob(first.id)?.status === "cancelled", 3000, "first cancelled");
    await Bun.sleep(200);
    expect(fake.requests("/api/generate").filter((r) => r.body?.prompt === "second")).toEqual([]);
    // Its one feedback is the acknowledgement it got when it was queued; nothing after the cancel.
    expect(c.feedback(second.id).map((f) => [f.status, f.extra])).toEqual([["processing", "queued: 1 other job running or waiting"]]);
  });

  test("with the default two slots, a customer cancels a job waiting in Ollama's own queue behind another: it never generates, no result, the other finishes", async () => {
    // Guards the two-slot default: the second job is sent to Ollama at once and waits in Ollama's
    // queue (this Ollama generates one request at a time, as with OLLAMA_NUM_PARALLEL 1).
    fake.setPacing({ instant: false, tokensPerSec: 40, responseTokens: 40 });
    const p = await provider();
    expect(p.config.limits.maxConcurrentJobs).toBe(2);
    const c = p.customer;
    const first = c.request({ inputs: [["the one generating", "text"]] });
    const second = c.request({ inputs: [["the one waiting at ollama", "text"]] });
    await c.publish(first);
    await fake.waitFor(() => fake.active() === 1, 3000);
    const abortsBefore = fake.aborts();
    await c.publish(second);
    // It reached Ollama (the provider holds no queue for it) and waits there.
    await fake.waitFor(() => fake.requests("/api/generate").some((r) => r.body?.prompt === "the one waiting at ollama"), 3000);
    expect(p.engine.jobs().find((j) => j.id === second.id)?.status).toBe("processing");
    await c.cancel(second.id);
    await fake.waitFor(() => fake.aborts() > abortsBefore, 3000);
    await until(() => p.ledger.getJob(second.id)?.status === "cancelled", 3000, "second cancelled");
    expect((await c.waitForResult(first.id, 6000)).content).toBe(fakeAnswer("the one generating", { responseTokens: 40 }));
    await Bun.sleep(300);
    const atOllama = fake.requests("/api/generate").filter((r) => r.body?.prompt === "the one waiting at ollama");
    expect(atOllama.map((r) => [r.startedAt, r.tokensSent, r.aborted])).toEqual([[null, 0, true]]);
    expect(c.results(second.id)).toEqual([]);
    expect(p.stored(6050, second.id)).toEqual([]);
    expect(c.feedback(second.id).map((f) => f.status)).not.toContain("error");
    expect(p.ledger.getJob(first.id)?.status).toBe("success");
  });

  test("the operator's cancel (dashboard) tells the customer why", async () => {
    slow();
    const p = await provider();
    const c = p.customer;
    const req = c.request({ inputs: [["operator stops me", "text"]] });
    await c.publish(req);
    await c.waitForStatus(req.id, "processing");
    expect(p.engine.cancel(req.id, "the operator stopped this job")).toBe(true);
    const err = await c.waitForStatus(req.id, "error");
    expect(err.extra).toBe("the operator stopped this job");
    expect(p.engine.cancel("0".repeat(64))).toBe(false);
    await Bun.sleep(100);
    expect(c.results(req.id)).toEqual([]);
  });
});

describe("inputs", () => {
  test("event input: the referenced event's content, fetched from the relays", async () => {
    const p = await provider();
    const c = p.customer;
    const note = c.sign({ kind: 1, tags: [], content: "the note to summarise" });
    await c.publish(note);
    const req = c.request({ inputs: [[note.id, "event"]] });
    await c.publish(req);
    const r = await c.waitForResult(req.id);
    expect(r.content).toBe(fakeAnswer("the note to summarise"));
    expect(r.event.tags).toContainEqual(["i", note.id, "event"]);
    // An event nobody has: a clear error.
    const missing = c.request({ inputs: [["a".repeat(64), "event"]] });
    await c.publish(missing);
    const err = await c.waitForStatus(missing.id, "error", 6000);
    expect(err.extra).toContain("was not found");
  });

  test("job input (chaining): waits for the other job's result and uses it as the prompt", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 50, responseTokens: 30 });
    const p = await provider({ config: { limits: { maxConcurrentJobs: 2 } } });
    const c = p.customer;
    const a = c.request({ inputs: [["stage one", "text"]] });
    const b = c.request({ inputs: [[a.id, "job"]] });
    await c.publish(a);
    await c.publish(b);
    const ra = await c.waitForResult(a.id, 5000);
    const rb = await c.waitForResult(b.id, 8000);
    expect(ra.content).toBe(fakeAnswer("stage one", { responseTokens: 30 }));
    // b's prompt is a's result; the fake echoes it.
    const prompts = fake.requests("/api/generate").map((r) => r.body?.prompt);
    expect(prompts).toContain(ra.content);
    expect(rb.content).toBe(fakeAnswer(ra.content, { responseTokens: 30 }));
    expect(rb.event.created_at).toBeGreaterThanOrEqual(ra.event.created_at);
  });

  describe("url input", () => {
    let page: Server<undefined>;
    beforeAll(() => {
      page = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: (req) => (new URL(req.url).pathname === "/big" ? new Response("x".repeat(5000)) : new Response("text from a web page")),
      });
    });
    afterAll(() => page.stop(true));

    test("fetched when private URLs are allowed; size-capped", async () => {
      const p = await provider({ config: { limits: { allowPrivateUrls: true, maxInputBytes: 1000 } } });
      const c = p.customer;
      const req = c.request({ inputs: [[`http://127.0.0.1:${page.port}/page`, "url"]] });
      const big = c.request({ inputs: [[`http://127.0.0.1:${page.port}/big`, "url"]] });
      await c.publish(req);
      await c.publish(big);
      expect((await c.waitForResult(req.id)).content).toBe(fakeAnswer("text from a web page"));
      const err = await c.waitForStatus(big.id, "error");
      expect(err.extra).toContain("larger than 1000 bytes");
    });

    test("an answer longer than NIP-44 can encrypt is cut to fit (at a character boundary), not lost", async () => {
      // 1,500 words of 60 UTF-8 bytes each, fetched from a url (an inline prompt that size could
      // not itself be sent NIP-44-encrypted); the fake echoes them: ~91 KB of answer.
      const word = "ü".repeat(30);
      const text = Array.from({ length: 1500 }, () => word).join(" ");
      const wide = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(text, { headers: { "content-type": "text/plain; charset=utf-8" } }) });
      try {
        const p = await provider({ config: { limits: { allowPrivateUrls: true, maxInputBytes: 200_000 } } });
        const c = p.customer;
        const req = c.request({ inputs: [[`http://127.0.0.1:${wide.port}/`, "url"]], provider: p.pubkey, encrypt: "nip44" });
        await c.publish(req);
        const result = await c.waitForResult(req.id, 15_000);
        const full = fakeAnswer(text);
        expect(new TextEncoder().encode(full).length).toBeGreaterThan(65_535);
        const bytes = new TextEncoder().encode(result.content).length;
        expect(bytes).toBeLessThanOrEqual(65_535);
        expect(bytes).toBeGreaterThan(65_535 - 4);
        expect(full.startsWith(result.content)).toBe(true);
        expect(result.content).not.toContain("\uFFFD");
      } finally {
        wide.stop(true);
      }
    }, 30_000);

    test("refused when private URLs are not allowed", async () => {
      const p = await provider({ config: { limits: { allowPrivateUrls: false } } });
      const c = p.customer;
      const req = c.request({ inputs: [[`http://127.0.0.1:${page.port}/page`, "url"]] });
      await c.publish(req);
      const err = await c.waitForStatus(req.id, "error");
      expect(err.extra).toContain("private address");
      expect(fake.requests("/api/generate").filter((r) => r.body?.prompt)).toEqual([]);
    });
  });
});
