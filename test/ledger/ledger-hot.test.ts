// The ledger's hot-path methods (admitJob, isSeen, patchJob): same rules as markSeen + insertJob
// and updateJob, fewer commits and no row read back.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { AppError } from "../../src/errors.ts";
import type { JobInsert, JobPatch } from "../../src/ledger/ledger.ts";
import { appError } from "../fixtures/common.ts";
import { ledgerPerTest } from "../fixtures/temp-ledger.ts";

const t = ledgerPerTest("ledger-hot");

const T0 = 1_760_000_000_000;
const id = (i: number) => i.toString(16).padStart(64, "0");
const job = (i: number, over: Partial<JobInsert> = {}): JobInsert => ({
  id: id(i),
  kind: 5050,
  customer: "c".repeat(64),
  requestJson: JSON.stringify({ id: id(i) }),
  status: "received",
  createdAt: T0 + i,
  ...over,
});

describe("admitJob / isSeen", () => {
  test("records the job and its seen mark together; a second admission changes nothing", () => {
    expect(t.ledger.isSeen(id(1))).toBe(false);
    expect(t.ledger.admitJob(job(1), 5050, T0)).toBe(true);
    expect(t.ledger.isSeen(id(1))).toBe(true);
    expect(t.ledger.markSeen(id(1), 5050)).toBe(false);
    expect(t.ledger.getJob(id(1))).toMatchObject({ id: id(1), status: "received", createdAt: T0 + 1, updatedAt: T0 + 1, finishedAt: null });
    expect(t.ledger.admitJob(job(1, { status: "error" }), 5050, T0)).toBe(false);
    expect(t.ledger.getJob(id(1))?.status).toBe("received");
    // Seen by markSeen first (the engine's current order) is fine too.
    expect(t.ledger.markSeen(id(2), 5050)).toBe(true);
    expect(t.ledger.admitJob(job(2), 5050)).toBe(true);
    expect(t.ledger.getJob(id(2))).not.toBeNull();
  });

  test("a job that exists (its seen id pruned) is refused without marking anything", () => {
    expect(t.ledger.insertJob(job(3))).toBe(true);
    expect(t.ledger.admitJob(job(3), 5050, T0)).toBe(false);
    expect(t.ledger.isSeen(id(3))).toBe(false);
  });

  test("is durable and prunable like markSeen", () => {
    expect(t.ledger.admitJob(job(4), 5050, T0)).toBe(true);
    t.ledger.close();
    t.reopen();
    expect(t.ledger.isSeen(id(4))).toBe(true);
    expect(t.ledger.pruneSeen(T0 + 1)).toBe(1);
    expect(t.ledger.isSeen(id(4))).toBe(false);
    expect(t.ledger.getJob(id(4))).not.toBeNull();
  });

  test("checks its input as insertJob and markSeen do", () => {
    expect(appError(() => t.ledger.admitJob(job(5, { status: "done" as never }), 5050)).code).toBe("invalid_input");
    expect(appError(() => t.ledger.admitJob(job(6, { tokens: -1 }), 5050)).code).toBe("invalid_input");
    expect(appError(() => t.ledger.admitJob(job(7), 1.5)).code).toBe("invalid_input");
    expect(t.ledger.isSeen(id(5)) || t.ledger.isSeen(id(6)) || t.ledger.isSeen(id(7))).toBe(false);
    expect(t.ledger.listJobs()).toEqual([]);
  });
});

describe("patchJob", () => {
  test("leaves the same row as updateJob for the same patches", () => {
    const patches: JobPatch[] = [
      { status: "processing", tokens: 0, tokensPerSec: null, amountMsats: null, bolt11: null, updatedAt: T0 + 10 },
      { status: "success", tokens: 12, tokensPerSec: 3.5, amountMsats: 2000, bolt11: "LNBC1ABC", paymentHash: "AB", resultEventId: "r".repeat(64), updatedAt: T0 + 20 },
      { error: "no relay accepted the result", encrypted: true, updatedAt: T0 + 30 },
    ];
    t.ledger.insertJob(job(1));
    t.ledger.insertJob(job(2));
    for (const p of patches) {
      t.ledger.updateJob(id(1), p);
      t.ledger.patchJob(id(2), p);
      expect({ ...t.ledger.getJob(id(2)), id: id(1), requestJson: "", createdAt: 0 }).toEqual({ ...t.ledger.getJob(id(1))!, requestJson: "", createdAt: 0 });
    }
    const row = t.ledger.getJob(id(2))!;
    // Terminal status stamps finishedAt once; bolt11 and hash are stored lower-case.
    expect(row.finishedAt).toBe(T0 + 20);
    expect(row.bolt11).toBe("lnbc1abc");
    expect(t.ledger.findJobByInvoice({ paymentHash: "ab" })?.id).toBe(id(2));
  });

  test("unknown id → not_found; a bad patch → invalid_input, nothing written", () => {
    expect(appError(() => t.ledger.patchJob(id(9), { status: "processing" })).code).toBe("not_found");
    t.ledger.insertJob(job(1));
    expect(appError(() => t.ledger.patchJob(id(1), { status: "done" as never })).code).toBe("invalid_input");
    expect(appError(() => t.ledger.patchJob(id(1), { tokens: -3 })).code).toBe("invalid_input");
    expect(appError(() => t.ledger.patchJob(id(1), { customer: "x" } as never)).code).toBe("invalid_input");
    expect(t.ledger.getJob(id(1))).toMatchObject({ status: "received", tokens: 0 });
  });

  test("writes without reading the row back (a damaged row does not make it fail)", () => {
    t.ledger.insertJob(job(1));
    t.ledger.close();
    // Damage a column the row conversion checks; updateJob reports it, patchJob just writes.
    const raw = new Database(t.path);
    raw.run(`UPDATE jobs SET created_at = -5 WHERE id = '${id(1)}'`);
    raw.close();
    t.reopen();
    expect(appError(() => t.ledger.updateJob(id(1), { status: "processing" })).code).toBe("internal");
    t.ledger.patchJob(id(1), { status: "success", updatedAt: T0 + 5 });
    const status = new Database(t.path, { readonly: true });
    try {
      expect(status.query("SELECT status, finished_at FROM jobs").get()).toEqual({ status: "success", finished_at: T0 + 5 });
    } finally {
      status.close();
    }
  });
});
