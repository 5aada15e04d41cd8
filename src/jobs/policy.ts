// Acting on the schedule, the daily limits and the busy probes (src/service/sentinel.ts says what
// they allow). Outside the selling hours or over a limit: offline (the announcement is withdrawn,
// queued jobs told), running jobs get schedule.graceSecs to finish; back online by itself when it
// allows (OnlineKeeper). Busy: the engine refuses newcomers (its pausedReason); running jobs finish
// or are cancelled per pause.running.
import type { Engine } from "./engine.ts";
import type { OnlineKeeper } from "./online.ts";

export type PolicyEngine = Pick<Engine, "isOnline" | "goOffline" | "jobs" | "cancel">;

export interface SellingPolicyDeps {
  /** Why we may not sell now (schedule, daily limit), or null. */
  offline: () => string | null;
  /** Why we are busy (another program uses the machine), or null. */
  paused: () => string | null;
  engine: () => PolicyEngine | null;
  online: Pick<OnlineKeeper, "wentOfflineByPolicy" | "tryOnline">;
  graceSecs: () => number;
  /** pause.running is "cancel": a busy machine stops the jobs running and queued. */
  cancelWhenBusy: () => boolean;
}

export class SellingPolicy {
  private graceTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly deps: SellingPolicyDeps) {}

  /** The sentinel changed its answer: act on it. */
  apply(): void {
    const gate = this.deps.offline();
    const engine = this.deps.engine();
    if (gate && engine?.isOnline()) {
      this.deps.online.wentOfflineByPolicy(gate);
      void engine.goOffline().then(() => {
        if (this.graceTimer) clearTimeout(this.graceTimer);
        this.graceTimer = setTimeout(() => {
          this.graceTimer = null;
          if (!this.deps.offline() || engine.isOnline()) return;
          cancelRunning(engine, "the provider's selling hours ended; please send the job again");
        }, this.deps.graceSecs() * 1000);
        this.graceTimer.unref?.();
      });
    } else if (!gate) {
      void this.deps.online.tryOnline();
    }
    if (this.deps.paused() && this.deps.cancelWhenBusy() && engine) {
      cancelRunning(engine, "busy, try another provider", true);
    }
  }

  stop(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
  }
}

/** Cancels the jobs generating now (and, with `queued`, those waiting for a slot). */
function cancelRunning(engine: PolicyEngine, why: string, queued = false): void {
  for (const j of engine.jobs()) if (j.status === "processing" || (queued && j.status === "queued")) engine.cancel(j.id, why);
}
