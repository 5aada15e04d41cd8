// The router over real local servers: two fake Ollamas and one fake OpenAI-compatible server at
// once (the same weights under different names, joined by aliases).
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Bus, type BusEvent } from "../../src/bus.ts";
import { AppError } from "../../src/errors.ts";
import type { BackendSpec } from "../../src/inference/backend.ts";
import { ModelsChanged } from "../../src/inference/events.ts";
import { Router } from "../../src/inference/router.ts";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startOpenAIServer, type FakeOpenAI } from "../fixtures/openai-server.ts";

const VLLM_NAME = "meta-llama/Llama-3.2-3B-Instruct";
let o1: FakeOllama;
let o2: FakeOllama;
let oa: FakeOpenAI;
const cleanups: Array<() => unknown> = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => void unhandled.push(e);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  o1 = await startOllamaServer({ models: [{ name: "llama3.2:3b" }, { name: "qwen2.5:0.5b" }], instant: true, numParallel: 4 });
  o2 = await startOllamaServer({ models: [{ name: "llama3.2:3b" }], instant: true, numParallel: 4 });
  oa = await startOpenAIServer({ models: [VLLM_NAME], instant: true, slots: 8 });
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const f of [o1, o2]) {
    await f.setFault(null);
    f.setPacing({ instant: true, tokensPerSec: 1000, timeToFirstTokenMs: 0, responseTokens: null });
    f.clearRequests();
  }
  await oa.setFault(null);
  oa.setPacing({ instant: true, tokensPerSec: 1000, timeToFirstTokenMs: 0, responseTokens: null });
  oa.setModels([VLLM_NAME]);
  oa.clearRequests();
});
afterAll(async () => {
  await Promise.all([o1.stop(), o2.stop(), oa.stop()]);
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

function specs(over: Partial<Record<"o1" | "o2" | "oa", Partial<BackendSpec>>> = {}): BackendSpec[] {
  return [
    { name: "o1", type: "ollama", url: o1.url, maxConcurrent: 1, ...over.o1 },
    { name: "o2", type: "ollama", url: o2.url, maxConcurrent: 1, ...over.o2 },
    { name: "gpu", type: "openai", url: oa.url, maxConcurrent: 1, ...over.oa },
  ];
}

async function setup(opts: { backends?: BackendSpec[]; setAsideMs?: number } = {}) {
  const bus = new Bus();
  const events: BusEvent[] = [];
  bus.subscribeAll((e) => events.push(e));
  const router = new Router({
    bus,
    backends: opts.backends ?? specs(),
    aliases: { [VLLM_NAME]: "llama3.2:3b" },
    servedModels: null,
    probeIntervalMs: 60_000,
    firstTokenTimeoutMs: 2_000,
    stallTimeoutMs: 1_000,
    setAsideMs: opts.setAsideMs ?? 60_000,
  });
  cleanups.push(() => router.stop());
  await router.start();
  return { router, bus, events, of: (type: string) => events.filter((e) => e.type === type).map((e) => e.properties as any) };
}

const job = (router: Router, extra: Partial<Parameters<Router["generate"]>[0]> = {}) =>
  router.generate({ model: "llama3.2:3b", prompt: "one two three", options: { num_predict: 50 }, ...extra });

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err;
}

const chats = () => oa.requests("/v1/chat/completions").length;
const gens = (f: FakeOllama) => f.requests("/api/generate").length;

describe("one model across backends", () => {
  test("the same weights on three backends are one public model; health per backend; capacity is the slots' sum", async () => {
    const { router } = await setup();
    expect(router.servedModels()).toEqual(["llama3.2:3b", "qwen2.5:0.5b"]);
    const llama = router.models().find((m) => m.name === "llama3.2:3b")!;
    expect(llama.backends).toEqual(["o1", "o2", "gpu"]);
    const views = router.backends();
    expect(views.map((b) => [b.name, b.type, b.reachable, b.healthy, b.slots])).toEqual([
      ["o1", "ollama", true, true, 1],
      ["o2", "ollama", true, true, 1],
      ["gpu", "openai", true, true, 1],
    ]);
    expect(views[0]!.version).toBe("0.6.5");
    expect(views[2]!.models).toEqual(["llama3.2:3b"]);
    expect(typeof views[0]!.latencyMs).toBe("number");
    expect(router.capacity()).toBe(3);
  });

  test("default slots: 2 for Ollama, 4 for openai, llama.cpp /slots when it reports them", async () => {
    const lcpp = await startOpenAIServer({ models: ["x"], instant: true, slots: 6, llamaSlots: true });
    cleanups.push(() => lcpp.stop());
    const { router } = await setup({
      backends: [
        { name: "o1", type: "ollama", url: o1.url },
        { name: "gpu", type: "openai", url: oa.url },
        { name: "lcpp", type: "openai", url: `${lcpp.url}/v1` },
      ],
    });
    expect(router.backends().map((b) => b.slots)).toEqual([2, 4, 6]);
    expect(router.capacity()).toBe(12);
  });

  test("jobs go to backends with a free slot: three at once run on three backends", async () => {
    for (const f of [o1, o2]) f.setPacing({ instant: false, tokensPerSec: 100, responseTokens: 10 });
    oa.setPacing({ instant: false, tokensPerSec: 100, responseTokens: 10 });
    const { router } = await setup();
    const t0 = performance.now();
    const results = await Promise.all([job(router), job(router), job(router)]);
    const ms = performance.now() - t0;
    expect(results.every((r) => r.text.startsWith("echo: one two three") && r.model === "llama3.2:3b")).toBe(true);
    expect([gens(o1), gens(o2), chats()]).toEqual([1, 1, 1]);
    // Each ran 10 tokens at 100/s at the same time: ~100 ms, not ~300 ms.
    expect(ms).toBeLessThan(280);
  });

  test("beyond every slot, jobs wait in arrival order and all finish", async () => {
    for (const f of [o1, o2]) f.setPacing({ instant: false, tokensPerSec: 200, responseTokens: 4 });
    oa.setPacing({ instant: false, tokensPerSec: 200, responseTokens: 4 });
    const { router } = await setup();
    const order: number[] = [];
    await Promise.all(Array.from({ length: 9 }, (_, i) => job(router, { prompt: `job ${i}` }).then(() => order.push(i))));
    expect(order.length).toBe(9);
    expect(gens(o1) + gens(o2) + chats()).toBe(9);
    // Never more than a backend's slots at once.
    expect(router.backends().every((b) => b.active === 0)).toBe(true);
  });

  test("NIP-90 params reach each wire under its own names", async () => {
    const { router } = await setup({ backends: specs().slice(2) });
    await job(router, { options: { num_predict: 7, temperature: 0.3, top_p: 0.9, top_k: 20, frequency_penalty: 0.5 } });
    const body = oa.requests("/v1/chat/completions")[0]!.body;
    expect(body).toMatchObject({ model: VLLM_NAME, max_tokens: 7, temperature: 0.3, top_p: 0.9, top_k: 20, frequency_penalty: 0.5, stream: true, stream_options: { include_usage: true } });
    expect(body.messages).toEqual([{ role: "user", content: "one two three" }]);
    const { router: r2 } = await setup({ backends: specs().slice(0, 1) });
    await job(r2, { options: { num_predict: 7, temperature: 0.3, top_p: 0.9, top_k: 20, frequency_penalty: 0.5 } });
    expect(o1.requests("/api/generate")[0]!.body.options).toEqual({ num_predict: 7, temperature: 0.3, top_p: 0.9, top_k: 20, frequency_penalty: 0.5 });
  });

  test("the OpenAI stream's text, token count (usage) and finish reason come back", async () => {
    const { router } = await setup({ backends: specs().slice(2) });
    const seen: number[] = [];
    const r = await job(router, { prompt: "a b c d e f", options: { num_predict: 3 }, onToken: (_t, n) => seen.push(n) });
    expect(r.text).toBe(fakeAnswer("a b c d e f", { numPredict: 3 }));
    expect(r.tokens).toBe(3);
    expect(r.doneReason).toBe("length");
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe("failover", () => {
  test("a backend failing before any output: the job is retried once on another backend", async () => {
    const { router } = await setup({ backends: specs().slice(0, 2) });
    await o1.setFault("500", { paths: ["/api/generate"] });
    const r = await job(router);
    expect(r.text).toBe(fakeAnswer("one two three"));
    expect(gens(o1)).toBe(1);
    expect(gens(o2)).toBe(1);
  });

  test("only once: two failing backends give the job an error, a third is not tried", async () => {
    const { router } = await setup();
    await o1.setFault("500", { paths: ["/api/generate"] });
    await o2.setFault("500", { paths: ["/api/generate"] });
    oa.setModels([]); // keep the third out of the first pick: it lists the model after the failure
    await router.refresh();
    const err = await failure(job(router));
    expect(err.message).toMatch(/Ollama failed/);
    expect(gens(o1) + gens(o2)).toBe(2);
  });

  test("after output has streamed, no failover: the job fails and no other backend sees it", async () => {
    const { router } = await setup({ backends: specs().slice(0, 2) });
    await o1.setFault("cut", { afterTokens: 2 });
    await o2.setFault("cut", { afterTokens: 2 });
    const err = await failure(job(router));
    expect(err.message).toMatch(/stopped answering mid-generation/);
    expect(gens(o1) + gens(o2)).toBe(1);
  });

  test("the caller's abort is not a failure: no retry, the reason comes back", async () => {
    o1.setPacing({ instant: false, tokensPerSec: 20, responseTokens: 100 });
    o2.setPacing({ instant: false, tokensPerSec: 20, responseTokens: 100 });
    const { router } = await setup({ backends: specs().slice(0, 2) });
    const ctl = new AbortController();
    const p = job(router, { signal: ctl.signal, options: { num_predict: 100 } });
    await Bun.sleep(80);
    ctl.abort(new Error("customer cancelled"));
    expect(((await p.catch((e) => e)) as Error).message).toBe("customer cancelled");
    expect(gens(o1) + gens(o2)).toBe(1);
  });
});

describe("bad backends are contained", () => {
  async function badOpenAI(fault: Parameters<FakeOpenAI["setFault"]>[0], expectMsg: RegExp, opts: Parameters<FakeOpenAI["setFault"]>[1] = {}) {
    const { router, of } = await setup({ backends: [specs()[2]!, { name: "o2", type: "ollama", url: o2.url, models: ["qwen2.5:0.5b"] }] });
    await oa.setFault(fault, opts);
    const err = await failure(job(router, { options: { num_predict: 20 } }));
    expect(err.message).toMatch(expectMsg);
    // What a customer may be told names no backend (the engine also strips " at URL").
    expect(err.message).not.toContain("gpu");
    expect(err.message.replace(/\s+at\s+https?:\/\/\S+/g, "")).not.toContain("127.0.0.1");
    const gpu = router.backends().find((b) => b.name === "gpu")!;
    expect(gpu.healthy).toBe(false);
    expect(gpu.error).toMatch(expectMsg);
    // Its model leaves the served list (and so the announcement); the process keeps serving.
    expect(router.servedModels()).not.toContain("llama3.2:3b");
    expect(of("ollama.models.changed").at(-1).models.find((m: any) => m.name === "llama3.2:3b")?.served ?? false).toBe(false);
    return router;
  }

  test("HTML instead of an event stream", async () => {
    await badOpenAI("html", /text\/html instead of an event stream/);
  });
  test("garbage on the stream", async () => {
    await badOpenAI("garbage", /could not be read/);
  });
  test("a stream that goes on forever is cut after the tokens asked for", async () => {
    await badOpenAI("forever", /more than the 20 tokens asked for/);
  });
  test("a 1 GB line is cut at 1 MiB without holding it in memory", async () => {
    const rss0 = process.memoryUsage().rss;
    await badOpenAI("huge-line", /a line longer than 1 MiB/, { afterTokens: 1 });
    await oa.waitFor(() => oa.active() === 0);
    expect(oa.hugeBytesSent()).toBeLessThan(256 << 20);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(200 << 20);
  });
  test("a backend that lists a model it does not have", async () => {
    await badOpenAI("lie", /does not exist/);
  });
  test("a stream cut short without finish_reason is an error, not a short answer", async () => {
    const { router } = await setup({ backends: [specs()[2]!] });
    await oa.setFault("cut", { afterTokens: 2 });
    const err = await failure(job(router));
    expect(err.message).toMatch(/stopped answering mid-generation/);
  });
  test("a bad backend's job goes to a good one when it failed before output", async () => {
    const { router } = await setup({ backends: [specs()[2]!, specs()[1]!] });
    await oa.setFault("html");
    const r = await job(router);
    expect(r.text).toBe(fakeAnswer("one two three"));
    expect(gens(o2)).toBe(1);
    expect(router.backends()[0]!.healthy).toBe(false);
    expect(router.servedModels()).toEqual(["llama3.2:3b"]);
  });
  test("a set-aside backend comes back after its time", async () => {
    const { router } = await setup({ backends: [specs()[2]!], setAsideMs: 150 });
    await oa.setFault("html");
    await failure(job(router));
    expect(router.servedModels()).toEqual([]);
    await oa.setFault(null);
    const end = Date.now() + 3000;
    while (router.servedModels().length === 0 && Date.now() < end) await Bun.sleep(20);
    expect(router.servedModels()).toEqual(["llama3.2:3b"]);
  });
  test("an OpenAI server answering HTML or garbage to /v1/models is unreachable with the reason", async () => {
    const { router } = await setup({ backends: [specs()[2]!] });
    await oa.setFault("html");
    await router.refresh();
    expect(router.backends()[0]).toMatchObject({ reachable: false, models: [] });
    expect(router.backends()[0]!.error).toMatch(/text\/html instead of JSON/);
    await oa.setFault("garbage");
    await router.refresh();
    expect(router.backends()[0]!.error).toMatch(/could not be read/);
  });
});

describe("backends going and coming", () => {
  test("a backend that goes away takes its models out until it is back", async () => {
    const { router, of } = await setup({ backends: [specs()[0]!, specs()[2]!] });
    expect(router.servedModels()).toEqual(["llama3.2:3b", "qwen2.5:0.5b"]);
    await o1.setFault("refuse");
    await router.refresh();
    expect(router.servedModels()).toEqual(["llama3.2:3b"]);
    expect(router.backends()[0]).toMatchObject({ reachable: false, healthy: false });
    expect(router.backends()[0]!.error).toMatch(/not running/);
    expect(router.capacity()).toBe(1);
    await o1.setFault(null);
    await router.refresh();
    expect(router.servedModels()).toEqual(["llama3.2:3b", "qwen2.5:0.5b"]);
    expect(of("inference.backends.changed").length).toBeGreaterThanOrEqual(3);
  });

  test("removed and re-added at run time: jobs follow", async () => {
    const { router } = await setup({ backends: specs().slice(0, 1) });
    await router.setBackends([specs()[2]!]);
    expect(router.backends().map((b) => b.name)).toEqual(["gpu"]);
    expect(router.servedModels()).toEqual(["llama3.2:3b"]);
    await job(router);
    expect([gens(o1), chats()]).toEqual([0, 1]);
    await router.setBackends([specs()[0]!, specs()[2]!]);
    expect(router.servedModels()).toEqual(["llama3.2:3b", "qwen2.5:0.5b"]);
    await router.generate({ model: "qwen2.5:0.5b", prompt: "hi" });
    expect(gens(o1)).toBe(1);
  });

  test("served models and capacity follow every change, and a bus listener already reads the new ones", async () => {
    const { router, bus } = await setup({ backends: specs().slice(0, 2) });
    const seen: Array<[string[], number]> = [];
    bus.subscribe(ModelsChanged, () => void seen.push([[...router.servedModels()], router.capacity()]));
    expect(router.capacity()).toBe(2);
    router.setServedModels(["qwen2.5:0.5b"]);
    expect(router.servedModels()).toEqual(["qwen2.5:0.5b"]);
    expect(seen.at(-1)).toEqual([["qwen2.5:0.5b"], 2]);
    await router.setBackends(specs({ o1: { maxConcurrent: 3 } }).slice(0, 2));
    expect(router.capacity()).toBe(4);
    await o2.setFault("refuse");
    await router.refresh();
    expect(router.capacity()).toBe(3);
    router.setServedModels(null);
    expect(seen.at(-1)).toEqual([["llama3.2:3b", "qwen2.5:0.5b"], 3]);
  });

  test("a model no backend serves is a clear error", async () => {
    const { router } = await setup();
    const err = await failure(router.generate({ model: "nope", prompt: "x" }));
    expect(err.message).toBe("no backend serves nope right now");
  });

  test("the one-backend view is that backend's own (the dashboard's Ollama light)", async () => {
    const { router } = await setup({ backends: [{ name: "ollama", type: "ollama", url: o1.url }] });
    expect(router.view()).toEqual({ url: o1.url, reachable: true, version: "0.6.5", error: null });
    expect(router.models()[0]).not.toHaveProperty("backends");
  });
});
