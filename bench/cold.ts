// Issue 16's phases: the product as a person starts it, hit at once by many customers.
//
//   cold          the compiled binary (or `bun src/index.ts` with --cold-source) started the way a
//                 user starts it (`--headless --online --payment-mode free`, vault password in the
//                 environment, default limits except the per-customer per-minute rate, set in its
//                 config file), and the moment its kind 5050 subscription reaches the relay, 200
//                 jobs from 256 distinct customer keys, 8 in flight; then 200 more ("warm"). Next
//                 to it, in the same run, the floor responder (bench/responder.ts: verify → sign
//                 processing → one streamed Ollama call → sign result) started and hit the same way.
//   long history  the same against a ledger pre-filled (bench/seed-ledger.ts) with 100,000
//                 finished jobs and 20,000 payments, each round right after a run on an empty
//                 ledger (pairs that meet the same machine); then the dashboard's /api/state and
//                 `compute earnings` timed at that size.
//   start-up      spawn → the kind 5050 subscription live at the relay, for the binary and the
//                 floor; one more start with debug logs gives the timeline of what takes the time.
//
// CPU is read from /proc/PID/stat (user + system, every thread) of the process under test, for the
// product and the floor alike. Everything stays on 127.0.0.1.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { bytesToHex } from "nostr-tools/utils";
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import type { FakeOllama } from "../test/fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../test/fixtures/relay.ts";
import { Customers, type PhaseResult } from "./load.ts";
import type { FromChild, ResponderArgs, ToChild } from "./responder.ts";
import { seedLedger, type SeedResult } from "./seed-ledger.ts";
import { dashboardToken } from "./startup.ts";
import { freePort, procStatusKb } from "./util.ts";

const ROOT = join(import.meta.dir, "..");

export interface ColdPlan {
  /** Jobs in the cold burst, and again in the warm one. */
  jobs: number;
  /** Distinct customer keys (round-robin: the cold burst's jobs all come from different keys). */
  keys: number;
  /** Websockets that carry them (the relay does not care who sends an event). */
  connections: number;
  inFlight: number;
  /** Starts timed (spawn → subscription live) per responder. */
  startRuns: number;
  history: { jobs: number; payments: number } | null;
  /** Per burst. */
  timeoutMs: number;
}

export interface Burst extends PhaseResult {
  /** CPU (user + system, all threads) of the process under test per answered job, ms. */
  cpuMsPerJob: number;
  /**
   * CPU of the bench's own process (the relay, the customers, the fake Ollama) per answered job,
   * ms: what the responder's traffic costs the other side of the wire (both share the machine).
   */
  benchCpuMsPerJob: number;
}

export interface ColdRun {
  who: "compute" | "floor";
  /** spawn → kind 5050 subscription received by the relay, ms. */
  liveMs: number;
  cold: Burst;
  warm: Burst;
  peakRssKb: number | null;
}

export interface HistoryRun {
  seed: SeedResult;
  /**
   * Each round, back to back: compute on an empty ledger, then on a fresh copy of the seeded one.
   * Both runs of a pair meet the same machine; the goal compares the medians.
   */
  pairs: { empty: ColdRun; history: ColdRun }[];
  /** GET /api/state on the running binary, ms (sequential requests). */
  stateMs: number[];
  stateBytes: number;
  /** `compute earnings --json` wall time (spawn → exit) while the binary runs (it asks the running instance), ms. */
  earningsCliRunningMs: number[];
  /** The same with nothing running (it opens the ledger itself), ms. */
  earningsCliOfflineMs: number[];
  /** `compute --version` wall time: the runtime start inside the two figures above, ms. */
  versionMs: number[];
}

export interface Timeline {
  /** ms since spawn, what happened (log records at debug level, the relay's view). */
  steps: { atMs: number; what: string }[];
}

export interface ColdResult {
  target: string;
  runs: ColdRun[];
  history: HistoryRun | null;
  /** spawn → subscription live, ms, several starts each. */
  startMs: { compute: number[]; floor: number[] };
  timeline: Timeline | null;
  /** The same cold/warm load with another maxConcurrentJobs (--cold-slots N): what the default costs. */
  whatIf: { slots: number; run: ColdRun } | null;
}

