// Streaming overhead: one paced generation read through the product's Inference.generate (ollama
// npm client, zod check per chunk, timers, onToken) versus the same request read with a bare
// fetch and a hand-rolled NDJSON splitter. Same fake server, runs interleaved, medians compared.
import { Bus } from "../src/bus.ts";
import { Inference } from "../src/inference/ollama.ts";
import { startOllamaServer } from "../test/fixtures/ollama-server.ts";
import { median } from "./util.ts";

export interface StreamingResult {
  tokens: number;
  tokensPerSec: number;
  runs: number;
  directMs: number;
  productMs: number;
  overheadPct: number;
  /** Process CPU per generation (client + fake server, same for both), ms. */
  directCpuMs: number;
  productCpuMs: number;
  /** Fixed cost of one call: short answers from an instant fake, process CPU per call, ms. */
  shortCalls: number;
  shortDirectCpuMs: number;
  shortProductCpuMs: number;
}

/** Process CPU per call (ms) of `calls` sequential short generations, after a warm-up. */
async function cpuPerCall(calls: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) await fn();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / 1000 / calls;
}

const MODEL = "llama3.2";

async function direct(url: string, tokens: number): Promise<{ text: string; chunks: number }> {
  const res = await fetch(`${url}/api/generate`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, prompt: "bench", stream: true, options: { num_predict: tokens } }),
    signal: AbortSignal.timeout(30_000),
  });
  if (!res.ok || !res.body) throw new Error(`fake ollama answered ${res.status}`);
  const dec = new TextDecoder();
  let buf = "";
  let text = "";
  let chunks = 0;
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line) continue;
      const obj = JSON.parse(line) as { response?: string; done?: boolean };
      if (obj.response) {
        text += obj.response;
        chunks++;
      }
      if (obj.done) return { text, chunks };
    }
  }
  throw new Error("stream ended without a done line");
}

export async function streamingOverhead(opts: { tokens?: number; tokensPerSec?: number; runs?: number; shortCalls?: number } = {}): Promise<StreamingResult> {
  const tokens = opts.tokens ?? 500;
  const rate = opts.tokensPerSec ?? 2000;
  const runs = opts.runs ?? 7;
  const fake = await startOllamaServer({ tokensPerSec: rate, responseTokens: tokens });
  const inference = new Inference({ url: fake.url, bus: new Bus(), servedModels: null, firstTokenTimeoutMs: 30_000, stallTimeoutMs: 30_000 });
  const product = async () => {
    let seen = 0;
    const r = await inference.generate({ model: MODEL, prompt: "bench", options: { num_predict: tokens }, onToken: (_t, n) => (seen = n) });
    return { text: r.text, chunks: seen };
  };
  const timed = async (fn: () => Promise<{ chunks: number }>) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await fn();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    // A short answer would make the comparison meaningless: insist on the full length.
    if (r.chunks !== tokens) throw new Error(`expected ${tokens} tokens, got ${r.chunks}`);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
  try {
    await timed(() => direct(fake.url, tokens)); // warm-up: JIT, connection pool, model "load"
    await timed(product);
    const d: { ms: number; cpuMs: number }[] = [];
    const p: { ms: number; cpuMs: number }[] = [];
    for (let i = 0; i < runs; i++) {
      // Alternate which goes first so a slow moment of the machine hits both alike.
      if (i % 2 === 0) {
        d.push(await timed(() => direct(fake.url, tokens)));
        p.push(await timed(product));
      } else {
        p.push(await timed(product));
        d.push(await timed(() => direct(fake.url, tokens)));
      }
    }
    // The per-call fixed cost (client, connection, request, parsing) shows with an instant backend;
    // this is what an instant fake charges every job in the dispatch benchmark.
    const calls = opts.shortCalls ?? 200;
    fake.setPacing({ instant: true, responseTokens: 8 });
    const shortDirect = await cpuPerCall(calls, () => direct(fake.url, 8));
    const shortProduct = await cpuPerCall(calls, () => inference.generate({ model: MODEL, prompt: "bench", options: { num_predict: 8 } }));
    const directMs = median(d.map((x) => x.ms));
    const productMs = median(p.map((x) => x.ms));
    return {
      tokens,
      tokensPerSec: rate,
      runs,
      directMs,
      productMs,
      overheadPct: ((productMs - directMs) / directMs) * 100,
      directCpuMs: median(d.map((x) => x.cpuMs)),
      productCpuMs: median(p.map((x) => x.cpuMs)),
      shortCalls: calls,
      shortDirectCpuMs: shortDirect,
      shortProductCpuMs: shortProduct,
    };
  } finally {
    inference.stop();
    await fake.stop();
  }
}
