// Gives memory back when the provider has been quiet for a while. A provider mostly waits: after
// start-up (unlock, key derivation, the first signatures) and after a burst of jobs, its heap holds
// garbage and optimized code it will not need until the next job. `Bun.shrink()` asks JavaScriptCore
// to drop compiled code and shrink its heap, then a full collection returns what it can to the OS.
// The next job recompiles what it needs (a few ms, once). Measured in BENCHMARKS.md.
import { createLogger } from "../log.ts";

const log = createLogger("memory");

/** Default quiet time before a trim. */
export const IDLE_TRIM_MS = 10_000;

export interface IdleTrimOptions {
  /** Quiet time (no activity) before a trim; 0 turns trimming off. */
  quietMs: number;
  /** How often quiet is checked; default quietMs / 4 (at least 250 ms). */
  checkMs?: number;
  /** What a trim does; default shrink + full GC. */
  trim?: () => void;
  now?: () => number;
}

export function trimMemory(): void {
  const shrink = (Bun as { shrink?: () => void }).shrink;
  if (typeof shrink === "function") shrink();
  Bun.gc(true);
}

/**
 * Trims once after each period of activity, when `quietMs` passed without any: right after
 * start-up (start counts as activity) and after every busy spell. Never twice in a row with
 * nothing in between, so an idle provider is not woken for nothing.
 */
export class IdleTrimmer {
  private lastActivity: number;
  private dirty = true;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly now: () => number;
  private readonly trim: () => void;
  trims = 0;

  constructor(private readonly opts: IdleTrimOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.trim = opts.trim ?? trimMemory;
    this.lastActivity = this.now();
  }

  /** Something happened (a job, an unlock): the next quiet period ends with a trim. */
  activity(): void {
    this.lastActivity = this.now();
    this.dirty = true;
  }

  start(): void {
    if (this.opts.quietMs <= 0 || this.timer) return;
    const every = this.opts.checkMs ?? Math.max(250, Math.floor(this.opts.quietMs / 4));
    this.timer = setInterval(() => this.check(), every);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Runs a due trim; returns whether it trimmed. Exposed for tests with a fake clock. */
  check(): boolean {
    if (!this.dirty || this.now() - this.lastActivity < this.opts.quietMs) return false;
    this.dirty = false;
    const t0 = performance.now();
    try {
      this.trim();
      this.trims++;
      log.debug("memory trimmed", { ms: Math.round(performance.now() - t0) });
    } catch (err) {
      log.warn("memory trim failed", { err });
    }
    return true;
  }
}
