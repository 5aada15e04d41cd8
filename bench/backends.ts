// Many backends: (1) aggregate output tokens/s through the router with 1, 2 and 4 paced backends
// (fake Ollamas and fake OpenAI-compatible servers on 127.0.0.1, each with a fixed tokens/s per
// request and a fixed slot count) under a saturated queue, against the backends' summed capacity;
// (2) the OpenAI wire's streaming overhead: a 500-token generation read through the router and the
// `openai` client (OpenAIBackend) against a bare fetch with a hand-rolled SSE splitter, and the
// router's own cost on the Ollama path (Router.generate vs Inference.generate).
// Run alone: `bun bench/backends.ts [--quick]`; `bun run bench` runs it too.
import { Bus } from "../src/bus.ts";
import type { BackendSpec } from "../src/inference/backend.ts";
import { Inference } from "../src/inference/ollama.ts";
import { OllamaBackend } from "../src/inference/ollama-backend.ts";
import { OpenAIBackend } from "../src/inference/openai.ts";
import { Router } from "../src/inference/router.ts";
import { setLogLevel } from "../src/log.ts";
import { startOllamaServer, type FakeOllama } from "../test/fixtures/ollama-server.ts";
import { startOpenAIServer, type FakeOpenAI } from "../test/fixtures/openai-server.ts";
import { fmt, goal, median, table } from "./util.ts";

export interface ScalingRow {
  backends: number;
  types: string;
  slots: number;
  jobs: number;
  tokensPerJob: number;
  capacityTokPerSec: number;
  tokPerSec: number;
  ofCapacityPct: number;
  /** The same jobs sent straight to each backend's own client, slots loops per backend (no router). */
  directTokPerSec: number;
}

export interface WireOverhead {
  tokens: number;
  tokensPerSec: number;
  runs: number;
  openaiDirectMs: number;
  openaiProductMs: number;
  openaiOverheadPct: number;
  openaiDirectCpuMs: number;
  openaiProductCpuMs: number;
  ollamaInferenceMs: number;
  ollamaRouterMs: number;
  routerOverheadPct: number;
}

export interface BackendsResult {
  scaling: ScalingRow[];
  scaling1to2: number;
  scaling1to4: number;
  wire: WireOverhead;
}

const RATE = 100; // tokens/s per request on each fake backend
const SLOTS = 2; // slots per backend
const TOKENS = 100; // tokens per job (1 s at RATE)

type Fake = { kind: "ollama"; f: FakeOllama } | { kind: "openai"; f: FakeOpenAI };

async function startFakes(n: number): Promise<Fake[]> {
  const out: Fake[] = [];
  for (let i = 0; i < n; i++) {
    // Half Ollama, half OpenAI-compatible (1: Ollama).
    if (i % 2 === 0) out.push({ kind: "ollama", f: await startOllamaServer({ models: [{ name: "llama3.2:3b" }], tokensPerSec: RATE, numParallel: SLOTS, responseTokens: TOKENS }) });
    else out.push({ kind: "openai", f: await startOpenAIServer({ models: ["meta-llama/Llama-3.2-3B-Instruct"], tokensPerSec: RATE, slots: SLOTS, responseTokens: TOKENS }) });
  }
  return out;
}

const specOf = (x: Fake, i: number): BackendSpec => ({ name: `b${i}`, type: x.kind, url: x.f.url, maxConcurrent: SLOTS });

async function scaling(n: number, rounds: number): Promise<ScalingRow> {
  const fakes = await startFakes(n);
  const router = new Router({
    bus: new Bus(),
    backends: fakes.map(specOf),
    aliases: { "meta-llama/Llama-3.2-3B-Instruct": "llama3.2:3b" },
    servedModels: null,
    probeIntervalMs: 60_000,
  });
  try {
    await router.start();
    const slots = router.capacity();
    const job = () => router.generate({ model: "llama3.2:3b", prompt: "bench", options: { num_predict: TOKENS } });
    // Warm-up: connections and the fakes' first-use paths, one job per slot.
    await Promise.all(Array.from({ length: slots }, job));
    // Saturated: every job is queued at once; the router hands out slots as they free.
    const jobs = slots * rounds;
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: jobs }, job));
    const secs = (performance.now() - t0) / 1000;
    const tokens = results.reduce((s, r) => s + r.tokens, 0);
    if (tokens !== jobs * TOKENS) throw new Error(`expected ${jobs * TOKENS} tokens, got ${tokens}`);
    const capacity = slots * RATE;
    const tokPerSec = tokens / secs;
    // What this machine does right now without the router: each backend's own client, `SLOTS`
    // loops per backend, the same number of jobs.
    const direct = fakes.map((x, i) => (x.kind === "ollama" ? new OllamaBackend({ spec: specOf(x, i), bus: new Bus() }) : new OpenAIBackend({ spec: specOf(x, i) })));
    const model = (i: number) => (fakes[i]!.kind === "ollama" ? "llama3.2:3b" : "meta-llama/Llama-3.2-3B-Instruct");
    const d0 = performance.now();
    const counts = await Promise.all(
      direct.flatMap((b, i) =>
        Array.from({ length: SLOTS }, async () => {
          let n = 0;
          for (let k = 0; k < rounds; k++) n += (await b.generate({ model: model(i), prompt: "bench", options: { num_predict: TOKENS } })).tokens;
          return n;
        }),
      ),
    );
    const directTokPerSec = counts.reduce((a, b) => a + b, 0) / ((performance.now() - d0) / 1000);
    for (const b of direct) b.stop();
    return {
      backends: n,
      types: fakes.map((x) => x.kind).join(" + "),
      slots,
      jobs,
      tokensPerJob: TOKENS,
      capacityTokPerSec: capacity,
      tokPerSec,
      ofCapacityPct: (tokPerSec / capacity) * 100,
      directTokPerSec,
    };
  } finally {
    router.stop();
    await Promise.all(fakes.map((x) => x.f.stop()));
  }
}

