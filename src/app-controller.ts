// What the HTTP API (src/server/controller.ts) asks, answered by the services the App built: the
// identity session, the wallet service, the provider control, the config edits, the router, the
// ledger and the market. No state of its own; app.ts builds it and hands it to the
// server, and tests, the CLI and the bench call `app.controller` the way the API does.
import type { Bus } from "./bus.ts";
import { backendsAdding, backendsRemoving, settingsOf } from "./config-edits.ts";
import { effectiveBackends, type Config } from "./config.ts";
import { AppError } from "./errors.ts";
import { VERSION } from "./version.ts";
import { generateMnemonic, suggestMnemonicWords, validateMnemonic, type IdentitySession } from "./identity/session.ts";
import { jobRowToView, type Ledger } from "./ledger/ledger.ts";
import type { Router } from "./inference/router.ts";
import type { BackendInput, Controller, Settings, SettingsPatch } from "./server/controller.ts";
import type { Snapshot } from "./server/snapshot.ts";
import type { WalletService } from "./wallet/service.ts";
import type { ProviderControl } from "./jobs/provider.ts";
import { ProviderChanged } from "./jobs/provider-events.ts";
import type { RelayPool } from "./nostr/pool.ts";
import { RelayListChanged } from "./nostr/events.ts";
import type { Engine } from "./jobs/engine.ts";
import type { Sentinel } from "./service/sentinel.ts";
import type { MarketService, MarketView } from "./market/service.ts";
import type { BenchmarkRecord } from "./market/store.ts";

/** The services the controller delegates to; getters for those that come and go (unlock/lock, start). */
export interface AppParts {
  bus: Bus;
  config(): Config;
  /** Saves a change to config.json and applies it to this run (app.ts saveConfig). */
  saveConfig(patch: Record<string, unknown>): void;
  session: IdentitySession;
  wallets: WalletService;
  provider: ProviderControl;
  inference(): Router;
  ledger(): Ledger;
  engine(): Engine | null;
  pool(): RelayPool | null;
  market(): MarketService | null;
  sentinel(): Sentinel | null;
}

export class AppController implements Controller {
  readonly bus: Bus;
  constructor(private readonly p: AppParts) {
    this.bus = p.bus;
  }

  // ---- state ----

  snapshot(): Snapshot {
    const { p } = this;
    return {
      version: VERSION,
      identity: p.session.view(),
      provider: p.provider.view(),
      wallet: p.wallets.view(),
      earnings: p.ledger().earnings(),
      jobs: this.jobViews(),
      ollama: p.inference().view(),
      models: p.inference().models(),
      backends: p.inference().backends(),
      relays: this.relayViews(),
    };
  }

  /** The engine's jobs while unlocked, else the ledger's last 50. */
  jobViews() {
    const engine = this.p.engine();
    if (engine) return engine.jobs();
    return this.p.ledger().listJobs({ limit: 50 }).map(jobRowToView);
  }

  relayViews() {
    const pool = this.p.pool();
    if (pool) return pool.views();
    return this.p.config().relays.map((url) => ({ url, state: "disconnected" as const, latencyMs: null, error: null, since: Date.now() }));
  }

  emitProvider(): void {
    this.bus.publish(ProviderChanged, { provider: this.p.provider.view() });
  }

  // ---- identity ----

  generateMnemonic(words: 12 | 24): string {
    return generateMnemonic(words);
  }
  validateMnemonic(mnemonic: string) {
    return validateMnemonic(mnemonic);
  }
  suggestWords(prefix: string): string[] {
    return suggestMnemonicWords(prefix);
  }
  createIdentity(input: { mnemonic: string; passphrase?: string; password: string }): Promise<{ npub: string }> {
    return this.p.session.create(input);
  }
  unlock(password: string): Promise<void> {
    return this.p.session.unlock(password);
  }
  lock(): Promise<void> {
    return this.p.session.lock();
  }
  revealMnemonic(password: string): Promise<string> {
    return this.p.session.revealMnemonic(password);
  }

  // ---- provider, models, backends, relays, settings ----

