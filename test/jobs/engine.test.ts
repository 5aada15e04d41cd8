// The provider end to end, part 1: requests in, feedback and results out, over real relays, the
// fake Ollama and a real ledger. Each test can fail: answers are derived from the prompt by the
// fake, and replies are read back by a customer that knows nothing of the product's code.
import { describe, expect, test } from "bun:test";
import { fakeAnswer } from "../fixtures/ollama-server.ts";
import { providerSuite, uniqueIds, until } from "./harness.ts";

const { fake, provider } = providerSuite({ models: [{ name: "llama3.2" }, { name: "qwen2.5:0.5b" }] });

const generateRequests = () => fake.requests("/api/generate").filter((r) => r.body?.prompt);

describe("plain requests", () => {
  test("text input → processing feedback and a 6050 result with the request, e, i and p tags, on both relays", async () => {
    const p = await provider();
    const c = p.customer;
    const req = c.request({ inputs: [["Say hi to the moon", "text"]] });
    await c.publish(req);
    const result = await c.waitForResult(req.id);
    expect(result.content).toBe(fakeAnswer("Say hi to the moon"));
    expect(result.event.pubkey).toBe(p.pubkey);
    const tag = (name: string) => result.event.tags.filter((t) => t[0] === name);
    expect(tag("request")).toHaveLength(1);
    expect(JSON.parse(tag("request")[0]![1]!)).toEqual(JSON.parse(JSON.stringify(req)));
    expect(tag("e")[0]![1]).toBe(req.id);
    expect(tag("i")).toEqual([["i", "Say hi to the moon", "text"]]);
    expect(tag("p")).toEqual([["p", c.pubkey]]);
    expect(tag("encrypted")).toEqual([]);
    const statuses = c.feedback(req.id).map((f) => f.status);
    expect(statuses).toContain("processing");
    expect(statuses).not.toContain("error");
    // The result landed on both of our relays (they are also the request's `relays`).
    await until(() => p.stored(6050, req.id, 0).length === 1 && p.stored(6050, req.id, 1).length === 1);
    const row = p.ledger.getJob(req.id);
    expect(row?.status).toBe("success");
    expect(row?.resultEventId).toBe(result.event.id);
    expect(generateRequests()).toHaveLength(1);
  });

  test("the request's `relays` tag gets the reply too (a relay the provider doesn't use)", async () => {
    const p = await provider();
    const { startRelay } = await import("../fixtures/relay.ts");
    const extra = await startRelay();
    try {
      const req = p.customer.request({ relays: [extra.url] });
      await p.customer.publish(req);
      await p.customer.waitForResult(req.id);
      await until(() => extra.events().some((e) => e.kind === 6050 && e.tags.some((t) => t[0] === "e" && t[1] === req.id)), 3000, "result on the extra relay");
      expect(extra.events().some((e) => e.kind === 7000 && e.tags.some((t) => t[0] === "e" && t[1] === req.id))).toBe(true);
    } finally {
      await extra.stop();
    }
  });

  test("`prompt` input type is text; no i tag → content is the prompt; several i tags joined in order", async () => {
    const p = await provider();
    const c = p.customer;
    const a = c.request({ inputs: [["typed as prompt", "prompt"]] });
    const b = c.request({ inputs: [], content: "from the content field" });
    const d = c.request({ inputs: [["first part", "text"], ["second part", "text"], ["third", "prompt"]] });
    for (const r of [a, b, d]) await c.publish(r);
    const [ra, rb, rd] = await Promise.all([a, b, d].map((r) => c.waitForResult(r.id)));
    expect(ra!.content).toBe(fakeAnswer("typed as prompt"));
    expect(rb!.content).toBe(fakeAnswer("from the content field"));
    const prompts = generateRequests().map((r) => r.body.prompt as string);
    const joined = prompts.find((x) => x.includes("first part"))!;
    expect(joined.indexOf("first part")).toBeLessThan(joined.indexOf("second part"));
    expect(joined.indexOf("second part")).toBeLessThan(joined.indexOf("third"));
    expect(rd!.content).toBe(fakeAnswer(joined));
    expect(prompts).toContain("from the content field");
  });

  for (const scheme of ["nip04", "nip44"] as const) {
    test(`${scheme}-encrypted request → encrypted feedback and result in ${scheme}, no i tag`, async () => {
      const p = await provider();
      const c = p.customer;
      const req = c.request({ inputs: [["a secret prompt", "text"]], params: { max_tokens: 50 }, provider: p.pubkey, encrypt: scheme });
      expect(req.tags.some((t) => t[0] === "i")).toBe(false);
      await c.publish(req);
      const result = await c.waitForResult(req.id);
      expect(result.encrypted).toBe(true);
      expect(result.content).toBe(fakeAnswer("a secret prompt"));
      // Ciphertext form tells the scheme: NIP-04 carries ?iv=, NIP-44 does not.
      expect(result.event.content.includes("?iv=")).toBe(scheme === "nip04");
      expect(result.event.content).not.toContain("secret");
      expect(result.event.tags.some((t) => t[0] === "i")).toBe(false);
      expect(result.event.tags).toContainEqual(["encrypted"]);
      const fb = c.feedback(req.id);
      expect(fb.length).toBeGreaterThan(0);
      for (const f of fb) {
        expect(f.encrypted).toBe(true);
        expect(f.event.content.includes("?iv=")).toBe(scheme === "nip04");
        expect(f.event.tags.some((t) => t[0] === "status")).toBe(false);
      }
      expect(fb.map((f) => f.status)).toContain("processing");
      // Nothing readable leaked into the stored events.
      for (const e of [...p.stored(7000, req.id), ...p.stored(6050, req.id)]) expect(e.content).not.toContain("secret");
      expect(generateRequests()[0]!.body.options.num_predict).toBe(50);
    });
  }
});