/** A bare fetch of the chat stream with a hand-rolled SSE splitter: the floor for the wire. */
async function directSse(url: string, tokens: number): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "bench" }], stream: true, max_tokens: tokens, stream_options: { include_usage: true } }),
  });
  if (!res.ok || !res.body) throw new Error(`fake openai answered ${res.status}`);
  const dec = new TextDecoder();
  let buf = "";
  let chunks = 0;
  for await (const part of res.body) {
    buf += dec.decode(part, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!ev.startsWith("data: ")) continue;
      const data = ev.slice(6);
      if (data === "[DONE]") return chunks;
      const obj = JSON.parse(data) as { choices?: Array<{ delta?: { content?: string } }> };
      if (obj.choices?.[0]?.delta?.content) chunks++;
    }
  }
  throw new Error("stream ended without [DONE]");
}

async function timed(fn: () => Promise<number>, want: number): Promise<{ ms: number; cpuMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (n !== want) throw new Error(`expected ${want} tokens, got ${n}`);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** Runs a and b `runs` times interleaved (alternating which goes first); medians. */
async function compare(runs: number, a: () => Promise<{ ms: number; cpuMs: number }>, b: () => Promise<{ ms: number; cpuMs: number }>) {
  await a();
  await b();
  const xs: { ms: number; cpuMs: number }[] = [];
  const ys: { ms: number; cpuMs: number }[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      xs.push(await a());
      ys.push(await b());
    } else {
      ys.push(await b());
      xs.push(await a());
    }
  }
  return { a: { ms: median(xs.map((x) => x.ms)), cpuMs: median(xs.map((x) => x.cpuMs)) }, b: { ms: median(ys.map((x) => x.ms)), cpuMs: median(ys.map((x) => x.cpuMs)) } };
}

async function wireOverhead(tokens: number, rate: number, runs: number): Promise<WireOverhead> {
  const oa = await startOpenAIServer({ models: ["m"], tokensPerSec: rate, responseTokens: tokens, slots: 2 });
  const ol = await startOllamaServer({ models: [{ name: "m" }], tokensPerSec: rate, responseTokens: tokens, numParallel: 2 });
  const bus = new Bus();
  const viaOpenAI = new Router({ bus, backends: [{ name: "oa", type: "openai", url: oa.url }], servedModels: null, probeIntervalMs: 60_000 });
  const viaOllama = new Router({ bus, backends: [{ name: "ol", type: "ollama", url: ol.url }], servedModels: null, probeIntervalMs: 60_000 });
  const inference = new Inference({ url: ol.url, bus, servedModels: null, probeIntervalMs: 60_000 });
  try {
    await Promise.all([viaOpenAI.start(), viaOllama.start(), inference.start()]);
    const count = async (p: Promise<unknown>, seen: { n: number }) => {
      await p;
      return seen.n;
    };
    const product = (r: Router, model: string) => () => {
      const seen = { n: 0 };
      return count(r.generate({ model, prompt: "bench", options: { num_predict: tokens }, onToken: (_t, n) => (seen.n = n) }), seen);
    };
    const bare = () => {
      const seen = { n: 0 };
      return count(inference.generate({ model: "m:latest", prompt: "bench", options: { num_predict: tokens }, onToken: (_t, n) => (seen.n = n) }), seen);
    };
    const o = await compare(
      runs,
      () => timed(() => directSse(oa.url, tokens), tokens),
      () => timed(product(viaOpenAI, "m"), tokens),
    );
    const r = await compare(
      runs,
      () => timed(bare, tokens),
      () => timed(product(viaOllama, "m:latest"), tokens),
    );
    return {
      tokens,
      tokensPerSec: rate,
      runs,
      openaiDirectMs: o.a.ms,
      openaiProductMs: o.b.ms,
      openaiOverheadPct: ((o.b.ms - o.a.ms) / o.a.ms) * 100,
      openaiDirectCpuMs: o.a.cpuMs,
      openaiProductCpuMs: o.b.cpuMs,
      ollamaInferenceMs: r.a.ms,
      ollamaRouterMs: r.b.ms,
      routerOverheadPct: ((r.b.ms - r.a.ms) / r.a.ms) * 100,
    };
  } finally {
    viaOpenAI.stop();
    viaOllama.stop();
    inference.stop();
    await Promise.all([oa.stop(), ol.stop()]);
  }
}

