// Many backends through the real App: two Ollama test servers and one OpenAI-compatible test
// server at once, a real relay and a real customer. Routing, failover before output, no failover
// after output, a backend going away and coming back, and the NIP-89 announcement following the
// backends' health.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { generateSecretKey } from "nostr-tools/pure";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startOpenAIServer, type FakeOpenAI } from "../fixtures/openai-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "../jobs/harness.ts";

const VLLM_NAME = "meta-llama/Llama-3.2-3B-Instruct";
let o1: FakeOllama;
let o2: FakeOllama;
let oa: FakeOpenAI;
let relay: TestRelay;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  o1 = await startOllamaServer({ models: [{ name: "llama3.2:3b" }], tokensPerSec: 200 });
  o2 = await startOllamaServer({ models: [{ name: "llama3.2:3b" }, { name: "qwen2.5:0.5b" }], tokensPerSec: 200 });
  oa = await startOpenAIServer({ models: [VLLM_NAME], tokensPerSec: 200, slots: 4 });
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  for (const f of [o1, o2]) {
    await f.setFault(null);
    f.clearRequests();
  }
  await oa.setFault(null);
  oa.setModels([VLLM_NAME]);
  oa.clearRequests();
});
afterAll(async () => {
  await Promise.all([o1.stop(), o2.stop(), oa.stop()]);
});

async function provider(): Promise<{ t: TestApp; customer: () => Promise<Customer> }> {
  // A relay of its own: a new provider would otherwise replay the last test's requests.
  relay = await startRelay();
  const r = relay;
  cleanups.push(() => r.stop());
  const t = await startTestApp({
    flags: { relays: [relay.url], paymentMode: "free" },
    config: {
      backends: [
        { name: "desk", type: "ollama", url: o1.url, maxConcurrent: 1 },
        { name: "laptop", type: "ollama", url: o2.url, maxConcurrent: 1 },
        { name: "vllm", type: "openai", url: `${oa.url}/v1`, maxConcurrent: 1 },
      ],
      aliases: { [VLLM_NAME]: "llama3.2:3b" },
      limits: { perCustomerPerMinute: 1000, partialIntervalMs: 100_000, queueSize: 50, maxQueuedPerCustomer: 50 },
    },
    options: { ollamaProbeMs: 100 },
  });
  cleanups.push(() => t.stop());
  await until(() => t.app.controller.snapshot().models.filter((m) => m.served).length === 2, 5000, "models from the backends");
  await t.app.controller.setOnline(true);
  const customer = async () => {
    const c = await startCustomer([relay.url], { secretKey: generateSecretKey() });
    cleanups.push(() => c.close());
    return c;
  };
  return { t, customer };
}

const announcements = (_t: TestApp) => relay.events().filter((e) => e.kind === 31990);
const announcedModels = (t: TestApp): string[] => {
  const last = announcements(t).at(-1);
  return last ? [...JSON.parse(last.content).nip90Params.model.values].sort() : [];
};
// Warm-up loads (an empty prompt) are not jobs.
const gens = (f: FakeOllama) => f.requests("/api/generate").filter((r) => r.body?.prompt).length;
const chats = () => oa.requests("/v1/chat/completions").length;

