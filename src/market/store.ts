// The market's own SQLite file (market.sqlite in the data dir), apart from the ledger: market data
// is a cache of public relay traffic, worthless to back up and safe to delete, and keeping it out
// of the ledger keeps its writes and migrations away from the money. Bounded: 30 days, a row cap,
// one announcement/profile/heartbeat per pubkey. Also keeps the hardware benchmarks.
import { Database } from "bun:sqlite";
import { existsSync, renameSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { HANDLER_INFO, HEARTBEAT, PROFILE } from "../nostr/kinds.ts";
import type { MarketRecord, ProviderInfo } from "./records.ts";

const log = createLogger("market.store");

export const MARKET_FILE = "market.sqlite";
export const RETENTION_DAYS = 30;
export const DEFAULT_ROW_CAP = 50_000;
/** Kinds of which only the newest per pubkey is kept (replaceable in practice). */
const LATEST_ONLY = [PROFILE, HANDLER_INFO, HEARTBEAT];

export const marketPath = (dataDir: string) => join(dataDir, MARKET_FILE);

export interface BenchmarkRecord {
  model: string;
  machine: string;
  /** unix ms */
  at: number;
  ttftMs: number;
  tokensPerSec: number;
  concurrency: number;
  tokensPerSecConcurrent: number;
  jobsPerHour: number;
  maxTokens: number;
  backend: string | null;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS market_events (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          INTEGER NOT NULL,
    pubkey        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    ref           TEXT,
    model         TEXT,
    bid_msats     INTEGER,
    amount_msats  INTEGER,
    status        TEXT,
    target        TEXT,
    encrypted     INTEGER NOT NULL DEFAULT 0,
    tokens        INTEGER,
    info          TEXT
  ) STRICT;
  CREATE INDEX IF NOT EXISTS market_by_time ON market_events (created_at);
  CREATE INDEX IF NOT EXISTS market_by_kind ON market_events (kind, created_at);
  CREATE INDEX IF NOT EXISTS market_by_author ON market_events (pubkey, kind);
  CREATE TABLE IF NOT EXISTS benchmarks (
    model      TEXT NOT NULL,
    machine    TEXT NOT NULL,
    at         INTEGER NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (model, machine)
  ) STRICT;
`;

interface Row {
  id: string;
  kind: number;
  pubkey: string;
  created_at: number;
  received_at: number;
  ref: string | null;
  model: string | null;
  bid_msats: number | null;
  amount_msats: number | null;
  status: string | null;
  target: string | null;
  encrypted: number;
  tokens: number | null;
  info: string | null;
}

function fromRow(r: Row): MarketRecord {
  let info: ProviderInfo | null = null;
  if (r.info) {
    try {
      info = JSON.parse(r.info) as ProviderInfo;
    } catch {
      info = null;
    }
  }
  return {
    id: r.id,
    kind: r.kind,
    pubkey: r.pubkey,
    createdAt: r.created_at,
    receivedAt: r.received_at,
    ref: r.ref,
    model: r.model,
    bidMsats: r.bid_msats,
    amountMsats: r.amount_msats,
    status: r.status,
    target: r.target,
    encrypted: r.encrypted === 1,
    tokens: r.tokens,
    info,
  };
}

function openDb(path: string): Database {
  const db = new Database(path, { create: true, strict: true });
  try {
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA busy_timeout = 2000;");
    db.exec(SCHEMA);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

export class MarketStore {
  private constructor(
    private readonly db: Database,
    readonly rowCap: number,
  ) {}

  /**
   * Opens (creating if needed) the market file. It is a cache, so its writes never wait for the
   * disk (synchronous OFF: no fsync, in a commit or a checkpoint; a checkpoint's fsync in the
   * middle of a burst held every job ~20 ms). A power cut can then damage it: a file SQLite can't
   * read is moved aside (market.sqlite.damaged-TIME, with its -wal) and a fresh one started.
   */
  static open(path: string, opts: { rowCap?: number } = {}): MarketStore {
    const rowCap = Math.max(100, opts.rowCap ?? DEFAULT_ROW_CAP);
    try {
      return new MarketStore(openDb(path), rowCap);
    } catch (err) {
      const msg = (err as Error).message;
      if (!/not a database|malformed|file is encrypted|disk image/i.test(msg)) throw new AppError("unavailable", `The market file ${path} can't be opened (${msg}).`, { path });
      const aside = `${path}.damaged-${Date.now()}`;
      try {
        renameSync(path, aside);
        for (const ext of ["-wal", "-shm"]) if (existsSync(path + ext)) renameSync(path + ext, aside + ext);
        log.warn("the market file was damaged: moved aside, starting a fresh one (the market view refills from the relays)", { path, aside, err: msg });
        return new MarketStore(openDb(path), rowCap);
      } catch (again) {
        throw new AppError("unavailable", `The market file ${path} can't be opened (${msg}; moving it aside: ${(again as Error).message}).`, { path });
      }
    }
  }

  close(): void {
    this.db.close();
  }

  /** Adds records (one transaction); an id already stored is ignored. Returns how many were new. */
  insert(records: readonly MarketRecord[]): number {
    if (records.length === 0) return 0;
    const ins = this.db.prepare(
      `INSERT OR IGNORE INTO market_events (id, kind, pubkey, created_at, received_at, ref, model, bid_msats, amount_msats, status, target, encrypted, tokens, info)
       VALUES ($id, $kind, $pubkey, $created_at, $received_at, $ref, $model, $bid, $amount, $status, $target, $encrypted, $tokens, $info)`,
    );
    const newer = this.db.prepare("SELECT created_at FROM market_events WHERE pubkey = ? AND kind = ? ORDER BY created_at DESC LIMIT 1");
    const dropOlder = this.db.prepare("DELETE FROM market_events WHERE pubkey = ? AND kind = ? AND id != ?");
    let added = 0;
    this.db.transaction(() => {
      for (const r of records) {
        const latestOnly = LATEST_ONLY.includes(r.kind);
        if (latestOnly) {
          const cur = newer.get(r.pubkey, r.kind) as { created_at: number } | null;
          if (cur && cur.created_at >= r.createdAt) continue;
        }
        const res = ins.run({
          id: r.id,
          kind: r.kind,
          pubkey: r.pubkey,
          created_at: r.createdAt,
          received_at: r.receivedAt,
          ref: r.ref,
          model: r.model,
          bid: r.bidMsats,
          amount: r.amountMsats,
          status: r.status,
          target: r.target,
          encrypted: r.encrypted ? 1 : 0,
          tokens: r.tokens,
          info: r.info ? JSON.stringify(r.info) : null,
        });
        if (res.changes > 0) {
          added++;
          if (latestOnly) dropOlder.run(r.pubkey, r.kind, r.id);
        }
      }
    })();
    return added;
  }

  /** Newest created_at stored among these kinds (unix s), or null: a restart subscribes from here. */
  newest(kinds: readonly number[]): number | null {
    const row = this.db.prepare(`SELECT MAX(created_at) AS t FROM market_events WHERE kind IN (${kinds.map(() => "?").join(",")})`).get(...kinds) as { t: number | null };
    return row.t ?? null;
  }

  /** Every record of traffic since `sinceSec`, plus every announcement, profile and heartbeat kept. */
  load(sinceSec: number): MarketRecord[] {
    const rows = this.db
      .prepare(`SELECT * FROM market_events WHERE created_at >= ? OR kind IN (${LATEST_ONLY.join(",")}) ORDER BY created_at LIMIT ?`)
      .all(sinceSec, this.rowCap) as Row[];
    return rows.map(fromRow);
  }

  count(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM market_events").get() as { n: number }).n;
  }

  /** Drops what is older than the retention and the oldest rows beyond the cap. Returns how many went. */
  prune(nowMs: number, retentionDays = RETENTION_DAYS): number {
    const cutoff = Math.floor(nowMs / 1000) - retentionDays * 86_400;
    let removed = this.db.prepare("DELETE FROM market_events WHERE created_at < ?").run(cutoff).changes;
    const over = this.count() - this.rowCap;
    if (over > 0) {
      removed += this.db.prepare("DELETE FROM market_events WHERE id IN (SELECT id FROM market_events ORDER BY created_at ASC, id ASC LIMIT ?)").run(over).changes;
    }
    if (removed) log.debug("market pruned", { removed });
    return removed;
  }

  putBenchmark(b: BenchmarkRecord): void {
    this.db.prepare("INSERT OR REPLACE INTO benchmarks (model, machine, at, data) VALUES (?, ?, ?, ?)").run(b.model, b.machine, b.at, JSON.stringify(b));
  }

  benchmarks(machine?: string): BenchmarkRecord[] {
    const rows = (machine ? this.db.prepare("SELECT data FROM benchmarks WHERE machine = ? ORDER BY model").all(machine) : this.db.prepare("SELECT data FROM benchmarks ORDER BY model").all()) as { data: string }[];
    const out: BenchmarkRecord[] = [];
    for (const r of rows) {
      try {
        out.push(JSON.parse(r.data) as BenchmarkRecord);
      } catch {
        // a damaged row is skipped; the next run replaces it
      }
    }
    return out;
  }
}
