// The persisted job and its pure state machine. The engine owns the side effects; this file only
// says which moves are legal and what a move changes.
//
//   received → queued                          (free / pay-after)
//   received → payment-required → paid → queued (upfront; payment-required → expired if unpaid)
//   queued → processing → success
//   received | paid → processing                (a free slot: the job skips the queue)
//   queued | processing → paid                  (a paid job set aside at shutdown or after a crash)
//   any non-final → error | cancelled;  not yet processing → expired (invoice or NIP-40 expiry)
import { z } from "zod";
import { AppError } from "../errors.ts";
import { JobRequest, type JobInput } from "../nostr/nip90.ts";
import { JobStatus, type JobView } from "./events.ts";

export const Job = z.object({
  id: z.string(), // the request event id
  kind: z.int(),
  customer: z.string(),
  request: JobRequest,
  status: JobStatus,
  model: z.string().nullable(),
  /** The relay the request first arrived on (a hint for our replies), if known. */
  sourceRelay: z.string().nullable(),
  /** unix ms */
  createdAt: z.number(),
  updatedAt: z.number(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  tokens: z.int().nonnegative(),
  tokensPerSec: z.number().nonnegative().nullable(),
  /** What we asked (upfront) or ask (after delivery), in msats. */
  amountMsats: z.int().nonnegative().nullable(),
  bolt11: z.string().nullable(),
  paymentHash: z.string().nullable(),
  /** unix ms when payment was seen (upfront or after delivery); null while unpaid. */
  paidAt: z.number().nullable(),
  resultEventId: z.string().nullable(),
  /** Why it failed, in words for the customer. */
  error: z.string().nullable(),
});
export type Job = z.infer<typeof Job>;

/** The statuses a job never leaves (but for a late payment in full, recovery.ts). */
export const FINAL_STATUSES: readonly JobStatus[] = ["success", "error", "cancelled", "expired"];
/**
 * The error a job cancelled by its customer (NIP-09) is recorded with: recovery.ts reads it back to
 * refuse running such a job on a late payment.
 */
export const CANCELLED_BY_CUSTOMER = "cancelled by the customer";

const NEXT: Record<JobStatus, readonly JobStatus[]> = {
  // → processing: a job that finds a generation slot free starts at once; the engine doesn't
  // write a `queued` row only to overwrite it in the same tick (one ledger commit less per job).
  received: ["payment-required", "queued", "processing", "expired", "error", "cancelled"],
  "payment-required": ["paid", "expired", "error", "cancelled"],
  // → processing: as for received (the payment came, a slot is free).
  paid: ["queued", "processing", "expired", "error", "cancelled"],
  // A queued job whose NIP-40 expiration passes before a slot frees up is never started.
  // → paid: shutdown sets a job the customer already paid for aside instead of ending it; back
  // in `paid` it runs once after the restart (the customer paid; the job must still be answered).
  queued: ["processing", "paid", "expired", "error", "cancelled"],
  // → paid: the same for a paid job whose generation the shutdown aborted, and for one a crash
  // left processing whose payment the ledger holds (recovery runs it again, it is not closed).
  processing: ["success", "paid", "error", "cancelled"],
  success: [],
  error: [],
  cancelled: [],
  expired: [],
};

export function isFinal(status: JobStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return NEXT[from].includes(to);
}

export function newJob(
  request: JobRequest,
  opts: { now: number; model?: string | null; sourceRelay?: string | null },
): Job {
  return {
    id: request.id,
    kind: request.kind,
    customer: request.customer,
    request,
    status: "received",
    model: opts.model ?? null,
    sourceRelay: opts.sourceRelay ?? null,
    createdAt: opts.now,
    updatedAt: opts.now,
    startedAt: null,
    finishedAt: null,
    tokens: 0,
    tokensPerSec: null,
    amountMsats: null,
    bolt11: null,
    paymentHash: null,
    paidAt: null,
    resultEventId: null,
    error: null,
  };
}

/**
 * Moves a job to `to` in place, without checking the move (the caller did: canTransition). Stamps
 * updatedAt, startedAt (→ processing), paidAt (→ paid, unless already set), finishedAt (→ a final
 * status), and error: `error` when given, else a default on → error when the job has none.
 * The engine's path: no copy of the job (its request included) per status change.
 */
export function applyTransition(job: Job, to: JobStatus, now: number, error?: string): void {
  job.status = to;
  job.updatedAt = now;
  if (to === "processing") job.startedAt = now;
  if (to === "paid" && job.paidAt === null) job.paidAt = now;
  if (isFinal(to)) job.finishedAt = now;
  if (error !== undefined) job.error = error;
  else if (to === "error") job.error ??= "the job failed";
}

/**
 * applyTransition on a copy: returns the moved job (the input is not changed). An illegal move
 * throws AppError("conflict").
 */
export function transition(job: Job, to: JobStatus, opts: { now?: number; error?: string } = {}): Job {
  if (!canTransition(job.status, to)) {
    throw new AppError("conflict", `job ${job.id.slice(0, 8)} cannot go from ${job.status} to ${to}`, {
      id: job.id,
      from: job.status,
      to,
    });
  }
  const next: Job = { ...job };
  applyTransition(next, to, opts.now ?? Date.now(), opts.error);
  return next;
}

const PREVIEW_CHARS = 120;

function describeInput(input: JobInput): string {
  return input.type === "text" ? input.data : `[${input.type}: ${input.data}]`;
}

/**
 * At most the first 120 characters of the prompt, whitespace collapsed, "…" when cut. The text
 * of a decrypted request is fine to show locally; the full prompt never leaves through a view.
 */
export function promptPreview(request: Pick<JobRequest, "inputs">): string {
  const text = request.inputs.map(describeInput).join(" ").replace(/\s+/g, " ").trim();
  const chars = Array.from(text);
  return chars.length <= PREVIEW_CHARS ? text : chars.slice(0, PREVIEW_CHARS - 1).join("") + "…";
}

/**
 * What the dashboard shows of the output while it is generated: its last 120 UTF-16 units, without
 * a half surrogate pair at the cut.
 */
export function outputPreview(text: string): string {
  if (text.length <= PREVIEW_CHARS) return text;
  const code = text.charCodeAt(text.length - PREVIEW_CHARS);
  return text.slice(code >= 0xdc00 && code <= 0xdfff ? 1 - PREVIEW_CHARS : -PREVIEW_CHARS);
}

/**
 * The view of a job. `preview` defaults to promptPreview of its request; a holder that already
 * computed it (or kept it from the ledger row, for a request it can no longer read) passes it.
 */
export function toView(job: Job, preview: string = promptPreview(job.request)): JobView {
  return {
    id: job.id,
    kind: job.kind,
    customer: job.customer,
    model: job.model,
    status: job.status,
    promptPreview: preview,
    tokens: job.tokens,
    tokensPerSec: job.tokensPerSec,
    amountMsats: job.amountMsats,
    bolt11: job.bolt11,
    error: job.error,
    encrypted: job.request.encrypted !== null,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
  };
}
