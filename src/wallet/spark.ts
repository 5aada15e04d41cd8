// The real wallet: Breez Spark SDK (@breeztech/breez-sdk-spark 0.19.2), seeded from the same
// mnemonic + passphrase as the Nostr key. The SDK is imported lazily in connect() so start-up
// stays fast, through spark-plugin.ts (bun:sqlite storage, quiet import, embeddable wasm, timers
// that don't hold the process). Every SDK call is raced against a timeout; SDK bigints become
// checked JS numbers in spark-records.ts and never travel further. Quotes and sends: spark-send.ts.
//
// Why `defaultConfig` (the SDK's "client" runtime) and not `defaultServerConfig`: only the
// client runtime keeps the operators' event stream open, claims incoming transfers by itself
// and emits `paymentSucceeded` as a payment lands. The server runtime does nothing until
// `syncWallet` is called, so a provider would have to poll to notice each payment. The cost of
// the client runtime — timers left behind after disconnect() that kept Node/Bun alive for up to
// 150 s — is removed by spark-plugin.ts (they are unref'd), and disconnect() is still raced
// against a timeout.
import type * as Sdk from "@breeztech/breez-sdk-spark";
import type { Bus } from "../bus.ts";
import { AppError, errorMessage, issueText } from "../errors.ts";
import { createLogger, getLogLevel } from "../log.ts";
import { decodeBolt11 } from "../util/bolt11.ts";
import { withTimeout } from "../util/timeout.ts";
import { WalletStatusChanged, type WalletView } from "./events.ts";
import { installSparkRuntime, setSparkStorageLog, sparkRuntimePatched } from "./spark-plugin.ts";
import { fromSdkInput, parseLocally, toLightningAddress, toReceivedPayment, toSafeInt, toSentRecord } from "./spark-records.ts";
import { SparkSends } from "./spark-send.ts";
import {
  CreateInvoiceRequest,
  LightningUsername,
  PrepareSendRequest,
  type Invoice,
  type LightningAddress,
  type ParsedInput,
  type PreparedSend,
  type ReceiveAddress,
  type ReceivedPage,
  type ReceivedPayment,
  type SentPayment,
  type SentRecord,
  type Wallet,
  type WalletNetwork,
} from "./wallet.ts";

const log = createLogger("wallet");
const sdkLog = createLogger("breez");

export const NOT_CONFIGURED_MESSAGE =
  "Set a Breez API key (free from Breez: paste it under WALLET on the dashboard, config breezApiKey or env BREEZ_API_KEY) or use --network regtest";

export interface SparkWalletOptions {
  mnemonic: string;
  passphrase?: string;
  network: WalletNetwork;
  apiKey?: string;
  /** The SDK's storage folder, inside the product's data dir (the SDK adds network/identity subfolders). */
  dataDir: string;
  bus?: Bus;
  /** Bound on every SDK call but sends. Default 15 s. */
  timeoutMs?: number;
  /** Bound on send(); the payment may still complete after it. Default 60 s. */
  sendTimeoutMs?: number;
  /** How long a prepared send stays valid. Default 10 min. */
  quoteTtlMs?: number;
}

type SdkModule = typeof Sdk;

// ---- process-wide SDK loading (once) ----

let sdkModule: Promise<SdkModule> | null = null;
let loggingReady: Promise<void> | null = null;

function loadSdk(): Promise<SdkModule> {
  sdkModule ??= (async () => {
    installSparkRuntime();
    setSparkStorageLog((level, line) => sdkLog.debug(line, { sdkLevel: level, from: "storage" }));
    const started = performance.now();
    const mod = (await import("@breeztech/breez-sdk-spark")) as SdkModule;
    if (!sparkRuntimePatched()) {
      log.warn("the Breez SDK was loaded without compute's plugin: its import may print to stdout and shutdown may wait for its timers");
    }
    log.debug("Breez SDK loaded", { ms: Math.round(performance.now() - started) });
    return mod;
  })().catch((err) => {
    sdkModule = null;
    throw new AppError("unavailable", `Could not load the Lightning wallet library: ${shortMessage(err)}`);
  });
  return sdkModule;
}

/** The SDK allows one initLogging per process; its lines go to our log at debug level. */
function initLoggingOnce(mod: SdkModule): Promise<void> {
  loggingReady ??= mod
    .initLogging({ log: (entry) => sdkLog.debug(String(entry.line), { sdkLevel: String(entry.level) }) }, getLogLevel() === "debug" ? "debug" : "warn")
    .catch((err) => log.debug("initLogging failed (already initialised?)", { err: shortMessage(err) }));
  return loggingReady;
}

