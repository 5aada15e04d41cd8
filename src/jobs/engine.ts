// The job engine: a job's life. A kind 5050 request from the relays is read and admitted (pure
// functions: nip90 parsing, admission), charged first when the pricing says so, queued fairly and
// run with bounded concurrency, invoiced after when pay-after, and answered with kind 7000
// feedback and a kind 6050 result. Every status change goes through job.ts's state machine and is
// a ledger row and a bus event (held-jobs.ts). Going online/offline and pings live here too. The
// other rooms: announcer.ts (NIP-89, profile, heartbeat), replies.ts (signing, feedback, result
// delivery), recovery.ts (restarts, late money), allowance.ts (free jobs, pay-after credit),
// cancel-watch.ts (NIP-09), generate.ts (inputs → model → text), zap-watch.ts (zap receipts),
// housekeeping.ts (pruning seen ids, dropping delivered results' kept copies), endings.ts (stop,
// fail, park).
import type { Config, Limits } from "../config.ts";
import { AppError } from "../errors.ts";
import { chooseModel } from "../inference/model-name.ts";
import type { JobRow } from "../ledger/ledger.ts";
import { createLogger } from "../log.ts";
import { DELETION, JOB_REQUEST_TEXT, PING, ZAP_RECEIPT } from "../nostr/kinds.ts";
import { buildPong, buildResult, cancelsJob, parseJobRequest, parsePing, type JobRequest, type NostrEvent } from "../nostr/nip90.ts";
import { withTimeout } from "../util/timeout.ts";
import { PaymentReceived } from "../wallet/events.ts";
import { admit } from "./admission.ts";
import { Allowance } from "./allowance.ts";
import { Announcer } from "./announcer.ts";
import { CancelWatch } from "./cancel-watch.ts";
import { Charge } from "./charge.ts";
import { Endings } from "./endings.ts";
import type { JobView } from "./events.ts";
import { customerReason, fitToRequest, generateAnswer, JobTimeout } from "./generate.ts";
import { HeldJobs, restorePaid, type Running } from "./held-jobs.ts";
import { Housekeeping } from "./housekeeping.ts";
import { CANCELLED_BY_CUSTOMER, newJob, promptPreview } from "./job.ts";
import type { EngineDeps } from "./ports.ts";
import { Recovery } from "./recovery.ts";
import { Replies, UNDELIVERED } from "./replies.ts";
import { ZapWatch } from "./zap-watch.ts";

const log = createLogger("jobs");

// What the engine needs from the other domains (app.ts hands in the real ones): jobs/ports.ts.
export type { EngineDeps, EngineInference, EnginePayments, EnginePool } from "./ports.ts";

/** How long stop() waits for the last feedback/result publishes after aborting jobs. */
const STOP_DRAIN_MS = 3_000;

export class Engine {
  private online = false;
  private sub: { close(): void } | null = null;
  /** Free jobs, pay-after credit and each customer's recent requests (allowance.ts). */
  private readonly allowance: Allowance;
  /** NIP-09 cancellations: a subscription on the ids of the jobs we hold (cancel-watch.ts). */
  private readonly cancels: CancelWatch;
  /** The jobs held (running, waiting for payment, queued) and recently finished (held-jobs.ts). */
  private readonly held: HeldJobs;
  private generating = 0;
  /** NIP-89 announcement, kind 0 profile, heartbeat (announcer.ts). */
  private readonly announcer: Announcer;
  /** Signing, feedback and result delivery (replies.ts). */
  private readonly replies: Replies;
  /** Restarts and late money: rows no one holds (recovery.ts). */
  private readonly recovery: Recovery;
  /** Pay first, pay after (charge.ts). */
  private readonly charge: Charge;
  /** Stopping, failing and parking jobs (endings.ts). */
  private readonly ends: Endings;
  private readonly now: () => number;
  private stopped = false;
  /** Pruning seen ids and zap targets, dropping delivered results' kept copies (housekeeping.ts). */
  private readonly housekeeping: Housekeeping;
  /** Everything in flight (event handling, jobs, background publishes), so stop() can drain it. */
  private tasks = new Set<Promise<unknown>>();
  private unsubscribePayments: (() => void) | null = null;
  /** admitLimits' copy of the config's limits with the router's slots. */
  private limitsCopy: { base: Limits; limits: Limits } | null = null;
  /** Zap receipts of our feedback and results (zap-watch.ts). */
  private readonly zaps: ZapWatch;

