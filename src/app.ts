// The composition root: load config, open stores, build services, start them in order, stop them
// in reverse. The only file that wires domains together.
import type { AppOptions } from "./app-options.ts";
import { Bus } from "./bus.ts";
import { effectiveBackends, loadConfig, updateConfigFile, withChange, type Config } from "./config.ts";
import { createLogger, setLogFormat, setLogLevel } from "./log.ts";
import { InstanceLock } from "./util/lock.ts";
import type { UnifiedIdentity } from "./identity/identity.ts";
import { sparkWallet, WalletService } from "./wallet/service.ts";
// Heavy modules (pool, engine, payments, key derivation) load when the vault is unlocked, after the
// HTTP server already answers: start-up stays fast.
import type { Payments } from "./wallet/payments.ts";
import { PaymentReceived } from "./wallet/events.ts";
import { Vault } from "./identity/vault.ts";
import { IdentityChanged } from "./identity/events.ts";
import { IdentitySession } from "./identity/session.ts";
import { Ledger } from "./ledger/ledger.ts";
import { EarningsChanged } from "./ledger/events.ts";
import { Router } from "./inference/router.ts";
import { listen } from "./server/server.ts";
import { newToken } from "./server/security.ts";
import { assets } from "./server/assets.ts";
import { WalletStatusChanged } from "./wallet/events.ts";
import type { RelayPool } from "./nostr/pool.ts";
import { RelayStatusChanged } from "./nostr/events.ts";
import type { Engine } from "./jobs/engine.ts";
import { ProviderControl } from "./jobs/provider.ts";
import { OnlineKeeper } from "./jobs/online.ts";
import { SellingPolicy } from "./jobs/policy.ts";
import { JobProgress, JobStatusChanged } from "./jobs/events.ts";
import { IDLE_TRIM_MS, IdleTrimmer } from "./util/idle-trim.ts";
import { ModelsChanged, OllamaStatusChanged } from "./inference/events.ts";
import { Sentinel } from "./service/sentinel.ts";
import { MarketService } from "./market/service.ts";
import { AppController } from "./app-controller.ts";

const log = createLogger("app");
/** Earnings go to the dashboards at most this often (publishEarnings). */
const EARNINGS_EVERY_MS = 1000;

export type { AppOptions } from "./app-options.ts";
export { paths, readPublicIdentity } from "./paths.ts";
import { paths } from "./paths.ts";

export class App {
  readonly bus = new Bus();
  readonly token = newToken();
  config!: Config;
  url = "";
  private lockHandle: InstanceLock | null = null;
  private ledger!: Ledger;
  /** The inference backends (one Ollama, or several Ollama / OpenAI-compatible servers) behind one router. */
  private inference!: Router;
  private http: ReturnType<typeof Bun.serve> | null = null;
  /** Creating, unlocking and locking the identity, one at a time (src/identity/session.ts). */
  private readonly session: IdentitySession;
  private pool: RelayPool | null = null;
  private engine: Engine | null = null;
  /** The wallet once unlocked: connect with retry, balance, receive/send, Lightning address (src/wallet/service.ts). */
  private readonly wallets: WalletService;
  private payments: Payments | null = null;
  private market: MarketService | null = null;
  private stopped = false;
  /** --online: back online by itself whenever it can be (src/jobs/online.ts). */
  private readonly online: OnlineKeeper;
  /** The schedule, daily limits and busy probes (src/service/); the App acts on what it says. */
  private sentinel: Sentinel | null = null;
  /** What the sentinel's answers do: offline by the schedule, cancels when busy (src/jobs/policy.ts). */
  private readonly policy: SellingPolicy;
  /** The provider's view and GO ONLINE / OFFLINE (src/jobs/provider.ts). */
  private readonly provider: ProviderControl;
  /** Gives memory back after start-up and after each busy spell. */
  trimmer: IdleTrimmer | null = null;
  private readonly stack: Array<{ name: string; stop: () => unknown }> = [];
  /** What the HTTP API asks, answered by the services above (src/app-controller.ts); tests, the CLI and the bench call it too. */
  readonly controller: AppController;