const CLK_TCK = (() => {
  const r = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" });
  return Number(r.stdout.toString().trim()) || 100;
})();

/** CPU time of a process and all its threads so far (utime + stime from /proc/PID/stat), ms. */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) in parentheses: state is field 3.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
}

const asksForJobs = (filters: Record<string, unknown>[]) => filters.some((f) => Array.isArray(f.kinds) && (f.kinds as unknown[]).includes(5050));

/** Resolves with performance.now() when a REQ for kind 5050 reaches the relay (any connection opened after `since`). */
function whenLive(relay: TestRelay, timeoutMs: number, onStep?: (what: string, at: number) => void): { live: Promise<number>; stop: () => void } {
  let off: () => void = () => {};
  const live = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no kind 5050 subscription at the relay within ${timeoutMs} ms`)), timeoutMs);
    const known = new Set(relay.connections().map((c) => c.id));
    off = relay.onReq(({ conn, subId, filters }) => {
      if (known.has(conn)) return;
      const at = performance.now();
      if (subId === null) onStep?.(`relay: websocket opened (connection ${conn})`, at);
      else onStep?.(`relay: REQ ${subId} kinds ${JSON.stringify(filters.flatMap((f) => (f.kinds as number[]) ?? []))}`, at);
      if (subId !== null && asksForJobs(filters)) {
        clearTimeout(timer);
        resolve(at);
      }
    });
  });
  return { live, stop: () => off() };
}

async function burst(customers: Customers, pubkey: string, pid: number, plan: ColdPlan): Promise<Burst> {
  const batch = customers.sign(plan.jobs, pubkey);
  const c0 = procCpuMs(pid);
  const b0 = procCpuMs(process.pid);
  const r = await customers.run(batch, null, plan.timeoutMs, { inFlight: plan.inFlight });
  const c1 = procCpuMs(pid);
  const b1 = procCpuMs(process.pid);
  const n = Math.max(1, r.results);
  return { ...r, cpuMsPerJob: (c1 - c0) / n, benchCpuMsPerJob: (b1 - b0) / n };
}

async function stopProcess(proc: Bun.Subprocess): Promise<void> {
  if (proc.exitCode !== null) return;
  proc.kill("SIGTERM");
  const killer = setTimeout(() => proc.kill("SIGKILL"), 8000);
  await proc.exited;
  clearTimeout(killer);
}

async function timeSpawn(cmd: string[], opts: { cwd: string; env: Record<string, string> }, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const p = Bun.spawn(cmd, { ...opts, stdout: "ignore", stderr: "ignore" });
    await p.exited;
    if (p.exitCode !== 0) throw new Error(`${cmd.slice(1).join(" ")} exited with ${p.exitCode}`);
    out.push(performance.now() - t0);
  }
  return out;
}

/** A data dir with an identity (compute init --import), the vault password for the environment, and the config file. */
class Product {
  readonly dir = mkdtempSync(join(tmpdir(), "compute-bench-cold-"));
  readonly dataDir = join(this.dir, "data");
  readonly env: Record<string, string>;
  pubkey = "";

  constructor(
    readonly cmd: string[],
    runtimeFlags: string[] = [],
  ) {
    this.env = {
      ...(runtimeFlags.length ? { BUN_OPTIONS: runtimeFlags.join(" ") } : {}),
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: this.dir,
      COMPUTE_DATA_DIR: this.dataDir,
      // A throwaway vault in a temp dir, deleted at the end.
      COMPUTE_PASSWORD: "bench-vault-password",
    };
  }

  init(): void {
    const r = Bun.spawnSync([...this.cmd, "init", "--import"], { cwd: this.dir, env: this.env, stdin: Buffer.from(generateMnemonic(wordlist)), stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`compute init --import failed: ${r.stderr.toString().trim().slice(0, 300)}`);
    this.pubkey = (JSON.parse(readFileSync(join(this.dataDir, "identity.json"), "utf8")) as { pubkey: string }).pubkey;
    this.writeConfig();
  }

  /** Default limits except the per-customer per-minute rate (a few jobs a minute per key by default), and `limits`. */
  writeConfig(limits: Record<string, number> = {}): void {
    writeFileSync(join(this.dataDir, "config.json"), JSON.stringify({ limits: { perCustomerPerMinute: 100_000, ...limits } }, null, 2) + "\n");
  }

  spawn(relayUrl: string, ollamaUrl: string, port: number, logLevel?: string): Bun.Subprocess<"ignore", "pipe", "pipe"> {
    return Bun.spawn([...this.cmd, "--headless", "--port", String(port), "--relay", relayUrl, "--ollama-url", ollamaUrl, "--online", "--payment-mode", "free"], {
      cwd: this.dir,
      env: { ...this.env, ...(logLevel ? { COMPUTE_LOG_LEVEL: logLevel, COMPUTE_LOG_FORMAT: "json" } : {}) },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Reads a stream to the end in the background (a full pipe would block the child); lines kept if asked. */
function drain(stream: ReadableStream<Uint8Array>, lines?: string[]): void {
  void (async () => {
    const decoder = new TextDecoder();
    let pending = "";
    try {
      for await (const chunk of stream) {
        if (!lines) continue;
        pending += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          lines.push(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
        }
      }
    } catch {}
  })();
}

interface Started {
  pid: number;
  t0: number;
  liveAt: number;
  stop: () => Promise<void>;
  /** The binary's dashboard token and HTTP port. */
  token?: Promise<string>;
  port?: number;
}

async function startCompute(p: Product, fake: FakeOllama, relay: TestRelay, timeoutMs = 30_000): Promise<Started> {
  const watch = whenLive(relay, timeoutMs);
  const port = freePort();
  const t0 = performance.now();
  const proc = p.spawn(relay.url, fake.url, port);
  const token = dashboardToken(proc.stdout, timeoutMs);
  void token.then(() => drain(proc.stdout)).catch(() => {});
  drain(proc.stderr);
  try {
    const liveAt = await Promise.race([watch.live, proc.exited.then((c) => Promise.reject(new Error(`compute exited with ${c} before going online`)))]);
    return { pid: proc.pid, t0, liveAt, token, port, stop: () => stopProcess(proc) };
  } catch (err) {
    await stopProcess(proc);
    throw err;
  } finally {
    watch.stop();
  }
}

async function startFloor(fake: FakeOllama, relay: TestRelay, secretKeyHex: string, timeoutMs = 30_000): Promise<Started> {
  const watch = whenLive(relay, timeoutMs);
  const args: ResponderArgs = { kind: "floor", relayUrl: relay.url, ollamaUrl: fake.url, maxConcurrentJobs: 1, ollamaCall: true, secretKeyHex };
  let failed: (e: Error) => void = () => {};
  const failure = new Promise<never>((_, reject) => (failed = reject));
  const t0 = performance.now();
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "responder.ts"), JSON.stringify(args)], {
    cwd: ROOT,
    stdout: "ignore",
    stderr: "ignore",
    ipc: (msg: FromChild) => {
      if (msg.t === "error") failed(new Error(`floor: ${msg.message}`));
    },
  });
  void proc.exited.then((c) => failed(new Error(`floor exited with ${c}`)));
  try {
    const liveAt = await Promise.race([watch.live, failure]);
    const stop = async () => {
      try {
        proc.send({ t: "stop" } satisfies ToChild);
      } catch {}
      const killer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await proc.exited;
      clearTimeout(killer);
    };
    return { pid: proc.pid, t0, liveAt, stop };
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  } finally {
    watch.stop();
  }
}

/** Start, then at once the cold burst, then the warm one. `extra` runs while it is still up. */
async function loadRun<T>(
  who: "compute" | "floor",
  fake: FakeOllama,
  plan: ColdPlan,
  start: (relay: TestRelay) => Promise<Started>,
  pubkey: string,
  extra?: (s: Started) => Promise<T>,
): Promise<ColdRun & { extra: T | undefined }> {
  const relay = await startRelay();
  // The customers connect first, so the burst can go the moment the responder subscribes.
  const customers = await Customers.start(relay.url, plan.keys, plan.connections);
  relay.onEvent((e) => customers.relaySaw(e as Parameters<Customers["relaySaw"]>[0]));
  let s: Started | null = null;
  try {
    s = await start(relay);
    const cold = await burst(customers, pubkey, s.pid, plan);
    const warm = await burst(customers, pubkey, s.pid, plan);
    const peakRssKb = procStatusKb(s.pid, "VmHWM");
    const more = extra ? await extra(s) : undefined;
    return { who, liveMs: s.liveAt - s.t0, cold, warm, peakRssKb, extra: more };
  } finally {
    customers.close();
    await s?.stop();
    await relay.stop();
  }
}

/** spawn → subscription live, `n` times, nothing else. */
async function startTimes(n: number, start: (relay: TestRelay) => Promise<Started>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const relay = await startRelay();
    try {
      const s = await start(relay);
      out.push(s.liveAt - s.t0);
      await s.stop();
    } finally {
      await relay.stop();
    }
  }
  return out;
}

/** One start with debug logs: every log record and what the relay saw, in ms since spawn, until the subscription is live. */
async function timeline(p: Product, fake: FakeOllama): Promise<Timeline> {
  const relay = await startRelay();
  const steps: { atMs: number; what: string }[] = [];
  const lines: string[] = [];
  let proc: Bun.Subprocess<"ignore", "pipe", "pipe"> | null = null;
  try {
    let t0 = 0;
    const watch = whenLive(relay, 30_000, (what, at) => steps.push({ atMs: at - t0, what }));
    const wall0 = Date.now();
    t0 = performance.now();
    proc = p.spawn(relay.url, fake.url, freePort(), "debug");
    drain(proc.stdout);
    drain(proc.stderr, lines);
    const liveAt = await watch.live.finally(() => watch.stop());
    await Bun.sleep(300);
    for (const line of lines) {
      try {
        const r = JSON.parse(line) as { t: string; service: string; msg: string } & Record<string, unknown>;
        const extra = Object.entries(r)
          // No temp paths, addresses or event ids in the table: they change every run.
          .filter(([k]) => !["t", "level", "service", "msg", "path", "dataDir", "url", "relay", "eventId", "results"].includes(k))
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ")
          .slice(0, 90);
        steps.push({ atMs: Date.parse(r.t) - wall0, what: `${r.service}: ${r.msg}${extra ? ` (${extra})` : ""}` });
      } catch {
        // A plain line (`compute: online` on stderr): no timestamp of its own.
      }
    }
    steps.push({ atMs: liveAt - t0, what: "→ kind 5050 subscription live at the relay" });
    steps.sort((a, b) => a.atMs - b.atMs);
    return { steps };
  } finally {
    if (proc) await stopProcess(proc);
    await relay.stop();
  }
}

export async function coldPhases(opts: { bin: string; source: boolean; fake: FakeOllama; plan: ColdPlan; rounds: number; log: (s: string) => void; profileDir?: string; whatIfSlots?: number }): Promise<ColdResult> {
  const { fake, plan, log } = opts;
  // --profile: every run of the product writes a CPU profile (.cpuprofile + .md); the compiled
  // binary takes the runtime's flags from BUN_OPTIONS.
  const prof = opts.profileDir ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${opts.profileDir}`] : [];
  const cmd = opts.source ? [process.execPath, ...prof, join(ROOT, "src/index.ts")] : [opts.bin];
  const result: ColdResult = { target: opts.source ? "bun src/index.ts" : opts.bin, runs: [], history: null, startMs: { compute: [], floor: [] }, timeline: null, whatIf: null };
  const product = new Product(cmd, opts.source ? [] : prof);
  try {
    product.init();
    const floorKey = generateSecretKey();
    const floorHex = bytesToHex(floorKey);
    const floorPub = getPublicKey(floorKey);
    // The harness (this process: the relay, the customers, the fake Ollama) runs cold the first
    // time too: its first burst costs it more CPU on the same two cores, which would slow whichever
    // responder goes first (compute) and not the one after it. One unrecorded burst against the
    // floor warms the harness only; the product under test still starts cold every round.
    log("harness warm-up… ");
    await loadRun("floor", fake, plan, (relay) => startFloor(fake, relay, floorHex), floorPub);
    for (let r = 0; r < opts.rounds; r++) {
      // A fresh ledger each round: the cold run is a new provider's first jobs.
      rmSync(join(product.dataDir, "ledger.sqlite"), { force: true });
      rmSync(join(product.dataDir, "ledger.sqlite-wal"), { force: true });
      rmSync(join(product.dataDir, "ledger.sqlite-shm"), { force: true });
      log(`cold: compute${opts.rounds > 1 ? ` (round ${r + 1})` : ""}… `);
      result.runs.push(await loadRun("compute", fake, plan, (relay) => startCompute(product, fake, relay), product.pubkey));
      log(`floor… `);
      result.runs.push(await loadRun("floor", fake, plan, (relay) => startFloor(fake, relay, floorHex), floorPub));
    }
    if (opts.whatIfSlots) {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(join(product.dataDir, "ledger.sqlite" + suffix), { force: true });
      log(`compute with maxConcurrentJobs ${opts.whatIfSlots}… `);
      product.writeConfig({ maxConcurrentJobs: opts.whatIfSlots });
      result.whatIf = { slots: opts.whatIfSlots, run: await loadRun("compute", fake, plan, (relay) => startCompute(product, fake, relay), product.pubkey) };
      product.writeConfig();
    }
    log("start-up… ");
    result.startMs.compute = await startTimes(plan.startRuns, (relay) => startCompute(product, fake, relay));
    result.startMs.floor = await startTimes(plan.startRuns, (relay) => startFloor(fake, relay, floorHex));
    result.timeline = await timeline(product, fake);
    if (plan.history) {
      log(`long history (seeding ${plan.history.jobs} jobs, ${plan.history.payments} payments)… `);
      const ledgerPath = join(product.dataDir, "ledger.sqlite");
      const seededPath = join(product.dir, "seeded-ledger.sqlite");
      const clearLedger = () => {
        for (const suffix of ["", "-wal", "-shm"]) rmSync(ledgerPath + suffix, { force: true });
      };
      const seed = seedLedger(seededPath, plan.history);
      const pairs: HistoryRun["pairs"] = [];
      let extra: { stateMs: number[]; stateBytes: number; earningsCliRunningMs: number[] } | null = null;
      for (let r = 0; r < opts.rounds; r++) {
        log(`empty${opts.rounds > 1 ? ` (round ${r + 1})` : ""}… `);
        clearLedger();
        const empty = await loadRun("compute", fake, plan, (relay) => startCompute(product, fake, relay), product.pubkey);
        log(`long history… `);
        clearLedger();
        copyFileSync(seededPath, ledgerPath);
        const last = r === opts.rounds - 1;
        const { extra: got, ...history } = await loadRun("compute", fake, plan, (relay) => startCompute(product, fake, relay), product.pubkey, async (s) => {
          if (!last) return null;
        const token = await s.token!;
        const url = `http://127.0.0.1:${s.port}`;
        const stateMs: number[] = [];
        let stateBytes = 0;
        for (let i = 0; i < 11; i++) {
          const t = performance.now();
          const res = await fetch(`${url}/api/state`, { headers: { authorization: `Bearer ${token}` } });
          const body = await res.arrayBuffer();
          if (i > 0) stateMs.push(performance.now() - t);
          stateBytes = body.byteLength;
        }
        const earningsCliRunningMs = await timeSpawn([...cmd, "earnings", "--json"], { cwd: product.dir, env: product.env }, 5);
        return { stateMs, stateBytes, earningsCliRunningMs };
        });
        extra = got ?? extra;
        pairs.push({ empty, history });
      }
      const earningsCliOfflineMs = await timeSpawn([...cmd, "earnings", "--json"], { cwd: product.dir, env: product.env }, 5);
      const versionMs = await timeSpawn([...cmd, "--version"], { cwd: product.dir, env: product.env }, 5);
      result.history = { seed, pairs, stateMs: extra!.stateMs, stateBytes: extra!.stateBytes, earningsCliRunningMs: extra!.earningsCliRunningMs, earningsCliOfflineMs, versionMs };
    }
    return result;
  } finally {
    product.cleanup();
  }
}