  constructor(private readonly deps: EngineDeps) {
    this.now = deps.now ?? Date.now;
    // What every room gets: the engine's deps, its clock, its task tracking and its state.
    const base = {
      ...deps,
      now: this.now,
      track: <T>(p: Promise<T>) => this.track(p),
      isOnline: () => this.online,
      isStopped: () => this.stopped,
    };
    this.held = new HeldJobs(base);
    this.replies = new Replies({ ...base, patchRow: (row, patch) => this.held.patchRow(row, patch) });
    this.announcer = new Announcer({
      ...base,
      sign: (t) => this.replies.sign(t),
      publish: (t) => this.replies.publish(t),
      onAnnounced: () => this.deps.onChanged?.(),
      onBeat: () => this.housekeeping.pruneSeen(),
    });
    this.allowance = new Allowance({ ...base, inFlight: () => this.held.all() });
    this.cancels = new CancelWatch({ ...base, held: () => this.held.all(), onDeletion: (ev) => this.onDeletion(ev) });
    this.zaps = new ZapWatch({ ...base, onEvent: (ev, relay) => this.onEvent(ev, relay) });
    this.recovery = new Recovery({
      ...base,
      replies: this.replies,
      holds: (id) => this.held.holds(id),
      moveRow: (row, to, patch) => this.held.moveRow(row, to, patch),
      patchRow: (row, patch) => this.held.patchRow(row, patch),
      runPaid: (row, request, model) => this.runPaid(row, request, model),
    });
    this.ends = new Endings({ ...base, held: this.held, replies: this.replies, cancels: this.cancels });
    this.housekeeping = new Housekeeping({ ...base, recovery: this.recovery, zaps: this.zaps });
    this.charge = new Charge({
      ...base,
      held: this.held,
      cancels: this.cancels,
      replies: this.replies,
      zaps: this.zaps,
      recovery: this.recovery,
      enqueue: (job) => this.enqueue(job),
      fail: (job, reason) => this.ends.fail(job, reason),
      endStopped: (job) => this.ends.endStopped(job),
    });
    // A payment for a job nobody is waiting on: run it, or say it came late (recovery.ts).
    this.unsubscribePayments = deps.bus.subscribe(PaymentReceived, ({ paymentId, jobId }) => {
      if (!jobId || this.held.holds(jobId) || this.stopped) return;
      this.recovery.paymentBooked(paymentId, jobId);
    });
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Closes jobs a crash left open (paid ones run again), sends results left unsent, and starts
   * the look at leftover invoices and late payments (recovery.ts). Returns how many were closed.
   */
  recover(): Promise<number> {
    return this.recovery.recover();
  }

  /**
   * A paid job left over from before (recovery.ts found it): it skips admission (the customer paid
   * for it) and goes to the queue; one that can't run (`request` unreadable, `model` gone) fails.
   */
  private runPaid(row: JobRow, request: JobRequest | null, model: string | null): void {
    const job = restorePaid(row, request, model);
    if (!request || !model) {
      const why = !request ? "the paid request can no longer be read" : `model ${request.params.model ?? row.model} is no longer offered`;
      this.track(this.ends.fail(job, `${why}; contact the provider about your payment`));
      return;
    }
    log.info("running a paid job left over from before", { id: row.id });
    this.held.emit(job);
    this.enqueue(job);
  }

  jobs(): JobView[] {
    return this.held.views();
  }

  /** What the engine adds to the provider view (jobs/provider.ts builds the rest). */
  view(): { online: boolean; announcementId: string | null } {
    return { online: this.online, announcementId: this.announcer.id };
  }

  isOnline(): boolean {
    return this.online;
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
    // Cancellations are watched per job id (cancel-watch.ts), so a kind 5 with only an e tag counts.
    this.sub = this.deps.pool.subscribe(
      [
        { kinds: [JOB_REQUEST_TEXT], since },
        { kinds: [PING], "#p": [this.deps.pubkey], since },
      ],
      { onEvent: (ev, relay) => this.onEvent(ev, relay) },
    );
    this.cancels.schedule();
    this.recovery.resumePaid();
    void this.track(this.recovery.settleLatePayments());
    this.track(this.zaps.update());
    const defaultModel = chooseModel({}, served, cfg.provider.defaultModel);
    if (defaultModel) this.deps.inference.warm(defaultModel).catch((err) => log.warn("warming the model failed", { model: defaultModel, err }));
    // Announcement, profile and heartbeat, in the background (announcer.ts).
    this.announcer.start();
    this.deps.onChanged?.();
    log.info("online", { models: served });
  }

  async goOffline(): Promise<void> {
    if (!this.online) return;
    this.online = false;
    this.sub?.close();
    this.sub = null;
    this.zaps.close();
    this.announcer.stopBeating();
    const cfg = this.deps.config();
    // Queued jobs never started: tell their customers. Running ones finish unless configured
    // otherwise. Jobs the customer already paid for keep their place (the money is ours), and an
    // open invoice stays payable: if it is paid, that job runs too.
    for (const job of [...this.held.queue]) if (!job.prepaid) this.ends.stop(job, "provider", "provider went offline; please send the job again");
    if (cfg.limits.onOffline === "cancel") {
      for (const job of [...this.held.active.values()]) {
        if (!job.prepaid && job.status !== "payment-required") this.ends.stop(job, "provider", "provider went offline; please send the job again");
      }
    }
    this.announcer.withdraw();
    this.deps.onChanged?.();
    log.info("offline");
  }

  /**
   * Goes offline, lets running jobs finish for up to graceMs, aborts the rest (their customers get
   * an error feedback), waits briefly for the last publishes, and closes every subscription and
   * timer. Idempotent.
   */
  async stop(graceMs = 5000): Promise<void> {
    if (this.stopped) return;
    await this.goOffline();
    this.stopped = true;
    // Waiting for a payment is not work in progress: set those aside at once (see endings.ts, park).
    for (const job of [...this.held.active.values()]) if (job.status === "payment-required") this.ends.park(job);
    const deadline = performance.now() + graceMs;
    while (this.held.active.size && performance.now() < deadline) await Bun.sleep(20);
    for (const job of this.held.all()) {
      if (job.prepaid) this.ends.park(job);
      else this.ends.stop(job, "provider", "provider is shutting down; please send the job again");
    }
    const drainUntil = performance.now() + STOP_DRAIN_MS;
    // Tasks started meanwhile (a last feedback) join the next round; what is still running at the
    // deadline is left behind.
    while (this.tasks.size && performance.now() < drainUntil) {
      await withTimeout(Promise.allSettled([...this.tasks]), drainUntil - performance.now(), "the last publishes did not finish").catch(() => {});
    }
    this.cancels.stop();
    this.recovery.stop();
    this.housekeeping.flushDelivered();
    this.unsubscribePayments?.();
    this.unsubscribePayments = null;
  }

  /** The wallet changed (a Lightning address set or removed): start or stop watching zaps. */
  async walletChanged(): Promise<void> {
    await this.zaps.update();
  }

  /** The served set changed: re-announce so clients see the right models. */
  async modelsChanged(): Promise<void> {
    await this.announcer.modelsChanged();
  }

  /**
   * Settings changed (name, about, picture, pricing, token cap): re-announce if the announcement
   * would differ, and republish the kind 0 profile if what it says changed (or was just switched on).
   */
  async configChanged(): Promise<void> {
    const profile = this.online ? this.announcer.publishProfile() : Promise.resolve();
    await this.modelsChanged();
    await profile;
  }

  /** The operator cancels a job (dashboard): the customer gets an error feedback saying so. */
  cancel(id: string, why = "cancelled by the provider"): boolean {
    const job = this.held.find(id);
    if (!job) return false;
    this.ends.stop(job, "provider", why);
    return true;
  }

  // ---------------------------------------------------------------- events in

  private track<T>(p: Promise<T>): Promise<T> {
    this.tasks.add(p);
    const done = () => this.tasks.delete(p);
    p.then(done, done);
    return p;
  }

  private onEvent(event: NostrEvent, relay: string): void {
    // House rule 7: one bad event never stops the loop.
    this.track(this.handle(event, relay).catch((err) => log.error("event handling failed", { id: event.id, kind: event.kind, err })));
  }

  private async handle(event: NostrEvent, relay: string): Promise<void> {
    if (event.kind === DELETION) return this.onDeletion(event);
    if (event.kind === ZAP_RECEIPT) return this.zaps.onReceipt(event);
    if (event.kind === PING) {
      const ping = parsePing(event, this.deps.pubkey);
      if (ping && this.deps.ledger.markSeen(event.id, event.kind)) await this.replies.publish(buildPong({ ping, relayHint: relay, now: this.now() }));
      return;
    }
    if (event.kind !== JOB_REQUEST_TEXT || !this.online) return;
    // The same request arrives through several relays: handle it once, across restarts too. A
    // request we take is marked seen in the same commit as its ledger row (admitJob); any other is
    // marked on its way out below. Everything up to there is synchronous, so a copy from another
    // relay can't slip in between the check and the mark.
    if (this.deps.ledger.isSeen(event.id)) return;
    const parsed = parseJobRequest(event, { providerPubkey: this.deps.pubkey, providerSecretKey: this.deps.secretKey });
    if (!parsed.ok) {
      this.deps.ledger.markSeen(event.id, event.kind);
      // A malformed request addressed to another provider is theirs to answer, not ours.
      if (!parsed.silent && parsed.ref && !addressedElsewhere(event, this.deps.pubkey)) {
        await this.replies.sendFeedback(parsed.ref, relay, "error", { extraInfo: parsed.reason });
      }
      log.debug("request ignored", { id: event.id, reason: parsed.reason });
      return;
    }
    const request = parsed.request;
    const cfg = this.deps.config();
    const slots = this.slots();
    const served = this.deps.inference.servedModels();
    const model = chooseModel(request.params, served, cfg.provider.defaultModel);
    const estimate = Math.min(request.params.maxTokens ?? cfg.limits.maxTokensCap, cfg.limits.maxTokensCap);
    // Free within the allowance; otherwise the price, paid first when pay-after credit is refused.
    const { free, price, payFirst } = this.allowance.quote(request.customer, model, estimate);
    const verdict = admit(request, {
      providerPubkey: this.deps.pubkey,
      now: this.now(),
      limits: this.admitLimits(cfg, slots),
      servedModels: served,
      model,
      seen: () => false, // isSeen above already deduplicated
      customerRecent: (pk, since) => this.allowance.recentRequests(pk, since),
      activeCount: this.generating,
      queuedCount: this.held.queue.size,
      customerQueued: this.held.queue.countOf(request.customer),
      paused: this.deps.pausedReason?.() ?? null,
      price,
      paymentMode: cfg.pricing.mode,
    });
    if (!verdict.accept) {
      this.deps.ledger.markSeen(event.id, event.kind);
      if (!verdict.silent) {
        this.allowance.noteRequest(request.customer);
        await this.replies.sendFeedback(request, relay, "error", { extraInfo: verdict.reason });
        log.info("request refused", { id: request.id, reason: verdict.reason });
      }
      return;
    }
    this.allowance.noteRequest(request.customer);
    const charge = (cfg.pricing.mode === "upfront" || payFirst) && price > 0;
    const job: Running = {
      ...newJob(request, { now: this.now(), sourceRelay: relay }),
      model: verdict.model,
      controller: new AbortController(),
      stoppedBy: null,
      prepaid: false,
      free,
      preview: promptPreview(request),
    };
    // A slot is free: the job is recorded straight as processing, so one ledger commit (not two)
    // comes before the processing feedback. Otherwise it is recorded as received, then charged or
    // queued.
    const startNow = !charge && this.generating < slots;
    if (startNow) this.held.move(job, "processing");
    // A job already in the ledger was handled before (the seen table may have been pruned since):
    // answering it again would charge or answer twice.
    // The free-job count goes in the same commit as the row: a commit is the costly part of a
    // ledger write, and this one is on every job's path.
    const admitted = this.deps.ledger.transaction(() => {
      if (!this.deps.ledger.admitJob(this.held.toRow(job), event.kind, job.createdAt)) return false;
      if (free) this.allowance.useFree(request.customer);
      return true;
    });
    if (!admitted) {
      this.deps.ledger.markSeen(event.id, event.kind);
      log.info("request already in the ledger; not answering it again", { id: request.id });
      return;
    }
    this.held.emit(job);
    if (charge) {
      await this.charge.chargeFirst(job, price);
    } else if (startNow) {
      this.track(this.runJob(job, true));
    } else {
      this.enqueue(job);
    }
  }

  private onDeletion(event: NostrEvent): void {
    for (const job of this.held.all()) {
      // NIP-09: only the request's own author may cancel it.
      if (cancelsJob(event, job.request)) {
        log.info("cancelled by the customer", { id: job.request.id });
        this.ends.stop(job, "customer", CANCELLED_BY_CUSTOMER);
      }
    }
  }

  // ---------------------------------------------------------------- running

  /** How many jobs generate at once (EngineDeps.slots). */
  private slots(): number {
    return this.deps.slots?.() ?? this.deps.config().limits.maxConcurrentJobs;
  }

  /**
   * The limits admit() takes, whose maxConcurrentJobs tells it whether a slot is free: the config's
   * own unless the slots differ, then a copy made once per change of either.
   */
  private admitLimits(cfg: Config, slots: number): Limits {
    if (slots === cfg.limits.maxConcurrentJobs) return cfg.limits;
    const c = this.limitsCopy;
    if (c?.base !== cfg.limits || c.limits.maxConcurrentJobs !== slots) this.limitsCopy = { base: cfg.limits, limits: { ...cfg.limits, maxConcurrentJobs: slots } };
    return this.limitsCopy!.limits;
  }

  private enqueue(job: Running): void {
    if (job.controller.signal.aborted) {
      this.track(this.ends.endStopped(job));
      return;
    }
    if (this.generating < this.slots()) {
      this.track(this.runJob(job));
    } else {
      this.held.queue.push(job);
      this.held.setStatus(job, "queued");
      this.cancels.schedule();
      // The customer hears at once that the job is taken and where it stands: silence while it
      // waits behind other jobs looks like no provider at all. It is the job's one processing
      // feedback (runJob sends none for it).
      job.acknowledged = true;
      // (The queue is fair between customers, not first come first served: a count, not a place.)
      const others = this.held.queue.size - 1 + this.generating;
      this.replies.info(job.request, job.sourceRelay, "processing", { extraInfo: `queued: ${others} other job${others === 1 ? "" : "s"} running or waiting` });
    }
  }

  private pump(): void {
    while (this.held.queue.size && this.generating < this.slots() && !this.stopped) {
      // Fairness between customers: the customers with the fewest jobs held (running or waiting
      // for payment) first, then round robin (fair-queue.ts).
      const busy = new Map<string, number>();
      for (const j of this.held.active.values()) busy.set(j.request.customer, (busy.get(j.request.customer) ?? 0) + 1);
      const job = this.held.queue.take((customer) => busy.get(customer) ?? 0);
      // NIP-40: a job whose expiration passed while it waited is never started.
      if (job!.request.expiration !== null && job!.request.expiration * 1000 <= this.now()) {
        this.held.setStatus(job!, "expired", { error: "the request expired while queued" });
        this.held.finish(job!);
        continue;
      }
      this.track(this.runJob(job!));
    }
    this.cancels.schedule();
  }

  /** `recorded`: the job is already processing, in memory and in the ledger (see handle). */
  private async runJob(job: Running, recorded = false): Promise<void> {
    const cfg = this.deps.config();
    this.generating++;
    this.held.active.set(job.request.id, job);
    this.cancels.schedule();
    // The time limit counts from the model's first token; before it (inputs fetched, a wait in the
    // model server's own queue, the model loading) the job has a limit of the same length. A job
    // may so wait at the backend behind another without running its generation time down.
    // Our own timers (not AbortSignal.timeout) so they are cleared the moment the job ends.
    const limit = new AbortController();
    const limitSecs = cfg.limits.jobTimeoutSecs;
    const arm = (phase: "start" | "generation") => setTimeout(() => limit.abort(new JobTimeout(limitSecs, phase)), limitSecs * 1000);
    let timer = arm("start");
    let released = false;
    const onFirstToken = () => {
      clearTimeout(timer);
      if (!released) timer = arm("generation");
    };
    const signal = AbortSignal.any([job.controller.signal, limit.signal]);
    // The slot is the model's: it is given back the moment the model is done, so the next job
    // starts generating while this one is signed, recorded and published (a relay that is down
    // can hold a publish until its deadline; the model shouldn't wait for that, nor for a commit).
    let slotHeld = true;
    const freeSlot = () => {
      if (!slotHeld) return;
      slotHeld = false;
      this.generating--;
      this.pump();
    };
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.held.active.delete(job.request.id);
      this.held.finish(job);
      freeSlot();
    };
    try {
      if (!recorded) this.held.setStatus(job, "processing");
      // Informational: sent in the background so a slow or reconnecting relay never delays the job.
      if (!job.acknowledged) this.replies.info(job.request, job.sourceRelay, "processing");
      const result = await generateAnswer(job, signal, {
        fetcher: this.deps.pool,
        inference: this.deps.inference,
        bus: this.deps.bus,
        replies: this.replies,
        config: cfg,
        now: this.now,
        progressIntervalMs: this.deps.progressIntervalMs,
        onFirstToken,
      });
      signal.throwIfAborted();
      freeSlot();
      job.tokens = result.tokens;
      job.tokensPerSec = result.tokensPerSec;
      const amount = cfg.pricing.mode === "after" && !job.prepaid && !job.free ? await this.charge.invoiceAfter(job, result.tokens) : undefined;
      signal.throwIfAborted();
      const content = fitToRequest(job.request, result.text);
      const event = this.replies.sign(buildResult({ request: job.request, content, amount, relayHint: job.sourceRelay ?? undefined, providerSecretKey: this.deps.secretKey, now: this.now() }));
      // NIP-90: a result may be paid (pay-after) or tipped by zapping it.
      // The zap target, the signed result and the job recorded as done, in one commit: from here
      // on the job is answered, whatever happens next (a crash before the send is repaired by
      // recover(), which sends the kept result); a crash before it closes the job as before.
      this.deps.ledger.transaction(() => {
        this.zaps.noteTarget(event.id, job.request.id);
        this.deps.ledger.keepPendingResult(job.request.id, event, job.request.relays);
        this.held.setStatus(job, "success", { resultEventId: event.id });
      });
      release();
      // A relay that was down gets the result from the pool's outbox when it is back; that late
      // delivery clears the note below (it may in principle come before publish() returns here).
      const { outcomes, lateDelivered } = await this.replies.publishResult(job.request.id, event, job.request.relays, () => this.clearUndelivered(job));
      const delivered = outcomes.some((o) => o.ok);
      if (delivered) this.housekeeping.forgetResult(job.request.id);
      if (!delivered && !lateDelivered) {
        this.held.note(job, { error: UNDELIVERED });
        this.held.finish(job);
      }
      log.debug("job done", { id: job.request.id, model: job.model, tokens: result.tokens, tokensPerSec: result.tokensPerSec, relays: outcomes.filter((o) => o.ok).length });
    } catch (err) {
      try {
        // The slot first (a no-op when the success path gave it back already).
        release();
        if (job.status === "success") log.warn("publishing the result failed", { id: job.request.id, err });
        else if (job.parked) return;
        else if (job.controller.signal.aborted) await this.ends.endStopped(job);
        else if (limit.signal.aborted) await this.ends.fail(job, (limit.signal.reason as JobTimeout).message);
        else await this.ends.fail(job, customerReason(err));
      } catch (inner) {
        log.error("closing a job failed", { id: job.request.id, err: inner });
      }
    }
  }

  /** A held job's result reached a relay late: its "no relay accepted" note goes; whether it had one. */
  private clearUndelivered(job: Running): boolean {
    if (job.error !== UNDELIVERED) return false;
    this.held.note(job, { error: null });
    this.held.finish(job);
    return true;
  }
}

/** True when the event names providers (p tags) and we are not among them. */
function addressedElsewhere(event: NostrEvent, pubkey: string): boolean {
  const ps = event.tags.filter((t) => t[0] === "p").map((t) => (t[1] ?? "").toLowerCase());
  return ps.length > 0 && !ps.includes(pubkey);
}
