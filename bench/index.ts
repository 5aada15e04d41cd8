// `bun run bench`: figures for the provider's hot path, printed as tables (no pass/fail). Only
// 127.0.0.1 is touched: a local relay (test/fixtures/relay.ts), a fake Ollama
// (test/fixtures/ollama-server.ts) and, for the start-up figures, the compiled dist/compute.
//
//   1. dispatch: customers → relay → responder (a child process) → relay → customers, paced and
//      flat out, for the product's Engine and for a minimal "floor" responder;
//   2. streaming: Inference.generate vs a bare fetch of the same NDJSON stream;
//   3. start-up: compiled cold start to the first HTTP 200, idle RSS, binary and UI sizes;
//   4. many backends (bench/backends.ts): aggregate tokens/s with 1, 2, 4 paced backends, and the
//      OpenAI wire's and the router's streaming overhead (--no-backends skips it).
//
// Options: --quick (fewer jobs), --no-wasm (skip provider-js and floor-wasm), --no-startup,
//          --json FILE (also write the figures as JSON), --profile DIR (CPU profile of the
//          provider child, Markdown, written when it exits), --verbose (show the child's stderr),
//          --ablations (also run the provider with parts of its work switched off, one at a time,
//          to price each part; see ABLATIONS in bench/responder.ts), --binary PATH (time this
//          compiled binary instead of dist/compute), --only KINDS (comma list of responder kinds),
//          --repeat N (N interleaved rounds of every kind: medians, latency over all samples),
//          --no-cold (skip issue 16's cold / long-history / start-to-taking-jobs phases, bench/cold.ts),
//          --cold-only (only those), --cold-source (run them on `bun src/index.ts`, not the binary),
//          --no-history (cold phases without the long-history one), --cold-slots N (the cold phase
//          once more with limits.maxConcurrentJobs N: what the one-slot default costs).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startOllamaServer, type FakeOllama } from "../test/fixtures/ollama-server.ts";
import { startRelay } from "../test/fixtures/relay.ts";
import { Customers, type PhaseResult } from "./load.ts";
import { coldPhases, coldReport, type ColdPlan, type ColdResult } from "./cold.ts";
import { ABLATIONS, isProvider, RESPONDER_KINDS, type Ablation, type FromChild, type ResponderArgs, type ResponderKind, type ToChild } from "./responder.ts";
import { runtimeFloor, startup, uiSizes, type IdleSample, type SizesResult, type StartupResult } from "./startup.ts";
import { streamingOverhead, type StreamingResult } from "./streaming.ts";
import { backendGoals, backendsBench, printBackends, type BackendsResult } from "./backends.ts";
import { fmt, goal, machine, median, percentile, table } from "./util.ts";

const ROOT = join(import.meta.dir, "..");

const { values: flags } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    quick: { type: "boolean" },
    "no-wasm": { type: "boolean" },
    "no-startup": { type: "boolean" },
    "no-backends": { type: "boolean" },
    json: { type: "string" },
    profile: { type: "string" },
    verbose: { type: "boolean" },
    ablations: { type: "boolean" },
    binary: { type: "string" },
    only: { type: "string" },
    repeat: { type: "string" },
    "no-cold": { type: "boolean" },
    "cold-only": { type: "boolean" },
    "cold-source": { type: "boolean" },
    "cold-slots": { type: "string" },
    "no-history": { type: "boolean" },
  },
});

const PLAN = flags.quick
  ? { customers: 4, warm: 20, paced: 60, rate: 20, burst: 200, serial: 100, concurrency: 16 }
  : { customers: 8, warm: 40, paced: 200, rate: 20, burst: 500, serial: 200, concurrency: 16 };

/** Issue 16's phases (bench/cold.ts): the product started as a user starts it, hit at once. */
const COLD: ColdPlan = flags.quick
  ? { jobs: 50, keys: 64, connections: 8, inFlight: 8, startRuns: 2, history: flags["no-history"] ? null : { jobs: 10_000, payments: 2000 }, timeoutMs: 60_000 }
  : { jobs: 200, keys: 256, connections: 8, inFlight: 8, startRuns: 5, history: flags["no-history"] ? null : { jobs: 100_000, payments: 20_000 }, timeoutMs: 120_000 };