// ---------------------------------------------------------------- output

const f1 = (n: number | null | undefined) => (n == null || !Number.isFinite(n) ? "–" : n.toFixed(1));
const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const med = (xs: number[]) => pct(xs, 50);

function pick(runs: ColdRun[], who: "compute" | "floor"): ColdRun[] {
  return runs.filter((r) => r.who === who);
}

/** Medians over rounds of one figure. */
function m(runs: ColdRun[], f: (r: ColdRun) => number): number {
  return med(runs.map(f));
}

export interface ColdGoal {
  goal: string;
  measured: string;
  met: boolean;
}

export function coldReport(res: ColdResult, plan: ColdPlan, table: (head: string[], rows: string[][]) => string): { text: string; goals: ColdGoal[] } {
  const c = pick(res.runs, "compute");
  const fl = pick(res.runs, "floor");
  const out: string[] = [];
  const goals: ColdGoal[] = [];
  const row = (label: string, f: (r: ColdRun) => string) => [label, c.length ? f(c[0]!) : "–", fl.length ? f(fl[0]!) : "–"];
  const burstRows = (name: "cold" | "warm"): string[][] => [
    [`${name}: results / jobs (errors)`, ...[c, fl].map((rs) => rs.map((r) => `${r[name].results} / ${r[name].jobs} (${r[name].errors})`).join(", "))],
    [`  throughput, jobs/s`, ...[c, fl].map((rs) => f1(m(rs, (r) => r[name].jobsPerSec)))],
    [`  CPU per job, ms`, ...[c, fl].map((rs) => f1(m(rs, (r) => r[name].cpuMsPerJob)))],
    [`  bench's CPU per job (relay, customers, Ollama), ms`, ...[c, fl].map((rs) => f1(m(rs, (r) => r[name].benchCpuMsPerJob ?? NaN)))],
    [`  request → processing p50 / p99, ms`, ...[c, fl].map((rs) => { const xs = rs.flatMap((r) => r[name].processingMs); return `${f1(pct(xs, 50))} / ${f1(pct(xs, 99))}`; })],
    [`  request → result p50 / p99, ms`, ...[c, fl].map((rs) => { const xs = rs.flatMap((r) => r[name].resultMs); return `${f1(pct(xs, 50))} / ${f1(pct(xs, 99))}`; })],
  ];
  out.push(
    `## Cold start under load (issue 16): ${res.target}, ${plan.jobs} jobs at once from ${plan.keys} customer keys, ${plan.inFlight} in flight, then ${plan.jobs} more (warm)\n`,
  );
  if (c.length > 1) out.push(`${c.length} rounds, interleaved: medians (latency over all rounds' samples)\n`);
  out.push(
    table(["", "compute", "floor (verify, sign, Ollama call, sign)"], [
      ["spawn → kind 5050 subscription live, ms", ...[c, fl].map((rs) => f1(m(rs, (r) => r.liveMs)))],
      ...burstRows("cold"),
      ...burstRows("warm"),
      row("peak RSS, MiB", (r) => f1((r.peakRssKb ?? NaN) / 1024)),
    ]),
  );
  if (res.whatIf) {
    // What the one-slot default costs with an instant model: the same load, one more setting.
    const w = res.whatIf.run;
    const f = fl[0];
    out.push(`\nWhat-if, not the default: compute with \`limits.maxConcurrentJobs\` ${res.whatIf.slots} (same load, same run):\n`);
    out.push(
      table(["", `compute, ${res.whatIf.slots} slots`, "vs the floor"], (["cold", "warm"] as const).flatMap((name) => [
        [`${name}: throughput, jobs/s`, f1(w[name].jobsPerSec), f ? `${(w[name].jobsPerSec / f[name].jobsPerSec).toFixed(2)}×` : "–"],
        [`${name}: CPU per job, ms`, f1(w[name].cpuMsPerJob), f ? `${(w[name].cpuMsPerJob / f[name].cpuMsPerJob).toFixed(2)}×` : "–"],
        [`${name}: request → processing p50, ms`, f1(pct(w[name].processingMs, 50)), "–"],
      ])),
    );
  }
  const ratio = (name: "cold" | "warm", f: (b: Burst) => number) => (c.length && fl.length ? m(c, (r) => f(r[name])) / m(fl, (r) => f(r[name])) : NaN);
  for (const name of ["cold", "warm"] as const) {
    const t = ratio(name, (b) => b.jobsPerSec);
    const cpu = ratio(name, (b) => b.cpuMsPerJob);
    out.push(`\n${name}: compute / floor throughput ${f1(t)}×, CPU per job ${f1(cpu)}×`);
    goals.push({ goal: `${name}: throughput ≥ 1.0× the floor's`, measured: `${t.toFixed(2)}×`, met: t >= 1.0 });
    goals.push({ goal: `${name}: CPU per job ≤ 1.3× the floor's`, measured: `${t === t ? cpu.toFixed(2) : "–"}×`, met: cpu <= 1.3 });
  }
  if (res.startMs.compute.length) {
    out.push(
      `\nspawn → subscription live (${res.startMs.compute.length} starts each): compute median ${f1(med(res.startMs.compute))} ms ` +
        `(${f1(Math.min(...res.startMs.compute))}–${f1(Math.max(...res.startMs.compute))}), floor median ${f1(med(res.startMs.floor))} ms ` +
        `(${f1(Math.min(...res.startMs.floor))}–${f1(Math.max(...res.startMs.floor))}); the floor is \`bun bench/responder.ts\` (transpiled at start, no vault, no HTTP server)`,
    );
  }
  if (res.timeline) {
    out.push("\nWhere the start goes (one start with COMPUTE_LOG_LEVEL=debug; ms since spawn):\n");
    out.push(table(["ms", "what"], res.timeline.steps.map((s) => [f1(s.atMs), s.what])));
  }
  const h = res.history;
  if (h) {
    out.push(`\n## Long history: a ledger with ${h.seed.jobs.toLocaleString("en-US")} finished jobs and ${h.seed.payments.toLocaleString("en-US")} payments (${(h.seed.bytes / 1e6).toFixed(0)} MB, seeded in ${(h.seed.ms / 1000).toFixed(1)} s)\n`);
    const empty = h.pairs.map((p) => p.empty);
    const long = h.pairs.map((p) => p.history);
    const rows: string[][] = [];
    const results = (rs: ColdRun[], name: "cold" | "warm") => rs.map((r) => `${r[name].results} / ${r[name].jobs} (${r[name].errors})`).join(", ");
    for (const name of ["cold", "warm"] as const) {
      const e = m(empty, (r) => r[name].cpuMsPerJob);
      const l = m(long, (r) => r[name].cpuMsPerJob);
      const perRound = h.pairs.map((p) => `${((p.history[name].cpuMsPerJob / p.empty[name].cpuMsPerJob - 1) * 100).toFixed(0)} %`).join(", ");
      rows.push([`${name}: results / jobs (errors)`, results(empty, name), results(long, name)]);
      rows.push([`  throughput, jobs/s`, f1(m(empty, (r) => r[name].jobsPerSec)), f1(m(long, (r) => r[name].jobsPerSec))]);
      rows.push([`  CPU per job, ms`, f1(e), f1(l)]);
      goals.push({ goal: `long history, ${name}: CPU per job within 10 % of an empty ledger`, measured: `${f1(l)} vs ${f1(e)} ms (${((l / e - 1) * 100).toFixed(0)} %; rounds ${perRound})`, met: l <= e * 1.1 });
    }
    rows.push(["spawn → subscription live, ms", f1(m(empty, (r) => r.liveMs)), f1(m(long, (r) => r.liveMs))]);
    out.push(`${h.pairs.length} round${h.pairs.length > 1 ? "s" : ""}, each an empty ledger then the long history back to back: medians\n`);
    out.push(table(["", "empty ledger", "long history"], rows));
    const own = med(h.earningsCliOfflineMs) - med(h.versionMs);
    out.push(
      `\nGET /api/state at that size: median ${f1(med(h.stateMs))} ms, max ${f1(Math.max(...h.stateMs))} ms (${h.stateMs.length} requests, ${(h.stateBytes / 1024).toFixed(1)} KiB)` +
        `\n\`compute earnings --json\` (spawn → exit, median of ${h.earningsCliOfflineMs.length}): ${f1(med(h.earningsCliRunningMs))} ms asking the running instance, ` +
        `${f1(med(h.earningsCliOfflineMs))} ms reading the ledger itself; \`compute --version\` ${f1(med(h.versionMs))} ms, so earnings' own part offline ≈ ${f1(own)} ms`,
    );
    goals.push({ goal: "long history: /api/state ≤ 20 ms", measured: `${f1(med(h.stateMs))} ms`, met: med(h.stateMs) <= 20 });
    goals.push({ goal: "long history: `compute earnings` ≤ 20 ms (beyond the runtime start)", measured: `${f1(own)} ms`, met: own <= 20 });
  }
  return { text: out.join("\n"), goals };
}
