// The services that exist only while the vault is unlocked: the relay pool, the payments over the
// wallet and the job engine (each handed its own copy of the secret key, zeroed on lock), and the
// bus subscriptions that tie them to the dashboards. App builds one, starts it when the session
// unlocks and stops it when the session locks (src/identity/session.ts).
// Heavy modules (pool, engine, payments) load here, lazily: the session's warmUp starts loading them
// while the vault's key derivation runs, after the HTTP server already answers.
import type { AppOptions } from "./app-options.ts";
import type { Bus } from "./bus.ts";
import type { Config } from "./config.ts";
import type { UnifiedIdentity } from "./identity/identity.ts";
import { ModelsChanged, OllamaStatusChanged } from "./inference/events.ts";
import type { Router } from "./inference/router.ts";
import type { Engine } from "./jobs/engine.ts";
import { JobStatusChanged } from "./jobs/events.ts";
import { EarningsChanged } from "./ledger/events.ts";
import { PAID_LATE_NOT_SERVED, type Ledger } from "./ledger/ledger.ts";
import { createLogger } from "./log.ts";
import type { MarketService } from "./market/service.ts";
import { RelayStatusChanged } from "./nostr/events.ts";
import type { RelayPool } from "./nostr/pool.ts";
import { forgetSigningKeys } from "./nostr/signer.ts";
import { paths } from "./paths.ts";
import type { Sentinel } from "./service/sentinel.ts";
import { PaymentReceived } from "./wallet/events.ts";
import type { Payments } from "./wallet/payments.ts";
import { sparkWallet, type WalletService } from "./wallet/service.ts";

const log = createLogger("app");
/** Earnings go to the dashboards at most this often (publishEarnings). */
const EARNINGS_EVERY_MS = 1000;

/** What the unlocked services take from the App (read when used: the App builds them in order). */
export interface UnlockedDeps {
  bus: Bus;
  dataDir: string;
  opts: Pick<AppOptions, "walletFactory" | "reconcileMs" | "walletCallMs" | "zapGraceMs">;
  config: () => Config;
  inference: () => Router;
  ledger: () => Ledger;
  market: () => MarketService | null;
  sentinel: () => Sentinel | null;
  /** The wallet: attached and connected here, detached on lock (src/wallet/service.ts). */
  wallets: WalletService;
  /** Tells the dashboards the provider view changed (src/app-controller.ts). */
  emitProvider: () => void;
  /** The App is stopping: nothing more goes to the dashboards. */
  stopped: () => boolean;
}

export class UnlockedServices {
  pool: RelayPool | null = null;
  payments: Payments | null = null;
  engine: Engine | null = null;
  /** Copies of the secret key handed to the pool and the engine: zeroed when they stop (lock). */
  private keyCopies: Uint8Array[] = [];
  /** The bus subscriptions made at start, ended at stop. */
  private disposers: Array<() => void> = [];
  private earningsTimer: ReturnType<typeof setTimeout> | null = null;
  private earningsAt = -Infinity;
  /**
   * The relay pool built and connecting while the vault's key derivation runs (preconnect): its
   * key, needed only to answer a relay's AUTH (which waits for it), comes with the unlock.
   */
  private early: { pool: RelayPool; giveKey: (key: Uint8Array) => void; refuse: () => void } | null = null;
  /** Bumped by each failed unlock and stop: a preconnect still loading its modules then gives up. */
  private attempt = 0;

  constructor(private readonly deps: UnlockedDeps) {}

  private newPool(RelayPoolClass: typeof RelayPool, signer: ConstructorParameters<typeof RelayPool>[0]["signer"]): RelayPool {
    const config = this.deps.config();
    return new RelayPoolClass({
      relays: config.relays,
      bus: this.deps.bus,
      signer,
      // Customer-named reply relays and url inputs on private addresses are refused unless allowed.
      allowInsecureLocal: config.limits.allowPrivateUrls,
    });
  }

  /**
   * Starts connecting to the relays while the vault's KDF runs on its worker: the TLS handshakes
   * are done by the time the key is there, instead of after it. A wrong password closes them
   * (unlockFailed).
   */
  async preconnect(): Promise<void> {
    const attempt = this.attempt;
    if (this.pool || this.early) return;
    const [{ RelayPool }, { signEvent }] = await Promise.all([import("./nostr/pool.ts"), import("./nostr/signer.ts")]);
    if (this.pool || this.early || attempt !== this.attempt || this.deps.stopped()) return;
    let giveKey: (key: Uint8Array) => void = () => {};
    let refuse: () => void = () => {};
    const key = new Promise<Uint8Array>((resolve, reject) => {
      giveKey = resolve;
      refuse = () => reject(new Error("the vault stayed locked"));
    });
    key.catch(() => {});
    const pool = this.newPool(RelayPool, { sign: async (t) => signEvent(t, await key) });
    pool.start();
    this.early = { pool, giveKey, refuse };
  }

  /** The unlock failed (a wrong password): the relays connected early are closed. */
  async unlockFailed(): Promise<void> {
    this.attempt++;
    const early = this.early;
    this.early = null;
    if (!early) return;
    early.refuse();
    await early.pool.stop();
  }