// ---------------------------------------------------------------- the child process

class Responder {
  private readonly proc: Bun.Subprocess;
  private readonly waiting = new Map<string, { resolve: (m: FromChild) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<Extract<FromChild, { t: "ready" }>>;

  constructor(kind: ResponderKind, relayUrl: string, ollamaUrl: string, ablate: Ablation[] = []) {
    const args: ResponderArgs = { kind, relayUrl, ollamaUrl, maxConcurrentJobs: PLAN.concurrency, ablate };
    const prof = flags.profile && kind.startsWith("provider") ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${flags.profile}`] : [];
    if (prof.length) mkdirSync(flags.profile!, { recursive: true });
    this.ready = this.next("ready") as Promise<Extract<FromChild, { t: "ready" }>>;
    this.proc = Bun.spawn([process.execPath, ...prof, join(import.meta.dir, "responder.ts"), JSON.stringify(args)], {
      cwd: ROOT,
      // provider-js: the product's signer kept on its pure-JS fallback.
      env: { ...process.env, ...(kind === "provider-js" ? { COMPUTE_NOSTR_WASM: "0" } : {}) },
      stdout: "ignore",
      stderr: flags.verbose ? "inherit" : "ignore",
      ipc: (msg: FromChild) => {
        if (msg.t === "error") return this.failAll(new Error(`responder ${kind}: ${msg.message}`));
        const w = this.waiting.get(msg.t);
        this.waiting.delete(msg.t);
        w?.resolve(msg);
      },
    });
    void this.proc.exited.then((code) => this.failAll(new Error(`responder ${kind} exited (code ${code})`)));
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  private next(t: FromChild["t"]): Promise<FromChild> {
    return new Promise((resolve, reject) => this.waiting.set(t, { resolve, reject }));
  }

  private ask(msg: ToChild, reply: FromChild["t"]): Promise<FromChild> {
    const p = this.next(reply);
    this.proc.send(msg);
    return p;
  }

  mark() {
    return this.ask({ t: "mark" }, "mark") as Promise<Extract<FromChild, { t: "mark" }>>;
  }

  async limits(maxConcurrentJobs: number): Promise<void> {
    await this.ask({ t: "limits", maxConcurrentJobs }, "limits");
  }

  async stop(): Promise<void> {
    this.proc.send({ t: "stop" } satisfies ToChild);
    const killer = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    await this.proc.exited;
    clearTimeout(killer);
  }
}

const ABLATION_LABEL: Record<Ablation, string> = {
  "memory-ledger": "ledger in memory",
  "no-http": "no Ollama HTTP call",
  "no-cancel-watch": "no cancel-watch REQs",
  "quiet-logs": "log level warn",
};

// ---------------------------------------------------------------- dispatch scenario

interface Phase extends PhaseResult {
  /** Responder CPU (user+system) per job, ms. */
  cpuMsPerJob: number;
  /** Relay + customers (+ fake Ollama) CPU per job in the parent, ms. */
  parentCpuMsPerJob: number;
  /** REQ messages the relay received per job (customers send none during a phase). */
  reqsPerJob: number;
}

interface Dispatch {
  kind: ResponderKind;
  ablate: Ablation[];
  setupMs: number;
  signer: "js" | "wasm";
  paced: Phase;
  burst: Phase;
  /** The provider at maxConcurrentJobs 1 (the product default), flat out. */
  serial: Phase | null;
  peakRssKb: number | null;
}

async function dispatch(kind: ResponderKind, fake: FakeOllama, opts: { warmOnly?: boolean; ablate?: Ablation[] } = {}): Promise<Dispatch | null> {
  // A fresh relay per responder: a provider replays stored requests from the last 30 s on
  // subscribe, so it must not see the previous responder's traffic.
  const relay = await startRelay();
  const child = new Responder(kind, relay.url, fake.url, opts.ablate);
  let customers: Customers | null = null;
  try {
    const ready = await child.ready;
    customers = await Customers.start(relay.url, PLAN.customers);
    const c = customers;
    relay.onEvent((e) => c.relaySaw(e as Parameters<Customers["relaySaw"]>[0]));
    const phase = async (n: number, rate: number | null): Promise<Phase> => {
      const batch = c.sign(n, ready.pubkey);
      const reqs = () => relay.connections().reduce((sum, x) => sum + x.reqs, 0);
      const q0 = reqs();
      const p0 = process.cpuUsage();
      const m0 = await child.mark();
      const r = await c.run(batch, rate, 60_000);
      const m1 = await child.mark();
      const p1 = process.cpuUsage(p0);
      const cpu = (m1.userUs + m1.systemUs - m0.userUs - m0.systemUs) / 1000;
      return { ...r, cpuMsPerJob: cpu / n, parentCpuMsPerJob: (p1.user + p1.system) / 1000 / n, reqsPerJob: (reqs() - q0) / n };
    };
    // Warm-up: JIT, SQLite statement cache, fake Ollama "model load".
    await phase(PLAN.warm, 100);
    if (opts.warmOnly) {
      await phase(PLAN.burst, null);
      return null;
    }
    const paced = await phase(PLAN.paced, PLAN.rate);
    const burst = await phase(PLAN.burst, null);
    let serial: Phase | null = null;
    if (isProvider(kind) && !opts.ablate?.length) {
      await child.limits(1);
      serial = await phase(PLAN.serial, null);
    }
    const last = await child.mark();
    return { kind, ablate: opts.ablate ?? [], setupMs: ready.setupMs, signer: ready.signer, paced, burst, serial, peakRssKb: last.hwmKb };
  } finally {
    customers?.close();
    await child.stop().catch(() => {});
    await relay.stop();
  }
}

/** One figure set from several rounds of the same kind: medians, latency samples pooled. */
function combine(ds: Dispatch[]): Dispatch {
  if (ds.length === 1) return ds[0]!;
  const phase = (ps: Phase[]): Phase => ({
    jobs: ps.reduce((n, p) => n + p.jobs, 0),
    results: ps.reduce((n, p) => n + p.results, 0),
    errors: ps.reduce((n, p) => n + p.errors, 0),
    processingMs: ps.flatMap((p) => p.processingMs),
    resultMs: ps.flatMap((p) => p.resultMs),
    turnaroundMs: ps.flatMap((p) => p.turnaroundMs),
    wallS: median(ps.map((p) => p.wallS)),
    jobsPerSec: median(ps.map((p) => p.jobsPerSec)),
    firstError: ps.find((p) => p.firstError)?.firstError ?? null,
    cpuMsPerJob: median(ps.map((p) => p.cpuMsPerJob)),
    parentCpuMsPerJob: median(ps.map((p) => p.parentCpuMsPerJob)),
    reqsPerJob: median(ps.map((p) => p.reqsPerJob)),
  });
  const serial = ds.map((d) => d.serial).filter((x): x is Phase => x !== null);
  return {
    kind: ds[0]!.kind,
    ablate: ds[0]!.ablate,
    setupMs: median(ds.map((d) => d.setupMs)),
    signer: ds[0]!.signer,
    paced: phase(ds.map((d) => d.paced)),
    burst: phase(ds.map((d) => d.burst)),
    serial: serial.length ? phase(serial) : null,
    peakRssKb: Math.max(...ds.map((d) => d.peakRssKb ?? 0)) || null,
  };
}

/** provider ÷ other throughput, per round (each pair ran back to back, on the same machine state). */
function ratios(rounds: Dispatch[][], other: ResponderKind): number[] {
  const out: number[] = [];
  for (const round of rounds) {
    const p = round.find((d) => d.kind === "provider");
    const o = round.find((d) => d.kind === other);
    if (p && o) out.push(p.burst.jobsPerSec / o.burst.jobsPerSec);
  }
  return out;
}

// ---------------------------------------------------------------- output

const ms = (v: number) => fmt(v, 1);
const pcts = (xs: number[]) => `${ms(percentile(xs, 50))} / ${ms(percentile(xs, 95))} / ${ms(percentile(xs, 99))}`;
const mb = (kb: number | null) => (kb === null ? "–" : fmt(kb / 1024, 1));

function dispatchTable(runs: Dispatch[]): string {
  const col = (f: (d: Dispatch) => string) => runs.map(f);
  const rows: string[][] = [
    [`paced ${PLAN.rate} jobs/s: results / jobs (errors)`, ...col((d) => `${d.paced.results} / ${d.paced.jobs} (${d.paced.errors})`)],
    ["  request → processing p50 / p95 / p99, ms", ...col((d) => pcts(d.paced.processingMs))],
    ["  request → result p50 / p95 / p99, ms", ...col((d) => pcts(d.paced.resultMs))],
    ["  at the relay: request → processing p50 / p95 / p99, ms", ...col((d) => pcts(d.paced.turnaroundMs))],
    ["  responder CPU per job, ms", ...col((d) => ms(d.paced.cpuMsPerJob))],
    ["  parent (relay, customers, fake Ollama) CPU per job, ms", ...col((d) => ms(d.paced.parentCpuMsPerJob))],
    ["  REQs the relay received per job", ...col((d) => fmt(d.paced.reqsPerJob, 2))],
    [`flat out, ${PLAN.burst} jobs at once: results (errors)`, ...col((d) => `${d.burst.results} (${d.burst.errors})`)],
    ["  throughput, jobs/s", ...col((d) => fmt(d.burst.jobsPerSec, 0))],
    ["  request → result p50 / p99, ms", ...col((d) => `${ms(percentile(d.burst.resultMs, 50))} / ${ms(percentile(d.burst.resultMs, 99))}`)],
    ["  responder CPU per job, ms", ...col((d) => ms(d.burst.cpuMsPerJob))],
    ["  parent (relay, customers, fake Ollama) CPU per job, ms", ...col((d) => ms(d.burst.parentCpuMsPerJob))],
    ["  REQs the relay received per job", ...col((d) => fmt(d.burst.reqsPerJob, 2))],
    [`flat out at maxConcurrentJobs 1, ${PLAN.serial} jobs: jobs/s`, ...col((d) => (d.serial ? fmt(d.serial.jobsPerSec, 0) : "n/a"))],
    ["responder peak RSS, MiB", ...col((d) => mb(d.peakRssKb))],
    ["responder setup (spawn excluded), ms", ...col((d) => fmt(d.setupMs, 0))],
    ["signatures by", ...col((d) => (d.signer === "wasm" ? "nostr-wasm" : "pure JS"))],
  ];
  return table(["", ...runs.map((d) => d.kind)], rows);
}

// ---------------------------------------------------------------- main

async function main() {
  const started = performance.now();
  const m = machine();
  console.log(`compute bench — ${new Date().toISOString()}`);
  console.log(`machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.ramGiB} GiB RAM, ${m.os}, Bun ${m.bun}, load ${m.load1} (1 min)`);
  console.log(
    `plan: ${PLAN.customers} customer keys, warm-up ${PLAN.warm} jobs, paced ${PLAN.paced} jobs at ${PLAN.rate}/s, flat out ${PLAN.burst} jobs ` +
      `(provider maxConcurrentJobs ${PLAN.concurrency}), fake Ollama instant\n`,
  );

  const fake = await startOllamaServer({ instant: true, numParallel: 64 });
  const rounds: Dispatch[][] = [];
  let runs: Dispatch[] = [];
  const ablations: Dispatch[] = [];
  let streaming: StreamingResult | null = null;
  let backends: BackendsResult | null = null;
  let start: StartupResult | null = null;
  let floorIdle: IdleSample[] = [];
  let sizes: SizesResult | null = null;
  let cold: ColdResult | null = null;
  const coldOnly = !!flags["cold-only"];
  try {
    const kinds: ResponderKind[] = flags.only
      ? flags.only.split(",").map((k) => k.trim() as ResponderKind)
      : RESPONDER_KINDS.filter((k) => !flags["no-wasm"] || k === "provider" || k === "floor");
    for (const k of kinds) if (!RESPONDER_KINDS.includes(k)) throw new Error(`unknown responder kind ${k}; one of ${RESPONDER_KINDS.join(", ")}`);
    const repeat = Math.max(1, Math.floor(Number(flags.repeat ?? 1)) || 1);
    // The relay and the customers live in this process: warm their code up once, unmeasured, so
    // the first responder measured is not charged for our JIT.
    if (!coldOnly) {
      process.stdout.write("warming up the relay and customers… ");
      await dispatch("floor", fake, { warmOnly: true });
      console.log("done");
    }
    for (let r = 0; r < (coldOnly ? 0 : repeat); r++) {
      const round: Dispatch[] = [];
      for (const kind of kinds) {
        process.stdout.write(`dispatch: ${kind}${repeat > 1 ? ` (round ${r + 1} of ${repeat})` : ""}… `);
        const t = performance.now();
        round.push((await dispatch(kind, fake))!);
        console.log(`${fmt((performance.now() - t) / 1000, 1)} s`);
      }
      rounds.push(round);
    }
    runs = coldOnly ? [] : kinds.map((k) => combine(rounds.map((round) => round.find((d) => d.kind === k)!)));
    if (flags.ablations && !coldOnly) {
      const sets: Ablation[][] = [...ABLATIONS.map((a) => [a]), [...ABLATIONS]];
      for (const ablate of sets) {
        process.stdout.write(`dispatch: provider, ${ablate.map((a) => ABLATION_LABEL[a]).join(" + ")}… `);
        const t = performance.now();
        ablations.push((await dispatch("provider", fake, { ablate }))!);
        console.log(`${fmt((performance.now() - t) / 1000, 1)} s`);
      }
    }
    if (!flags["no-cold"]) {
      const t = performance.now();
      cold = await coldPhases({
        bin: flags.binary ?? join(ROOT, "dist/compute"),
        source: !!flags["cold-source"],
        fake,
        plan: COLD,
        rounds: repeat,
        log: (line) => process.stdout.write(line),
        profileDir: flags.profile,
        whatIfSlots: flags["cold-slots"] ? Number(flags["cold-slots"]) : undefined,
      });
      console.log(`${fmt((performance.now() - t) / 1000, 1)} s`);
    }
    if (!coldOnly) {
      process.stdout.write("streaming… ");
      streaming = await streamingOverhead({ tokens: 500, tokensPerSec: 2000, runs: flags.quick ? 3 : 7 });
      console.log("done");
    }
    if (!flags["no-backends"] && !coldOnly) {
      process.stdout.write("backends… ");
      backends = await backendsBench({ quick: flags.quick });
      console.log("done");
    }
    sizes = uiSizes(ROOT);
    if (!flags["no-startup"] && !coldOnly) {
      process.stdout.write("start-up… ");
      const relay = await startRelay();
      try {
        start = await startup(flags.binary ?? join(ROOT, "dist/compute"), relay.url, fake.url, flags.quick ? 5 : 10);
        if (!start.skipped) floorIdle = await runtimeFloor(ROOT, relay.url, fake.url);
      } finally {
        await relay.stop();
      }
      console.log(start.skipped ? `skipped: ${start.skipped}` : "done");
    }
  } finally {
    await fake.stop();
  }

  if (runs.length) {
    console.log("\n## Dispatch (customer-side latency; CPU from the responder child's own counters)\n");
    if (rounds.length > 1) console.log(`${rounds.length} rounds, run interleaved: CPU, jobs/s and RSS are medians; latency percentiles are over every round's samples.\n`);
    console.log(dispatchTable(runs));
  }

