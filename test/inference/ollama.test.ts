import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Bus, type BusEvent } from "../../src/bus.ts";
import { AppError } from "../../src/errors.ts";
import type { PullUpdate } from "../../src/inference/backend.ts";
import { Inference } from "../../src/inference/ollama.ts";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";

const MODELS = [
  { name: "llama3.2", family: "llama", parameterSize: "3.2B", quantizationLevel: "Q4_K_M", size: 2_019_393_189 },
  { name: "qwen2.5:0.5b", family: "qwen2", parameterSize: "494M", quantizationLevel: "Q4_0", size: 397_821_319 },
];

let fake: FakeOllama;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => void unhandled.push(e);
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  fake = await startOllamaServer({ models: MODELS, instant: true, numParallel: 2, pullable: [{ name: "tinyllama", family: "llama", size: 637_000_000 }] });
});
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await fake.setFault(null);
  fake.setPacing({ instant: true, tokensPerSec: 1000, timeToFirstTokenMs: 0, responseTokens: null });
  fake.clearRequests();
});
afterAll(async () => {
  await fake.stop();
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

function setup(opts: Partial<ConstructorParameters<typeof Inference>[0]> = {}) {
  const bus = new Bus();
  const events: BusEvent[] = [];
  bus.subscribeAll((e) => events.push(e));
  const inf = new Inference({ url: fake.url, bus, servedModels: null, probeIntervalMs: 60_000, stallTimeoutMs: 2_000, firstTokenTimeoutMs: 2_000, ...opts });
  cleanups.push(() => inf.stop());
  return { inf, bus, events, of: (type: string) => events.filter((e) => e.type === type).map((e) => e.properties as any) };
}

async function until(pred: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(5);
  }
}

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect(err.code).toBe("unavailable");
  return err;
}

describe("status and models", () => {
  test("start() probes: view, models with details, events once per change", async () => {
    const { inf, of } = setup({ servedModels: ["llama3.2"] });
    expect(inf.view().reachable).toBe(false);
    await inf.start();
    expect(inf.view()).toEqual({ url: fake.url, reachable: true, version: "0.6.5", error: null });
    expect(inf.models()).toEqual([
      { name: "llama3.2:latest", family: "llama", parameterSize: "3.2B", quantization: "Q4_K_M", sizeBytes: 2_019_393_189, served: true },
      { name: "qwen2.5:0.5b", family: "qwen2", parameterSize: "494M", quantization: "Q4_0", sizeBytes: 397_821_319, served: false },
    ]);
    expect(inf.servedModels()).toEqual(["llama3.2:latest"]);
    await inf.refresh();
    await inf.refresh();
    expect(of("ollama.status.changed").length).toBe(1);
    expect(of("ollama.models.changed").length).toBe(1);
    expect(of("ollama.status.changed")[0].ollama.reachable).toBe(true);
  });

  test("served set: names normalized, null = all, unknown names ignored, events on change only", async () => {
    const { inf, of } = setup({ servedModels: ["LLAMA3.2:latest", "qwen2.5:0.5b", "not-installed"] });
    await inf.start();
    expect(inf.servedModels()).toEqual(["llama3.2:latest", "qwen2.5:0.5b"]);
    inf.setServedModels(["qwen2.5:0.5b"]);
    expect(inf.servedModels()).toEqual(["qwen2.5:0.5b"]);
    inf.setServedModels(["qwen2.5:0.5b"]);
    expect(of("ollama.models.changed").length).toBe(2);
    inf.setServedModels(null);
    expect(inf.servedModels()).toEqual(["llama3.2:latest", "qwen2.5:0.5b"]);
  });

  test("the probe loop notices Ollama going away and coming back", async () => {
    const { inf, of } = setup({ probeIntervalMs: 30, servedModels: ["llama3.2"] });
    await inf.start();
    await fake.setFault("refuse");
    await until(() => !inf.view().reachable);
    expect(inf.view().error).toBe(`Ollama is not running at ${fake.url}`);
    expect(inf.models()).toEqual([]);
    expect(inf.servedModels()).toEqual([]);
    const statusEvents = of("ollama.status.changed").length;
    await Bun.sleep(120); // several failed probes: no new events while nothing changes
    expect(of("ollama.status.changed").length).toBe(statusEvents);
    await fake.setFault(null);
    await until(() => inf.view().reachable);
    expect(inf.servedModels()).toEqual(["llama3.2:latest"]);
    const reach = of("ollama.status.changed").map((p) => p.ollama.reachable);
    expect(reach).toEqual([true, false, true]);
    expect(of("ollama.models.changed").map((p) => p.models.length)).toEqual([2, 0, 2]);
  });

  test("a 500 from Ollama shows as not reachable with its error", async () => {
    const { inf } = setup();
    await fake.setFault("500", { message: "server busy" });
    await inf.start();
    expect(inf.view()).toMatchObject({ reachable: false, error: "Ollama failed: server busy" });
  });

  test("a URL that is not http(s) is refused", () => {
    expect(() => new Inference({ url: "ftp://x", bus: new Bus(), servedModels: null })).toThrow(AppError);
  });

  test("stop() is idempotent and ends the probe loop", async () => {
    const { inf } = setup({ probeIntervalMs: 20 });
    await inf.start();
    inf.stop();
    inf.stop();
    const n = fake.requests("/api/version").length;
    await Bun.sleep(80);
    expect(fake.requests("/api/version").length).toBe(n);
  });
});

