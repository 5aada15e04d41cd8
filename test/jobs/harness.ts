// One provider, wired the way app.ts wires it, against real local servers: two test relays, the
// fake Ollama, a Ledger in a temp file, the inference Router, RelayPool and the Engine; plus a customer built
// only from nostr-tools (test/fixtures/customer.ts). Each test gets fresh relays and a fresh
// ledger so requests of one test never replay into the next; the fake Ollama is per file
// (providerSuite sets up the file: the fake, the providers' clean-up, unhandled rejections).
import { afterAll, afterEach, beforeAll, expect } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { ConfigSchema, type Config } from "../../src/config.ts";
import { ModelsChanged } from "../../src/inference/events.ts";
import { Router } from "../../src/inference/router.ts";
import { Engine, type EngineDeps } from "../../src/jobs/engine.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import { RelayPool } from "../../src/nostr/pool.ts";
import { startCustomer, type Customer } from "../fixtures/customer.ts";
import { startOllamaServer, type FakeModelSpec, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";

export interface ProviderOptions {
  /** Merged into the config before parsing (limits, pricing, provider …). */
  config?: Record<string, unknown>;
  engine?: Partial<Pick<EngineDeps, "heartbeatMs" | "sinceWindowSecs" | "progressIntervalMs" | "payments">>;
  stallTimeoutMs?: number;
  firstTokenTimeoutMs?: number;
  /** Inference probe interval; default 200 ms. */
  probeIntervalMs?: number;
  /** Don't call goOnline (tests of recover/online themselves). */
  offline?: boolean;
  /** Reuse this ledger file (crash recovery). */
  ledgerPath?: string;
  secretKey?: Uint8Array;
  /** The customer's key (to prepare ledger rows before the provider starts). */
  customerKey?: Uint8Array;
}

export interface Provider {
  relays: [TestRelay, TestRelay];
  urls: string[];
  fake: FakeOllama;
  bus: Bus;
  ledger: Ledger;
  ledgerPath: string;
  inference: Router;
  pool: RelayPool;
  engine: Engine;
  secretKey: Uint8Array;
  pubkey: string;
  config: Config;
  setConfig(patch: Record<string, unknown>): void;
  customer: Customer;
  /** Another customer on the same relays. */
  newCustomer(): Promise<Customer>;
  /** Every event of `kind` published to relay 0 (replaced ones too), in order. */
  published(kind: number): Event[];
  /** Events of `kind` stored on relay i (or both), optionally only those e-tagging `jobId`. */
  stored(kind: number, jobId?: string, relay?: 0 | 1): Event[];
  stop(): Promise<void>;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === "object" && !Array.isArray(v) && prev && typeof prev === "object" && !Array.isArray(prev) ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export async function until(pred: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${ms} ms`);
    await Bun.sleep(10);
  }
}

const eTagged = (e: Event, id: string) => e.tags.some((t) => t[0] === "e" && t[1] === id);

export async function startProvider(fake: FakeOllama, opts: ProviderOptions = {}): Promise<Provider> {
  const cleanups: Array<() => unknown> = [];
  const relays = [await startRelay(), await startRelay()] as [TestRelay, TestRelay];
  cleanups.push(() => relays[0].stop(), () => relays[1].stop());
  const urls = relays.map((r) => r.url);
  const log0: Event[] = [];
  cleanups.push(relays[0].onEvent((e) => void log0.push(e as Event)));
  let raw = deepMerge(
    { relays: urls, ollamaUrl: fake.url, pricing: { mode: "free" }, limits: { partialIntervalMs: 100_000, perCustomerPerMinute: 1000 } },
    opts.config ?? {},
  );
  let config = ConfigSchema.parse(raw);
  const bus = new Bus();
  let dir: string | null = null;
  let ledgerPath = opts.ledgerPath;
  if (!ledgerPath) {
    dir = mkdtempSync(join(tmpdir(), "compute-engine-"));
    ledgerPath = join(dir, "ledger.db");
  }
  const ledger = Ledger.open(ledgerPath);
  // The router production runs, over the one fake Ollama. Its slots never bind: the engine's
  // limits.maxConcurrentJobs (what the tests set) does.
  const inference = new Router({
    backends: [{ name: "ollama", type: "ollama", url: fake.url, maxConcurrent: 1_000 }],
    bus,
    servedModels: null,
    probeIntervalMs: opts.probeIntervalMs ?? 200,
    stallTimeoutMs: opts.stallTimeoutMs ?? 5000,
    firstTokenTimeoutMs: opts.firstTokenTimeoutMs ?? 5000,
    fetchTimeoutMs: 2000,
  });
  await inference.start();
  const secretKey = opts.secretKey ?? generateSecretKey();
  const pubkey = getPublicKey(secretKey);
  const pool = new RelayPool({
    relays: urls,
    bus,
    signer: { secretKey },
    backoff: { baseMs: 50, maxMs: 200 },
    allowInsecureLocal: true,
    timeouts: { publishMs: 3000, fetchMs: 2000, connectMs: 2000 },
  });
  pool.start();
  const engine = new Engine({
    bus,
    pool,
    inference,
    ledger,
    payments: opts.engine?.payments ?? null,
    secretKey,
    pubkey,
    config: () => config,
    heartbeatMs: opts.engine?.heartbeatMs,
    sinceWindowSecs: opts.engine?.sinceWindowSecs,
    progressIntervalMs: opts.engine?.progressIntervalMs,
  });
  // As app.ts does: a change of the served models re-announces.
  const unsubscribe = bus.subscribe(ModelsChanged, () => void engine.modelsChanged().catch(() => {}));
  cleanups.unshift(unsubscribe);
  // Wait until the pool is connected to both relays so nothing the test publishes is missed.
  await until(() => pool.views().every((v) => v.state === "connected"), 5000, "pool connected");
  if (!opts.offline) await engine.goOnline();
  const customer = await startCustomer(urls, { secretKey: opts.customerKey });
  const extraCustomers: Customer[] = [];

  let stopped = false;
  return {
    relays,
    urls,
    fake,
    bus,
    ledger,
    ledgerPath,
    inference,
    pool,
    engine,
    secretKey,
    pubkey,
    get config() {
      return config;
    },
    setConfig(patch) {
      raw = deepMerge(raw, patch);
      config = ConfigSchema.parse(raw);
    },
    customer,
    async newCustomer() {
      const c = await startCustomer(urls);
      extraCustomers.push(c);
      return c;
    },
    published: (kind) => log0.filter((e) => e.kind === kind),
    stored(kind, jobId, relay) {
      const from = relay === undefined ? relays : [relays[relay]];
      return from.flatMap((r) => r.events() as Event[]).filter((e) => e.kind === kind && (jobId === undefined || eTagged(e, jobId)));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      customer.close();
      for (const c of extraCustomers) c.close();
      await engine.stop(1000);
      await pool.stop();
      inference.stop();
      ledger.close();
      for (const c of cleanups) await c();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Unique events by id (the same event stored on both relays counts once). */
export function uniqueIds(events: Event[]): string[] {
  return [...new Set(events.map((e) => e.id))];
}

export interface SuiteOptions {
  /** What the file's fake Ollama serves; default llama3.2. It always answers instantly. */
  models?: FakeModelSpec[];
  /** More clean-up after each test, after the providers stopped and the fake was reset. */
  afterEach?: (fake: FakeOllama) => unknown;
}

export interface Suite {
  /**
   * The file's fake Ollama, usable inside tests and hooks (it starts in beforeAll). A stand-in
   * that forwards to it, so it can be taken at the top of the file.
   */
  fake: FakeOllama;
  /** A provider (startProvider) that is stopped after the test. */
  provider(opts?: ProviderOptions): Promise<Provider>;
  /** A temp dir removed after the file. */
  tempDir(prefix: string): string;
}

/**
 * The set-up every end-to-end file of the engine shares, as bun:test hooks of the calling file:
 * one fake Ollama for the file; after each test, its providers stopped and the fake's faults,
 * pacing and request log reset; at the end, temp dirs removed and no unhandled rejection allowed.
 */
export function providerSuite(opts: SuiteOptions = {}): Suite {
  let real: FakeOllama | null = null;
  const live: Provider[] = [];
  const dirs: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => void unhandled.push(e);

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    real = await startOllamaServer({ models: opts.models ?? [{ name: "llama3.2" }], instant: true });
  });
  afterEach(async () => {
    for (const p of live.splice(0)) await p.stop();
    if (!real) return;
    await real.setFault(null);
    real.setPacing({ instant: true, tokensPerSec: 1000, timeToFirstTokenMs: 0, responseTokens: null });
    real.clearRequests();
    await opts.afterEach?.(real);
  });
  afterAll(async () => {
    await real?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    process.off("unhandledRejection", onUnhandled);
    expect(unhandled).toEqual([]);
  });

  const current = (): FakeOllama => {
    if (!real) throw new Error("the fake Ollama starts in beforeAll; use it inside tests and hooks");
    return real;
  };
  const fake = new Proxy({} as FakeOllama, {
    get(_target, key) {
      const f = current();
      const value = Reflect.get(f, key, f);
      return typeof value === "function" ? value.bind(f) : value;
    },
  });
  return {
    fake,
    async provider(options = {}) {
      const p = await startProvider(current(), options);
      live.push(p);
      return p;
    },
    tempDir(prefix) {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
  };
}