  const provider = runs.find((r) => r.kind === "provider");
  const floor = runs.find((r) => r.kind === "floor");
  const floorRatios = ratios(rounds, "floor");
  const ratio = floorRatios.length ? median(floorRatios) : NaN;
  const range = (xs: number[]) => (xs.length > 1 ? ` (rounds: ${xs.map((x) => fmt(x * 100, 0)).join(", ")} %)` : "");
  if (provider && floor) {
    console.log(`\nprovider / floor throughput: ${fmt(ratio * 100, 0)} %${range(floorRatios)}; CPU per job at saturation: provider ${ms(provider.burst.cpuMsPerJob)} ms vs floor ${ms(floor.burst.cpuMsPerJob)} ms`);
  }
  const wasmRatios = ratios(rounds, "floor-wasm");
  if (provider && wasmRatios.length) {
    console.log(`provider / floor-wasm throughput (same signature code): ${fmt(median(wasmRatios) * 100, 0)} %${range(wasmRatios)}`);
  }

  if (ablations.length && provider && floor) {
    console.log("\n## What-if: the provider with parts of its work switched off (bench/responder.ts ABLATIONS)\n");
    const rows = [provider, ...ablations].map((d) => [
      d.ablate.length ? d.ablate.map((a) => ABLATION_LABEL[a]).join(" + ") : "provider as is",
      ms(percentile(d.paced.processingMs, 50)),
      ms(percentile(d.paced.turnaroundMs, 50)),
      ms(d.paced.cpuMsPerJob),
      ms(d.burst.cpuMsPerJob),
      fmt(d.burst.jobsPerSec, 0),
      `${fmt((d.burst.jobsPerSec / floor.burst.jobsPerSec) * 100, 0)} %`,
    ]);
    console.log(table(["", "req→processing p50, ms", "at relay p50, ms", "CPU/job paced, ms", "CPU/job flat out, ms", "jobs/s", "of floor"], rows));
  }

