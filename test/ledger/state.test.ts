// The ledger's business-state tables through their named methods: pending results, zap targets,
// free jobs per customer, the announcement's d tag and time, GPU time per day.
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger } from "../../src/ledger/ledger.ts";
import { setLogSink } from "../../src/log.ts";
import type { NostrEvent } from "../../src/nostr/nip90.ts";
import { appError } from "../fixtures/common.ts";

const root = mkdtempSync(join(tmpdir(), "compute-ledger-state-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let path: string;
let ledger: Ledger;
beforeEach(() => {
  path = join(root, `case-${n++}`, "ledger.sqlite");
  ledger = Ledger.open(path);
});
afterEach(() => ledger.close());

const id = (i: number) => i.toString(16).padStart(64, "0");
const T0 = 1_770_000_000_000;
const event = (i: number): NostrEvent => ({
  id: id(500 + i),
  pubkey: "p".repeat(64),
  created_at: 1_780_000_000 + i,
  kind: 6050,
  tags: [["e", id(i)]],
  content: `result ${i}`,
  sig: "s".repeat(128),
});
function reopen(): Ledger {
  ledger.close();
  ledger = Ledger.open(path);
  return ledger;
}
function job(i: number, finishedAt: number | null) {
  ledger.insertJob({ id: id(i), kind: 5050, customer: "c", requestJson: "{}", status: finishedAt === null ? "processing" : "success", createdAt: T0, finishedAt });
}

describe("pending results", () => {
  test("kept, replaced, listed by job id, dropped; survive reopen", () => {
    ledger.keepPendingResult(id(2), event(2), ["wss://x.example"]);
    ledger.keepPendingResult(id(1), event(9));
    ledger.keepPendingResult(id(1), event(1));
    expect(reopen().pendingResults()).toEqual([
      { jobId: id(1), event: event(1), relays: [] },
      { jobId: id(2), event: event(2), relays: ["wss://x.example"] },
    ]);
    ledger.dropPendingResult(id(1));
    ledger.dropPendingResult(id(7)); // not kept: nothing happens
    expect(ledger.pendingResults().map((r) => r.jobId)).toEqual([id(2)]);
    expect(appError(() => ledger.keepPendingResult("", event(1))).code).toBe("invalid_input");
  });

  test("a damaged row is left out and removed; the others still come back", () => {
    ledger.keepPendingResult(id(1), event(1));
    ledger.keepPendingResult(id(2), event(2));
    ledger.close();
    const raw = new Database(path);
    raw.run(`UPDATE pending_results SET event_json = '{"id": 5' WHERE job_id = '${id(1)}'`);
    raw.close();
    ledger = Ledger.open(path);
    const logged: string[] = [];
    const prev = setLogSink((line) => logged.push(line));
    try {
      expect(ledger.pendingResults().map((r) => r.jobId)).toEqual([id(2)]);
      expect(ledger.pendingResults().map((r) => r.jobId)).toEqual([id(2)]);
    } finally {
      setLogSink(prev);
    }
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain(id(1));
  });
});

describe("zap targets", () => {
  test("set, read, overwritten; pruned with the jobs finished before the cut only", () => {
    job(1, T0 + 1_000);
    job(2, T0 + 9_000);
    job(3, null);
    ledger.setZapTarget("a", id(1));
    ledger.setZapTarget("b", id(1));
    ledger.setZapTarget("c", id(2));
    ledger.setZapTarget("d", id(3));
    ledger.setZapTarget("e", id(3));
    ledger.setZapTarget("e", id(2));
    expect(["a", "c", "d", "e", "z"].map((e) => ledger.zapTarget(e))).toEqual([id(1), id(2), id(3), id(2), null]);
    expect(ledger.pruneZapTargets(T0 + 5_000)).toBe(2);
    expect(["a", "b", "c", "d", "e"].map((e) => reopen().zapTarget(e))).toEqual([null, null, id(2), id(3), id(2)]);
    expect(ledger.pruneZapTargets(T0 + 5_000)).toBe(0);
    expect(appError(() => ledger.pruneZapTargets(Number.NaN)).code).toBe("invalid_input");
    expect(appError(() => ledger.setZapTarget("x", "")).code).toBe("invalid_input");
  });
});

describe("free jobs per customer", () => {
  test("counted one at a time per customer, from 0; survive reopen", () => {
    expect(ledger.freeJobsUsed("alice")).toBe(0);
    ledger.countFreeJob("alice");
    ledger.countFreeJob("alice");
    ledger.countFreeJob("bob");
    expect([reopen().freeJobsUsed("alice"), ledger.freeJobsUsed("bob"), ledger.freeJobsUsed("carol")]).toEqual([2, 1, 0]);
  });

  test("two connections counting at once lose no count", () => {
    const other = Ledger.open(path);
    try {
      for (let i = 0; i < 50; i++) {
        ledger.countFreeJob("alice");
        other.countFreeJob("alice");
      }
      expect(ledger.freeJobsUsed("alice")).toBe(100);
    } finally {
      other.close();
    }
  });
});

describe("announcement", () => {
  test("the d tag and the last created_at are kept apart and survive reopen", () => {
    expect([ledger.announcementTag(), ledger.lastAnnouncementAt()]).toEqual([null, null]);
    ledger.setLastAnnouncementAt(1_780_000_001);
    expect(ledger.announcementTag()).toBeNull();
    ledger.setAnnouncementTag("00ff00ff00ff00ff");
    ledger.setLastAnnouncementAt(1_780_000_002);
    expect([reopen().announcementTag(), ledger.lastAnnouncementAt()]).toEqual(["00ff00ff00ff00ff", 1_780_000_002]);
    expect(appError(() => ledger.setAnnouncementTag("")).code).toBe("invalid_input");
    expect(appError(() => ledger.setLastAnnouncementAt(1.5)).code).toBe("invalid_input");
  });
});

describe("GPU time per day", () => {
  test("added per day, read as 0 for a day with none; survives reopen", () => {
    ledger.addGpuMs("2026-03-10", 1_000);
    ledger.addGpuMs("2026-03-10", 250.5);
    ledger.addGpuMs("2026-03-11", 0);
    expect([reopen().gpuMs("2026-03-10"), ledger.gpuMs("2026-03-11"), ledger.gpuMs("2026-03-12")]).toEqual([1_250.5, 0, 0]);
    expect(appError(() => ledger.addGpuMs("2026-03-10", -1)).code).toBe("invalid_input");
    expect(appError(() => ledger.addGpuMs("2026-03-10", Number.NaN)).code).toBe("invalid_input");
  });
});
