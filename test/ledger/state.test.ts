// The ledger's business-state tables through their named methods: pending results, zap targets,
// free jobs per customer, the announcement's d tag and time, GPU time per day.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { Ledger } from "../../src/ledger/ledger.ts";
import { setLogSink } from "../../src/log.ts";
import type { NostrEvent } from "../../src/nostr/nip90.ts";
import { appError } from "../fixtures/common.ts";
import { ledgerPerTest } from "../fixtures/temp-ledger.ts";

const t = ledgerPerTest("ledger-state");

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
const reopen = () => t.reopen();
function job(i: number, finishedAt: number | null) {
  t.ledger.insertJob({ id: id(i), kind: 5050, customer: "c", requestJson: "{}", status: finishedAt === null ? "processing" : "success", createdAt: T0, finishedAt });
}

describe("pending results", () => {
  test("kept, replaced, listed by job id, dropped; survive reopen", () => {
    t.ledger.keepPendingResult(id(2), event(2), ["wss://x.example"]);
    t.ledger.keepPendingResult(id(1), event(9));
    t.ledger.keepPendingResult(id(1), event(1));
    expect(reopen().pendingResults()).toEqual([
      { jobId: id(1), event: event(1), relays: [] },
      { jobId: id(2), event: event(2), relays: ["wss://x.example"] },
    ]);
    t.ledger.dropPendingResult(id(1));
    t.ledger.dropPendingResult(id(7)); // not kept: nothing happens
    expect(t.ledger.pendingResults().map((r) => r.jobId)).toEqual([id(2)]);
    expect(appError(() => t.ledger.keepPendingResult("", event(1))).code).toBe("invalid_input");
  });

  test("a damaged row is left out and removed; the others still come back", () => {
    t.ledger.keepPendingResult(id(1), event(1));
    t.ledger.keepPendingResult(id(2), event(2));
    const raw = new Database(t.path);
    raw.run(`UPDATE pending_results SET event_json = '{"id": 5' WHERE job_id = '${id(1)}'`);
    raw.close();
    reopen();
    const logged: string[] = [];
    const prev = setLogSink((line) => logged.push(line));
    try {
      expect(t.ledger.pendingResults().map((r) => r.jobId)).toEqual([id(2)]);
      expect(t.ledger.pendingResults().map((r) => r.jobId)).toEqual([id(2)]);
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
    t.ledger.setZapTarget("a", id(1));
    t.ledger.setZapTarget("b", id(1));
    t.ledger.setZapTarget("c", id(2));
    t.ledger.setZapTarget("d", id(3));
    t.ledger.setZapTarget("e", id(3));
    t.ledger.setZapTarget("e", id(2));
    expect(["a", "c", "d", "e", "z"].map((e) => t.ledger.zapTarget(e))).toEqual([id(1), id(2), id(3), id(2), null]);
    expect(t.ledger.pruneZapTargets(T0 + 5_000)).toBe(2);
    expect(["a", "b", "c", "d", "e"].map((e) => reopen().zapTarget(e))).toEqual([null, null, id(2), id(3), id(2)]);
    expect(t.ledger.pruneZapTargets(T0 + 5_000)).toBe(0);
    expect(appError(() => t.ledger.pruneZapTargets(Number.NaN)).code).toBe("invalid_input");
    expect(appError(() => t.ledger.setZapTarget("x", "")).code).toBe("invalid_input");
  });
});

describe("free jobs per customer", () => {
  test("counted one at a time per customer, from 0; survive reopen", () => {
    expect(t.ledger.freeJobsUsed("alice")).toBe(0);
    t.ledger.countFreeJob("alice");
    t.ledger.countFreeJob("alice");
    t.ledger.countFreeJob("bob");
    expect([reopen().freeJobsUsed("alice"), t.ledger.freeJobsUsed("bob"), t.ledger.freeJobsUsed("carol")]).toEqual([2, 1, 0]);
  });

  test("two connections counting at once lose no count", () => {
    const other = Ledger.open(t.path);
    try {
      for (let i = 0; i < 50; i++) {
        t.ledger.countFreeJob("alice");
        other.countFreeJob("alice");
      }
      expect(t.ledger.freeJobsUsed("alice")).toBe(100);
    } finally {
      other.close();
    }
  });
});

describe("announcement", () => {
  test("the d tag and the last created_at are kept apart and survive reopen", () => {
    expect([t.ledger.announcementTag(), t.ledger.lastAnnouncementAt()]).toEqual([null, null]);
    t.ledger.setLastAnnouncementAt(1_780_000_001);
    expect(t.ledger.announcementTag()).toBeNull();
    t.ledger.setAnnouncementTag("00ff00ff00ff00ff");
    t.ledger.setLastAnnouncementAt(1_780_000_002);
    expect([reopen().announcementTag(), t.ledger.lastAnnouncementAt()]).toEqual(["00ff00ff00ff00ff", 1_780_000_002]);
    expect(appError(() => t.ledger.setAnnouncementTag("")).code).toBe("invalid_input");
    expect(appError(() => t.ledger.setLastAnnouncementAt(1.5)).code).toBe("invalid_input");
  });
});

describe("GPU time per day", () => {
  test("added per day, read as 0 for a day with none; survives reopen", () => {
    t.ledger.addGpuMs("2026-03-10", 1_000);
    t.ledger.addGpuMs("2026-03-10", 250.5);
    t.ledger.addGpuMs("2026-03-11", 0);
    expect([reopen().gpuMs("2026-03-10"), t.ledger.gpuMs("2026-03-11"), t.ledger.gpuMs("2026-03-12")]).toEqual([1_250.5, 0, 0]);
    expect(appError(() => t.ledger.addGpuMs("2026-03-10", -1)).code).toBe("invalid_input");
    expect(appError(() => t.ledger.addGpuMs("2026-03-10", Number.NaN)).code).toBe("invalid_input");
  });
});
