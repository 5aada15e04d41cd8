// The ledger checkpoints its WAL in a quiet moment, not inside a commit in the middle of a burst of
// jobs (issue 16): in WAL mode the database file itself only changes at a checkpoint, so its size
// shows when one ran.
import { expect, test } from "bun:test";
import { statSync } from "node:fs";
import type { JobInsert } from "../../src/ledger/ledger.ts";
import { ledgerPerTest } from "../fixtures/temp-ledger.ts";

const t = ledgerPerTest("ledger-checkpoint");

const id = (i: number) => i.toString(16).padStart(64, "0");
const job = (i: number): JobInsert => ({
  id: id(i),
  kind: 5050,
  customer: "c".repeat(64),
  requestJson: JSON.stringify({ id: id(i), content: "a request of some length ".repeat(40) }),
  status: "processing",
  promptPreview: "a prompt",
  createdAt: 1_760_000_000_000 + i,
});

test("a burst of jobs commits without checkpointing; the WAL goes into the file once writes pause", async () => {
  const size = () => statSync(t.path).size;
  const before = size();
  // Well past SQLite's default of a checkpoint every 1000 WAL pages (one commit per write here).
  for (let i = 0; i < 600; i++) {
    t.ledger.admitJob(job(i), 5050);
    t.ledger.patchJob(id(i), { status: "success", tokens: 10 });
  }
  expect(statSync(`${t.path}-wal`).size).toBeGreaterThan(1000 * 4096);
  expect(size()).toBe(before);
  // Quiet: within a few of the checker's periods the pages are in the database file.
  const deadline = Date.now() + 3000;
  while (size() === before && Date.now() < deadline) await Bun.sleep(50);
  expect(size()).toBeGreaterThan(before + 500 * 1024);
  // Everything is there, from the file alone after a reopen.
  const again = t.reopen();
  expect(again.getJob(id(599))?.status).toBe("success");
  expect(again.listJobs({ limit: 2000 }).length).toBe(600);
});

test("a few writes wait for more before a checkpoint of their own", async () => {
  const before = statSync(t.path).size;
  t.ledger.admitJob(job(1), 5050);
  await Bun.sleep(900);
  expect(statSync(t.path).size).toBe(before);
  expect(t.ledger.getJob(id(1))?.status).toBe("processing");
});

test("a crash (kill -9) after a burst of commits, before any checkpoint, loses no committed job", async () => {
  // A child process writes 600 jobs, one commit each, then kills itself before the quiet
  // checkpoint could run: everything committed must be there when the file is opened again.
  t.ledger.close();
  const child = Bun.spawn(
    [
      process.execPath,
      "-e",
      `import { Ledger } from ${JSON.stringify(new URL("../../src/ledger/ledger.ts", import.meta.url).pathname)};
       const l = Ledger.open(${JSON.stringify(t.path)});
       for (let i = 0; i < 600; i++) {
         const id = i.toString(16).padStart(64, "0");
         l.admitJob({ id, kind: 5050, customer: "c".repeat(64), requestJson: "{}", status: "processing", createdAt: 1_760_000_000_000 + i }, 5050);
         l.patchJob(id, { status: "success", tokens: 1 });
       }
       process.kill(process.pid, "SIGKILL");`,
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  expect(await child.exited).not.toBe(0);
  expect(statSync(`${t.path}-wal`).size).toBeGreaterThan(1000 * 4096);
  const again = t.reopen();
  expect(again.listJobs({ limit: 1000 }).filter((j) => j.status === "success").length).toBe(600);
});