export async function backendsBench(opts: { quick?: boolean } = {}): Promise<BackendsResult> {
  // Backends coming and going at each step would log; the figures are the output here.
  setLogLevel("error");
  const rounds = opts.quick ? 3 : 5;
  const rows: ScalingRow[] = [];
  for (const n of [1, 2, 4]) rows.push(await scaling(n, rounds));
  const wire = await wireOverhead(500, 2000, opts.quick ? 3 : 7);
  const at = (n: number) => rows.find((r) => r.backends === n)!.tokPerSec;
  return { scaling: rows, scaling1to2: at(2) / at(1), scaling1to4: at(4) / at(1), wire };
}

export function printBackends(r: BackendsResult): void {
  console.log(`\n## Many backends: aggregate output tokens/s under a saturated queue (${RATE} tok/s per request, ${SLOTS} slots per backend, ${TOKENS}-token jobs)\n`);
  console.log(
    table(
      ["backends", "slots", "jobs", "capacity, tok/s", "via the router, tok/s", "of capacity", "straight to each backend, tok/s"],
      r.scaling.map((s) => [`${s.backends} (${s.types})`, String(s.slots), String(s.jobs), fmt(s.capacityTokPerSec, 0), fmt(s.tokPerSec, 1), `${fmt(s.ofCapacityPct, 1)} %`, fmt(s.directTokPerSec, 1)]),
    ),
  );
  console.log(`\nscaling 1 → 2 backends: ${fmt(r.scaling1to2, 2)}×; 1 → 4: ${fmt(r.scaling1to4, 2)}×`);
  const w = r.wire;
  console.log(`\n## Backend wire overhead (${w.tokens} tokens at ${w.tokensPerSec} tok/s, median of ${w.runs})\n`);
  console.log(
    table(
      ["", "wall, ms", "process CPU, ms"],
      [
        ["bare fetch + SSE split (OpenAI wire)", fmt(w.openaiDirectMs, 1), fmt(w.openaiDirectCpuMs, 1)],
        ["Router → OpenAIBackend (`openai` client)", fmt(w.openaiProductMs, 1), fmt(w.openaiProductCpuMs, 1)],
        ["overhead, OpenAI wire", `${fmt(w.openaiOverheadPct, 2)} %`, fmt(w.openaiProductCpuMs - w.openaiDirectCpuMs, 1)],
        ["Inference.generate (Ollama)", fmt(w.ollamaInferenceMs, 1), ""],
        ["Router → OllamaBackend", fmt(w.ollamaRouterMs, 1), ""],
        ["overhead, the router on Ollama", `${fmt(w.routerOverheadPct, 2)} %`, ""],
      ],
    ),
  );
}

export function backendGoals(r: BackendsResult): string[][] {
  const worst = Math.min(...r.scaling.map((s) => s.ofCapacityPct));
  return [
    ["aggregate tok/s ≥ 95 % of the backends' capacity (worst of 1, 2, 4)", `${fmt(worst, 1)} %`, goal(worst >= 95)],
    ["scaling 1 → 2 backends ≥ 1.9×", `${fmt(r.scaling1to2, 2)}×`, goal(r.scaling1to2 >= 1.9)],
    ["OpenAI wire streaming adds < 2 % (500 tokens)", `${fmt(r.wire.openaiOverheadPct, 2)} %`, goal(r.wire.openaiOverheadPct < 2)],
    ["the router adds < 2 % on Ollama (500 tokens)", `${fmt(r.wire.routerOverheadPct, 2)} %`, goal(r.wire.routerOverheadPct < 2)],
  ];
}

if (import.meta.main) {
  const only = Bun.argv.includes("--wire") ? "wire" : Bun.argv.includes("--scaling") ? "scaling" : null;
  if (only === "scaling") {
    setLogLevel("error");
    for (const n of [1, 2, 4]) {
      const s = await scaling(n, 5);
      console.log(`${n}: ${fmt(s.tokPerSec, 1)} tok/s of ${s.capacityTokPerSec} (${fmt(s.ofCapacityPct, 1)} %), straight ${fmt(s.directTokPerSec, 1)}`);
    }
    process.exit(0);
  }
  if (only === "wire") {
    setLogLevel("error");
    for (let i = 0; i < 3; i++) {
      const w = await wireOverhead(500, 2000, 9);
      console.log(`openai ${fmt(w.openaiOverheadPct, 2)} % (${fmt(w.openaiDirectMs, 1)} → ${fmt(w.openaiProductMs, 1)} ms, CPU ${fmt(w.openaiDirectCpuMs, 1)} → ${fmt(w.openaiProductCpuMs, 1)} ms); router on ollama ${fmt(w.routerOverheadPct, 2)} %`);
    }
    process.exit(0);
  }
  const r = await backendsBench({ quick: Bun.argv.includes("--quick") });
  printBackends(r);
  console.log("\n## Goals\n");
  console.log(table(["goal", "measured", ""], backendGoals(r)));
}