  /** Services that need the keys: the relay pool and the job engine (the wallet joins them). */
  async start(identity: UnifiedIdentity): Promise<void> {
    const { bus, config, opts } = this.deps;
    const [{ RelayPool }, { Payments }, { Engine }] = await Promise.all([import("./nostr/pool.ts"), import("./wallet/payments.ts"), import("./jobs/engine.ts")]);
    const early = this.early;
    this.early = null;
    if (early) {
      // Connected while the KDF ran: it gets the key now.
      early.giveKey(this.keyCopy(identity));
      this.pool = early.pool;
    } else {
      this.pool = this.newPool(RelayPool, { secretKey: this.keyCopy(identity) });
      this.pool.start();
    }
    this.deps.market()?.startReader(this.pool);
    const wallet = await (opts.walletFactory ?? sparkWallet)({ seed: identity.walletSeed(), config: config(), dir: paths(this.deps.dataDir).wallet, bus });
    this.deps.wallets.attach(wallet);
    this.payments = new Payments({
      wallet,
      ledger: this.deps.ledger(),
      bus,
      reconcileMs: opts.reconcileMs,
      walletCallMs: opts.walletCallMs,
      zapGraceMs: opts.zapGraceMs,
    });
    // A payment booked: the balance, and the earnings (one throttled feed: publishEarnings).
    this.disposers.push(
      bus.subscribe(PaymentReceived, () => {
        void this.deps.wallets.refreshBalance();
        this.publishEarnings();
      }),
    );
    this.deps.wallets.connect();
    this.engine = new Engine({
      bus,
      pool: this.pool,
      inference: this.deps.inference(),
      ledger: this.deps.ledger(),
      payments: this.payments,
      secretKey: this.keyCopy(identity),
      pubkey: identity.pubkey,
      config,
      slots: () => this.deps.inference().capacity(),
      pausedReason: () => this.deps.sentinel()?.paused() ?? null,
      onChanged: () => this.deps.emitProvider(),
    });
    // The earnings count the jobs answered, and the payments noted "paid late: not served" (a note
    // on a job already over, after its PaymentReceived: recovery.ts).
    this.disposers.push(
      bus.subscribe(JobStatusChanged, ({ job }) => {
        if (job.status === "success" || job.error?.startsWith(PAID_LATE_NOT_SERVED)) this.publishEarnings();
      }),
      // GO ONLINE's blockers include "no relay connected" and the backends' health: tell the UI.
      bus.subscribe(RelayStatusChanged, () => this.deps.emitProvider()),
      bus.subscribe(OllamaStatusChanged, () => this.deps.emitProvider()),
      bus.subscribe(ModelsChanged, () => {
        this.engine?.modelsChanged().catch((err) => log.warn("re-announcing failed", { err }));
        this.deps.emitProvider();
      }),
    );
    const t0 = performance.now();
    await this.engine.recover();
    log.debug("engine recovered", { ms: Math.round(performance.now() - t0) });
  }

  private keyCopy(identity: UnifiedIdentity): Uint8Array {
    const key = identity.secretKey();
    this.keyCopies.push(key);
    return key;
  }

  /** Stops them in reverse (the engine first, the pool last) and zeroes the key copies. */
  async stop(): Promise<void> {
    await this.unlockFailed();
    for (const dispose of this.disposers.splice(0)) dispose();
    await this.engine?.stop();
    this.engine = null;
    this.payments?.stop();
    this.payments = null;
    await this.deps.wallets.detach();
    this.deps.market()?.stopReader();
    await this.pool?.stop();
    this.pool = null;
    for (const key of this.keyCopies.splice(0)) key.fill(0);
    // The signer's copy of our keypair (kept between signatures) goes with them.
    forgetSigningKeys();
  }

  /** The wallet connected: payments start, and zaps are watched while it has a Lightning address. */
  walletConnected(): void {
    this.payments?.start();
    void this.engine?.walletChanged().catch((err) => log.warn("zap watch failed", { err }));
  }

  /** The wallet's Lightning address was set or removed: start or stop watching zaps. */
  async addressChanged(): Promise<void> {
    await this.engine?.walletChanged();
  }

  /**
   * Tells the dashboards the earnings changed: at most once a second (a change inside the second
   * is sent when it is up, never lost), and only while one is connected (a dashboard that
   * connects reads them from /api/state). Reading them is a ledger query: a burst of jobs or
   * payments costs one a second, and none while nobody looks.
   */
  publishEarnings(): void {
    if (this.earningsTimer) return;
    const send = () => {
      this.earningsTimer = null;
      if (this.deps.stopped() || !this.deps.bus.watched()) return;
      this.earningsAt = performance.now();
      this.deps.bus.publish(EarningsChanged, { earnings: this.deps.ledger().earnings() });
    };
    const wait = this.earningsAt + EARNINGS_EVERY_MS - performance.now();
    if (wait <= 0) return send();
    this.earningsTimer = setTimeout(send, wait);
    this.earningsTimer.unref?.();
  }
}
