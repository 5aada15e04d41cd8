// The composition root: load config, open stores, build services, start them in order, stop them
// in reverse. The only file that wires domains together, with src/unlocked-services.ts: its part
// for the services that exist only while the vault is unlocked.
import type { AppOptions } from "./app-options.ts";
import { Bus } from "./bus.ts";
import { loadConfig, updateConfigFile, withChange, type Config } from "./config.ts";
import { createLogger, setLogFormat, setLogLevel } from "./log.ts";
import { InstanceLock } from "./util/lock.ts";
import { WalletService } from "./wallet/service.ts";
// Heavy modules (pool, engine, payments, key derivation) load when the vault is unlocked, after the
// HTTP server already answers: start-up stays fast.
import { UnlockedServices } from "./unlocked-services.ts";
import { Vault } from "./identity/vault.ts";
import { IdentityChanged } from "./identity/events.ts";
import { IdentitySession } from "./identity/session.ts";
import { Ledger } from "./ledger/ledger.ts";
import { Router } from "./inference/router.ts";
import { listen } from "./server/server.ts";
import { newToken } from "./server/security.ts";
import { assets } from "./server/assets.ts";
import { WalletStatusChanged } from "./wallet/events.ts";
import { ProviderControl } from "./jobs/provider.ts";
import { OnlineKeeper } from "./jobs/online.ts";
import { SellingPolicy } from "./jobs/policy.ts";
import { JobProgress, JobStatusChanged } from "./jobs/events.ts";
import { IDLE_TRIM_MS, IdleTrimmer } from "./util/idle-trim.ts";
import { interactiveJitPolicy } from "./util/jit-policy.ts";
import { ModelsChanged, OllamaStatusChanged } from "./inference/events.ts";
import { Sentinel } from "./service/sentinel.ts";
import { MarketService } from "./market/service.ts";
import { AppController } from "./app-controller.ts";
import { paths } from "./paths.ts";

const log = createLogger("app");

/**
 * How far into the vault's KDF (scrypt at 128 MiB: ~0.75-1 s here, rarely under 0.3 s) the NIP-06
 * derivation is rehearsed: after start-up's own work and its first HTTP answers (~0.2 s from spawn).
 */
export const DERIVATION_REHEARSAL_DELAY_MS = 250;

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
  /** The relay pool, payments and job engine: they exist while the vault is unlocked (src/unlocked-services.ts). The getters below read them (test/stress/crash-window.test.ts reads `pool` too). */
  private readonly unlocked: UnlockedServices;
  private get pool() {
    return this.unlocked.pool;
  }
  private get engine() {
    return this.unlocked.engine;
  }
  /** The wallet once unlocked: connect with retry, balance, receive/send, Lightning address (src/wallet/service.ts). */
  private readonly wallets: WalletService;
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
      wallet: () => this.unlocked.payments?.ready() ?? null,
      relays: () => this.pool?.views() ?? null,
      online: this.online,
      changed: () => this.controller.emitProvider(),
    });
    this.session = new IdentitySession({
      dataDir: opts.dataDir,
      bus: this.bus,
      stopped: () => this.stopped,
      onUnlocked: () => this.unlocked.start(this.session.current!),
      onLocking: () => this.unlocked.stop(),
      warmUp: () => {
        // The NIP-06 derivation's first-use costs go into the KDF's time too (identity.ts), but
        // not into start-up's first HTTP answers: the rehearsal holds the thread for ~40-70 ms, so
        // it starts DERIVATION_REHEARSAL_DELAY_MS into the KDF, and not at all if the KDF is over.
        const rehearsal = setTimeout(() => {
          void import("./identity/identity.ts")
            .then((m) => m.UnifiedIdentity.warmUpDerivation())
            .catch((err) => log.debug("warming the key derivation failed", { err }));
        }, DERIVATION_REHEARSAL_DELAY_MS);
        void Promise.all([import("./wallet/payments.ts"), import("./jobs/engine.ts")]).catch(() => {});
        this.unlocked.preconnect().catch((err) => log.warn("connecting to the relays early failed", { err }));
        return () => clearTimeout(rehearsal);
      },
      unlockFailed: () => void this.unlocked.unlockFailed().catch(() => {}),
    });
    this.wallets = new WalletService({
      bus: this.bus,
      dataDir: opts.dataDir,
      config: () => this.config,
      saveConfig: (patch) => this.saveConfig(patch),
      checkPassword: (password) => this.session.checkPassword(password),
      stopped: () => this.stopped,
      retryMs: opts.walletRetryMs,
      onConnected: () => this.unlocked.walletConnected(),
      onReadiness: () => this.controller.emitProvider(),
      onAddressChanged: () => this.unlocked.addressChanged(),
    });
    this.unlocked = new UnlockedServices({
      bus: this.bus,
      dataDir: opts.dataDir,
      opts,
      config: () => this.config,
      inference: () => this.inference,
      ledger: () => this.ledger,
      market: () => this.market,
      sentinel: () => this.sentinel,
      wallets: this.wallets,
      emitProvider: () => this.controller.emitProvider(),
      stopped: () => this.stopped,
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

    this.inference = Router.fromConfig(this.config, { bus: this.bus, probeIntervalMs: this.opts.ollamaProbeMs });
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
    const activity = () => trimmer.activity();
    const unsubs = [this.bus.subscribe(JobStatusChanged, activity), this.bus.subscribe(JobProgress, activity), this.bus.subscribe(IdentityChanged, activity)];
    trimmer.start();
    this.push("idle trim", () => {
      trimmer.stop();
      unsubs.forEach((u) => u());
    });

    // Going online is wanted: the signer gets ready now, on this thread while the vault's key
    // derivation runs on its own, so the first burst of jobs signs at full speed (nostr/signer.ts).
    if (this.config.online) void import("./nostr/signer.ts").then((m) => m.warmUpSigner());
    if (this.opts.password && Vault.exists(paths(dataDir).vault)) await this.session.unlock(this.opts.password);
    // Start-up is over (`compute` raised the JIT's thresholds for it): jobs are compiled as usual.
    interactiveJitPolicy();
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
   * Saves a change to config.json and applies it to this run at once, under the run's own
   * command-line and environment settings, which keep winning over the file (a `--payment-mode
   * free` run stays free after a dashboard save). Bad changes are refused before writing.
   */
  private saveConfig(patch: Record<string, unknown>): void {
    const next = withChange(this.config, patch);
    updateConfigFile(this.dataDir, patch);
    this.config = next;
  }

  /** Tells the dashboards the earnings changed, at most once a second (src/unlocked-services.ts). */
  publishEarnings(): void {
    this.unlocked.publishEarnings();
  }
}
