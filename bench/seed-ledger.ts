// A ledger with a long history, fast: the product's own Ledger.open creates the file and applies
// every migration (so the schema is exactly the product's), then plain INSERTs in one transaction
// fill it with finished jobs and payments spread over the last `days` days. 100,000 jobs and
// 20,000 payments take about a second. Used by the bench's long-history phase
// (bench/cold.ts); also runnable: `bun bench/seed-ledger.ts FILE [jobs] [payments]`.
import { Database } from "bun:sqlite";
import { Ledger } from "../src/ledger/ledger.ts";

export interface SeedOptions {
  jobs: number;
  payments: number;
  /** History spread evenly over this many days before `now`. Default 90. */
  days?: number;
  now?: number;
}

export interface SeedResult {
  jobs: number;
  payments: number;
  ms: number;
  bytes: number;
}

const MODELS = ["llama3.2:latest", "qwen2.5:7b", "mistral:latest"];
const hexTable = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (let i = 0; i < b.length; i++) s += hexTable[b[i]!];
  return s;
}

export function seedLedger(path: string, opts: SeedOptions): SeedResult {
  const t0 = performance.now();
  const now = opts.now ?? Date.now();
  const spanMs = (opts.days ?? 90) * 86_400_000;
  // The product's schema, every migration applied.
  Ledger.open(path).close();
  const db = new Database(path);
  try {
    db.run("PRAGMA journal_mode = WAL");
    db.run("PRAGMA synchronous = OFF");
    const insertJob = db.prepare(
      `INSERT INTO jobs (id, kind, customer, request_json, relay, model, status, prompt_preview, tokens, tokens_per_sec,
         amount_msats, bolt11, payment_hash, error, encrypted, result_event_id, created_at, updated_at, finished_at)
       VALUES (?, 5050, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, 0, ?, ?, ?, ?)`,
    );
    const insertPayment = db.prepare(
      `INSERT INTO payments (id, job_id, amount_msats, bolt11, payment_hash, source, received_at) VALUES (?, ?, ?, NULL, ?, ?, ?)`,
    );
    const customers = Array.from({ length: 2000 }, () => randomHex(32));
    // Every payment goes to a successful job, spread over the history (every k-th success is paid).
    const successShare = 0.92;
    const paidEvery = Math.max(1, Math.floor((opts.jobs * successShare) / Math.max(1, opts.payments)));
    let paid = 0;
    let successes = 0;
    db.transaction(() => {
      for (let i = 0; i < opts.jobs; i++) {
        const id = randomHex(32);
        const customer = customers[i % customers.length]!;
        const createdAt = Math.floor(now - spanMs + (spanMs * (i + 0.5)) / opts.jobs);
        const roll = (i * 7919) % 100;
        const status = roll < successShare * 100 ? "success" : roll < 96 ? "error" : roll < 98 ? "expired" : "cancelled";
        const model = MODELS[i % MODELS.length]!;
        const prompt = `Question ${i}: what is ${i % 97} plus ${i % 89}?`;
        const request = JSON.stringify({
          id,
          pubkey: customer,
          created_at: Math.floor(createdAt / 1000),
          kind: 5050,
          tags: [
            ["i", prompt, "text"],
            ["param", "model", model],
            ["param", "max_tokens", "256"],
          ],
          content: "",
          sig: randomHex(64),
        });
        const finishedAt = createdAt + 800 + (i % 5000);
        const tokens = status === "success" ? 40 + (i % 200) : 0;
        const paidJob = status === "success" && paid < opts.payments && successes++ % paidEvery === 0;
        const amount = paidJob ? 10_000 + (i % 50) * 1000 : null;
        const hash = paidJob ? randomHex(32) : null;
        insertJob.run(
          id,
          customer,
          request,
          "ws://127.0.0.1:1",
          model,
          status,
          prompt.slice(0, 120),
          tokens,
          tokens ? 25 + (i % 30) : null,
          amount,
          hash,
          status === "error" ? "the model stopped answering" : null,
          status === "success" ? randomHex(32) : null,
          createdAt,
          finishedAt,
          finishedAt,
        );
        if (paidJob) {
          insertPayment.run(randomHex(16), id, amount, hash, i % 10 === 0 ? "zap" : "invoice", createdAt + 400);
          paid++;
        }
      }
      // Payments beyond the paid jobs (fewer successes than asked): deposits with no job.
      for (; paid < opts.payments; paid++) insertPayment.run(randomHex(16), null, 50_000, randomHex(32), "other", now - (paid % 1000) * 60_000);
    })();
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  return { jobs: opts.jobs, payments: opts.payments, ms: performance.now() - t0, bytes: Bun.file(path).size };
}

if (import.meta.main) {
  const [file, jobs, payments] = Bun.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: bun bench/seed-ledger.ts FILE [jobs=100000] [payments=20000]\n");
    process.exit(2);
  }
  const r = seedLedger(file, { jobs: Number(jobs ?? 100_000), payments: Number(payments ?? 20_000) });
  process.stdout.write(`${r.jobs} jobs, ${r.payments} payments in ${r.ms.toFixed(0)} ms (${(r.bytes / 1e6).toFixed(1)} MB)\n`);
}
