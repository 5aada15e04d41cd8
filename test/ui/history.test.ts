import { expect, test } from "bun:test";
import { historyRows, type WalletHistory } from "../../ui/history.ts";

const h: WalletHistory = {
  payments: [
    { id: "r1", jobId: "job-1", amountMsats: 21_000, source: "invoice", receivedAt: 1_000 },
    { id: "r2", jobId: null, amountMsats: 5_500, source: "zap", receivedAt: 3_000 },
  ],
  sent: [
    { id: "s1", status: "completed", amountSats: 100, feeSats: 2, sentAt: 2_000, method: "lightning", description: "coffee" },
    { id: "s2", status: "failed", amountSats: 50, feeSats: 1, sentAt: 4_000, method: "spark", description: null },
    { id: "s3", status: "pending", amountSats: 7, feeSats: 0, sentAt: 5_000, method: "bitcoin", description: null },
  ],
  sentError: null,
};

test("received and sent merged newest first; a send counts its fee, a failed one nothing", () => {
  const rows = historyRows(h);
  expect(rows.map((r) => [r.key, r.deltaMsats, r.flag])).toEqual([
    ["s:s3", -7_000, "pending"],
    ["s:s2", 0, "failed"],
    ["r:r2", 5_500, null],
    ["s:s1", -102_000, null],
    ["r:r1", 21_000, null],
  ]);
  expect(rows.map((r) => r.what)).toEqual(["sent on-chain", "sent to a Spark address, fee 1 sat", "zap", "sent over Lightning, fee 2 sats: coffee", "invoice"]);
  expect(historyRows({ ...h, payments: [{ id: "d", jobId: null, amountMsats: 1_000, source: "other", receivedAt: 9 }] })[0]?.what).toBe("sent on-chain");
  expect(historyRows({ payments: [{ id: "d", jobId: null, amountMsats: 1_000, source: "other", receivedAt: 9 }], sent: [], sentError: null })[0]?.what).toBe("deposit");
  expect(rows.at(-1)?.jobId).toBe("job-1");
});

test("no sent list (wallet away): the receives alone; the limit counts both kinds", () => {
  expect(historyRows({ ...h, sent: null, sentError: "away" }).map((r) => r.key)).toEqual(["r:r2", "r:r1"]);
  expect(historyRows(h, 2).map((r) => r.key)).toEqual(["s:s3", "s:s2"]);
});

test("a payment that came too late to be served says so, with the customer who paid", () => {
  const late = { id: "l", jobId: "job-9", amountMsats: 4_000, source: "invoice" as const, receivedAt: 9, note: "paid late: not served", customer: "ab".repeat(32) };
  expect(historyRows({ payments: [late], sent: [], sentError: null })[0]?.what).toBe(`invoice — paid late: not served (customer ${"ab".repeat(32)})`);
});