describe("generate", () => {
  test("streams with onToken; options, system and keep_alive reach Ollama", async () => {
    const { inf } = setup();
    const seen: Array<[string, number]> = [];
    const r = await inf.generate({
      model: "llama3.2",
      prompt: "tell me a story",
      system: "you are terse",
      keepAlive: "7m",
      options: { num_predict: 50, temperature: 0.3, top_k: 20, top_p: 0.9, seed: 7, stop: ["\n\n"], num_ctx: 4096, frequency_penalty: undefined },
      onToken: (t, n) => seen.push([t, n]),
    });
    expect(r.text).toBe(fakeAnswer("tell me a story"));
    expect(r.text).toBe("echo: tell me a story");
    expect(seen.length).toBe(5);
    expect(seen.map(([, n]) => n)).toEqual([1, 2, 3, 4, 5]);
    expect(seen.at(-1)![0]).toBe(r.text);
    expect(seen[1]![0]).toBe("echo: tell");
    expect(r.tokens).toBe(5);
    expect(r.promptTokens).toBe(7);
    expect(r.doneReason).toBe("stop");
    expect(r.wallMs).toBeGreaterThan(0);
    const [rec] = fake.requests("/api/generate");
    expect(rec!.body).toMatchObject({ model: "llama3.2", prompt: "tell me a story", system: "you are terse", keep_alive: "7m", stream: true });
    expect(rec!.body.options).toEqual({ num_predict: 50, temperature: 0.3, top_k: 20, top_p: 0.9, seed: 7, stop: ["\n\n"], num_ctx: 4096 });
  });

  test("tokens/s comes from Ollama's counters; num_predict → doneReason length", async () => {
    fake.setPacing({ tokensPerSec: 37, responseTokens: 40 });
    const { inf } = setup();
    const r = await inf.generate({ model: "qwen2.5:0.5b", prompt: "x", options: { num_predict: 12 } });
    expect(r.tokens).toBe(12);
    expect(r.doneReason).toBe("length");
    expect(r.tokensPerSec!).toBeCloseTo(37, 6);
    expect(r.text).toBe(fakeAnswer("x", { responseTokens: 40, numPredict: 12 }));
  });

  test("aborting one generation stops it at Ollama and leaves a concurrent one alone", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 100, responseTokens: 30 });
    const { inf } = setup();
    const ac = new AbortController();
    const abortsBefore = fake.aborts();
    const victim = inf.generate({ model: "llama3.2", prompt: "a", signal: ac.signal, onToken: (_, n) => n === 3 && ac.abort(new Error("job cancelled")) });
    const survivor = inf.generate({ model: "llama3.2", prompt: "b" });
    const err = await victim.catch((e) => e);
    expect(err.message).toBe("job cancelled");
    const ok = await survivor;
    expect(ok.tokens).toBe(30);
    await fake.waitFor(() => fake.aborts() === abortsBefore + 1);
    const recs = fake.requests("/api/generate");
    const stopped = recs.find((r) => r.body.prompt === "a")!;
    expect(stopped.aborted).toBe(true);
    expect(stopped.tokensSent).toBeLessThan(10);
    expect(recs.find((r) => r.body.prompt === "b")!.done).toBe(true);
  });

  test("an already-aborted signal never reaches Ollama", async () => {
    const { inf } = setup();
    const err = await inf.generate({ model: "llama3.2", prompt: "x", signal: AbortSignal.abort() }).catch((e) => e);
    expect(err.name).toBe("AbortError");
    expect(fake.requests("/api/generate")).toEqual([]);
  });

  test("unknown model → Ollama's own message", async () => {
    const { inf } = setup();
    const err = await failure(inf.generate({ model: "mistral", prompt: "x" }));
    expect(err.message).toBe('Ollama failed: model "mistral" not found, try pulling it first');
    expect(err.data.status).toBe(404);
  });
});

