// The persisted job and its pure state machine. The engine owns the side effects; this file only
// says which moves are legal and what a move changes.
//
//   received → queued                          (free / pay-after)
//   received → payment-required → paid → queued (upfront; payment-required → expired if unpaid)
//   queued → processing → success
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

export const FINAL_STATUSES: readonly JobStatus[] = ["success", "error", "cancelled", "expired"];

const NEXT: Record<JobStatus, readonly JobStatus[]> = {
  received: ["payment-required", "queued", "expired", "error", "cancelled"],
  "payment-required": ["paid", "expired", "error", "cancelled"],
  paid: ["queued", "expired", "error", "cancelled"],
  // A queued job whose NIP-40 expiration passes before a slot frees up is never started.
  queued: ["processing", "expired", "error", "cancelled"],
  processing: ["success", "error", "cancelled"],
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
 * Moves a job to `to`, returning a new job (the input is not changed). Stamps updatedAt, startedAt
 * (→ processing), paidAt (→ paid, unless already set), finishedAt (→ a final status), and error
 * (→ error, from opts.error). An illegal move throws AppError("conflict").
 */
export function transition(job: Job, to: JobStatus, opts: { now?: number; error?: string } = {}): Job {
  if (!canTransition(job.status, to)) {
    throw new AppError("conflict", `job ${job.id.slice(0, 8)} cannot go from ${job.status} to ${to}`, {
      id: job.id,
      from: job.status,
      to,
    });
  }
  const now = opts.now ?? Date.now();
  const next: Job = { ...job, status: to, updatedAt: now };
  if (to === "processing") next.startedAt = now;
  if (to === "paid" && next.paidAt === null) next.paidAt = now;
  if (isFinal(to)) next.finishedAt = now;
  if (to === "error") next.error = opts.error ?? job.error ?? "the job failed";
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

export function toView(job: Job): JobView {
  return {
    id: job.id,
    kind: job.kind,
    customer: job.customer,
    model: job.model,
    status: job.status,
    promptPreview: promptPreview(job.request),
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
