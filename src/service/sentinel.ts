// The owner's rules, watched: whether to sell now (weekly hours, daily limits: schedule.ts) and
// whether the machine is busy (probes and hysteresis: busy.ts). It only observes and says; the
// App acts on what it says (goes offline, comes back, pauses admission, cancels jobs).
import type { Bus } from "../bus.ts";
import type { Config } from "../config.ts";
import { JobProgress, JobStatusChanged } from "../jobs/events.ts";
import { createLogger } from "../log.ts";
import { busyReason, foreignModels, Hysteresis, otherGpuApps, probeIdle, probeNvidia, probeOllamaPs } from "./busy.ts";
import { localDateKey, sellGate, type Gate, type UsageToday } from "./schedule.ts";

const log = createLogger("sentinel");
const TERMINAL = new Set(["success", "error", "cancelled", "expired"]);

export interface SentinelDeps {
  bus: Bus;
  config: () => Config;
  /** Today's successful jobs and sats earned (the ledger's earnings). */
  earnedToday: () => { jobs: number; sats: number };
  /** GPU time spent on jobs per local day (YYYY-MM-DD), ms: the ledger's gpuMs / addGpuMs. */
  gpu: { ms(day: string): number; add(day: string, ms: number): void };
  servedModels: () => string[];
  ollamaUrl: () => string;
  /** Called when the gate or the pause changes. */
  onChange: () => void;
  now?: () => number;
  /** Tests: probe and schedule-check period, hold time (default: the config's). */
  probeMs?: number;
  holdMs?: number;
  /** Tests: a scripted idle source instead of xprintidle/logind. */
  idle?: () => Promise<{ idleMs: number | null; idleHint: boolean | null }>;
}

export interface SentinelView {
  /** Why compute is not selling now (schedule or a daily limit); null = it may. */
  offline: string | null;
  /** When that changes by itself (unix ms), if known. */
  until: number | null;
  /** "paused: <reason>" without the prefix: the machine is busy; null = not paused. */
  paused: string | null;
  today: UsageToday & { maxJobs: number | null; maxSats: number | null; maxGpuHours: number | null };
}

