// The ledger's hot-path methods (admitJob, isSeen, patchJob): same rules as markSeen + insertJob
// and updateJob, fewer commits and no row read back.
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError } from "../../src/errors.ts";
import { Ledger, type JobInsert, type JobPatch } from "../../src/ledger/ledger.ts";
import { appError } from "../fixtures/common.ts";

const root = mkdtempSync(join(tmpdir(), "compute-ledger-hot-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let path: string;
let ledger: Ledger;
beforeEach(() => {
  path = join(root, `case-${n++}`, "ledger.sqlite");
  ledger = Ledger.open(path);
});
afterEach(() => ledger.close());

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
    expect(ledger.isSeen(id(1))).toBe(false);
    expect(ledger.admitJob(job(1), 5050, T0)).toBe(true);
    expect(ledger.isSeen(id(1))).toBe(true);
    expect(ledger.markSeen(id(1), 5050)).toBe(false);
    expect(ledger.getJob(id(1))).toMatchObject({ id: id(1), status: "received", createdAt: T0 + 1, updatedAt: T0 + 1, finishedAt: null });
    expect(ledger.admitJob(job(1, { status: "error" }), 5050, T0)).toBe(false);
    expect(ledger.getJob(id(1))?.status).toBe("received");
    // Seen by markSeen first (the engine's current order) is fine too.
    expect(ledger.markSeen(id(2), 5050)).toBe(true);
    expect(ledger.admitJob(job(2), 5050)).toBe(true);
    expect(ledger.getJob(id(2))).not.toBeNull();
  });

  test("a job that exists (its seen id pruned) is refused without marking anything", () => {
    expect(ledger.insertJob(job(3))).toBe(true);
    expect(ledger.admitJob(job(3), 5050, T0)).toBe(false);
    expect(ledger.isSeen(id(3))).toBe(false);
  });

  test("is durable and prunable like markSeen", () => {
    expect(ledger.admitJob(job(4), 5050, T0)).toBe(true);
    ledger.close();
    ledger = Ledger.open(path);
    expect(ledger.isSeen(id(4))).toBe(true);
    expect(ledger.pruneSeen(T0 + 1)).toBe(1);
    expect(ledger.isSeen(id(4))).toBe(false);
    expect(ledger.getJob(id(4))).not.toBeNull();
  });

  test("checks its input as insertJob and markSeen do", () => {
    expect(appError(() => ledger.admitJob(job(5, { status: "done" as never }), 5050)).code).toBe("invalid_input");
    expect(appError(() => ledger.admitJob(job(6, { tokens: -1 }), 5050)).code).toBe("invalid_input");
    expect(appError(() => ledger.admitJob(job(7), 1.5)).code).toBe("invalid_input");
    expect(ledger.isSeen(id(5)) || ledger.isSeen(id(6)) || ledger.isSeen(id(7))).toBe(false);
    expect(ledger.listJobs()).toEqual([]);
  });
});

describe("patchJob", () => {
  test("leaves the same row as updateJob for the same patches", () => {
    const patches: JobPatch[] = [
      { status: "processing", tokens: 0, tokensPerSec: null, amountMsats: null, bolt11: null, updatedAt: T0 + 10 },
      { status: "success", tokens: 12, tokensPerSec: 3.5, amountMsats: 2000, bolt11: "LNBC1ABC", paymentHash: "AB", resultEventId: "r".repeat(64), updatedAt: T0 + 20 },
      { error: "no relay accepted the result", encrypted: true, updatedAt: T0 + 30 },
    ];
    ledger.insertJob(job(1));
    ledger.insertJob(job(2));
    for (const p of patches) {
      ledger.updateJob(id(1), p);
      ledger.patchJob(id(2), p);
      expect({ ...ledger.getJob(id(2)), id: id(1), requestJson: "", createdAt: 0 }).toEqual({ ...ledger.getJob(id(1))!, requestJson: "", createdAt: 0 });
    }
    const row = ledger.getJob(id(2))!;
    // Terminal status stamps finishedAt once; bolt11 and hash are stored lower-case.
    expect(row.finishedAt).toBe(T0 + 20);
    expect(row.bolt11).toBe("lnbc1abc");
    expect(ledger.findJobByInvoice({ paymentHash: "ab" })?.id).toBe(id(2));
  });

  test("unknown id → not_found; a bad patch → invalid_input, nothing written", () => {
    expect(appError(() => ledger.patchJob(id(9), { status: "processing" })).code).toBe("not_found");
    ledger.insertJob(job(1));
    expect(appError(() => ledger.patchJob(id(1), { status: "done" as never })).code).toBe("invalid_input");
    expect(appError(() => ledger.patchJob(id(1), { tokens: -3 })).code).toBe("invalid_input");
    expect(appError(() => ledger.patchJob(id(1), { customer: "x" } as never)).code).toBe("invalid_input");
    expect(ledger.getJob(id(1))).toMatchObject({ status: "received", tokens: 0 });
  });

  test("writes without reading the row back (a damaged row does not make it fail)", () => {
    ledger.insertJob(job(1));
    ledger.close();
    // Damage a column the row conversion checks; updateJob reports it, patchJob just writes.
    const raw = new Database(path);
    raw.run(`UPDATE jobs SET created_at = -5 WHERE id = '${id(1)}'`);
    raw.close();
    ledger = Ledger.open(path);
    expect(appError(() => ledger.updateJob(id(1), { status: "processing" })).code).toBe("internal");
    ledger.patchJob(id(1), { status: "success", updatedAt: T0 + 5 });
    const status = new Database(path, { readonly: true });
    try {
      expect(status.query("SELECT status, finished_at FROM jobs").get()).toEqual({ status: "success", finished_at: T0 + 5 });
    } finally {
      status.close();
    }
  });
});
