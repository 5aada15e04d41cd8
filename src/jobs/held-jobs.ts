// The jobs the engine holds (running or waiting for payment, queued) and the recently finished
// ones, and how a held job's status changes: job.ts's applyTransition() in memory, then the ledger row,
// then the bus event.
import type { Bus } from "../bus.ts";
import { jobRowToView, type JobInsert, type JobRow } from "../ledger/ledger.ts";
import { createLogger } from "../log.ts";
import { JobStatusChanged, type JobStatus, type JobView } from "./events.ts";
import { FairQueue } from "./fair-queue.ts";
import type { JobRequest } from "../nostr/nip90.ts";
import { applyTransition, canTransition, isFinal, newJob, toView, type Job } from "./job.ts";
import type { EngineLedger } from "./ports.ts";

const log = createLogger("jobs");

/**
 * A job the engine holds: the job as job.ts defines it (status changes go through its
 * state machine), plus what only this process knows about it.
 */
export type Running = Job & {
  model: string;
  controller: AbortController;
  /** Who stopped the job, when someone did: the customer hears nothing more, otherwise an error. */
  stoppedBy: { by: "customer" | "provider"; reason: string } | null;
  /** Paid before it ran (upfront, or a paid job resumed after a restart): never invoice it again. */
  prepaid: boolean;
  /** Within the customer's free allowance (pricing.freeJobsPerCustomer): never invoiced. */
  free?: boolean;
  /**
   * Set aside at shutdown, not ended: its ledger row stays payable (payment-required) or paid, so
   * the job runs after the restart once paid; the customer hears nothing now.
   */
  parked?: boolean;
  /** The customer was told `processing` when the job was queued: it starts without a second one. */
  acknowledged?: boolean;
  /** promptPreview, computed once (or kept from the ledger row of a request no longer readable). */
  preview: string;
};

/** What patchRow may change in a row no one holds. */
export type RowPatch = Partial<Pick<JobRow, "status" | "error" | "resultEventId" | "finishedAt" | "updatedAt">>;

/** The fields of a ledger patch that a status change may carry besides the status itself. */
export type StatusPatch = { error?: string; resultEventId?: string; paymentHash?: string };

const RECENT_FINISHED = 50;

export interface HeldJobsDeps {
  ledger: Pick<EngineLedger, "patchJob">;
  bus: Bus;
  now: () => number;
}

export class HeldJobs {
  /** Processing or waiting for payment. */
  readonly active = new Map<string, Running>();
  /** Jobs waiting for a slot, in fair order between customers (fair-queue.ts). */
  readonly queue = new FairQueue<Running>((j) => j.request.customer);
  private recent: JobView[] = [];

  constructor(private readonly deps: HeldJobsDeps) {}

  /** The held jobs, then the recently finished ones, newest first (the dashboard's list). */
  views(): JobView[] {
    const live = [...this.active.values(), ...this.queue].map((r) => toView(r, r.preview));
    const ids = new Set(live.map((j) => j.id));
    return [...live, ...this.recent.filter((j) => !ids.has(j.id))].slice(0, RECENT_FINISHED);
  }

  /** Whether this engine is working on the job (running, queued or waiting for its payment). */
  holds(id: string): boolean {
    return this.active.has(id) || this.queue.some((j) => j.request.id === id);
  }


  /** Every held job: running or waiting for its payment, then queued. */
  all(): Running[] {
    return [...this.active.values(), ...this.queue];
  }

  find(id: string): Running | undefined {
    return this.active.get(id) ?? this.queue.find((j) => j.request.id === id);
  }

  finish(job: Running): void {
    if (this.recent.some((j) => j.id === job.request.id)) {
      this.recent = this.recent.filter((j) => j.id !== job.request.id);
    }
    this.recent.unshift(toView(job, job.preview));
    if (this.recent.length > RECENT_FINISHED) this.recent.length = RECENT_FINISHED;
  }

  /**
   * Whether job.ts allows the move. An illegal one is a bug in the engine: logged and refused
   * (nothing changes), never thrown into a job's task.
   */
  legal(id: string, from: JobStatus, to: JobStatus): boolean {
    if (canTransition(from, to)) return true;
    log.error("bug: illegal job status change refused", { id, from, to });
    return false;
  }