// ---- small helpers ----

function shortMessage(err: unknown): string {
  const first = errorMessage(err).split("\n")[0] ?? "";
  return first.length > 300 ? first.slice(0, 297) + "..." : first;
}

const NETWORK_ERROR = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|network error|connection error|request error|error sending request|fetch failed|transport error|dns error|unable to connect/i;

/** Turns an SDK failure into an AppError whose message says what failed and what to do. */
export function sdkError(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  const msg = shortMessage(err);
  if (/missing breez api key|invalid api key|api key/i.test(msg)) {
    return new AppError("unavailable", `${what} failed: the Breez API key is missing or not accepted. ${NOT_CONFIGURED_MESSAGE}.`, { cause: msg });
  }
  if (NETWORK_ERROR.test(msg)) {
    return new AppError("unavailable", `${what} failed: the Lightning service could not be reached; check the internet connection and try again.`, { cause: msg });
  }
  if (/insufficient (funds|balance)|not enough funds/i.test(msg)) {
    return new AppError("invalid_input", `${what} failed: the wallet doesn't have enough funds for the amount plus fees.`, { cause: msg });
  }
  if (/invalid input|invalid invoice|invalid amount|expired|unsupported|not supported|parse/i.test(msg)) {
    return new AppError("invalid_input", `${what} failed: ${msg}`, { cause: msg });
  }
  return new AppError("internal", `${what} failed: ${msg}`, { cause: msg });
}

/**
 * A call into the Breez SDK, bounded by util/timeout.ts's wait, in the SDK's wording (the network
 * behind it may be unreachable; spark-send.ts tells a timeout by "timed out"). `onLate` receives a
 * value that arrives after the timeout, so e.g. an SDK connection that completes too late can
 * still be closed.
 */
export function sdkCall<T>(p: Promise<T>, ms: number, what: string, onLate?: (value: T) => void): Promise<T> {
  const error = () => new AppError("unavailable", `${what} timed out after ${Math.round(ms / 1000)} s; the Lightning service may be unreachable.`);
  return withTimeout(p, ms, error, { onLate });
}

export class SparkWallet implements Wallet {
  readonly network: WalletNetwork;
  private readonly opts: Required<Pick<SparkWalletOptions, "timeoutMs" | "sendTimeoutMs" | "quoteTtlMs">> & SparkWalletOptions;
  private sdk: Sdk.BreezSdk | null = null;
  private listenerId: string | null = null;
  private lnurlDomain: string | undefined;
  private connecting: Promise<void> | null = null;
  private state: WalletView;
  private readonly paymentCbs = new Set<(p: ReceivedPayment) => void>();
  private readonly syncedCbs = new Set<() => void>();
  /** Ids already announced through onPayment: the SDK may report one payment more than once. */
  private readonly announced = new Set<string>();
  private readonly sends: SparkSends;
  private balanceRefresh: Promise<void> | null = null;

  constructor(options: SparkWalletOptions) {
    if (typeof options.mnemonic !== "string" || options.mnemonic.trim().split(/\s+/).length < 12) {
      throw new AppError("invalid_input", "The wallet needs the 12 or 24 word recovery phrase");
    }
    this.network = options.network;
    this.opts = { timeoutMs: 15_000, sendTimeoutMs: 60_000, quoteTtlMs: 10 * 60_000, ...options };
    this.sends = new SparkSends(this.call.bind(this), {
      quoteTtlMs: this.opts.quoteTtlMs,
      sendTimeoutMs: this.opts.sendTimeoutMs,
      onSent: () => void this.refreshBalance(),
    });
    this.state = this.configured
      ? { state: "connecting", network: this.network, balanceSats: null, lightningAddress: null, message: "Not started" }
      : { state: "not_configured", network: this.network, balanceSats: null, lightningAddress: null, message: NOT_CONFIGURED_MESSAGE };
  }

  /** Mainnet needs a Breez API key; regtest doesn't. */
  get configured(): boolean {
    return this.network === "regtest" || Boolean(this.opts.apiKey?.trim());
  }

  /** A key given after the wallet was made (pasted on the dashboard): a wallet waiting for one can connect now. */
  setApiKey(key: string): void {
    this.opts.apiKey = key;
    if (this.state.state === "not_configured" && this.configured) this.setView({ state: "connecting", message: "Not started" });
  }