describe("many backends, one provider", () => {
  test("the announcement lists the public names once; three jobs at once run on the three backends", async () => {
    const { t, customer } = await provider();
    await until(() => announcedModels(t).length === 2, 5000, "announcement");
    expect(announcedModels(t)).toEqual(["llama3.2:3b", "qwen2.5:0.5b"]);
    expect(JSON.stringify(announcements(t).at(-1)!.content)).not.toContain(VLLM_NAME);
    // The engine runs as many jobs at once as the backends have slots (1 + 1 + 1).
    const cs = await Promise.all([customer(), customer(), customer()]);
    const reqs = cs.map((c, i) => c.request({ inputs: [[`job number ${i} please`, "text"]], params: { model: "llama3.2:3b", max_tokens: 20 } }));
    await Promise.all(cs.map((c, i) => c.publish(reqs[i]!)));
    const results = await Promise.all(cs.map((c, i) => c.waitForResult(reqs[i]!.id, 10_000)));
    results.forEach((r, i) => expect(r.content).toBe(fakeAnswer(`job number ${i} please`)));
    expect([gens(o1), gens(o2), chats()]).toEqual([1, 1, 1]);
    expect(t.app.controller.snapshot().backends!.map((b) => [b.name, b.healthy, b.slots])).toEqual([
      ["desk", true, 1],
      ["laptop", true, 1],
      ["vllm", true, 1],
    ]);
  });

  test("a backend failing before any output: the job runs on another, the customer sees one answer", async () => {
    const { customer } = await provider();
    await o1.setFault("500", { paths: ["/api/generate"] });
    const c = await customer();
    const req = c.request({ inputs: [["failover please", "text"]], params: { model: "llama3.2:3b" } });
    await c.publish(req);
    const r = await c.waitForResult(req.id, 10_000);
    expect(r.content).toBe(fakeAnswer("failover please"));
    expect(gens(o1)).toBe(1);
    expect(gens(o2) + chats()).toBe(1);
    await Bun.sleep(200);
    expect(c.results(req.id)).toHaveLength(1);
    expect(c.feedback(req.id).some((f) => f.status === "error")).toBe(false);
  });

  test("after output has streamed, no failover: one error feedback, no other backend asked", async () => {
    const { customer } = await provider();
    for (const f of [o1, o2]) await f.setFault("cut", { afterTokens: 2 });
    await oa.setFault("cut", { afterTokens: 2 });
    const c = await customer();
    const req = c.request({ inputs: [["this one breaks mid way through the answer", "text"]], params: { model: "llama3.2:3b" } });
    await c.publish(req);
    const err = await c.waitForStatus(req.id, "error", 10_000);
    expect(err.extra).toMatch(/stopped answering mid-generation/);
    // The operator's backend address is not in public feedback.
    expect(err.extra).not.toContain("127.0.0.1");
    expect(gens(o1) + gens(o2) + chats()).toBe(1);
    await Bun.sleep(200);
    expect(c.results(req.id)).toHaveLength(0);
  });

  test("an OpenAI backend failing mid-answer: the customer's error names neither its address nor its name", async () => {
    const { customer } = await provider();
    oa.setModels([VLLM_NAME, "vllm-only"]);
    const c = await customer();
    await oa.setFault("cut", { afterTokens: 2 });
    // The model only the OpenAI server has (so it runs there), once the probe has seen it.
    await Bun.sleep(300);
    const req = c.request({ inputs: [["only on the vllm box please", "text"]], params: { model: "vllm-only" } });
    await c.publish(req);
    const err = await c.waitForStatus(req.id, "error", 10_000);
    expect(err.extra).toMatch(/stopped answering mid-generation/);
    expect(err.extra).not.toContain("127.0.0.1");
    expect(err.extra).not.toContain(String(oa.port));
    expect(err.extra).not.toContain("vllm ");
    expect(chats()).toBe(1);
  });

  test("a backend that goes away takes its models out of the announcement until it is back", async () => {
    const { t, customer } = await provider();
    await until(() => announcedModels(t).length === 2, 5000, "announcement");
    await o2.setFault("refuse");
    await until(() => announcedModels(t).join() === "llama3.2:3b", 5000, "re-announced without qwen");
    expect(t.app.controller.snapshot().backends!.find((b) => b.name === "laptop")).toMatchObject({ reachable: false, healthy: false, models: [] });
    // Jobs for the model that is still served keep running on the others.
    const c = await customer();
    const req = c.request({ inputs: [["still here", "text"]], params: { model: "llama3.2:3b" } });
    await c.publish(req);
    expect((await c.waitForResult(req.id, 10_000)).content).toBe(fakeAnswer("still here"));
    // A job for the model that left is refused with a reason.
    const gone = c.request({ inputs: [["qwen?", "text"]], params: { model: "qwen2.5:0.5b" } });
    await c.publish(gone);
    expect((await c.waitForStatus(gone.id, "error", 10_000)).extra).toMatch(/qwen2\.5:0\.5b/);
    await o2.setFault(null);
    await until(() => announcedModels(t).length === 2, 5000, "re-announced with qwen");
    const back = c.request({ inputs: [["qwen is back", "text"]], params: { model: "qwen2.5:0.5b" } });
    await c.publish(back);
    expect((await c.waitForResult(back.id, 10_000)).content).toBe(fakeAnswer("qwen is back"));
  });

  test("a backend answering garbage is set aside with the reason; the others keep serving", async () => {
    const { t, customer } = await provider();
    await oa.setFault("html");
    const c = await customer();
    // Three at once: one lands on the OpenAI server, fails before output and runs elsewhere. The
    // instant Ollama servers can free their slots before the third job is routed, so a round may
    // not reach the OpenAI server: send rounds until one has (every answer is still checked).
    const vllmNow = () => t.app.controller.snapshot().backends!.find((b) => b.name === "vllm")!;
    for (let round = 0; round < 8 && vllmNow().healthy; round++) {
      const reqs = [0, 1, 2].map((i) => c.request({ inputs: [[`contained ${round}.${i}`, "text"]], params: { model: "llama3.2:3b" } }));
      for (const r of reqs) await c.publish(r);
      for (const [i, r] of reqs.entries()) expect((await c.waitForResult(r.id, 10_000)).content).toBe(fakeAnswer(`contained ${round}.${i}`));
    }
    const vllm = vllmNow();
    expect(vllm.healthy).toBe(false);
    expect(vllm.error).toMatch(/text\/html/);
  });
});
