// The ledger's rows as the rest of the app sees them: zod schemas for jobs and payments, the
// column spellings, and the checks a row passes going in and coming out (a damaged row is reported
// by id instead of crashing the caller). Pure: no database handle here.
import { z } from "zod";
import { AppError, issueText } from "../errors.ts";
import { JobStatus, type JobView } from "../jobs/events.ts";
import { createLogger } from "../log.ts";

const log = createLogger("ledger");
/** Statuses after which a job never changes again; reaching one stamps finished_at. */
export const TERMINAL_STATUSES: readonly JobStatus[] = ["success", "error", "cancelled", "expired"];

const msats = z.int().nonnegative();
const timestamp = z.int().nonnegative();

export const JobRow = z.object({
  /** The request event id (hex). */
  id: z.string().min(1),
  kind: z.int(),
  /** Customer pubkey (hex). */
  customer: z.string(),
  /** The request event as received (JSON). */
  requestJson: z.string(),
  /** The relay the request arrived on. */
  relay: z.string().nullable(),
  model: z.string().nullable(),
  status: JobStatus,
  promptPreview: z.string(),
  tokens: z.int().nonnegative(),
  tokensPerSec: z.number().nonnegative().nullable(),
  amountMsats: msats.nullable(),
  bolt11: z.string().nullable(),
  paymentHash: z.string().nullable(),
  error: z.string().nullable(),
  encrypted: z.boolean(),
  resultEventId: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  finishedAt: timestamp.nullable(),
});
export type JobRow = z.infer<typeof JobRow>;

/** What insertJob needs; everything else starts empty (null / 0 / false / ""). */
export const JobInsert = JobRow.partial().required({
  id: true,
  kind: true,
  customer: true,
  requestJson: true,
  status: true,
  createdAt: true,
});
export type JobInsert = z.input<typeof JobInsert>;

/** Fields a job may change after it is recorded; updatedAt defaults to now. */
export const JobPatch = JobRow.omit({ id: true, kind: true, customer: true, requestJson: true, createdAt: true })
  .partial()
  .strict();
export type JobPatch = z.input<typeof JobPatch>;

export const PaymentSource = z.enum(["invoice", "zap", "other"]);
export type PaymentSource = z.infer<typeof PaymentSource>;

export const PaymentRow = z.object({
  /** The wallet's payment id. */
  id: z.string().min(1),
  jobId: z.string().nullable(),
  amountMsats: msats,
  bolt11: z.string().nullable(),
  paymentHash: z.string().nullable(),
  source: PaymentSource,
  receivedAt: timestamp,
  /** Set only on a payment the owner must look at: PAID_LATE_NOT_SERVED. */
  note: z.string().optional(),
  /** The customer who paid, given with a note (the job's customer). */
  customer: z.string().optional(),
});
export type PaymentRow = z.infer<typeof PaymentRow>;

// The note of a payment that landed for an expired or cancelled job which could not be run; it
// lives with the earnings reads, which count such payments without loading this module.
export { PAID_LATE_NOT_SERVED } from "./earnings-totals.ts";

/** The Breez SDK reports amounts as bigint; accept them while they fit a double exactly. */
const amountInput = z.union([
  msats,
  z
    .bigint()
    .nonnegative()
    .max(BigInt(Number.MAX_SAFE_INTEGER))
    .transform((v) => Number(v)),
]);

export const CreditInput = z.strictObject({
  id: z.string().min(1),
  jobId: z.string().min(1).nullable().optional(),
  amountMsats: amountInput,
  bolt11: z.string().min(1).nullable().optional(),
  paymentHash: z.string().min(1).nullable().optional(),
  source: PaymentSource.default("invoice"),
  receivedAt: timestamp.optional(),
  /** Also move the job from received/payment-required to 'paid', in the same transaction. */
  markJobPaid: z.boolean().optional(),
});
export type CreditInput = z.input<typeof CreditInput>;

export interface DbJobRow {
  id: unknown;
  kind: unknown;
  customer: unknown;
  request_json: unknown;
  relay: unknown;
  model: unknown;
  status: unknown;
  prompt_preview: unknown;
  tokens: unknown;
  tokens_per_sec: unknown;
  amount_msats: unknown;
  bolt11: unknown;
  payment_hash: unknown;
  error: unknown;
  encrypted: unknown;
  result_event_id: unknown;
  created_at: unknown;
  updated_at: unknown;
  finished_at: unknown;
}

export interface DbPaymentRow {
  id: unknown;
  job_id: unknown;
  amount_msats: unknown;
  bolt11: unknown;
  payment_hash: unknown;
  source: unknown;
  received_at: unknown;
  note?: unknown;
  customer?: unknown;
}

/** JobRow field → column. The only place the two spellings meet. */
const JOB_COLUMNS = {
  id: "id",
  kind: "kind",
  customer: "customer",
  requestJson: "request_json",
  relay: "relay",
  model: "model",
  status: "status",
  promptPreview: "prompt_preview",
  tokens: "tokens",
  tokensPerSec: "tokens_per_sec",
  amountMsats: "amount_msats",
  bolt11: "bolt11",
  paymentHash: "payment_hash",
  error: "error",
  encrypted: "encrypted",
  resultEventId: "result_event_id",
  createdAt: "created_at",
  updatedAt: "updated_at",
  finishedAt: "finished_at",
} as const satisfies Record<keyof JobRow, string>;