  view(): WalletView {
    return { ...this.state };
  }

  private setView(patch: Partial<WalletView>): void {
    const next = { ...this.state, ...patch };
    if (JSON.stringify(next) === JSON.stringify(this.state)) return;
    this.state = next;
    this.opts.bus?.publish(WalletStatusChanged, { wallet: this.view() });
  }

  start(): Promise<void> {
    return this.connect();
  }

  stop(): Promise<void> {
    return this.disconnect();
  }

  connect(): Promise<void> {
    if (!this.configured) {
      this.setView({ state: "not_configured", message: NOT_CONFIGURED_MESSAGE });
      return Promise.resolve();
    }
    if (this.sdk) return Promise.resolve();
    this.connecting ??= this.doConnect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    this.setView({ state: "connecting", message: null });
    const started = performance.now();
    try {
      const mod = await loadSdk();
      await sdkCall(initLoggingOnce(mod), this.opts.timeoutMs, "Starting the wallet's logging");
      const config = mod.defaultConfig(this.network);
      if (this.opts.apiKey?.trim()) config.apiKey = this.opts.apiKey.trim();
      // A payment must stay linked to the bolt11 we issued (PLATFORM.md): no Spark shortcut.
      config.preferSparkOverLightning = false;
      this.lnurlDomain = config.lnurlDomain;
      const sdk = await sdkCall(
        mod.connect({
          config,
          seed: { type: "mnemonic", mnemonic: this.opts.mnemonic.trim(), passphrase: this.opts.passphrase || undefined },
          storageDir: this.opts.dataDir,
        }),
        this.opts.timeoutMs,
        "Connecting the wallet",
        (late) => void late.disconnect().catch(() => {}),
      );
      this.sdk = sdk;
      this.listenerId = await sdkCall(
        sdk.addEventListener({ onEvent: (e) => this.onSdkEvent(e) }),
        this.opts.timeoutMs,
        "Subscribing to wallet events",
      );
      log.info("wallet connected", { network: this.network, ms: Math.round(performance.now() - started) });
      this.setView({ state: "ready", message: null });
      await this.refreshBalance();
      void this.refreshLightningAddress();
    } catch (err) {
      const e = sdkError(err, "Connecting the wallet");
      const sdk = this.sdk;
      this.sdk = null;
      this.listenerId = null;
      if (sdk) void sdkCall(sdk.disconnect(), this.opts.timeoutMs, "Disconnecting").catch(() => {});
      this.setView({ state: "error", message: e.message });
      log.warn("wallet connect failed", { err: e.message });
      throw e;
    }
  }

  async disconnect(): Promise<void> {
    if (this.connecting) await this.connecting.catch(() => {});
    const sdk = this.sdk;
    const listenerId = this.listenerId;
    this.sdk = null;
    this.listenerId = null;
    this.sends.dropSettled();
    if (!sdk) return;
    if (listenerId) {
      await sdkCall(sdk.removeEventListener(listenerId), this.opts.timeoutMs, "Unsubscribing").catch((err) =>
        log.debug("removeEventListener failed", { err: shortMessage(err) }),
      );
    }
    // Shutdown must never hang on the wallet (PLATFORM.md): bounded, and a failure is only logged.
    await sdkCall(sdk.disconnect(), Math.min(this.opts.timeoutMs, 5_000), "Disconnecting the wallet").catch((err) =>
      log.warn("wallet disconnect did not finish cleanly", { err: shortMessage(err) }),
    );
    this.setView({ state: "connecting", message: "Wallet stopped" });
    log.info("wallet disconnected");
  }

  private requireSdk(): Sdk.BreezSdk {
    if (!this.configured) throw new AppError("unavailable", NOT_CONFIGURED_MESSAGE);
    if (!this.sdk) {
      throw new AppError("unavailable", this.state.state === "error" && this.state.message ? this.state.message : "The wallet is not connected yet.");
    }
    return this.sdk;
  }

  /** One SDK call: requires a connection, bounded by the timeout, errors mapped to AppError. */
  private async call<T>(what: string, fn: (sdk: Sdk.BreezSdk) => Promise<T>, ms = this.opts.timeoutMs): Promise<T> {
    const sdk = this.requireSdk();
    try {
      return await sdkCall(fn(sdk), ms, what);
    } catch (err) {
      throw sdkError(err, what);
    }
  }

  // ---- events ----