describe("faults → AppError, and it works again afterwards", () => {
  const run = (inf: Inference) => inf.generate({ model: "llama3.2", prompt: "one two three four five" });

  async function recovers(inf: Inference) {
    await fake.setFault(null);
    const r = await run(inf);
    expect(r.text).toBe("echo: one two three four five");
  }

  test("refused: 'not running', status flips without waiting for the probe loop", async () => {
    const { inf, of } = setup();
    await inf.start();
    await fake.setFault("refuse");
    const err = await failure(run(inf));
    expect(err.message).toBe(`Ollama is not running at ${fake.url}`);
    await until(() => !inf.view().reachable);
    expect(of("ollama.status.changed").at(-1).ollama.error).toBe(`Ollama is not running at ${fake.url}`);
    await recovers(inf);
    await inf.refresh();
    expect(inf.view().reachable).toBe(true);
  });

  test("500", async () => {
    const { inf } = setup();
    await fake.setFault("500", { message: "llama runner process has terminated", paths: ["/api/generate"] });
    const err = await failure(run(inf));
    expect(err.message).toBe("Ollama failed: llama runner process has terminated");
    expect(err.data.status).toBe(500);
    await recovers(inf);
  });

  test("cut mid-stream", async () => {
    const { inf } = setup();
    await fake.setFault("cut", { afterTokens: 2 });
    const tokens: number[] = [];
    const err = await failure(inf.generate({ model: "llama3.2", prompt: "one two three four five", onToken: (_, n) => tokens.push(n) }));
    expect(err.message).toBe("Ollama stopped answering mid-generation");
    expect(tokens).toEqual([1, 2]);
    await recovers(inf);
  });

  test("stall after the first token → stall timeout", async () => {
    const { inf } = setup({ stallTimeoutMs: 150 });
    await fake.setFault("stall", { afterTokens: 1 });
    const t0 = performance.now();
    const err = await failure(run(inf));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(err.message).toBe("Ollama stopped answering mid-generation (nothing for 150 ms)");
    await fake.waitFor(() => fake.active() === 0); // our abort reached the server
    expect(fake.requests("/api/generate")[0]!.aborted).toBe(true);
    await recovers(inf);
  });

  test("no first byte → first-token timeout", async () => {
    const { inf } = setup();
    await fake.setFault("stall", { afterTokens: 0 });
    const err = await failure(inf.generate({ model: "llama3.2", prompt: "x", firstTokenTimeoutMs: 120 }));
    expect(err.message).toBe(`Ollama at ${fake.url} did not answer within 120 ms`);
    await recovers(inf);
  });

  test("malformed line", async () => {
    const { inf } = setup();
    await fake.setFault("malformed", { afterTokens: 2 });
    const err = await failure(run(inf));
    expect(err.message).toStartWith(`Ollama at ${fake.url} sent a reply that could not be read`);
    await recovers(inf);
  });

  test("a line that is JSON but not an object (null)", async () => {
    const { inf } = setup();
    await fake.setFault("non-object", { afterTokens: 2 });
    const err = await failure(run(inf));
    expect(err.message).toBe(`Ollama at ${fake.url} sent a reply that could not be read (not a JSON object: null)`);
    await recovers(inf);
  });

  test("error line inside the stream", async () => {
    const { inf } = setup();
    await fake.setFault("error-line", { afterTokens: 1, message: "CUDA error: out of memory" });
    const err = await failure(run(inf));
    expect(err.message).toBe("Ollama failed: CUDA error: out of memory");
    await recovers(inf);
  });

  test("stop() cancels an in-flight generation with an AppError", async () => {
    fake.setPacing({ instant: false, tokensPerSec: 50, responseTokens: 100 });
    const { inf } = setup();
    const p = inf.generate({ model: "llama3.2", prompt: "x" });
    await fake.waitFor(() => (fake.requests("/api/generate")[0]?.tokensSent ?? 0) >= 2);
    inf.stop();
    const err = await failure(p);
    expect(err.message).toBe("Inference stopped");
  });
});