describe("requests that are not ours", () => {
  test("p-tagged to another provider → nothing at all; expired → nothing; both relays → one result", async () => {
    const p = await provider();
    const c = p.customer;
    const other = "f".repeat(64);
    const notOurs = c.request({ inputs: [["for someone else", "text"]], provider: other });
    const badParamNotOurs = c.request({ inputs: [["x", "text"]], provider: other, params: { max_tokens: "lots" } });
    const expired = c.request({ inputs: [["too late", "text"]], expiration: Math.floor(Date.now() / 1000) - 5 });
    const ours = c.request({ inputs: [["twice delivered", "text"]] });
    for (const r of [notOurs, badParamNotOurs, expired, ours]) await c.publish(r);
    await c.waitForResult(ours.id);
    await Bun.sleep(300);
    for (const r of [notOurs, badParamNotOurs, expired]) {
      expect(p.stored(7000, r.id)).toEqual([]);
      expect(p.stored(6050, r.id)).toEqual([]);
      expect(c.feedback(r.id)).toEqual([]);
      expect(p.ledger.getJob(r.id)).toBeNull();
    }
    // Published to both relays, answered once: one result event id, one generation.
    expect(uniqueIds(p.stored(6050, ours.id))).toHaveLength(1);
    expect(uniqueIds(p.stored(7000, ours.id).filter((e) => e.tags.some((t) => t[0] === "status" && t[1] === "processing")))).toHaveLength(1);
    expect(generateRequests().filter((r) => r.body.prompt === "twice delivered")).toHaveLength(1);
    expect(generateRequests()).toHaveLength(1);
  });
});

describe("params", () => {
  test("a model not offered → error feedback naming the offered models; a chosen model is used", async () => {
    const p = await provider();
    const c = p.customer;
    const bad = c.request({ params: { model: "mistral:7b" } });
    const good = c.request({ inputs: [["qwen please", "text"]], params: { model: "qwen2.5:0.5b" } });
    await c.publish(bad);
    await c.publish(good);
    const err = await c.waitForStatus(bad.id, "error");
    expect(err.extra).toContain("mistral:7b");
    expect(err.extra).toContain("llama3.2:latest");
    expect(err.extra).toContain("qwen2.5:0.5b");
    await c.waitForResult(good.id);
    const models = generateRequests().map((r) => r.body.model);
    expect(models).toEqual(["qwen2.5:0.5b"]);
    expect(c.results(bad.id)).toEqual([]);
  });

  test("max_tokens → num_predict (capped), temperature, top_k, top-k, top_p reach Ollama", async () => {
    const p = await provider({ config: { limits: { maxTokensCap: 100 } } });
    const c = p.customer;
    const a = c.request({ inputs: [["one two three four five six", "text"]], params: { max_tokens: 3, temperature: 0.2, top_k: 7, top_p: 0.9 } });
    const b = c.request({ inputs: [["dashes", "text"]], params: { "top-k": 11, "top-p": 0.5, max_tokens: 5000 } });
    const none = c.request({ inputs: [["defaults", "text"]] });
    for (const r of [a, b, none]) await c.publish(r);
    const ra = await c.waitForResult(a.id);
    await c.waitForResult(b.id);
    await c.waitForResult(none.id);
    // The fake honours num_predict: 3 tokens of the echo.
    expect(ra.content).toBe(fakeAnswer("one two three four five six", { numPredict: 3 }));
    const opts = (prompt: string) => generateRequests().find((r) => r.body.prompt === prompt)!.body.options;
    expect(opts("one two three four five six")).toEqual({ num_predict: 3, temperature: 0.2, top_k: 7, top_p: 0.9 });
    expect(opts("dashes")).toEqual({ num_predict: 100, top_k: 11, top_p: 0.5 });
    expect(opts("defaults")).toEqual({ num_predict: 100 });
  });

  test("a malformed param → error feedback saying which", async () => {
    const p = await provider();
    const req = p.customer.request({ params: { temperature: "hot" } });
    await p.customer.publish(req);
    const err = await p.customer.waitForStatus(req.id, "error");
    expect(err.extra).toContain("temperature");
    expect(generateRequests()).toHaveLength(0);
  });
});

describe("ping", () => {
  test("7007 ping → 7000 pong to the pinger", async () => {
    const p = await provider();
    const ping = await p.customer.ping(p.pubkey);
    const pong = await p.customer.waitForStatus(ping.id, "pong");
    expect(pong.event.pubkey).toBe(p.pubkey);
    expect(pong.event.tags).toContainEqual(["p", p.customer.pubkey]);
    // A ping for someone else is not answered.
    const other = p.customer.sign({ kind: 7007, tags: [["p", "e".repeat(64)]], content: "" });
    await p.customer.publish(other);
    await Bun.sleep(200);
    expect(p.stored(7000, other.id)).toEqual([]);
    expect(uniqueIds(p.stored(7000, ping.id))).toHaveLength(1);
  });
});
