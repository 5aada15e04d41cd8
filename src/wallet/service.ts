// The wallet as the app runs it: the one open wallet (once the identity is unlocked), connected in
// the background with retries, its balance kept fresh, receive and send (send needs the vault
// password), the Lightning address and the Breez API key. The app wires what listens (payments,
// the engine's zap watch) through the hooks; nothing here knows about jobs.
import { join } from "node:path";
import type { Bus } from "../bus.ts";
import type { Config } from "../config.ts";
import { AppError } from "../errors.ts";
import type { WalletSeed } from "../identity/identity.ts";
import { createLogger } from "../log.ts";
import { checkBreezApiKey, maskBreezApiKey, resolveBreezApiKey, type BreezKeySource } from "./breez-key.ts";
import { WalletStatusChanged, type WalletView } from "./events.ts";
import { SendIntents } from "./send-intents.ts";
import { DEPOSIT_DESCRIPTION, LightningUsername, type SentPayment, type SentRecord, type Wallet } from "./wallet.ts";

const log = createLogger("app");

/** Waits before reconnecting a wallet that failed to connect; the last one repeats. */
export const WALLET_RETRY_MS = [5_000, 15_000, 30_000, 60_000, 120_000];

export type WalletFactory = (input: { seed: WalletSeed; config: Config; dir: string; bus: Bus }) => Wallet | Promise<Wallet>;

/** The default wallet: Breez Spark. */
export const sparkWallet: WalletFactory = async (input) => {
  // Loaded lazily: the SDK is large and the HTTP server should answer before it is read.
  const { SparkWallet } = await import("./spark.ts");
  // The config's or environment's key first, else the one this build carries (breez-key.ts).
  return new SparkWallet({ ...input.seed, network: input.config.network, apiKey: resolveBreezApiKey(input.config.breezApiKey)?.key, dataDir: input.dir, bus: input.bus });
};

export interface BreezKeyState {
  set: boolean;
  source: BreezKeySource | null;
  hint: string | null;
}

export interface WalletServiceDeps {
  bus: Bus;
  dataDir: string;
  config: () => Config;
  /** Saves a change to config.json and applies it to this run. */
  saveConfig: (patch: Record<string, unknown>) => void;
  /** Checks the vault password (wrong → AppError "unauthorized"). */
  checkPassword: (password: string) => Promise<void>;
  /** The app is stopping: no more reconnects. */
  stopped: () => boolean;
  retryMs?: number[];
  /** The wallet connected: payments start, zaps get watched. */
  onConnected: () => void;
  /** Whether it works changed (connected, or failed and will retry): GO ONLINE's blockers may change. */
  onReadiness: () => void;
  /** The Lightning address changed: zaps start or stop being watched. */
  onAddressChanged: () => Promise<void>;
}

export class WalletService {
  private wallet: Wallet | null = null;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  /** The wallet's send intents (one intent never pays twice: send-intents.ts), per wallet. */
  private sendIntents: SendIntents | null = null;
  private sendIntentsOf: Wallet | null = null;

  constructor(private readonly deps: WalletServiceDeps) {}

  /** The open wallet, or null while locked. */
  get current(): Wallet | null {
    return this.wallet;
  }

  /** The unlocked identity's wallet; connect() opens it. */
  attach(wallet: Wallet): void {
    this.wallet = wallet;
  }

  /** In the background: the wallet may take a while (or fail) and the rest must not wait. */
  connect(): void {
    const wallet = this.wallet!;
    wallet
      .connect()
      .then(async () => {
        if (this.wallet !== wallet) return;
        this.failures = 0;
        this.deps.onConnected();
        await this.refreshBalance();
        this.deps.onReadiness();
      })
      .catch((err) => {
        if (this.wallet !== wallet || this.deps.stopped()) return;
        // A network that is down at boot must not leave a paid provider offline for good: try
        // again, further apart each time.
        const waits = this.deps.retryMs ?? WALLET_RETRY_MS;
        const waitMs = waits[Math.min(this.failures, waits.length - 1)]!;
        this.failures++;
        log.warn("the wallet did not connect; trying again", { err, inSecs: Math.round(waitMs / 1000), failures: this.failures });
        this.deps.onReadiness();
        this.retry = setTimeout(() => {
          this.retry = null;
          if (this.wallet === wallet && !this.deps.stopped()) this.connect();
        }, waitMs);
        this.retry.unref?.();
      });
  }

  /** Lock: no more retries, the wallet disconnected and forgotten. */
  async detach(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.failures = 0;
    const wallet = this.wallet;
    this.wallet = null;
    await wallet?.disconnect().catch((err) => log.warn("wallet disconnect failed", { err }));
  }

  view(): WalletView {
    if (this.wallet) return this.wallet.view();
    return { state: "locked", network: this.deps.config().network, balanceSats: null, lightningAddress: null, message: "Unlock your identity to open the wallet." };
  }