// bolt11 is bech32 (case-insensitive) and hashes are hex: store one case so lookups match.
export const lower = (s: string | null | undefined) => (s == null ? null : s.trim().toLowerCase());

export function invalid(what: string, err: z.ZodError): AppError {
  return new AppError("invalid_input", `${what}: ${issueText(err)}`);
}

export function jobFromDb(r: DbJobRow): JobRow {
  const parsed = JobRow.safeParse({
    id: r.id,
    kind: r.kind,
    customer: r.customer,
    requestJson: r.request_json,
    relay: r.relay,
    model: r.model,
    status: r.status,
    promptPreview: r.prompt_preview,
    tokens: r.tokens,
    tokensPerSec: r.tokens_per_sec,
    amountMsats: r.amount_msats,
    bolt11: r.bolt11,
    paymentHash: r.payment_hash,
    error: r.error,
    encrypted: r.encrypted === 1 ? true : r.encrypted === 0 ? false : r.encrypted,
    resultEventId: r.result_event_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  });
  if (!parsed.success) {
    throw new AppError("internal", `The ledger row jobs/${String(r.id)} is damaged: ${issueText(parsed.error)}`, {
      table: "jobs",
      id: String(r.id),
    });
  }
  return parsed.data;
}

export function paymentFromDb(r: DbPaymentRow): PaymentRow {
  const parsed = PaymentRow.safeParse({
    id: r.id,
    jobId: r.job_id,
    amountMsats: r.amount_msats,
    bolt11: r.bolt11,
    paymentHash: r.payment_hash,
    source: r.source,
    receivedAt: r.received_at,
    ...(r.note != null ? { note: r.note } : {}),
    ...(r.note != null && r.customer != null ? { customer: r.customer } : {}),
  });
  if (!parsed.success) {
    throw new AppError("internal", `The ledger row payments/${String(r.id)} is damaged: ${issueText(parsed.error)}`, {
      table: "payments",
      id: String(r.id),
    });
  }
  return parsed.data;
}

/** Parses each row; a damaged one is logged and left out so one bad row can't hide the rest. */
export function parseEach<R, T>(rows: R[], parse: (r: R) => T): T[] {
  const out: T[] = [];
  for (const r of rows) {
    try {
      out.push(parse(r));
    } catch (err) {
      log.error("skipping damaged ledger row", { err });
    }
  }
  return out;
}

/** The public face of a job for the UI/API (JobView in src/jobs/events.ts). */
export function jobRowToView(row: JobRow): JobView {
  return {
    id: row.id,
    kind: row.kind,
    customer: row.customer,
    model: row.model,
    status: row.status,
    promptPreview: row.promptPreview,
    tokens: row.tokens,
    tokensPerSec: row.tokensPerSec,
    amountMsats: row.amountMsats,
    bolt11: row.bolt11,
    error: row.error,
    encrypted: row.encrypted,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export function checkSeen(eventId: string, kind: number): void {
  if (typeof eventId !== "string" || !eventId) throw new AppError("invalid_input", "markSeen needs an event id.");
  if (!Number.isInteger(kind)) throw new AppError("invalid_input", "markSeen needs an integer kind.");
}

export function parseInsert(row: JobInsert): z.output<typeof JobInsert> {
  const parsed = JobInsert.safeParse(row);
  if (!parsed.success) throw invalid("Invalid job", parsed.error);
  return parsed.data;
}

/** The UPDATE for a checked patch (updateJob / patchJob): SQL without RETURNING, and its parameters. */
export function updateStatement(id: string, patch: JobPatch): { sql: string; params: Record<string, string | number | null> } {
  const parsed = JobPatch.safeParse(patch);
  if (!parsed.success) throw invalid(`Invalid change to job ${id}`, parsed.error);
  const p: Record<string, unknown> = { ...parsed.data };
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  p.updatedAt ??= Date.now();
  if ("bolt11" in p) p.bolt11 = lower(p.bolt11 as string | null);
  if ("paymentHash" in p) p.paymentHash = lower(p.paymentHash as string | null);
  if ("encrypted" in p) p.encrypted = p.encrypted ? 1 : 0;
  const sets: string[] = [];
  const params: Record<string, string | number | null> = { id };
  for (const [k, v] of Object.entries(p)) {
    const col = JOB_COLUMNS[k as keyof JobRow];
    sets.push(`${col} = $${k}`);
    params[k] = v as string | number | null;
  }
  if (!("finishedAt" in p) && p.status && TERMINAL_STATUSES.includes(p.status as JobStatus)) {
    sets.push("finished_at = COALESCE(finished_at, $updatedAt)");
  }
  return { sql: `UPDATE jobs SET ${sets.join(", ")} WHERE id = $id`, params };
}