export class Sentinel {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private gate: Gate = { open: true, reason: null, until: null };
  private readonly hysteresis: Hysteresis;
  /** Jobs generating now (each since its first token), and since when at least one has been. */
  private readonly generating = new Set<string>();
  private busySince: number | null = null;
  /** GPU ms per local day, counted since the last write (saveGpu). */
  private readonly gpuUnsaved = new Map<string, number>();
  private unsubs: (() => void)[] = [];
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly deps: SentinelDeps) {
    this.now = deps.now ?? Date.now;
    this.hysteresis = new Hysteresis(() => deps.holdMs ?? deps.config().pause.holdSecs * 1000);
  }

  start(): void {
    this.unsubs.push(
      this.deps.bus.subscribe(JobStatusChanged, ({ job }) => this.onJob(job.id, job.status)),
      this.deps.bus.subscribe(JobProgress, ({ id }) => this.onProgress(id)),
    );
    this.gate = sellGate(this.deps.config().schedule, this.usage(), this.now());
    void this.tick();
  }

  stop(): void {
    if (!this.stopped) this.saveGpu();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const off of this.unsubs.splice(0)) off();
  }

  private periodMs(): number {
    return this.deps.probeMs ?? this.deps.config().pause.probeSecs * 1000;
  }

  /**
   * GPU time is the time at least one job is generating. A job generates from its first token (its
   * first progress): before it the job may wait in the model server's own queue behind another
   * job, whose time is already being counted. Jobs generating at once (a server running requests
   * in parallel, or several machines) share that time: it counts once. (Prompt evaluation before
   * the first token is not counted.)
   */
  private onProgress(id: string): void {
    if (this.generating.has(id)) return;
    if (this.generating.size === 0) this.busySince = this.now();
    this.generating.add(id);
  }

  private onJob(id: string, status: string): void {
    if (!TERMINAL.has(status)) return;
    if (!this.generating.delete(id)) return;
    if (this.generating.size === 0) this.countBusy(false);
    // Only a daily limit depends on a finished job; the weekly hours are checked every period.
    const s = this.deps.config().schedule;
    if (s.maxJobsPerDay !== null || s.maxSatsPerDay !== null || s.maxGpuHoursPerDay !== null) this.check();
  }

  /**
   * The busy time so far, to the day it ends in; `stillBusy` goes on counting from now. Kept in
   * memory and written with the next periodic check and at stop: a ledger commit per job would
   * cost more than the job's own bookkeeping. A crash loses at most one period's GPU time, which
   * only a daily GPU-hours limit reads.
   */
  private countBusy(stillBusy: boolean): void {
    if (this.busySince === null) return;
    const now = this.now();
    const day = localDateKey(now);
    this.gpuUnsaved.set(day, (this.gpuUnsaved.get(day) ?? 0) + Math.max(0, now - this.busySince));
    this.busySince = stillBusy ? now : null;
  }

  /** Adds the GPU time not yet written to the ledger (a busy stretch so far too), one write per day touched. */
  private saveGpu(): void {
    this.countBusy(this.generating.size > 0);
    for (const [day, ms] of this.gpuUnsaved) {
      try {
        this.deps.gpu.add(day, ms);
        this.gpuUnsaved.delete(day);
      } catch (err) {
        log.warn("could not count GPU time", { err });
      }
    }
  }

  usage(): UsageToday {
    const now = this.now();
    const earned = this.deps.earnedToday();
    const today = localDateKey(now);
    const stored = this.deps.gpu.ms(today) + (this.gpuUnsaved.get(today) ?? 0);
    const live = this.busySince === null ? 0 : Math.max(0, now - this.busySince);
    return { jobs: earned.jobs, sats: earned.sats, gpuMs: (Number.isFinite(stored) ? stored : 0) + live };
  }

  /** Re-evaluates the schedule and limits now (a job finished, settings changed). */
  check(): void {
    const next = sellGate(this.deps.config().schedule, this.usage(), this.now());
    const changed = next.open !== this.gate.open || next.reason !== this.gate.reason;
    if (this.stopped) return;
    this.gate = next;
    if (changed) this.deps.onChange();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      this.saveGpu();
      this.check();
      await this.probe();
    } catch (err) {
      log.warn("checking schedule and busy signals failed", { err });
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.periodMs());
    this.timer.unref?.();
  }

  private async probe(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      const p = this.deps.config().pause;
      const before = this.hysteresis.paused();
      let busy: string | null = null;
      if (p.enabled) {
        const served = this.deps.servedModels();
        const [gpu, loaded, idle] = await Promise.all([
          p.nvidia ? probeNvidia() : Promise.resolve(null),
          p.ollama ? probeOllamaPs(this.deps.ollamaUrl()) : Promise.resolve(null),
          p.idleSecs > 0 ? (this.deps.idle ?? probeIdle)() : Promise.resolve({ idleMs: null, idleHint: null }),
        ]);
        busy = busyReason({
          gpuApps: gpu && otherGpuApps(gpu, { ownPids: [process.pid], ignore: p.ignoreProcesses }),
          // Before Ollama's model list is known (start-up), every loaded model would look foreign.
          foreign: loaded && served.length ? foreignModels(loaded, served) : null,
          idleMs: idle.idleMs,
          idleHint: idle.idleHint,
          idleSecs: p.idleSecs,
        });
      }
      // Pause off in the settings: resume at once rather than after the hold.
      const after = p.enabled ? this.hysteresis.update(busy, this.now()) : this.clearPause();
      if (after !== before && !this.stopped) {
        log.info(after ? "paused" : "resumed", after ? { reason: after } : {});
        this.deps.onChange();
      }
    } finally {
      this.probing = false;
    }
  }

  private clearPause(): null {
    this.hysteresis.reset();
    return null;
  }

  paused(): string | null {
    return this.hysteresis.paused();
  }

  offline(): string | null {
    return this.gate.open ? null : this.gate.reason;
  }

  view(): SentinelView {
    const s = this.deps.config().schedule;
    return {
      offline: this.offline(),
      until: this.gate.until,
      paused: this.paused(),
      today: { ...this.usage(), maxJobs: s.maxJobsPerDay, maxSats: s.maxSatsPerDay, maxGpuHours: s.maxGpuHoursPerDay },
    };
  }
}