  async refreshBalance(): Promise<void> {
    if (this.wallet?.view().state !== "ready") return;
    await this.wallet.balance().catch((err) => log.warn("balance failed", { err }));
    this.publish();
  }

  private publish(): void {
    this.deps.bus.publish(WalletStatusChanged, { wallet: this.view() });
  }

  private ready(): Wallet {
    const w = this.wallet;
    if (!w) throw new AppError("locked", "Unlock your identity to use the wallet.");
    const view = w.view();
    if (view.state !== "ready") throw new AppError("unavailable", view.message ?? `The wallet is ${view.state.replace("_", " ")}.`);
    return w;
  }

  async receive(amountSats?: number): Promise<{ bolt11: string | null; address: string | null }> {
    const w = this.ready();
    if (amountSats) {
      const invoice = await w.createInvoice({ amountMsats: amountSats * 1000, description: DEPOSIT_DESCRIPTION, expirySecs: 3600 });
      return { bolt11: invoice.bolt11, address: null };
    }
    return { bolt11: null, address: (await w.receiveAddress("spark")).address };
  }

  private intents(wallet: Wallet): SendIntents {
    if (this.sendIntentsOf !== wallet || !this.sendIntents) {
      // Unresolved sends survive a restart: a retry then still reuses the first try's payment key.
      this.sendIntents = new SendIntents(wallet, { file: join(this.deps.dataDir, "unresolved-sends.json") });
      this.sendIntentsOf = wallet;
    }
    return this.sendIntents;
  }

  async prepareSend(destination: string, amountSats?: number): Promise<{ id: string; feeSats: number; amountSats: number; destinationType: string; retry?: boolean }> {
    const wallet = this.ready();
    await (await import("./payments.ts")).checkDestination(destination);
    const prepared = await this.intents(wallet).prepare({ destination, amountSats });
    return { id: prepared.id, feeSats: prepared.feeSats, amountSats: prepared.amountSats, destinationType: prepared.destinationType, retry: prepared.retry };
  }

  /** Money leaves only with the vault password: the dashboard token alone must not drain the wallet. */
  async confirmSend(id: string, password: string): Promise<SentPayment> {
    const wallet = this.ready();
    // Wrong password → AppError("unauthorized"), counted by the server's attempt limiter.
    await this.deps.checkPassword(password);
    const sent = await this.intents(wallet).send(id);
    await this.refreshBalance();
    return sent;
  }

  /** What was sent, newest first (the wallet keeps it, with a status that can change after the send returns); null when not connected. */
  async sent(limit = 50): Promise<SentRecord[] | null> {
    if (!this.wallet || this.wallet.view().state !== "ready") return null;
    return this.wallet.listSent({ limit });
  }

  async balance(): Promise<{ sats: number; network: string }> {
    const w = this.ready();
    const { sats } = await w.balance();
    return { sats, network: w.network };
  }

  async lightningAddress(): Promise<{ address: string; lnurl: string | null } | null> {
    const la = await this.ready().getLightningAddress();
    return la ? { address: la.address, lnurl: la.lnurl } : null;
  }

  /** Registers a Lightning address (NIP-57 zaps then reach us, and the engine starts watching them). */
  async setLightningAddress(username: string): Promise<{ address: string; lnurl: string | null }> {
    const name = LightningUsername.safeParse(username);
    if (!name.success) throw new AppError("invalid_input", `Bad Lightning address name '${username}': ${name.error.issues[0]?.message ?? "invalid"}.`);
    const la = await this.ready().registerLightningAddress(name.data);
    await this.deps.onAddressChanged();
    this.publish();
    return { address: la.address, lnurl: la.lnurl };
  }

  async deleteLightningAddress(): Promise<void> {
    await this.ready().deleteLightningAddress();
    await this.deps.onAddressChanged();
    this.publish();
  }

  /** The Breez API key in use, never in full: where it comes from and its last characters. */
  breezKey(): BreezKeyState {
    const r = resolveBreezApiKey(this.deps.config().breezApiKey);
    return { set: r !== null, source: r?.source ?? null, hint: r ? maskBreezApiKey(r.key) : null };
  }

  /** A Breez API key pasted on the dashboard: saved to config.json; a wallet waiting for one connects with it. */
  async setBreezKey(raw: string): Promise<BreezKeyState> {
    let key: string;
    try {
      key = checkBreezApiKey(raw);
    } catch (err) {
      throw new AppError("invalid_input", (err as Error).message);
    }
    this.deps.saveConfig({ breezApiKey: key });
    const w = this.wallet as (Wallet & { setApiKey?: (k: string) => void }) | null;
    if (w && w.view().state === "not_configured" && typeof w.setApiKey === "function") {
      w.setApiKey(key);
      this.connect();
    }
    this.publish();
    return this.breezKey();
  }
}
