// How a held job ends without a result: stopped (by its customer, NIP-09, or by the provider:
// going offline, shutting down, the operator's cancel), failed (its customer hears why), or set
// aside at shutdown to outlive it (parked). The engine decides when; this file says how.
import { AppError } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { CancelWatch } from "./cancel-watch.ts";
import type { HeldJobs, Running } from "./held-jobs.ts";
import { isFinal } from "./job.ts";
import type { Replies } from "./replies.ts";

const log = createLogger("jobs");

export interface EndingsDeps {
  held: HeldJobs;
  replies: Pick<Replies, "sendFeedback">;
  cancels: Pick<CancelWatch, "schedule">;
  track<T>(p: Promise<T>): Promise<T>;
}

export class Endings {
  constructor(private readonly deps: EndingsDeps) {}

  /**
   * Stops a job wherever it is. A queued job leaves the queue at once; a running or unpaid one is
   * aborted and its own task finishes it. The customer who cancelled hears nothing more (NIP-09);
   * anyone else's job gets an error feedback with the reason.
   */
  stop(job: Running, by: "customer" | "provider", reason: string): void {
    if (job.stoppedBy) return;
    job.stoppedBy = { by, reason };
    job.controller.abort(new AppError("conflict", reason));
    if (this.deps.held.queue.remove(job)) {
      this.deps.cancels.schedule();
      this.deps.track(this.endStopped(job));
    }
  }

  /**
   * Shutdown, for a job that must outlive it: one waiting for its payment keeps its row as
   * payment-required (a payment that lands while we are down is found by reconciliation and runs
   * the job after the restart, see recovery.ts); a paid one goes back to 'paid' and runs again.
   * The customer is told nothing: the job isn't over.
   */
  park(job: Running): void {
    if (job.parked || job.stoppedBy) return;
    job.parked = true;
    this.deps.held.queue.remove(job);
    // Queued or cut short while running: back to paid (job.ts), so it runs after the restart.
    if (job.prepaid && (job.status === "queued" || job.status === "processing")) {
      try {
        this.deps.held.setStatus(job, "paid");
      } catch (err) {
        log.warn("could not set a paid job aside", { id: job.request.id, err });
      }
    }
    job.controller.abort(new AppError("unavailable", "provider is shutting down"));
    log.info("paid or payable job set aside for after the restart", { id: job.request.id, status: job.status });
  }

  /** A stopped job: cancelled in the ledger; an error feedback unless the customer cancelled it. */
  async endStopped(job: Running): Promise<void> {
    // Already over (cancelled by an earlier call, or ended some other way): nothing more to say.
    if (isFinal(job.status)) return;
    const stop = job.stoppedBy ?? { by: "provider" as const, reason: "cancelled by the provider" };
    if (!this.deps.held.setStatus(job, "cancelled", { error: stop.reason })) return;
    if (!this.deps.held.active.has(job.request.id)) this.deps.held.finish(job);
    // NIP-09: the customer asked to stop; we send nothing more. Anyone else deserves a reason.
    if (stop.by === "provider") await this.deps.replies.sendFeedback(job.request, job.sourceRelay, "error", { extraInfo: stop.reason }).catch(() => {});
  }

  async fail(job: Running, reason: string): Promise<void> {
    // A refused move means the job already ended: a second answer would contradict the first.
    if (!this.deps.held.setStatus(job, "error", { error: reason })) return;
    if (!this.deps.held.active.has(job.request.id)) this.deps.held.finish(job);
    await this.deps.replies.sendFeedback(job.request, job.sourceRelay, "error", { extraInfo: reason }).catch(() => {});
    log.info("job failed", { id: job.request.id, reason });
  }
}