  private onSdkEvent(e: Sdk.SdkEvent): void {
    try {
      switch (e.type) {
        case "paymentSucceeded": {
          const p = toReceivedPayment(e.payment);
          if (p) this.announce(p);
          void this.refreshBalance();
          break;
        }
        case "paymentPending":
        case "paymentFailed":
        case "claimedDeposits":
        case "newDeposits":
          void this.refreshBalance();
          break;
        case "synced":
          void this.refreshBalance();
          for (const cb of [...this.syncedCbs]) this.safeCall(() => cb(), "onSynced");
          break;
        case "lightningAddressChanged":
          this.setView({ lightningAddress: e.lightningAddress?.lightningAddress ?? null });
          break;
        default:
          break;
      }
      log.debug("wallet event", { type: e.type });
    } catch (err) {
      // An event handler runs inside the SDK's callback: never let it throw back into the SDK.
      log.error("wallet event handling failed", { type: (e as { type?: string })?.type, err: shortMessage(err) });
    }
  }

  private announce(p: ReceivedPayment): void {
    if (this.announced.has(p.id)) return;
    this.announced.add(p.id);
    if (this.announced.size > 10_000) this.announced.delete(this.announced.values().next().value!);
    log.info("payment received", { id: p.id, amountMsats: p.amountMsats });
    for (const cb of [...this.paymentCbs]) this.safeCall(() => cb(p), "onPayment");
  }