describe("warm and pull", () => {
  test("warm sends an empty prompt with keep_alive and the model is loaded", async () => {
    const { inf } = setup();
    await inf.warm("qwen2.5:0.5b");
    const [rec] = fake.requests("/api/generate");
    expect(rec!.body).toMatchObject({ model: "qwen2.5:0.5b", prompt: "", keep_alive: "10m" });
    expect(fake.loaded()).toContain("qwen2.5:0.5b");
    const err = await failure(inf.warm("nope"));
    expect(err.message).toBe('Ollama failed: model "nope" not found, try pulling it first');
  });

  test("pull reports progress (callback and PullProgress events) and the model appears", async () => {
    const { inf, of } = setup();
    await inf.start();
    const updates: PullUpdate[] = [];
    await inf.pull("tinyllama", (u) => updates.push(u));
    expect(updates[0]!.status).toBe("pulling manifest");
    expect(updates.at(-1)!.status).toBe("success");
    const layer = updates.filter((u) => u.total !== null);
    expect(layer.at(-1)!.completed).toBe(637_000_000);
    const events = of("ollama.pull.progress");
    expect(events.at(-1)).toMatchObject({ model: "tinyllama", status: "success", done: true, error: null });
    expect(events.filter((e) => !e.done).map((e) => e.status)).toContain("pulling manifest");
    expect(inf.models().map((m) => m.name)).toContain("tinyllama:latest");
    expect(of("ollama.models.changed").at(-1).models.map((m: { name: string }) => m.name)).toContain("tinyllama:latest");
  });

  test("pull of an unknown model fails with Ollama's message, published as a done event with the error", async () => {
    const { inf, of } = setup();
    const err = await failure(inf.pull("nothing-here"));
    expect(err.message).toBe("Ollama failed: pull model manifest: file does not exist");
    expect(of("ollama.pull.progress").at(-1)).toMatchObject({ model: "nothing-here", done: true, error: err.message });
  });

  test("pull cut mid-stream → AppError; refused → not running", async () => {
    const { inf } = setup();
    await fake.setFault("cut", { afterTokens: 2, paths: ["/api/pull"] });
    expect((await failure(inf.pull("tinyllama"))).message).toBe("Ollama stopped answering mid-pull");
    await fake.setFault("refuse");
    expect((await failure(inf.pull("tinyllama"))).message).toBe(`Ollama is not running at ${fake.url}`);
  });
});