  private constructor(private readonly opts: AppOptions) {
    this.online = new OnlineKeeper({
      goOnline: () => this.provider.setOnline(true),
      isOnline: () => this.engine?.isOnline() ?? false,
      stopped: () => this.stopped,
      onChange: (retry) => {
        const unsubs = [
          this.bus.subscribe(IdentityChanged, retry),
          this.bus.subscribe(WalletStatusChanged, retry),
          this.bus.subscribe(OllamaStatusChanged, retry),
          this.bus.subscribe(ModelsChanged, retry),
        ];
        return () => unsubs.forEach((u) => u());
      },
      retryMs: this.opts.onlineRetryMs,
    });
    this.policy = new SellingPolicy({
      offline: () => this.sentinel?.offline() ?? null,
      paused: () => this.sentinel?.paused() ?? null,
      engine: () => this.engine,
      online: this.online,
      graceSecs: () => this.config.schedule.graceSecs,
      cancelWhenBusy: () => this.config.pause.running === "cancel",
    });
    this.provider = new ProviderControl({
      config: () => this.config,
      engine: () => this.engine,
      inference: () => this.inference,
      sentinel: () => this.sentinel,
      identity: () => this.session.state(),
      wallet: () => this.payments?.ready() ?? null,
      relays: () => this.pool?.views() ?? null,
      online: this.online,
      changed: () => this.controller.emitProvider(),
    });
    this.session = new IdentitySession({
      dataDir: opts.dataDir,
      bus: this.bus,
      stopped: () => this.stopped,
      onUnlocked: () => this.startIdentityServices(),
      onLocking: () => this.stopIdentityServices(),
      warmUp: () => void Promise.all([import("./identity/identity.ts"), import("./nostr/pool.ts"), import("./wallet/payments.ts"), import("./jobs/engine.ts")]).catch(() => {}),
    });
    this.wallets = new WalletService({
      bus: this.bus,
      dataDir: opts.dataDir,
      config: () => this.config,
      saveConfig: (patch) => this.saveConfig(patch),
      checkPassword: (password) => this.session.checkPassword(password),
      stopped: () => this.stopped,
      retryMs: opts.walletRetryMs,
      onConnected: () => {
        this.payments?.start();
        // Zaps are watched while the wallet has a Lightning address (engine.watchZaps).
        void this.engine?.walletChanged().catch((err) => log.warn("zap watch failed", { err }));
      },
      onReadiness: () => this.controller.emitProvider(),
      onAddressChanged: async () => {
        await this.engine?.walletChanged();
      },
    });
    this.controller = new AppController({
      bus: this.bus,
      config: () => this.config,
      saveConfig: (patch) => this.saveConfig(patch),
      session: this.session,
      wallets: this.wallets,
      provider: this.provider,
      inference: () => this.inference,
      ledger: () => this.ledger,
      engine: () => this.engine,
      pool: () => this.pool,
      market: () => this.market,
      sentinel: () => this.sentinel,
    });
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  static async start(opts: AppOptions): Promise<App> {
    const app = new App(opts);
    try {
      await app.startAll();
    } catch (err) {
      await app.stop();
      throw err;
    }
    return app;
  }

  private push(name: string, stop: () => unknown) {
    this.stack.push({ name, stop });
  }

  private async startAll(): Promise<void> {
    const { dataDir } = this.opts;
    this.config = loadConfig({ dataDir, flags: this.opts.flags, env: this.opts.env });
    setLogLevel(this.config.logLevel);
    if (this.config.logFormat) setLogFormat(this.config.logFormat);
    this.lockHandle = InstanceLock.acquire(dataDir);
    this.push("lock", () => this.lockHandle?.release());

    this.ledger = Ledger.open(paths(dataDir).ledger);
    this.push("ledger", () => this.ledger.close());

    this.inference = new Router({
      backends: effectiveBackends(this.config),
      aliases: this.config.aliases,
      bus: this.bus,
      servedModels: this.config.provider.servedModels,
      defaultModel: this.config.provider.defaultModel,
      probeIntervalMs: this.opts.ollamaProbeMs,
    });
    this.inference.start();
    this.push("inference", () => this.inference.stop());

    // The market view: its own file and, once the pool runs, its own subscriptions (src/market/).
    const market = new MarketService({
      dataDir,
      config: () => this.config,
      pubkey: () => this.session.current?.pubkey ?? null,
      servedModels: () => this.inference.servedModels(),
      generate: (p) => this.inference.generate(p),
      concurrency: () => Math.max(1, Math.min(this.inference.capacity(), this.config.limits.maxConcurrentJobs)),
      jobsRunning: () => this.controller.jobViews().filter((j) => j.status === "processing" || j.status === "queued" || j.status === "paid").length,
    });
    this.market = market;
    this.push("market", () => market.close());

    const sentinel = new Sentinel({
      bus: this.bus,
      config: () => this.config,
      // Today's figures alone, from the ledger's 15-minute slots (asked at every job's end).
      earnedToday: () => this.ledger.earnedToday(),
      gpu: { ms: (day) => this.ledger.gpuMs(day), add: (day, ms) => this.ledger.addGpuMs(day, ms) },
      servedModels: () => this.inference.servedModels(),
      ollamaUrl: () => this.config.ollamaUrl,
      onChange: () => this.onPolicy(),
      probeMs: this.opts.sentinelProbeMs,
      holdMs: this.opts.sentinelHoldMs,
      idle: this.opts.idleSource,
    });
    this.sentinel = sentinel;
    sentinel.start();
    this.push("sentinel", () => {
      sentinel.stop();
      this.policy.stop();
    });

    this.startHttp();

    // Start-up, unlocks and jobs are activity; when they are over, memory goes back (idle-trim.ts).
    const trimmer = new IdleTrimmer({ quietMs: this.opts.idleTrimMs ?? IDLE_TRIM_MS });
    this.trimmer = trimmer;
    const unJobs = this.bus.subscribe(JobStatusChanged, () => trimmer.activity());
    const unProgress = this.bus.subscribe(JobProgress, () => trimmer.activity());
    const unIdentity = this.bus.subscribe(IdentityChanged, () => trimmer.activity());
    trimmer.start();
    this.push("idle trim", () => {
      trimmer.stop();
      unJobs();
      unProgress();
      unIdentity();
    });

    if (this.opts.password && Vault.exists(paths(dataDir).vault)) await this.session.unlock(this.opts.password);
    log.info("started", { dataDir, url: this.url.replace(/token=[^&]+/, "token=…"), identity: this.session.view().state });
  }

  private startHttp(): void {
    const { http, origin, url } = listen(this.controller, { host: this.config.host, port: this.config.port, token: this.token, assets, heartbeatMs: this.opts.heartbeatMs, idleTimeoutSecs: this.opts.httpIdleTimeoutSecs });
    this.http = http;
    this.push("http", () => this.http?.stop(true));
    this.url = url;
    this.lockHandle?.publish(origin, this.token);
  }

  /** Stops everything in reverse order, once; calling it again is harmless. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.session.lock();
    while (this.stack.length) {
      const { name, stop } = this.stack.pop()!;
      try {
        await stop();
      } catch (err) {
        log.warn("stop failed", { service: name, err });
      }
    }
    log.info("stopped");
  }

  // ---- unlock / lock ----

  /** Services that need the keys: the relay pool and the job engine (the wallet joins them). */
  private async startIdentityServices(): Promise<void> {
    const identity = this.session.current!;
    const [{ RelayPool }, { Payments }, { Engine }] = await Promise.all([import("./nostr/pool.ts"), import("./wallet/payments.ts"), import("./jobs/engine.ts")]);
    this.pool = new RelayPool({
      relays: this.config.relays,
      bus: this.bus,
      signer: { secretKey: this.keyCopy(identity) },
      // Customer-named reply relays and url inputs on private addresses are refused unless allowed.
      allowInsecureLocal: this.config.limits.allowPrivateUrls,
    });
    this.pool.start();
    this.market?.startReader(this.pool);
    const wallet = await (this.opts.walletFactory ?? sparkWallet)({ seed: identity.walletSeed(), config: this.config, dir: paths(this.dataDir).wallet, bus: this.bus });
    this.wallets.attach(wallet);
    this.payments = new Payments({
      wallet,
      ledger: this.ledger,
      bus: this.bus,
      reconcileMs: this.opts.reconcileMs,
      walletCallMs: this.opts.walletCallMs,
      zapGraceMs: this.opts.zapGraceMs,
    });
    this.unsubscribePayments = this.bus.subscribe(PaymentReceived, () => void this.wallets.refreshBalance());
    this.wallets.connect();
    this.engine = new Engine({
      bus: this.bus,
      pool: this.pool,
      inference: this.inference,
      ledger: this.ledger,
      payments: this.payments,
      secretKey: this.keyCopy(identity),
      pubkey: identity.pubkey,
      config: () => this.engineConfig(),
      pausedReason: () => this.sentinel?.paused() ?? null,
    });
    // Jobs finishing change the job counts of the earnings (payments publish their own update).
    this.unsubscribeJobs = this.bus.subscribe(JobStatusChanged, ({ job }) => {
      if (job.status === "success") this.publishEarnings();
    });
    // GO ONLINE's blockers include "no relay connected": tell the UI when that changes.
    const unRelay = this.bus.subscribe(RelayStatusChanged, () => this.controller.emitProvider());
    const unOllama = this.bus.subscribe(OllamaStatusChanged, () => this.controller.emitProvider());
    this.unsubscribeRelays = () => {
      unRelay();
      unOllama();
    };
    this.unsubscribeModels = this.bus.subscribe(ModelsChanged, () => {
      this.engine?.modelsChanged().catch((err) => log.warn("re-announcing failed", { err }));
      this.controller.emitProvider();
    });
    const t0 = performance.now();
    await this.engine.recover();
    log.debug("engine recovered", { ms: Math.round(performance.now() - t0) });
  }

  /** Copies of the secret key handed to the pool and the engine: zeroed when they stop (lock). */
  private keyCopies: Uint8Array[] = [];
  private keyCopy(identity: UnifiedIdentity): Uint8Array {
    const key = identity.secretKey();
    this.keyCopies.push(key);
    return key;
  }

  private unsubscribeModels: (() => void) | null = null;
  private unsubscribePayments: (() => void) | null = null;
  private unsubscribeJobs: (() => void) | null = null;
  private unsubscribeRelays: (() => void) | null = null;

  private async stopIdentityServices(): Promise<void> {
    this.unsubscribeModels?.();
    this.unsubscribeModels = null;
    this.unsubscribePayments?.();
    this.unsubscribePayments = null;
    this.unsubscribeJobs?.();
    this.unsubscribeJobs = null;
    this.unsubscribeRelays?.();
    this.unsubscribeRelays = null;
    await this.engine?.stop();
    this.engine = null;
    this.payments?.stop();
    this.payments = null;
    await this.wallets.detach();
    this.market?.stopReader();
    await this.pool?.stop();
    this.pool = null;
    for (const key of this.keyCopies.splice(0)) key.fill(0);
  }

  /**
   * `online` in the config (--online): online now if it can, else as soon as what stops it clears
   * (src/jobs/online.ts). `report` hears each new reason once, and "online" when it gets there.
   * setOnline(false) ends it.
   */
  async keepOnline(report: (line: string) => void = () => {}): Promise<void> {
    const stop = this.online.keep(report);
    if (stop) this.push("keep online", stop);
    await this.online.tryOnline();
  }

  /** The schedule, a daily limit or the busy probes changed their answer (src/service/sentinel.ts). */
  private onPolicy(): void {
    if (this.stopped || !this.sentinel) return;
    this.controller.emitProvider();
    this.policy.apply();
  }

  /**
   * Saves a change to config.json and applies it to this run at once. The run's command-line and
   * environment settings stay in force (rereading only the file used to drop them: a dashboard
   * save made a `--payment-mode free` run charge again). Bad changes are refused before writing.
   */
  private saveConfig(patch: Record<string, unknown>): void {
    const next = withChange(this.config, patch);
    updateConfigFile(this.dataDir, patch);
    this.config = next;
  }

  /**
   * The config the engine sees: its concurrency (limits.maxConcurrentJobs) is the router's slots,
   * the sum over the healthy backends, so the engine's one fair queue feeds every backend.
   */
  private engineConfig(): Config {
    const slots = this.inference.capacity();
    const c = this.config;
    if (this.engineCfg?.base !== c || this.engineCfg.slots !== slots) this.engineCfg = { base: c, slots, config: { ...c, limits: { ...c.limits, maxConcurrentJobs: slots } } };
    return this.engineCfg.config;
  }
  private engineCfg: { base: Config; slots: number; config: Config } | null = null;

  private earningsTimer: ReturnType<typeof setTimeout> | null = null;
  private earningsAt = -Infinity;

  /**
   * Tells the dashboards the earnings changed: at most once a second (a change inside the second
   * is sent when it is up, never lost), and only while one is connected (a dashboard that
   * connects reads them from /api/state). Issue 16: every finished job recomputed them.
   */
  publishEarnings(): void {
    if (this.earningsTimer) return;
    const send = () => {
      this.earningsTimer = null;
      if (this.stopped || !this.bus.watched()) return;
      this.earningsAt = performance.now();
      this.bus.publish(EarningsChanged, { earnings: this.ledger.earnings() });
    };
    const wait = this.earningsAt + EARNINGS_EVERY_MS - performance.now();
    if (wait <= 0) return send();
    this.earningsTimer = setTimeout(send, wait);
    this.earningsTimer.unref?.();
  }
}
