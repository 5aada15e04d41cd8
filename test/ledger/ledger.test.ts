import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError } from "../../src/errors.ts";
import { setLogSink } from "../../src/log.ts";
import { JobView } from "../../src/jobs/events.ts";
import { Earnings } from "../../src/ledger/events.ts";
import { jobRowToView, Ledger, type JobInsert } from "../../src/ledger/ledger.ts";
import { MIGRATIONS, migrate } from "../../src/ledger/migrations.ts";
import { appError } from "../fixtures/common.ts";

const root = mkdtempSync(join(tmpdir(), "compute-ledger-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let path: string;
let ledger: Ledger;
const opened: Ledger[] = [];
const open = (p = path) => {
  const l = Ledger.open(p);
  opened.push(l);
  return l;
};
beforeEach(() => {
  path = join(root, `case-${n++}`, "ledger.sqlite");
  ledger = open();
});
afterEach(() => {
  for (const l of opened.splice(0)) l.close();
});

const T0 = new Date(2026, 2, 10, 12, 0, 0).getTime(); // a Tuesday, local noon
const id = (i: number) => i.toString(16).padStart(64, "0");

function job(i: number, over: Partial<JobInsert> = {}): JobInsert {
  return {
    id: id(i),
    kind: 5050,
    customer: "c".repeat(64),
    requestJson: JSON.stringify({ id: id(i), kind: 5050, content: "hi" }),
    status: "received",
    createdAt: T0 + i,
    ...over,
  };
}


describe("opening", () => {
  test("WAL mode, foreign keys, busy timeout, schema version, file mode 0600", () => {
    const raw = new Database(path, { readonly: true });
    try {
      expect((raw.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
      expect((raw.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(MIGRATIONS.length);
      const tables = (raw.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
      expect(tables).toEqual(["announcement", "earnings_slots", "earnings_totals", "free_jobs_used", "gpu_usage", "jobs", "kv", "payments", "pending_results", "seen_events", "zap_targets"]);
    } finally {
      raw.close();
    }
    expect(statSync(path).mode & 0o777).toBe(0o600);
    // Foreign keys are enforced on the ledger's own connection: a payment's job must exist or be null.
    ledger.creditPayment({ id: "p", jobId: "nope", amountMsats: 1000, receivedAt: T0 });
    expect(ledger.getPayment("p")?.jobId).toBeNull();
  });

  test("reopening keeps the data and applies no migration twice", () => {
    ledger.insertJob(job(1));
    ledger.setAnnouncementTag("abc");
    ledger.creditPayment({ id: "pay1", jobId: id(1), amountMsats: 21_000, paymentHash: "AB".repeat(32), receivedAt: T0 });
    ledger.close();
    ledger.close(); // idempotent
    expect(ledger.isOpen).toBe(false);
    expect(appError(() => ledger.getJob(id(1))).code).toBe("unavailable");

    const again = open();
    expect(again.getJob(id(1))?.id).toBe(id(1));
    expect(again.announcementTag()).toBe("abc");
    expect(again.payments()).toHaveLength(1);
    again.close();
    const raw = new Database(path);
    try {
      expect(migrate(raw)).toBe(0);
    } finally {
      raw.close();
    }
    expect(open().getJob(id(1))).not.toBeNull();
  });

  test("migrations run in order, each in a transaction; a failing one leaves the earlier state", () => {
    const raw = new Database(join(root, `mig-${n++}.sqlite`));
    try {
      const steps = [
        { version: 1, name: "a", up: "CREATE TABLE a (x INTEGER) STRICT" },
        { version: 2, name: "b", up: "CREATE TABLE b (y INTEGER) STRICT; INSERT INTO nowhere VALUES (1);" },
      ];
      const err = appError(() => migrate(raw, steps));
      expect(err.message).toContain("Migration 2 (b)");
      expect((raw.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(1);
      expect(raw.query("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeNull();
      steps[1]!.up = "CREATE TABLE b (y INTEGER) STRICT";
      expect(migrate(raw, steps)).toBe(1);
      expect(migrate(raw, steps)).toBe(0);
      // A file from a newer build is refused rather than misread.
      expect(appError(() => migrate(raw, steps.slice(0, 1))).code).toBe("conflict");
    } finally {
      raw.close();
    }
  });

  test("migration 2: a version-1 ledger's deposits (RECEIVE invoices, transfers without invoice) become 'other' and leave the earnings; the rest stays", async () => {
    const { LightningDouble } = await import("../fixtures/lightning-double.ts");
    const { DEPOSIT_DESCRIPTION } = await import("../../src/wallet/wallet.ts");
    const w = new LightningDouble();
    await w.connect();
    const deposit = (await w.createInvoice({ amountMsats: 50_000, description: DEPOSIT_DESCRIPTION, expirySecs: 600 })).bolt11;
    const tip = (await w.createInvoice({ amountMsats: 3_000, description: "tip", expirySecs: 600 })).bolt11;
    const jobBill = (await w.createInvoice({ amountMsats: 21_000, description: DEPOSIT_DESCRIPTION, expirySecs: 600 })).bolt11;
    const old = join(root, `v1-${n++}.sqlite`);
    const raw = new Database(old, { create: true });
    try {
      migrate(raw, MIGRATIONS.slice(0, 1));
      const now = Date.now();
      raw.run(`INSERT INTO jobs (id, kind, customer, request_json, status, created_at, updated_at) VALUES ('${id(1)}', 5050, 'c', '{}', 'success', ${now}, ${now})`);
      const pay = raw.query("INSERT INTO payments (id, job_id, amount_msats, bolt11, payment_hash, source, received_at) VALUES ($id, $job, $m, $b, NULL, $s, $t)");
      pay.run({ id: "deposit", job: null, m: 50_000, b: deposit, s: "invoice", t: now });
      pay.run({ id: "transfer", job: null, m: 7_000, b: null, s: "invoice", t: now });
      pay.run({ id: "tip", job: null, m: 3_000, b: tip, s: "invoice", t: now });
      pay.run({ id: "zap", job: null, m: 2_000, b: "lnbcrt-not-decodable", s: "zap", t: now });
      // A job's own payment is never a deposit, whatever its invoice says.
      pay.run({ id: "job", job: id(1), m: 21_000, b: jobBill, s: "invoice", t: now });
    } finally {
      raw.close();
    }
    const l = open(old);
    expect(Object.fromEntries(l.payments().map((p) => [p.id, p.source]))).toEqual({ deposit: "other", transfer: "other", tip: "invoice", zap: "zap", job: "invoice" });
    expect(l.earnings().allSats).toBe(26);
    expect(l.earnings().todaySats).toBe(26);
  });

  test("a file that isn't a database is refused by name and left alone", () => {
    const bad = join(root, `bad-${n++}.sqlite`);
    writeFileSync(bad, "this is not sqlite, just some text that is long enough to have a header".repeat(20));
    const before = readFileSync(bad);
    const err = appError(() => Ledger.open(bad));
    expect(err.code).toBe("invalid_input");
    expect(err.message).toContain(bad);
    expect(readFileSync(bad).equals(before)).toBe(true);
  });

  test(":memory: works for callers that want a throwaway ledger", () => {
    const mem = open(":memory:");
    expect(mem.insertJob(job(1))).toBe(true);
    expect(mem.getJob(id(1))?.status).toBe("received");
  });
});

describe("zap targets", () => {
  test("pruneZapTargets forgets the targets of jobs finished before the cut only", () => {
    for (const i of [1, 2, 3]) expect(ledger.insertJob(job(i))).toBe(true);
    ledger.updateJob(id(1), { status: "processing", updatedAt: T0 + 1 });
    ledger.updateJob(id(1), { status: "success", updatedAt: T0 + 100 }); // finished long ago
    ledger.updateJob(id(2), { status: "processing", updatedAt: T0 + 1 });
    ledger.updateJob(id(2), { status: "success", updatedAt: T0 + 10_000 }); // finished recently
    // job 3 is still open
    ledger.setZapTarget("a", id(1));
    ledger.setZapTarget("b", id(1));
    ledger.setZapTarget("c", id(2));
    ledger.setZapTarget("d", id(3));
    ledger.keepPendingResult(id(1), { id: "a", pubkey: "p", created_at: 1, kind: 6050, tags: [], content: "", sig: "s" }); // other state of an old job: untouched
    expect(ledger.pruneZapTargets(T0 + 5_000)).toBe(2);
    expect(["a", "b", "c", "d"].map((e) => ledger.zapTarget(e))).toEqual([null, null, id(2), id(3)]);
    expect(ledger.pendingResults().map((r) => r.jobId)).toEqual([id(1)]);
    expect(ledger.pruneZapTargets(T0 + 5_000)).toBe(0);
    expect(appError(() => ledger.pruneZapTargets(Number.NaN)).code).toBe("invalid_input");
  });
});

describe("seen events", () => {
  test("markSeen is true once; pruneSeen forgets old ids; survives reopen", () => {
    expect(ledger.markSeen("e1", 5050, T0)).toBe(true);
    expect(ledger.markSeen("e1", 5050, T0 + 5)).toBe(false);
    expect(ledger.markSeen("e2", 5050, T0 + 10_000)).toBe(true);
    ledger.close();
    const again = open();
    expect(again.markSeen("e1", 5050)).toBe(false);
    expect(again.pruneSeen(T0 + 1)).toBe(1);
    expect(again.markSeen("e1", 5050)).toBe(true);
    expect(again.markSeen("e2", 5050)).toBe(false);
    expect(appError(() => again.markSeen("", 1)).code).toBe("invalid_input");
  });
});

describe("jobs", () => {
  test("insert once, read back with defaults, matches JobView", () => {
    expect(ledger.insertJob(job(1, { relay: "ws://127.0.0.1:1", encrypted: true, promptPreview: "hello" }))).toBe(true);
    expect(ledger.insertJob(job(1, { status: "error" }))).toBe(false);
    const row = ledger.getJob(id(1))!;
    expect(row).toEqual({
      id: id(1),
      kind: 5050,
      customer: "c".repeat(64),
      requestJson: job(1).requestJson,
      relay: "ws://127.0.0.1:1",
      model: null,
      status: "received",
      promptPreview: "hello",
      tokens: 0,
      tokensPerSec: null,
      amountMsats: null,
      bolt11: null,
      paymentHash: null,
      error: null,
      encrypted: true,
      resultEventId: null,
      createdAt: T0 + 1,
      updatedAt: T0 + 1,
      finishedAt: null,
    });
    expect(JobView.parse(jobRowToView(row))).toEqual(jobRowToView(row));
    expect(ledger.getJob("missing")).toBeNull();
  });

  test("invalid rows are refused before they reach the file", () => {
    expect(appError(() => ledger.insertJob(job(1, { status: "done" as never }))).code).toBe("invalid_input");
    expect(appError(() => ledger.insertJob(job(2, { tokens: -1 }))).code).toBe("invalid_input");
    expect(appError(() => ledger.insertJob({ id: id(3) } as never)).code).toBe("invalid_input");
    expect(ledger.listJobs()).toHaveLength(0);
  });

  test("updateJob patches given fields, stamps finishedAt on a terminal status, returns the row", () => {
    ledger.insertJob(job(1));
    const a = ledger.updateJob(id(1), { status: "processing", model: "llama3.2:1b", updatedAt: T0 + 100 });
    expect(a).toMatchObject({ status: "processing", model: "llama3.2:1b", updatedAt: T0 + 100, finishedAt: null });
    const b = ledger.updateJob(id(1), { status: "success", tokens: 42, tokensPerSec: 12.5, updatedAt: T0 + 200 });
    expect(b).toMatchObject({ status: "success", tokens: 42, tokensPerSec: 12.5, finishedAt: T0 + 200, model: "llama3.2:1b" });
    // finishedAt is not moved by later updates; null clears a field; an explicit finishedAt wins.
    const c = ledger.updateJob(id(1), { resultEventId: "r".repeat(64), error: null, status: "success", updatedAt: T0 + 300 });
    expect(c.finishedAt).toBe(T0 + 200);
    expect(ledger.updateJob(id(1), { finishedAt: T0 + 250 }).finishedAt).toBe(T0 + 250);
    expect(ledger.updateJob(id(1), { model: null }).model).toBeNull();
    expect(ledger.getJob(id(1))!.updatedAt).toBeGreaterThan(T0 + 300); // defaulted to now
  });

  test("updateJob: unknown id → not_found; bad patch → invalid_input with nothing changed", () => {
    expect(appError(() => ledger.updateJob("nope", { status: "paid" })).code).toBe("not_found");
    ledger.insertJob(job(1));
    expect(appError(() => ledger.updateJob(id(1), { status: "weird" as never })).code).toBe("invalid_input");
    expect(appError(() => ledger.updateJob(id(1), { id: "x" } as never)).code).toBe("invalid_input");
    expect(appError(() => ledger.updateJob(id(1), { tokens: 1.5 })).code).toBe("invalid_input");
    expect(ledger.getJob(id(1))!.status).toBe("received");
  });

  test("listJobs: newest first, status filter, limit, before", () => {
    for (let i = 1; i <= 5; i++) ledger.insertJob(job(i, { status: i % 2 ? "success" : "error" }));
    expect(ledger.listJobs().map((j) => j.id)).toEqual([5, 4, 3, 2, 1].map(id));
    expect(ledger.listJobs({ statuses: ["success"] }).map((j) => j.id)).toEqual([5, 3, 1].map(id));
    expect(ledger.listJobs({ statuses: ["success", "error"], limit: 2 }).map((j) => j.id)).toEqual([5, 4].map(id));
    expect(ledger.listJobs({ statuses: [] })).toEqual([]);
    expect(ledger.listJobs({ before: T0 + 3 }).map((j) => j.id)).toEqual([2, 1].map(id));
  });

  test("findJobByInvoice by bolt11 or payment hash, case-insensitively", () => {
    ledger.insertJob(job(1, { bolt11: "lnbcrt10n1AAA", paymentHash: "AA".repeat(32) }));
    ledger.insertJob(job(2, { bolt11: "lnbcrt10n1bbb", paymentHash: "bb".repeat(32) }));
    expect(ledger.findJobByInvoice({ bolt11: "LNBCRT10N1AAA" })?.id).toBe(id(1));
    expect(ledger.findJobByInvoice({ paymentHash: "BB".repeat(32) })?.id).toBe(id(2));
    expect(ledger.findJobByInvoice({ bolt11: "lnbcrt10n1zzz", paymentHash: "aa".repeat(32) })?.id).toBe(id(1));
    expect(ledger.findJobByInvoice({ bolt11: "lnbcrt10n1zzz" })).toBeNull();
    expect(ledger.findJobByInvoice({})).toBeNull();
    expect(ledger.getJob(id(1))!.bolt11).toBe("lnbcrt10n1aaa");
  });

  test("a damaged row gives a clear error from getJob and is skipped by listJobs", () => {
    ledger.insertJob(job(1));
    ledger.insertJob(job(2));
    // Damage that passes SQLite's own checks but not ours: a request_json that is not a string
    // can't be stored (STRICT), so use a negative updated_at written behind the ledger's back.
    const raw = new Database(path);
    raw.run(`UPDATE jobs SET updated_at = -5 WHERE id = '${id(1)}'`);
    raw.close();
    const err = appError(() => ledger.getJob(id(1)));
    expect(err.code).toBe("internal");
    expect(err.message).toContain(`jobs/${id(1)}`);
    const logged: string[] = [];
    const prev = setLogSink((line) => logged.push(line));
    try {
      expect(ledger.listJobs().map((j) => j.id)).toEqual([id(2)]);
    } finally {
      setLogSink(prev);
    }
    expect(logged.join("\n")).toContain(`jobs/${id(1)}`);
  });
});

describe("payments", () => {
  test("credited exactly once: same id twice, or same hash under another id", () => {
    ledger.insertJob(job(1, { status: "payment-required", bolt11: "lnbc1x", paymentHash: "ab".repeat(32) }));
    const p = { id: "w1", jobId: id(1), amountMsats: 10_000, bolt11: "lnbc1x", paymentHash: "ab".repeat(32), receivedAt: T0 };
    expect(ledger.creditPayment({ ...p, markJobPaid: true })).toBe(true);
    expect(ledger.creditPayment({ ...p, markJobPaid: true })).toBe(false);
    expect(ledger.creditPayment({ ...p, id: "w2", paymentHash: "AB".repeat(32) })).toBe(false);
    expect(ledger.payments()).toHaveLength(1);
    expect(ledger.getJob(id(1))!.status).toBe("paid");
    expect(ledger.earnings(new Date(T0)).allSats).toBe(10);
    // Payments without a hash are deduplicated by id alone.
    expect(ledger.creditPayment({ id: "z1", amountMsats: 1, source: "zap", receivedAt: T0 })).toBe(true);
    expect(ledger.creditPayment({ id: "z1", amountMsats: 1, source: "zap", receivedAt: T0 })).toBe(false);
    expect(ledger.creditPayment({ id: "z2", amountMsats: 1, source: "zap", receivedAt: T0 })).toBe(true);
    expect(ledger.payments({ limit: 10 }).map((x) => x.id).sort()).toEqual(["w1", "z1", "z2"]);
  });

  test("linkPayment: a payment booked without a job gets one once; the amount and other rows stay", () => {
    ledger.insertJob(job(1, { model: "llama3.2:1b" } as Partial<JobInsert>));
    ledger.insertJob(job(2));
    expect(ledger.creditPayment({ id: "plain", amountMsats: 7_000, paymentHash: "cd".repeat(32), receivedAt: T0 })).toBe(true);
    expect(ledger.creditPayment({ id: "owned", jobId: id(2), amountMsats: 3_000, receivedAt: T0 })).toBe(true);
    expect(ledger.linkPayment("plain", "f".repeat(64), "zap")).toBe(false); // no such job
    expect(ledger.linkPayment("plain", id(1), "zap")).toBe(true);
    expect(ledger.linkPayment("plain", id(2), "zap")).toBe(false); // already linked
    expect(ledger.linkPayment("owned", id(1), "zap")).toBe(false); // belongs to another job
    expect(ledger.getPayment("plain")).toMatchObject({ jobId: id(1), source: "zap", amountMsats: 7_000 });
    expect(ledger.getPayment("owned")).toMatchObject({ jobId: id(2), amountMsats: 3_000 });
    expect(ledger.earnings(new Date(T0)).allSats).toBe(10);
  });

  test("linkPayment never turns the owner's deposit (source other) into a job's payment", () => {
    ledger.insertJob(job(1));
    expect(ledger.creditPayment({ id: "deposit", amountMsats: 50_000, source: "other", receivedAt: T0 })).toBe(true);
    expect(ledger.linkPayment("deposit", id(1), "zap")).toBe(false);
    expect(ledger.getPayment("deposit")).toMatchObject({ jobId: null, source: "other" });
    expect(ledger.earnings(new Date(T0)).allSats).toBe(0);
  });

  test("markJobPaid moves only unpaid jobs; a finished job keeps its status", () => {
    ledger.insertJob(job(1, { status: "success" }));
    expect(ledger.creditPayment({ id: "w1", jobId: id(1), amountMsats: 5000, markJobPaid: true })).toBe(true);
    expect(ledger.getJob(id(1))!.status).toBe("success");
  });

  test("bigint amounts from the wallet SDK are accepted; bad input refused", () => {
    expect(ledger.creditPayment({ id: "b1", amountMsats: 21_000n, receivedAt: T0 })).toBe(true);
    expect(ledger.getPayment("b1")!.amountMsats).toBe(21_000);
    expect(appError(() => ledger.creditPayment({ id: "b2", amountMsats: -1 })).code).toBe("invalid_input");
    expect(appError(() => ledger.creditPayment({ id: "b3", amountMsats: 2n ** 60n })).code).toBe("invalid_input");
    expect(appError(() => ledger.creditPayment({ id: "", amountMsats: 1 })).code).toBe("invalid_input");
    expect(appError(() => ledger.creditPayment({ id: "b4", amountMsats: 1, source: "gift" as never })).code).toBe("invalid_input");
  });

  test("a failure half way leaves neither the payment nor the job change", () => {
    ledger.insertJob(job(1, { status: "payment-required" }));
    const raw = new Database(path);
    raw.run(`CREATE TRIGGER refuse_paid BEFORE UPDATE OF status ON jobs WHEN NEW.status = 'paid'
             BEGIN SELECT RAISE(ABORT, 'refused by test'); END`);
    raw.close();
    expect(() => ledger.creditPayment({ id: "w1", jobId: id(1), amountMsats: 1000, markJobPaid: true })).toThrow("refused by test");
    expect(ledger.payments()).toHaveLength(0);
    expect(ledger.getJob(id(1))!.status).toBe("payment-required");
    // The same payment can be credited once the obstacle is gone.
    const fix = new Database(path);
    fix.run("DROP TRIGGER refuse_paid");
    fix.close();
    expect(ledger.creditPayment({ id: "w1", jobId: id(1), amountMsats: 1000, markJobPaid: true })).toBe(true);
    expect(ledger.getJob(id(1))!.status).toBe("paid");
  });
});

describe("concurrency", () => {
  test("a second connection reads committed data and is not blocked by an open write", () => {
    ledger.insertJob(job(1));
    const reader = open();
    expect(reader.getJob(id(1))).not.toBeNull();
    // Hold a write transaction open on a third connection: in WAL mode readers carry on and see
    // only what was committed.
    const writer = new Database(path);
    writer.run("PRAGMA busy_timeout = 100");
    writer.run("BEGIN IMMEDIATE");
    writer.run(
      `INSERT INTO jobs (id, kind, customer, request_json, status, created_at, updated_at)
       VALUES ('${id(2)}', 5050, 'c', '{}', 'received', ${T0 + 2}, ${T0 + 2})`,
    );
    const t = performance.now();
    expect(reader.listJobs().map((j) => j.id)).toEqual([id(1)]);
    expect(reader.earnings(new Date(T0)).allJobs).toBe(0);
    expect(performance.now() - t).toBeLessThan(50);
    writer.run("COMMIT");
    writer.close();
    expect(reader.listJobs().map((j) => j.id)).toEqual([id(2), id(1)]);
    // Both ledgers write in turn without SQLITE_BUSY.
    for (let i = 0; i < 20; i++) {
      expect((i % 2 ? ledger : reader).creditPayment({ id: `p${i}`, amountMsats: 1000, receivedAt: T0 })).toBe(true);
    }
    expect(ledger.earnings(new Date(T0)).allSats).toBe(20);
  });
});

describe("earnings", () => {
  test("shape matches the Earnings schema; empty ledger is zero-filled", () => {
    const e = ledger.earnings(new Date(T0));
    expect(Earnings.parse(e)).toEqual(e);
    expect(e.days).toHaveLength(14);
    expect(e.days.every((d) => d.sats === 0 && d.jobs === 0)).toBe(true);
    expect(e.days[13]!.date).toBe("2026-03-10");
    expect(e.days[0]!.date).toBe("2026-02-25");
    expect(e.byModel).toEqual([]);
  });

  test("today / week (from Monday) / all time across day and week boundaries", () => {
    const at = (y: number, m: number, d: number, h = 12, min = 0) => new Date(y, m - 1, d, h, min).getTime();
    const now = new Date(2026, 2, 11, 9, 30); // Wednesday 11 March 2026, 09:30 local
    let i = 0;
    const paidJob = (finished: number, msats: number, model = "llama3.2:1b") => {
      i++;
      ledger.insertJob(job(i, { status: "success", model, createdAt: finished - 1000, updatedAt: finished, finishedAt: finished }));
      ledger.creditPayment({ id: `p${i}`, jobId: id(i), amountMsats: msats, paymentHash: `${i}`.padStart(64, "0"), receivedAt: finished - 500 });
    };
    paidJob(at(2026, 3, 11, 0, 0, ) + 1000, 1_500); // today, just after midnight
    paidJob(at(2026, 3, 10, 23, 59), 2_000); // yesterday (Tuesday) late
    paidJob(at(2026, 3, 9, 0, 1), 4_000, "qwen3:4b"); // Monday: still this week
    paidJob(at(2026, 3, 8, 23, 59), 8_000, "qwen3:4b"); // Sunday: last week
    paidJob(at(2026, 2, 26, 12), 16_000); // 13 days ago: first of the 14 days
    paidJob(at(2026, 2, 25, 12), 32_000); // 14 days ago: outside the days array
    paidJob(at(2026, 3, 12, 12), 64_000); // tomorrow (clock skew): only all-time
    // A failed job and an unlinked zap.
    ledger.insertJob(job(100, { status: "error", model: "llama3.2:1b", finishedAt: at(2026, 3, 11, 8) }));
    ledger.creditPayment({ id: "zap", amountMsats: 333, source: "zap", receivedAt: at(2026, 3, 11, 8) });

    const e = ledger.earnings(now);
    expect(Earnings.parse(e)).toEqual(e);
    expect(e.todaySats).toBe(1.5 + 0.333);
    expect(e.todayJobs).toBe(1);
    expect(e.weekSats).toBe(1.5 + 0.333 + 2 + 4);
    expect(e.weekJobs).toBe(3);
    expect(e.allSats).toBe((1_500 + 2_000 + 4_000 + 8_000 + 16_000 + 32_000 + 64_000 + 333) / 1000);
    expect(e.allJobs).toBe(7);
    expect(e.days.map((d) => d.date)).toEqual(
      Array.from({ length: 14 }, (_, k) => {
        const d = new Date(2026, 1, 26 + k);
        return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
      }),
    );
    const byDate = Object.fromEntries(e.days.map((d) => [d.date, d]));
    expect(byDate["2026-03-11"]).toEqual({ date: "2026-03-11", sats: 1.833, jobs: 1 });
    expect(byDate["2026-03-10"]).toEqual({ date: "2026-03-10", sats: 2, jobs: 1 });
    expect(byDate["2026-03-09"]).toEqual({ date: "2026-03-09", sats: 4, jobs: 1 });
    expect(byDate["2026-03-08"]).toEqual({ date: "2026-03-08", sats: 8, jobs: 1 });
    expect(byDate["2026-02-26"]).toEqual({ date: "2026-02-26", sats: 16, jobs: 1 });
    expect(e.days.reduce((s, d) => s + d.jobs, 0)).toBe(5);
    expect(e.byModel).toEqual([
      { model: "llama3.2:1b", sats: 1.5 + 2 + 16 + 32 + 64, jobs: 5 },
      { model: "qwen3:4b", sats: 12, jobs: 2 },
    ]);

    // On Sunday the week still started last Monday; on the next Monday it restarts.
    const sunday = ledger.earnings(new Date(2026, 2, 15, 23, 0));
    expect(sunday.weekJobs).toBe(4); // Mon 9 … Thu 12
    const monday = ledger.earnings(new Date(2026, 2, 16, 0, 0));
    expect(monday.weekJobs).toBe(0);
    expect(monday.todaySats).toBe(0);
  });

  test("payments just before and at local midnight fall on different days", () => {
    const midnight = new Date(2026, 2, 10).getTime();
    ledger.creditPayment({ id: "before", amountMsats: 1000, receivedAt: midnight - 1 });
    ledger.creditPayment({ id: "at", amountMsats: 2000, receivedAt: midnight });
    const e = ledger.earnings(new Date(midnight + 60_000));
    expect(e.todaySats).toBe(2);
    expect(e.days[12]).toEqual({ date: "2026-03-09", sats: 1, jobs: 0 });
    expect(e.days[13]).toEqual({ date: "2026-03-10", sats: 2, jobs: 0 });
  });
});