  private safeCall(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      log.error(`${what} subscriber threw`, { err: shortMessage(err) });
    }
  }

  onPayment(cb: (p: ReceivedPayment) => void): () => void {
    this.paymentCbs.add(cb);
    return () => this.paymentCbs.delete(cb);
  }

  onSynced(cb: () => void): () => void {
    this.syncedCbs.add(cb);
    return () => this.syncedCbs.delete(cb);
  }

  // ---- reads ----

  private refreshBalance(): Promise<void> {
    this.balanceRefresh ??= this.balance()
      .then(() => {})
      .catch((err) => log.debug("balance refresh failed", { err: shortMessage(err) }))
      .finally(() => {
        this.balanceRefresh = null;
      });
    return this.balanceRefresh;
  }

  private async refreshLightningAddress(): Promise<void> {
    try {
      const la = await this.getLightningAddress();
      this.setView({ lightningAddress: la?.address ?? null });
    } catch (err) {
      log.debug("lightning address lookup failed", { err: shortMessage(err) });
    }
  }

  async balance(): Promise<{ sats: number }> {
    // Never ensureSynced: offline it can wait forever (PLATFORM.md); the cached balance is fine.
    const info = await this.call("Reading the balance", (sdk) => sdk.getInfo({ ensureSynced: false }));
    const sats = toSafeInt(info.balanceSats, "balance");
    this.setView({ balanceSats: sats });
    return { sats };
  }

  /** One SDK page of completed receives, newest first (see Wallet.receivedPage). */
  async receivedPage(opts: { offset: number; limit: number }): Promise<ReceivedPage> {
    const offset = Math.floor(opts.offset);
    const limit = Math.floor(opts.limit);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(limit) || limit < 1 || limit > 100) {
      throw new AppError("invalid_input", "receivedPage needs an offset >= 0 and a limit of 1-100");
    }
    const res = await this.call("Listing payments", (sdk) =>
      sdk.listPayments({ typeFilter: ["receive"], statusFilter: ["completed"], assetFilter: { type: "bitcoin" }, sortAscending: false, offset, limit }),
    );
    const raw = Array.isArray(res?.payments) ? res.payments : [];
    const payments: ReceivedPayment[] = [];
    for (const p of raw) {
      const r = toReceivedPayment(p);
      if (r) payments.push(r);
      else log.debug("skipped a payment while listing", { id: (p as { id?: unknown })?.id });
    }
    // The end is where the SDK's page runs short, whatever was skipped in it.
    return { payments, end: raw.length < limit };
  }

  async listSent(opts: { limit?: number } = {}): Promise<SentRecord[]> {
    const limit = Math.min(Math.max(Math.floor(opts.limit ?? 50), 0), 1000);
    if (limit === 0) return [];
    const res = await this.call("Listing payments", (sdk) =>
      sdk.listPayments({ typeFilter: ["send"], assetFilter: { type: "bitcoin" }, sortAscending: false, offset: 0, limit }),
    );
    const payments = Array.isArray(res?.payments) ? res.payments : [];
    const out: SentRecord[] = [];
    for (const p of payments) {
      const r = toSentRecord(p);
      if (r) out.push(r);
      else log.debug("skipped a sent payment while listing", { id: (p as { id?: unknown })?.id });
    }
    return out;
  }

  // ---- receive ----

  async createInvoice(req: CreateInvoiceRequest): Promise<Invoice> {
    const checked = CreateInvoiceRequest.safeParse(req);
    if (!checked.success) throw new AppError("invalid_input", `Bad invoice request: ${issueText(checked.error, { root: "request" })}`);
    const { amountMsats, description, expirySecs } = checked.data;
    // Spark invoices are in whole sats: round up so the provider is never paid less than asked.
    const amountSats = amountMsats === undefined ? undefined : Math.ceil(amountMsats / 1000);
    const res = await this.call("Creating an invoice", (sdk) =>
      sdk.receivePayment({ paymentMethod: { type: "bolt11Invoice", description, amountSats, expirySecs } }),
    );
    const bolt11 = typeof res?.paymentRequest === "string" ? res.paymentRequest : "";
    let decoded;
    try {
      decoded = decodeBolt11(bolt11);
    } catch (err) {
      throw new AppError("internal", `The wallet returned an invoice that doesn't decode: ${shortMessage(err)}`);
    }
    return { bolt11, paymentHash: decoded.paymentHash, amountMsats: decoded.amountMsats, expiresAt: decoded.expiresAt };
  }

  async receiveAddress(kind: ReceiveAddress["kind"] = "spark"): Promise<ReceiveAddress> {
    const paymentMethod: Sdk.ReceivePaymentMethod = kind === "bitcoin" ? { type: "bitcoinAddress" } : { type: "sparkAddress" };
    const res = await this.call(kind === "bitcoin" ? "Getting a deposit address" : "Getting the Spark address", (sdk) =>
      sdk.receivePayment({ paymentMethod }),
    );
    if (typeof res?.paymentRequest !== "string" || !res.paymentRequest) throw new AppError("internal", "The wallet returned no address");
    return { kind, address: res.paymentRequest.replace(/^bitcoin:/i, "").split("?")[0]! };
  }

  // ---- parse / send ----

  async parse(input: string): Promise<ParsedInput> {
    if (typeof input !== "string" || !input.trim() || input.length > 4096) throw new AppError("invalid_input", "Enter an invoice or address");
    if (!this.sdk) return parseLocally(input);
    const parsed = await this.call("Reading the destination", (sdk) => sdk.parse(input.trim()));
    return fromSdkInput(input, parsed);
  }

  prepareSend(req: PrepareSendRequest, opts: { idempotencyKey?: string } = {}): Promise<PreparedSend> {
    return this.sends.prepare(req, opts);
  }

  send(prepared: PreparedSend | string): Promise<SentPayment> {
    return this.sends.send(prepared);
  }

  // ---- lightning address ----

  private requireLnurlDomain(): void {
    if (!this.lnurlDomain) {
      throw new AppError("unavailable", `Lightning addresses are not available on ${this.network} (no LNURL server is configured for it).`);
    }
  }

  async registerLightningAddress(username: string): Promise<LightningAddress> {
    const checked = LightningUsername.safeParse(username);
    if (!checked.success) throw new AppError("invalid_input", `Bad username: ${checked.error.issues[0]?.message ?? "invalid"}`);
    this.requireSdk();
    this.requireLnurlDomain();
    const name = checked.data;
    const free = await this.call("Checking the Lightning address", (sdk) => sdk.checkLightningAddressAvailable({ username: name }));
    if (!free) throw new AppError("conflict", `The Lightning address ${name}@${this.lnurlDomain} is already taken.`);
    const info = await this.call("Registering the Lightning address", (sdk) => sdk.registerLightningAddress({ username: name }));
    const la = toLightningAddress(info);
    this.setView({ lightningAddress: la.address });
    return la;
  }

  async getLightningAddress(): Promise<LightningAddress | null> {
    this.requireSdk();
    if (!this.lnurlDomain) return null;
    const info = await this.call("Reading the Lightning address", (sdk) => sdk.getLightningAddress());
    return info ? toLightningAddress(info) : null;
  }

  async deleteLightningAddress(): Promise<void> {
    this.requireSdk();
    this.requireLnurlDomain();
    await this.call("Deleting the Lightning address", (sdk) => sdk.deleteLightningAddress());
    this.setView({ lightningAddress: null });
  }
}