  /**
   * Moves a held job to `to` with job.ts's applyTransition() (which stamps startedAt, finishedAt,
   * paidAt, error), records it in the ledger and tells the bus. Returns whether the move was made.
   */
  setStatus(job: Running, to: JobStatus, patch: StatusPatch = {}): boolean {
    if (!this.move(job, to, patch)) return false;
    // queued and processing get no commit of their own (a commit is the costly part of a ledger
    // write, and these two are on every job's path): the row keeps the state the job
    // was admitted or paid in, which recovery treats as it treated these (closed, or run again if
    // paid), and the next lasting state writes every field.
    if (to === "queued" || to === "processing") {
      this.emit(job);
      return true;
    }
    this.deps.ledger.patchJob(job.id, {
      status: to,
      tokens: job.tokens,
      tokensPerSec: job.tokensPerSec,
      amountMsats: job.amountMsats,
      bolt11: job.bolt11,
      updatedAt: job.updatedAt,
      ...(job.finishedAt !== null ? { finishedAt: job.finishedAt } : {}),
      ...patch,
    });
    this.emit(job);
    return true;
  }

  /** The in-memory half of setStatus: the move and its stamps, nothing recorded or told. */
  move(job: Running, to: JobStatus, patch: StatusPatch = {}): boolean {
    if (!this.legal(job.id, job.status, to)) return false;
    applyTransition(job, to, this.deps.now(), patch.error);
    if (patch.resultEventId !== undefined) job.resultEventId = patch.resultEventId;
    if (patch.paymentHash !== undefined) job.paymentHash = patch.paymentHash;
    return true;
  }

  /** Changes a held job's fields without a status change (the ledger row and the bus follow). */
  note(job: Running, patch: { error: string | null }): void {
    job.updatedAt = this.deps.now();
    job.error = patch.error;
    this.deps.ledger.patchJob(job.id, { ...patch, updatedAt: job.updatedAt });
    this.emit(job);
  }

  /**
   * Changes a ledger row no one holds (left by a restart, or a job finished in this run) and tells
   * the bus, so an open dashboard shows it; the list of recent jobs takes the new view too. No
   * check of the move: moveRow checks (recovery's revival of a final row is the one unchecked move).
   */
  patchRow(row: JobRow, patch: RowPatch): void {
    const next = { updatedAt: this.deps.now(), ...patch };
    this.deps.ledger.patchJob(row.id, next);
    const view = jobRowToView({ ...row, ...next });
    const i = this.recent.findIndex((j) => j.id === row.id);
    if (i >= 0) this.recent[i] = view;
    this.deps.bus.publish(JobStatusChanged, { job: view });
  }

  /** setStatus for a ledger row no one holds (recovery, stale invoices): refused unless job.ts allows it. */
  moveRow(row: JobRow, to: JobStatus, patch: { error?: string; resultEventId?: string } = {}): boolean {
    if (!this.legal(row.id, row.status, to)) return false;
    const now = this.deps.now();
    this.patchRow(row, { status: to, updatedAt: now, ...(isFinal(to) ? { finishedAt: now } : {}), ...patch });
    return true;
  }

  emit(job: Running): void {
    this.deps.bus.publish(JobStatusChanged, { job: toView(job, job.preview) });
  }

  toRow(job: Running): JobInsert {
    return {
      id: job.id,
      kind: job.kind,
      customer: job.customer,
      requestJson: JSON.stringify(job.request.raw),
      relay: job.sourceRelay,
      model: job.model,
      status: job.status,
      promptPreview: job.preview,
      tokens: job.tokens,
      tokensPerSec: job.tokensPerSec,
      amountMsats: job.amountMsats,
      bolt11: job.bolt11,
      paymentHash: job.paymentHash,
      error: job.error,
      encrypted: job.request.encrypted !== null,
      resultEventId: job.resultEventId,
      createdAt: job.createdAt,
      updatedAt: job.updatedAt,
      finishedAt: job.finishedAt,
    };
  }
}

/**
 * A paid job as its ledger row has it (paid, not moved there), held again after a restart.
 * `request` null: unreadable, so just enough of a request to address the error feedback and show
 * the job; `model` null: no longer served.
 */
export function restorePaid(row: JobRow, request: JobRequest | null, model: string | null): Running {
  const stub = { id: row.id, kind: row.kind, customer: row.customer, encrypted: null, relays: [], inputs: [], params: { other: {} }, expiration: null } as unknown as JobRequest;
  return {
    ...newJob(request ?? stub, { now: row.createdAt, sourceRelay: row.relay }),
    status: "paid",
    updatedAt: row.updatedAt,
    model: model ?? row.model ?? "",
    amountMsats: row.amountMsats,
    bolt11: row.bolt11,
    paymentHash: row.paymentHash,
    controller: new AbortController(),
    stoppedBy: null,
    prepaid: true,
    preview: row.promptPreview,
  };
}