  if (streaming) {
    console.log(`\n## Streaming (${streaming.tokens} tokens at ${streaming.tokensPerSec} tok/s, median of ${streaming.runs})\n`);
    console.log(
      table(
        ["", "wall, ms", "process CPU, ms"],
        [
          ["bare fetch + NDJSON split", ms(streaming.directMs), ms(streaming.directCpuMs)],
          ["Inference.generate", ms(streaming.productMs), ms(streaming.productCpuMs)],
          ["overhead", `${fmt(streaming.overheadPct, 2)} %`, ms(streaming.productCpuMs - streaming.directCpuMs)],
        ],
      ),
    );
    console.log(
      `\nfixed cost per call (8-token answers from an instant fake, ${streaming.shortCalls} calls): process CPU ` +
        `${fmt(streaming.shortProductCpuMs, 2)} ms via Inference.generate vs ${fmt(streaming.shortDirectCpuMs, 2)} ms via bare fetch`,
    );
  }

  if (backends) printBackends(backends);

  const coldOut = cold ? coldReport(cold, COLD, table) : null;
  if (coldOut) console.log(`\n${coldOut.text}`);

  console.log("\n## Start-up and sizes\n");
  const sizeRows: string[][] = [];
  if (start && !start.skipped) {
    sizeRows.push(
      [`cold start to first /healthz 200, median of ${start.coldStartMs.length}, ms`, ms(start.coldStartMedianMs!)],
      ["  min / max, ms", `${ms(Math.min(...start.coldStartMs))} / ${ms(Math.max(...start.coldStartMs))}`],
      [`\`compute --version\` (runtime + bundle load), median, ms`, fmt(start.versionMedianMs, 1)],
      [`binary ${flags.binary ? "(--binary)" : "dist/compute"}, MB (MiB)`, `${fmt(start.binaryBytes! / 1e6, 1)} (${fmt(start.binaryBytes! / 2 ** 20, 1)})`],
    );
  } else {
    sizeRows.push(["compiled binary", start?.skipped ?? "skipped (--no-startup)"]);
  }
  if (sizes?.appJsBytes != null) {
    sizeRows.push(["ui/dist/app.js, KiB (gzip -9)", `${fmt(sizes.appJsBytes / 1024, 1)} (${fmt(sizes.appJsGzipBytes! / 1024, 1)})`]);
    if (sizes.appCssGzipBytes != null) sizeRows.push(["ui/dist/app.css gzip -9, KiB", fmt(sizes.appCssGzipBytes / 1024, 1)]);
  } else {
    sizeRows.push(["UI bundle", "ui/dist/app.js is missing (run `bun run ui`)"]);
  }
  console.log(table(["", "value"], sizeRows));

