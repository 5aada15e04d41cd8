// What the HTTP API can ask of the running app. src/app-controller.ts implements it
// over the services app.ts builds; the server never reaches
// into a domain directly, so routes stay thin and testable with a controller of their own.
import type { Bus } from "../bus.ts";
import type { Snapshot } from "./snapshot.ts";
import type { SentRecord } from "../wallet/wallet.ts";
import type { MarketView } from "../market/service.ts";
import type { BenchmarkRecord } from "../market/store.ts";

/** The public profile the dashboard edits (config `provider`, without the served models). */
export interface ProfileSettings {
  name: string;
  about: string;
  picture: string;
  publishProfile: boolean;
}

export interface Settings {
  relays: string[];
  ollamaUrl: string;
  pricing: Record<string, unknown>;
  limits: Record<string, unknown>;
  /** Optional so small controllers (tests, the UI dev server) need not keep a profile. */
  provider?: ProfileSettings;
  /** When to sell and when to pause (config `schedule`, `pause`; src/service/). */
  schedule?: Record<string, unknown>;
  pause?: Record<string, unknown>;
}

/** A PUT /api/settings body: each part merged into config.json (null removes a key, see config.ts). */
export type SettingsPatch = {
  pricing?: Record<string, unknown>;
  limits?: Record<string, unknown>;
  provider?: { [K in keyof ProfileSettings]?: ProfileSettings[K] | null };
  schedule?: Record<string, unknown>;
  pause?: Record<string, unknown>;
};

export interface SendPreview {
  id: string;
  feeSats: number;
  amountSats: number;
  destinationType: string;
  /** True: the quote of an earlier send of the same destination and amount whose outcome is not known; sending it can't pay twice. */
  retry?: boolean;
}

/** What a confirmed send did: `pending` is still on its way, `failed` did not pay. */
export interface SendResult {
  id: string;
  status: "completed" | "pending" | "failed";
  amountSats: number;
  feeSats: number;
}

export interface WalletPayment {
  id: string;
  jobId: string | null;
  amountMsats: number;
  bolt11: string | null;
  paymentHash: string | null;
  source: "invoice" | "zap" | "other";
  receivedAt: number;
  /** "paid late: not served": it landed for a job already over that could not be run. */
  note?: string;
  /** With a note: the customer who paid (hex pubkey). */
  customer?: string;
}

export interface BreezKeyView {
  set: boolean;
  source: "config" | "build" | null;
  /** The key's last characters ("…abcd"); never the whole key. */
  hint: string | null;
}

/** The dashboard's view and live events (routes/state.ts). */
export interface StateApi {
  readonly bus: Bus;
  snapshot(): Snapshot;
}

/** GO ONLINE / GO OFFLINE (routes/provider.ts). */
export interface ProviderApi {
  snapshot(): Snapshot;
  setOnline(online: boolean): Promise<void>;
}

/** Which models are served, and pulling one (routes/models.ts). */
export interface ModelsApi {
  snapshot(): Snapshot;
  setServedModels(models: string[] | null): Promise<void>;
  pullModel(model: string): Promise<void>;
}

/** A backend to add, as the dashboard sends it (routes/backends.ts checks it). */
export type BackendInput = { name?: string; type: "ollama" | "openai"; url: string; apiKey?: string; maxConcurrent?: number };

/** Inference backends (routes/backends.ts). */
export interface BackendsApi {
  snapshot(): Snapshot;
  addBackend(input: BackendInput): Promise<void>;
  removeBackend(name: string): Promise<void>;
}

/** The relay list (routes/relays.ts). */
export interface RelaysApi {
  snapshot(): Snapshot;
  addRelay(url: string): Promise<void>;
  removeRelay(url: string): Promise<void>;
}

/** Pricing, limits, profile, schedule (routes/settings.ts). */
export interface SettingsApi {
  settings(): Settings;
  updateSettings(patch: SettingsPatch): Promise<Settings>;
}

/** The seed phrase, the vault and unlocking (routes/identity.ts). */
export interface IdentityApi {
  generateMnemonic(words: 12 | 24): string;
  validateMnemonic(mnemonic: string): { ok: true } | { ok: false; error: string; word?: string; suggestions?: string[] };
  suggestWords(prefix: string): string[];
  createIdentity(input: { mnemonic: string; passphrase?: string; password: string }): Promise<{ npub: string }>;
  unlock(password: string): Promise<void>;
  lock(): Promise<void>;
  revealMnemonic(password: string): Promise<string>;
}

/** The wallet (routes/wallet.ts). */
export interface WalletApi {
  walletReceive(amountSats?: number): Promise<{ bolt11: string | null; address: string | null }>;
  walletPrepareSend(destination: string, amountSats?: number): Promise<SendPreview>;
  /** Needs the vault password (wrong → AppError "unauthorized"). */
  walletConfirmSend(id: string, password: string): Promise<SendResult>;
  walletBalance(): Promise<{ sats: number; network: string }>;
  /** Payments received, newest first (the ledger's view: job, source). */
  walletPayments(limit?: number): Promise<WalletPayment[]>;
  /** Payments sent, newest first; null when the wallet is not connected (it keeps that list). */
  walletSent(limit?: number): Promise<SentRecord[] | null>;
  walletLightningAddress(): Promise<{ address: string; lnurl: string | null } | null>;
  walletSetLightningAddress(username: string): Promise<{ address: string; lnurl: string | null }>;
  walletDeleteLightningAddress(): Promise<void>;
  /** The Breez API key in use, masked (never the whole key): from config/env, from this build, or none. */
  walletBreezKey(): BreezKeyView;
  /** Saves a pasted Breez API key to config.json (a wallet waiting for one then connects). */
  walletSetBreezKey(key: string): Promise<BreezKeyView>;
}

/** Active jobs (routes/jobs.ts). */
export interface JobsApi {
  cancelJob(id: string): Promise<void>;
}

/** The market on the relays, suggested prices, benchmarks (src/market/; routes/market.ts). */
export interface MarketApi {
  marketView(opts: { sinceSecs?: number; model?: string }): MarketView;
  /** Runs the standard benchmark on a served model; AppError("conflict") while jobs run. */
  benchmarkModel(model?: string): Promise<BenchmarkRecord>;
}

/** Everything the HTTP API can ask; each router takes only its area's part. */
export interface Controller extends StateApi, ProviderApi, ModelsApi, BackendsApi, RelaysApi, SettingsApi, IdentityApi, WalletApi, JobsApi, MarketApi {}