  setOnline(online: boolean): Promise<void> {
    return this.p.provider.setOnline(online);
  }

  async setServedModels(models: string[] | null): Promise<void> {
    this.p.saveConfig({ provider: { servedModels: models } });
    this.p.inference().setServedModels(models);
  }

  async pullModel(model: string): Promise<void> {
    await this.p.inference().pull(model);
  }

  /** Adds an inference backend (dashboard): checked, saved and started at once. */
  async addBackend(input: BackendInput): Promise<void> {
    this.p.saveConfig({ backends: await backendsAdding(this.p.config(), input) });
    await this.p.inference().setBackends(effectiveBackends(this.p.config()));
  }

  /** Removes an inference backend by name (its running jobs fail); the last one stays. */
  async removeBackend(name: string): Promise<void> {
    this.p.saveConfig({ backends: backendsRemoving(this.p.config(), name) });
    await this.p.inference().setBackends(effectiveBackends(this.p.config()));
  }

  async addRelay(url: string): Promise<void> {
    this.setRelays([...new Set([...this.p.config().relays, url])]);
  }

  async removeRelay(url: string): Promise<void> {
    this.setRelays(this.p.config().relays.filter((r) => r !== url));
  }

  private setRelays(relays: string[]): void {
    this.p.saveConfig({ relays });
    this.p.pool()?.setRelays(relays);
    this.bus.publish(RelayListChanged, { relays: this.relayViews() });
  }

  settings(): Settings {
    return settingsOf(this.p.config());
  }

  /** Saves a settings patch (refused whole, file untouched, if anything is bad); a changed profile goes out at once. */
  async updateSettings(patch: SettingsPatch): Promise<Settings> {
    this.p.saveConfig(patch);
    // The one-Ollama shorthand's slots follow limits.maxConcurrentJobs.
    await this.p.inference().setBackends(effectiveBackends(this.p.config()));
    this.p.sentinel()?.check();
    // The new announcement and profile go to the relays in the background (the engine tracks them,
    // and they log their own failures): a slow or reconnecting relay must not hold SAVE, and the
    // settings are saved and applied already.
    void this.p.engine()?.configChanged().catch(() => {});
    this.emitProvider();
    return this.settings();
  }

  // ---- wallet ----

  walletReceive(amountSats?: number) {
    return this.p.wallets.receive(amountSats);
  }
  walletPrepareSend(destination: string, amountSats?: number) {
    return this.p.wallets.prepareSend(destination, amountSats);
  }
  walletConfirmSend(id: string, password: string) {
    return this.p.wallets.confirmSend(id, password);
  }
  async walletPayments(limit = 50) {
    return this.p.ledger().payments({ limit });
  }
  walletSent(limit = 50) {
    return this.p.wallets.sent(limit);
  }
  walletBalance() {
    return this.p.wallets.balance();
  }
  walletLightningAddress() {
    return this.p.wallets.lightningAddress();
  }
  walletSetLightningAddress(username: string) {
    return this.p.wallets.setLightningAddress(username);
  }
  walletDeleteLightningAddress() {
    return this.p.wallets.deleteLightningAddress();
  }
  walletBreezKey() {
    return this.p.wallets.breezKey();
  }
  walletSetBreezKey(raw: string) {
    return this.p.wallets.setBreezKey(raw);
  }

  // ---- jobs, market ----

  async cancelJob(id: string): Promise<void> {
    if (!this.p.engine()?.cancel(id)) throw new AppError("not_found", "No such active job.");
  }

  /** The market seen on the relays, the suggested prices and this machine's benchmarks. */
  marketView(opts: { sinceSecs?: number; model?: string } = {}): MarketView {
    const market = this.p.market();
    if (!market) throw new AppError("unavailable", "The market view is not running.");
    return market.view(opts);
  }

  /** Runs the standard benchmark on a served model; refused while jobs run. */
  async benchmarkModel(model?: string): Promise<BenchmarkRecord> {
    const market = this.p.market();
    if (!market) throw new AppError("unavailable", "The market view is not running.");
    return market.benchmark(model);
  }
}