  const idleRows = [...(start?.idle ?? []), ...floorIdle];
  if (idleRows.length) {
    console.log("\n## Idle memory (online on the bench's relay and fake Ollama, no job; the product read after 15 s, the floor after 8 s)\n");
    const mib = (kb: number | null) => (kb == null ? "n/a" : fmt(kb / 1024, 1));
    console.log(
      table(
        ["", "RSS, MiB (MB)", "anonymous, MiB", "file-backed, MiB", "peak, MiB"],
        idleRows.map((r: IdleSample) =>
          r.rssKb == null ? [r.name, r.skipped ?? "n/a", "", "", ""] : [r.name, `${mib(r.rssKb)} (${fmt((r.rssKb * 1024) / 1e6, 1)})`, mib(r.anonKb), mib(r.fileKb), mib(r.peakKb)],
        ),
      ),
    );
    console.log("\nfile-backed = pages of the executable (runtime code, embedded bundle) mapped in; anonymous = heaps and JIT code.");
  }

  const goals: string[][] = [];
  if (provider) {
    const p50 = percentile(provider.paced.processingMs, 50);
    const p99 = percentile(provider.paced.processingMs, 99);
    goals.push(
      [`request → processing p50 ≤ 5 ms at ${PLAN.rate} jobs/s`, `${ms(p50)} ms`, goal(p50 <= 5)],
      [`request → processing p99 ≤ 25 ms at ${PLAN.rate} jobs/s`, `${ms(p99)} ms`, goal(p99 <= 25)],
    );
  }
  if (Number.isFinite(ratio)) goals.push(["throughput ≥ 80 % of the floor", `${fmt(ratio * 100, 0)} %`, goal(ratio >= 0.8)]);
  if (streaming) goals.push(["streaming adds < 2 %", `${fmt(streaming.overheadPct, 2)} %`, goal(streaming.overheadPct < 2)]);
  if (start && !start.skipped) {
    goals.push(["compiled cold start ≤ 60 ms", `${ms(start.coldStartMedianMs!)} ms`, goal(start.coldStartMedianMs! <= 60)]);
    const [noWallet, withWallet] = start.idle;
    const mbOf = (kb: number) => (kb * 1024) / 1e6;
    if (noWallet?.rssKb != null) goals.push(["idle RSS without the wallet ≤ 60 MB", `${fmt(mbOf(noWallet.rssKb), 1)} MB`, goal(mbOf(noWallet.rssKb) <= 60)]);
    if (withWallet?.rssKb != null) goals.push(["idle RSS with the wallet ≤ 150 MB", `${fmt(mbOf(withWallet.rssKb), 1)} MB`, goal(mbOf(withWallet.rssKb) <= 150)]);
    goals.push(["binary ≤ 125 MB", `${fmt(start.binaryBytes! / 1e6, 1)} MB`, goal(start.binaryBytes! <= 125e6)]);
  }
  if (backends) goals.push(...backendGoals(backends));
  for (const g of coldOut?.goals ?? []) goals.push([g.goal, g.measured, goal(g.met)]);
  console.log("\n## Goals\n");
  console.log(table(["goal", "measured", ""], goals));
  console.log(`\ntotal ${fmt((performance.now() - started) / 1000, 1)} s`);
  if (flags.profile) console.log(`CPU profile of the provider child (.cpuprofile and .md) in ${flags.profile}`);

