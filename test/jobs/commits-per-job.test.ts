// How many ledger commits a job costs (issue 16: six write transactions per job — admit, queued,
// processing, the kept result, success, its deletion — were ~40 pwrite and 40 fcntl calls a job).
// Counted for real: every commit appends frames to the WAL file, the last of which carries the
// database size (non-zero only on a commit frame), so commits are read from the file itself.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { providerSuite, until } from "./harness.ts";

const { fake, provider } = providerSuite();

/** Commit frames in a WAL file (sqlite.org/fileformat2.html#walformat), of its current salt. */
function walCommits(path: string): number {
  let buf: Buffer;
  try {
    buf = readFileSync(`${path}-wal`);
  } catch {
    return 0;
  }
  if (buf.length < 32) return 0;
  const pageSize = buf.readUInt32BE(8);
  const salt1 = buf.readUInt32BE(16);
  const salt2 = buf.readUInt32BE(20);
  let commits = 0;
  for (let off = 32; off + 24 + pageSize <= buf.length; off += 24 + pageSize) {
    if (buf.readUInt32BE(off + 8) !== salt1 || buf.readUInt32BE(off + 12) !== salt2) break;
    if (buf.readUInt32BE(off + 4) !== 0) commits++;
  }
  return commits;
}

test("free jobs through a queue: at most 2 ledger commits each (admission, the kept result with success), housekeeping batched", async () => {
  fake.setPacing({ instant: true });
  const p = await provider({ config: { limits: { maxConcurrentJobs: 1, queueSize: 16, maxQueuedPerCustomer: 16, perCustomerPerMinute: 1000 } } });
  // Settled first: going online wrote its own rows (announcement time, …).
  await Bun.sleep(1500);
  const before = walCommits(p.ledgerPath);
  const c = p.customer;
  const reqs = Array.from({ length: 12 }, (_, i) => c.request({ inputs: [[`question ${i}`, "text"]] }));
  for (const r of reqs) await c.publish(r);
  for (const r of reqs) await c.waitForResult(r.id);
  // The kept results' deletions go in one later commit.
  await Bun.sleep(1500);
  const perJob = (walCommits(p.ledgerPath) - before) / reqs.length;
  await until(() => reqs.every((r) => p.ledger.getJob(r.id)?.status === "success"), 3000, "all recorded as done");
  expect(p.ledger.pendingResults()).toEqual([]);
  expect(perJob).toBeLessThanOrEqual(2.5);
});
