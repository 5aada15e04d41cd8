// Ledger queries of issue 10.2/10.5: a job's payments by job, payments booked after their job
// ended (paid late), their note, and the unpaid pay-after charges. A real SQLite file.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger, PAID_LATE_NOT_SERVED } from "../../src/ledger/ledger.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function open(): Ledger {
  const d = mkdtempSync(join(tmpdir(), "compute-ledger-late-"));
  dirs.push(d);
  return Ledger.open(join(d, "ledger.db"));
}
const T = 1_800_000_000_000;
const job = (l: Ledger, id: string, o: { status: "success" | "expired" | "error" | "payment-required"; amount: number | null; customer?: string; finishedAt?: number }) =>
  l.insertJob({ id, kind: 5050, customer: o.customer ?? "c1", requestJson: "{}", status: o.status, amountMsats: o.amount, createdAt: T, updatedAt: o.finishedAt ?? T, finishedAt: o.finishedAt ?? null });

test("unpaidAfter: answered charges not covered by their payments, by time and customer; free and fully paid ones don't count", () => {
  const l = open();
  try {
    job(l, "a", { status: "success", amount: 3000, finishedAt: T });
    job(l, "b", { status: "success", amount: 3000, customer: "c2", finishedAt: T + 10 });
    job(l, "c", { status: "success", amount: 3000, finishedAt: T + 20 });
    job(l, "free", { status: "success", amount: null, finishedAt: T + 30 });
    job(l, "old", { status: "success", amount: 5000, finishedAt: T - 1000 });
    l.creditPayment({ id: "pc", jobId: "c", amountMsats: 3000, paymentHash: "c".repeat(64), receivedAt: T + 25 });
    l.creditPayment({ id: "pb", jobId: "b", amountMsats: 1000, paymentHash: "b".repeat(64), receivedAt: T + 25 });
    expect(l.unpaidAfter()).toEqual({ jobs: 3, msats: 3000 + 2000 + 5000 });
    expect(l.unpaidAfter({ since: T })).toEqual({ jobs: 2, msats: 5000 });
    expect(l.unpaidAfter({ since: T, customer: "c2" })).toEqual({ jobs: 1, msats: 2000 });
    expect(l.earnings(new Date(T))).toMatchObject({ unpaidSats: 10, unpaidJobs: 3, paidLateNotServed: 0 });
  } finally {
    l.close();
  }
});

test("latePayments: booked at or after the job ended, not yet noted; a note shows with the customer and counts on the dashboard", () => {
  const l = open();
  try {
    job(l, "late", { status: "expired", amount: 2000, customer: "payer", finishedAt: T });
    job(l, "early", { status: "error", amount: 2000, finishedAt: T });
    job(l, "open", { status: "payment-required", amount: 2000 });
    l.creditPayment({ id: "p-late", jobId: "late", amountMsats: 2000, paymentHash: "1".repeat(64), receivedAt: T + 5 });
    l.creditPayment({ id: "p-early", jobId: "early", amountMsats: 2000, paymentHash: "2".repeat(64), receivedAt: T - 5 });
    l.creditPayment({ id: "p-open", jobId: "open", amountMsats: 2000, paymentHash: "3".repeat(64), receivedAt: T + 5 });
    expect(l.latePayments()).toEqual([{ paymentId: "p-late", jobId: "late" }]);
    expect(l.jobPaid("late")).toEqual({ msats: 2000, count: 1 });
    expect(l.jobPaid("nothing")).toEqual({ msats: 0, count: 0 });
    expect(l.notePayment("p-late", PAID_LATE_NOT_SERVED)).toBe(true);
    expect(l.notePayment("p-late", PAID_LATE_NOT_SERVED)).toBe(false);
    expect(l.latePayments()).toEqual([]);
    expect(l.getPayment("p-late")).toMatchObject({ note: PAID_LATE_NOT_SERVED, customer: "payer" });
    expect(l.payments().find((p) => p.id === "p-late")).toMatchObject({ note: PAID_LATE_NOT_SERVED, customer: "payer" });
    // Without a note, no customer is added to the row (the API's rows are as before).
    expect(Object.keys(l.getPayment("p-early")!)).not.toContain("customer");
    expect(l.earnings(new Date(T)).paidLateNotServed).toBe(1);
  } finally {
    l.close();
  }
});

test("latePayments reads each payment once per process: a late one booked after a look is found by the next; the history is not read again", () => {
  const l = open();
  try {
    job(l, "ok", { status: "success", amount: 2000, finishedAt: T });
    l.creditPayment({ id: "p-ok", jobId: "ok", amountMsats: 2000, paymentHash: "4".repeat(64), receivedAt: T - 5 });
    expect(l.latePayments()).toEqual([]);
    // Booked after that look, for a job already over: found.
    job(l, "gone", { status: "expired", amount: 2000, finishedAt: T });
    l.creditPayment({ id: "p-gone", jobId: "gone", amountMsats: 2000, paymentHash: "5".repeat(64), receivedAt: T + 5 });
    expect(l.latePayments()).toEqual([{ paymentId: "p-gone", jobId: "gone" }]);
    // The caller handles what it was given (noted, or run again); a later look in this process
    // reads only payments booked since, so it is not handed out twice.
    expect(l.latePayments()).toEqual([]);
    // A new process (a restart) looks at every payment again: the unhandled one is found.
    const path = l.path;
    l.close();
    const again = Ledger.open(path);
    try {
      expect(again.latePayments()).toEqual([{ paymentId: "p-gone", jobId: "gone" }]);
    } finally {
      again.close();
    }
  } finally {
    try {
      l.close();
    } catch {}
  }
});