  if (flags.json) {
    const strip = (p: Phase) => ({
      ...p,
      processingMs: undefined,
      resultMs: undefined,
      processing: { p50: percentile(p.processingMs, 50), p95: percentile(p.processingMs, 95), p99: percentile(p.processingMs, 99) },
      result: { p50: percentile(p.resultMs, 50), p95: percentile(p.resultMs, 95), p99: percentile(p.resultMs, 99) },
    });
    /** A cold run without its per-job latency samples. */
    const slim = <R extends { cold: object; warm: object }>(r: R): R => ({ ...r, cold: { ...r.cold, processingMs: undefined, resultMs: undefined, turnaroundMs: undefined }, warm: { ...r.warm, processingMs: undefined, resultMs: undefined, turnaroundMs: undefined } });
    const out = {
      date: new Date().toISOString(),
      machine: m,
      plan: PLAN,
      ablations: ablations.map((r) => ({ ...r, paced: strip(r.paced), burst: strip(r.burst) })),
      dispatch: runs.map((r) => ({ ...r, paced: strip(r.paced), burst: strip(r.burst), serial: r.serial && strip(r.serial) })),
      rounds: rounds.length,
      ratio,
      ratios: { floor: floorRatios, floorWasm: wasmRatios },
      streaming,
      backends,
      startup: start,
      sizes,
      cold: cold && {
        ...cold,
        runs: cold.runs.map(slim),
        history: cold.history && { ...cold.history, pairs: cold.history.pairs.map((p) => ({ empty: slim(p.empty), history: slim(p.history) })) },
      },
      coldGoals: coldOut?.goals,
    };
    writeFileSync(flags.json, JSON.stringify(out, null, 2) + "\n");
  }
}

await main();
// The relay's and the customers' sockets may keep the loop alive a moment; the figures are out.
process.exit(0);
