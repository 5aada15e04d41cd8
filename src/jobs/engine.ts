// The job engine: takes kind 5050 requests from the relays, decides with pure functions
// (nip90 parsing, admission), runs accepted ones on Ollama with bounded concurrency and a bounded
// queue, and answers with kind 7000 feedback and a kind 6050 result. Every transition is a ledger
// row and a bus event. Online/offline (announcement, heartbeat, pings) lives here too.
import { finalizeEvent } from "nostr-tools/pure";
import type { Filter } from "nostr-tools/filter";
import type { Bus } from "../bus.ts";
import type { Config } from "../config.ts";
import { AppError, errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import { DELETION, JOB_REQUEST_TEXT, PING } from "../nostr/kinds.ts";
import {
  buildFeedback,
  buildPong,
  buildResult,
  cancelsJob,
  parseJobRequest,
  parsePing,
  toOllamaOptions,
  type EventTemplate,
  type FeedbackStatus,
  type JobRequest,
  type NostrEvent,
  type RequestRef,
} from "../nostr/nip90.ts";
import { buildAnnouncement, buildHeartbeat, buildProfile, buildWithdrawal, defaultParamRanges, HEARTBEAT_INTERVAL_SECS } from "../nostr/nip89.ts";
import { admit, chooseModel } from "./admission.ts";
import { JobProgress, JobStatusChanged, type JobStatus, type JobView } from "./events.ts";
import { ProviderChanged, type ProviderView } from "./provider-events.ts";
import { finalAmount, priceFor } from "./pricing.ts";
import { resolveInputs, type InputFetcher } from "./inputs.ts";
import type { JobInsert, JobPatch, Ledger } from "../ledger/ledger.ts";
import type { GenerateOptions } from "../inference/ollama.ts";

const log = createLogger("jobs");

// ---- what the engine needs from the other domains (app.ts hands in the real ones) ----

export interface PublishOutcome {
  relay: string;
  ok: boolean;
  message: string;
}

export interface EnginePool extends InputFetcher {
  subscribe(filters: Filter[], handlers: { onEvent(event: NostrEvent, relay: string): void }): { close(): void };
  publish(event: NostrEvent, opts?: { extraRelays?: string[] }): Promise<PublishOutcome[]>;
}

export interface GenerateResult {
  text: string;
  tokens: number;
  tokensPerSec: number | null;
}

export interface EngineInference {
  servedModels(): string[];
  generate(opts: {
    model: string;
    prompt: string;
    options: GenerateOptions;
    signal: AbortSignal;
    onToken(textSoFar: string, tokens: number): void;
  }): Promise<GenerateResult>;
  warm(model: string): Promise<void>;
}

/** The ledger's job/kv methods the engine uses (src/ledger/ledger.ts). */
export type EngineLedger = Pick<Ledger, "markSeen" | "insertJob" | "updateJob" | "getJob" | "listJobs" | "getKv" | "setKv">;

/** Payment hooks; the payments work fills them in. Free mode needs none. */
export interface EnginePayments {
  /** Issues an invoice for a job; resolves to the bolt11 and payment hash. */
  createInvoice(job: { id: string; amountMsats: number; description: string; expirySecs: number }): Promise<{ bolt11: string; paymentHash: string }>;
  /** Resolves when the invoice is paid, rejects on expiry or abort. */
  waitForPayment(job: { id: string; paymentHash: string; bolt11: string; expiresAt: number; signal: AbortSignal }): Promise<void>;
  /** Whether paid modes can work now (wallet ready); a reason otherwise. */
  ready(): { ok: true } | { ok: false; reason: string };
}

export interface EngineDeps {
  bus: Bus;
  pool: EnginePool;
  inference: EngineInference;
  ledger: EngineLedger;
  payments: EnginePayments | null;
  secretKey: Uint8Array;
  pubkey: string;
  config: () => Config;
  now?: () => number;
  /** How often progress reaches the bus (the dashboard); partial feedback uses the config. */
  progressIntervalMs?: number;
  /** Tests shorten the heartbeat; default NIP-89 convention of 300 s. */
  heartbeatMs?: number;
  /** Requests older than this (seconds) are not replayed on subscribe. */
  sinceWindowSecs?: number;
}

interface Running {
  request: JobRequest;
  relay: string;
  model: string;
  status: JobStatus;
  controller: AbortController;
  tokens: number;
  tokensPerSec: number | null;
  amountMsats: number | null;
  bolt11: string | null;
  error: string | null;
  createdAt: number;
  preview: string;
}

const PREVIEW = 120;
const RECENT_FINISHED = 50;

export class Engine {
  private online = false;
  private sub: { close(): void } | null = null;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private active = new Map<string, Running>(); // processing or waiting for payment
  private queue: Running[] = [];
  private generating = 0;
  private recent: JobView[] = [];
  private customerLog = new Map<string, number[]>();
  private announcementId: string | null = null;
  private announcedModels = "";
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly deps: EngineDeps) {
    this.now = deps.now ?? Date.now;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Closes jobs a crash left open: they get an error feedback, never a second answer. */
  async recover(): Promise<number> {
    const open = this.deps.ledger.listJobs({ statuses: ["received", "queued", "processing", "paid"] });
    for (const row of open) {
      const ref: RequestRef = { id: row.id, customer: row.customer, encrypted: null };
      try {
        const parsed = parseJobRequest(JSON.parse(row.requestJson), { providerPubkey: this.deps.pubkey, providerSecretKey: this.deps.secretKey });
        if (parsed.ok) ref.encrypted = parsed.request.encrypted;
      } catch {}
      this.deps.ledger.updateJob(row.id, { status: "error", error: "provider restarted", updatedAt: this.now(), finishedAt: this.now() });
      await this.sendFeedback(ref, row.relay, "error", { extraInfo: "provider restarted; please send the job again" }).catch(() => {});
    }
    if (open.length) log.info("closed jobs left open by a restart", { count: open.length });
    return open.length;
  }

  view(): ProviderView {
    const cfg = this.deps.config();
    return {
      online: this.online,
      blockers: [],
      paymentMode: cfg.pricing.mode,
      perJobMsats: cfg.pricing.perJobMsats,
      per1kTokensMsats: cfg.pricing.per1kTokensMsats,
      announcementId: this.announcementId,
    };
  }

  isOnline(): boolean {
    return this.online;
  }

  jobs(): JobView[] {
    const live = [...this.active.values(), ...this.queue].map((r) => this.toView(r));
    const ids = new Set(live.map((j) => j.id));
    return [...live, ...this.recent.filter((j) => !ids.has(j.id))].slice(0, RECENT_FINISHED);
  }

  async goOnline(): Promise<void> {
    if (this.online || this.stopped) return;
    const cfg = this.deps.config();
    if (cfg.pricing.mode !== "free") {
      const ready = this.deps.payments?.ready() ?? { ok: false as const, reason: "the wallet is not set up" };
      if (!ready.ok) {
        throw new AppError("unavailable", `Can't take paid jobs: ${ready.reason}. Configure the wallet, or run with --payment-mode free.`);
      }
    }
    const served = this.deps.inference.servedModels();
    if (served.length === 0) throw new AppError("unavailable", "No model to serve: pull one with `ollama pull llama3.2`, or switch one on.");
    this.online = true;
    const since = Math.floor(this.now() / 1000) - (this.deps.sinceWindowSecs ?? 30);
    // Providers that filter only on #p never see public requests (PROTOCOL.md): take all 5050s.
    this.sub = this.deps.pool.subscribe(
      [
        { kinds: [JOB_REQUEST_TEXT], since },
        { kinds: [DELETION], "#k": [String(JOB_REQUEST_TEXT)], since },
        { kinds: [DELETION], "#p": [this.deps.pubkey], since },
        { kinds: [PING], "#p": [this.deps.pubkey], since },
      ],
      { onEvent: (ev, relay) => this.onEvent(ev, relay) },
    );
    const defaultModel = chooseModel({}, served, cfg.provider.defaultModel);
    if (defaultModel) this.deps.inference.warm(defaultModel).catch((err) => log.warn("warming the model failed", { model: defaultModel, err }));
    await this.announce();
    if (cfg.provider.publishProfile && cfg.provider.name) {
      await this.publish(buildProfile({ name: cfg.provider.name, about: cfg.provider.about, picture: cfg.provider.picture, now: this.now() })).catch(() => {});
    }
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat(), this.deps.heartbeatMs ?? HEARTBEAT_INTERVAL_SECS * 1000);
    this.emitProvider();
    log.info("online", { models: served });
  }

  async goOffline(): Promise<void> {
    if (!this.online) return;
    this.online = false;
    this.sub?.close();
    this.sub = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const cfg = this.deps.config();
    // Queued jobs never started: tell their customers. Running ones finish unless configured otherwise.
    for (const job of this.queue.splice(0)) await this.fail(job, "provider went offline; please send the job again");
    if (cfg.limits.onOffline === "cancel") {
      for (const job of this.active.values()) job.controller.abort(new AppError("conflict", "provider went offline"));
    }
    if (this.announcementId) {
      const d = this.announcementD();
      await this.publish(buildWithdrawal({ announcementId: this.announcementId, pubkey: this.deps.pubkey, d, now: this.now() })).catch(() => {});
      this.announcementId = null;
      this.announcedModels = "";
    }
    this.emitProvider();
    log.info("offline");
  }

  /** Waits for running jobs to end (bounded), then stops. Idempotent. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.stopped) return;
    await this.goOffline();
    this.stopped = true;
    const deadline = this.now() + graceMs;
    while (this.active.size && this.now() < deadline) await Bun.sleep(50);
    for (const job of this.active.values()) job.controller.abort(new AppError("conflict", "provider stopped"));
  }

  /** The served set changed: re-announce so clients see the right models. */
  async modelsChanged(): Promise<void> {
    if (!this.online) return;
    const models = this.deps.inference.servedModels();
    if (models.join(",") !== this.announcedModels) await this.announce();
  }

  cancel(id: string, why = "cancelled by the provider"): boolean {
    const job = this.active.get(id) ?? this.queue.find((j) => j.request.id === id);
    if (!job) return false;
    job.controller.abort(new AppError("conflict", why));
    return true;
  }

  // ---------------------------------------------------------------- announcement

  private announcementD(): string {
    let d = this.deps.ledger.getKv("nip89.d");
    if (!d) {
      d = Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
      this.deps.ledger.setKv("nip89.d", d);
    }
    return d;
  }

  private async announce(): Promise<void> {
    const cfg = this.deps.config();
    const models = this.deps.inference.servedModels();
    const event = this.sign(
      buildAnnouncement({
        d: this.announcementD(),
        name: cfg.provider.name,
        about: cfg.provider.about,
        picture: cfg.provider.picture || undefined,
        models,
        paramRanges: defaultParamRanges(cfg.limits.maxTokensCap),
        pricing: cfg.pricing,
        encryption: true,
        now: this.now(),
      }),
    );
    this.announcementId = event.id;
    this.announcedModels = models.join(",");
    await this.deps.pool.publish(event).catch((err) => log.warn("announcement failed", { err }));
    this.emitProvider();
  }

  private async beat(): Promise<void> {
    if (!this.online) return;
    await this.publish(buildHeartbeat({ d: this.announcementD(), now: this.now() })).catch((err) => log.warn("heartbeat failed", { err }));
  }

  // ---------------------------------------------------------------- events in

  private onEvent(event: NostrEvent, relay: string): void {
    // House rule 7: one bad event never stops the loop.
    this.handle(event, relay).catch((err) => log.error("event handling failed", { id: event.id, kind: event.kind, err }));
  }

  private async handle(event: NostrEvent, relay: string): Promise<void> {
    if (event.kind === DELETION) return this.onDeletion(event);
    if (event.kind === PING) {
      const ping = parsePing(event, this.deps.pubkey);
      if (ping && this.deps.ledger.markSeen(event.id, event.kind)) await this.publish(buildPong({ ping, relayHint: relay, now: this.now() }));
      return;
    }
    if (event.kind !== JOB_REQUEST_TEXT || !this.online) return;
    // The same request arrives through several relays: handle it once, across restarts too.
    if (!this.deps.ledger.markSeen(event.id, event.kind)) return;
    const parsed = parseJobRequest(event, { providerPubkey: this.deps.pubkey, providerSecretKey: this.deps.secretKey });
    if (!parsed.ok) {
      if (!parsed.silent && parsed.ref) await this.sendFeedback(parsed.ref, relay, "error", { extraInfo: parsed.reason });
      log.debug("request ignored", { id: event.id, reason: parsed.reason });
      return;
    }
    const request = parsed.request;
    const cfg = this.deps.config();
    const served = this.deps.inference.servedModels();
    const model = chooseModel(request.params, served, cfg.provider.defaultModel);
    const estimate = Math.min(request.params.maxTokens ?? cfg.limits.maxTokensCap, cfg.limits.maxTokensCap);
    const price = cfg.pricing.mode === "upfront" ? priceFor(model, cfg.pricing, estimate) : priceFor(model, cfg.pricing, 0);
    const verdict = admit(request, {
      providerPubkey: this.deps.pubkey,
      now: this.now(),
      limits: cfg.limits,
      servedModels: served,
      defaultModel: cfg.provider.defaultModel,
      seen: () => false, // markSeen above already deduplicated
      customerRecent: (pk, since) => (this.customerLog.get(pk) ?? []).filter((t) => t >= since).length,
      activeCount: this.generating,
      queuedCount: this.queue.length,
      price,
      paymentMode: cfg.pricing.mode,
    });
    if (!verdict.accept) {
      if (!verdict.silent) {
        this.noteCustomer(request.customer);
        await this.sendFeedback(request, relay, "error", { extraInfo: verdict.reason });
        log.info("request refused", { id: request.id, reason: verdict.reason });
      }
      return;
    }
    this.noteCustomer(request.customer);
    const job: Running = {
      request,
      relay,
      model: verdict.model,
      status: "received",
      controller: new AbortController(),
      tokens: 0,
      tokensPerSec: null,
      amountMsats: null,
      bolt11: null,
      error: null,
      createdAt: this.now(),
      preview: previewOf(request),
    };
    this.deps.ledger.insertJob(this.toRow(job));
    this.emitJob(job);
    if (cfg.pricing.mode === "upfront" && price > 0) {
      await this.chargeFirst(job, price);
    } else {
      this.enqueue(job);
    }
  }

  private async onDeletion(event: NostrEvent): Promise<void> {
    for (const job of [...this.active.values(), ...this.queue]) {
      // NIP-09: only the request's own author may cancel it.
      if (cancelsJob(event, job.request)) {
        log.info("cancelled by the customer", { id: job.request.id });
        job.controller.abort(new AppError("conflict", "cancelled by the customer"));
      }
    }
  }

  private noteCustomer(pubkey: string): void {
    const cutoff = this.now() - 60_000;
    const list = (this.customerLog.get(pubkey) ?? []).filter((t) => t >= cutoff);
    list.push(this.now());
    this.customerLog.set(pubkey, list);
    if (this.customerLog.size > 10_000) {
      for (const [k, v] of this.customerLog) if (!v.some((t) => t >= cutoff)) this.customerLog.delete(k);
    }
  }

  // ---------------------------------------------------------------- payment first

  private async chargeFirst(job: Running, price: number): Promise<void> {
    const payments = this.deps.payments;
    const cfg = this.deps.config();
    if (!payments) return this.fail(job, "this provider cannot take payments right now");
    this.active.set(job.request.id, job);
    try {
      const expirySecs = cfg.pricing.invoiceExpirySecs;
      const invoice = await payments.createInvoice({ id: job.request.id, amountMsats: price, description: `compute job ${job.request.id.slice(0, 12)}`, expirySecs });
      job.amountMsats = price;
      job.bolt11 = invoice.bolt11;
      this.setStatus(job, "payment-required", { paymentHash: invoice.paymentHash });
      await this.sendFeedback(job.request, job.relay, "payment-required", {
        extraInfo: `pay ${Math.ceil(price / 1000)} sats to run this job`,
        amount: { msats: price, bolt11: invoice.bolt11 },
      });
      await payments.waitForPayment({ id: job.request.id, paymentHash: invoice.paymentHash, bolt11: invoice.bolt11, expiresAt: this.now() + expirySecs * 1000, signal: job.controller.signal });
      this.setStatus(job, "paid");
      this.active.delete(job.request.id);
      this.enqueue(job);
    } catch (err) {
      this.active.delete(job.request.id);
      if (job.controller.signal.aborted) return this.endCancelled(job);
      if (err instanceof AppError && err.code === "not_found") {
        this.setStatus(job, "expired", { error: "invoice expired unpaid", finishedAt: this.now() });
        this.finish(job);
        return;
      }
      await this.fail(job, `could not charge for the job: ${errorMessage(err)}`);
    }
  }

  // ---------------------------------------------------------------- running

  private enqueue(job: Running): void {
    if (this.generating < this.deps.config().limits.maxConcurrentJobs) {
      void this.runJob(job);
    } else {
      this.queue.push(job);
      this.setStatus(job, "queued");
    }
  }

  private pump(): void {
    while (this.queue.length && this.generating < this.deps.config().limits.maxConcurrentJobs) {
      // Fairness between customers: take the oldest job of the customer with the fewest running.
      const busy = new Map<string, number>();
      for (const j of this.active.values()) busy.set(j.request.customer, (busy.get(j.request.customer) ?? 0) + 1);
      let best = 0;
      for (let i = 1; i < this.queue.length; i++) {
        if ((busy.get(this.queue[i]!.request.customer) ?? 0) < (busy.get(this.queue[best]!.request.customer) ?? 0)) best = i;
      }
      const [job] = this.queue.splice(best, 1);
      void this.runJob(job!);
    }
  }

  private async runJob(job: Running): Promise<void> {
    const cfg = this.deps.config();
    this.generating++;
    this.active.set(job.request.id, job);
    const signal = AbortSignal.any([job.controller.signal, AbortSignal.timeout(cfg.limits.jobTimeoutSecs * 1000)]);
    try {
      this.setStatus(job, "processing");
      await this.sendFeedback(job.request, job.relay, "processing");
      const prompt = await resolveInputs(job.request.inputs, {
        fetcher: this.deps.pool,
        maxBytes: cfg.limits.maxInputBytes,
        allowPrivateUrls: cfg.limits.allowPrivateUrls,
        signal,
      });
      let lastProgress = 0;
      let lastPartial = this.now();
      let partialSending = false;
      const progressEvery = this.deps.progressIntervalMs ?? 250;
      const result = await this.deps.inference.generate({
        model: job.model,
        prompt,
        options: toOllamaOptions(job.request.params, { maxTokensCap: cfg.limits.maxTokensCap }),
        signal,
        onToken: (text, tokens) => {
          job.tokens = tokens;
          const t = this.now();
          if (t - lastProgress >= progressEvery) {
            lastProgress = t;
            const secs = (t - job.createdAt) / 1000;
            job.tokensPerSec = secs > 0 ? Math.round((tokens / secs) * 10) / 10 : null;
            this.deps.bus.publish(JobProgress, { id: job.request.id, tokens, tokensPerSec: job.tokensPerSec, preview: text.slice(-PREVIEW) });
          }
          // Partial feedback is throttled (PROTOCOL.md: never one event per token).
          if (!partialSending && t - lastPartial >= cfg.limits.partialIntervalMs) {
            lastPartial = t;
            partialSending = true;
            this.sendFeedback(job.request, job.relay, "partial", { content: text })
              .catch(() => {})
              .finally(() => (partialSending = false));
          }
        },
      });
      if (job.controller.signal.aborted) throw job.controller.signal.reason;
      job.tokens = result.tokens;
      job.tokensPerSec = result.tokensPerSec;
      const amount = cfg.pricing.mode === "after" ? await this.invoiceAfter(job, result.tokens) : undefined;
      const event = this.sign(buildResult({ request: job.request, content: result.text, amount, relayHint: job.relay, providerSecretKey: this.deps.secretKey, now: this.now() }));
      const outcomes = await this.deps.pool.publish(event, { extraRelays: job.request.relays });
      const delivered = outcomes.some((o) => o.ok);
      this.setStatus(job, "success", { resultEventId: event.id, finishedAt: this.now(), error: delivered ? null : "no relay accepted the result" });
      log.info("job done", { id: job.request.id, model: job.model, tokens: result.tokens, tokensPerSec: result.tokensPerSec, relays: outcomes.filter((o) => o.ok).length });
    } catch (err) {
      if (job.controller.signal.aborted) {
        this.endCancelled(job);
      } else if (signal.aborted) {
        await this.fail(job, `the job took longer than this provider's limit of ${cfg.limits.jobTimeoutSecs} s`);
      } else {
        await this.fail(job, errorMessage(err));
      }
    } finally {
      this.generating--;
      this.active.delete(job.request.id);
      this.finish(job);
      this.pump();
    }
  }

  private async invoiceAfter(job: Running, tokens: number) {
    const cfg = this.deps.config();
    const msats = finalAmount(job.model, cfg.pricing, tokens);
    if (msats <= 0 || !this.deps.payments) return undefined;
    const invoice = await this.deps.payments.createInvoice({ id: job.request.id, amountMsats: msats, description: `compute job ${job.request.id.slice(0, 12)}`, expirySecs: cfg.pricing.invoiceExpirySecs });
    job.amountMsats = msats;
    job.bolt11 = invoice.bolt11;
    this.deps.ledger.updateJob(job.request.id, { amountMsats: msats, bolt11: invoice.bolt11, paymentHash: invoice.paymentHash, updatedAt: this.now() });
    return { msats, bolt11: invoice.bolt11 };
  }

  private endCancelled(job: Running): void {
    // NIP-09: the customer asked to stop; we send nothing more.
    if (job.status !== "cancelled") this.setStatus(job, "cancelled", { finishedAt: this.now(), error: "cancelled" });
  }

  private async fail(job: Running, reason: string): Promise<void> {
    job.error = reason;
    this.setStatus(job, "error", { error: reason, finishedAt: this.now() });
    await this.sendFeedback(job.request, job.relay, "error", { extraInfo: reason }).catch(() => {});
    log.info("job failed", { id: job.request.id, reason });
  }

  private finish(job: Running): void {
    this.recent.unshift(this.toView(job));
    if (this.recent.length > RECENT_FINISHED) this.recent.length = RECENT_FINISHED;
  }

  // ---------------------------------------------------------------- out

  private sign(template: EventTemplate): NostrEvent {
    return finalizeEvent(template, this.deps.secretKey) as NostrEvent;
  }

  private async publish(template: EventTemplate, extraRelays?: string[]) {
    return this.deps.pool.publish(this.sign(template), { extraRelays });
  }

  private async sendFeedback(
    request: RequestRef & { relays?: string[] },
    relay: string | null,
    status: FeedbackStatus,
    extra: { extraInfo?: string; content?: string; amount?: { msats: number; bolt11?: string } } = {},
  ) {
    const template = buildFeedback({ request, status, ...extra, relayHint: relay ?? undefined, providerSecretKey: this.deps.secretKey, now: this.now() });
    return this.publish(template, request.relays);
  }

  private setStatus(job: Running, status: JobStatus, patch: JobPatch = {}): void {
    job.status = status;
    if (patch.error !== undefined) job.error = patch.error;
    this.deps.ledger.updateJob(job.request.id, {
      status,
      tokens: job.tokens,
      tokensPerSec: job.tokensPerSec,
      amountMsats: job.amountMsats,
      bolt11: job.bolt11,
      updatedAt: this.now(),
      ...patch,
    });
    this.emitJob(job);
  }

  private emitJob(job: Running): void {
    this.deps.bus.publish(JobStatusChanged, { job: this.toView(job) });
  }

  private emitProvider(): void {
    this.deps.bus.publish(ProviderChanged, { provider: this.view() });
  }

  private toView(job: Running): JobView {
    return {
      id: job.request.id,
      kind: job.request.kind,
      customer: job.request.customer,
      model: job.model,
      status: job.status,
      promptPreview: job.preview,
      tokens: job.tokens,
      tokensPerSec: job.tokensPerSec,
      amountMsats: job.amountMsats,
      bolt11: job.bolt11,
      error: job.error,
      encrypted: job.request.encrypted !== null,
      createdAt: job.createdAt,
      updatedAt: this.now(),
    };
  }

  private toRow(job: Running): JobInsert {
    return {
      id: job.request.id,
      kind: job.request.kind,
      customer: job.request.customer,
      requestJson: JSON.stringify(job.request.raw),
      relay: job.relay,
      model: job.model,
      status: job.status,
      promptPreview: job.preview,
      tokens: 0,
      tokensPerSec: null,
      amountMsats: null,
      bolt11: null,
      paymentHash: null,
      error: null,
      encrypted: job.request.encrypted !== null,
      resultEventId: null,
      createdAt: job.createdAt,
      updatedAt: job.createdAt,
      finishedAt: null,
    };
  }
}

function previewOf(request: JobRequest): string {
  const text = request.inputs.map((i) => (i.type === "text" ? i.data : `[${i.type}] ${i.data}`)).join(" ");
  return text.replace(/\s+/g, " ").slice(0, PREVIEW);
}
