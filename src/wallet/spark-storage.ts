// The Breez SDK's Node build keeps its wallet data (payments, deposits, sync records, cache) in
// SQLite through `better-sqlite3`, a native module Bun can't load (PLATFORM.md). This is the
// small part of better-sqlite3's API that the SDK's storage code uses (nodejs/storage/*.cjs in
// @breeztech/breez-sdk-spark 0.19.2: prepare/run/get/all/pluck, exec, pragma, transaction, close),
// written over bun:sqlite, so the SDK's own tested schema and migrations run unchanged.
// spark-plugin.ts makes `require("better-sqlite3")` resolve to `BunSqliteDatabase`.
import { Database, type SQLQueryBindings, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

type Params = SQLQueryBindings[];

/** A prepared statement with better-sqlite3's return conventions. */
export class BunSqliteStatement {
  private plucked = false;

  constructor(private readonly stmt: Statement) {}

  /** better-sqlite3: `pluck()` makes get/all return the first column instead of row objects. */
  pluck(on = true): this {
    this.plucked = on;
    return this;
  }

  run(...params: Params): { changes: number; lastInsertRowid: number | bigint } {
    const r = this.stmt.run(...params);
    return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
  }

  /** better-sqlite3 returns `undefined` when there is no row (bun:sqlite returns null). */
  get(...params: Params): unknown {
    if (this.plucked) {
      const rows = this.stmt.values(...params);
      return rows.length > 0 ? rows[0]![0] : undefined;
    }
    return this.stmt.get(...params) ?? undefined;
  }

  all(...params: Params): unknown[] {
    if (this.plucked) return this.stmt.values(...params).map((row) => row[0]);
    return this.stmt.all(...params);
  }

  *iterate(...params: Params): IterableIterator<unknown> {
    for (const row of this.all(...params)) yield row;
  }
}

export class BunSqliteDatabase {
  private readonly db: Database;

  constructor(path: string, options: { readonly?: boolean } = {}) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // strict: named parameters bind from keys without their @/$/: prefix, as in better-sqlite3.
    this.db = options.readonly
      ? new Database(path, { readonly: true, strict: true })
      : new Database(path, { create: true, strict: true });
    // Another process (a CLI command next to the running app) may hold the file for a moment.
    this.db.exec("PRAGMA busy_timeout = 5000");
  }

  prepare(sql: string): BunSqliteStatement {
    return new BunSqliteStatement(this.db.prepare(sql));
  }

  /** Runs one or more statements without parameters (the migrations use it). */
  exec(sql: string): this {
    this.db.exec(sql);
    return this;
  }

  /** better-sqlite3: `pragma("user_version = 3")`; `{simple: true}` returns the first value. */
  pragma(source: string, options: { simple?: boolean } = {}): unknown {
    const stmt = this.db.prepare(`PRAGMA ${source}`);
    if (options.simple) {
      const rows = stmt.values();
      return rows.length > 0 ? rows[0]![0] : undefined;
    }
    return stmt.all();
  }

  /** Same shape as better-sqlite3: a function, with .deferred/.immediate/.exclusive variants. */
  transaction<A extends unknown[], R>(fn: (...args: A) => R) {
    return this.db.transaction(fn);
  }

  get open(): boolean {
    try {
      this.db.prepare("SELECT 1").get();
      return true;
    } catch {
      return false;
    }
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  close(): this {
    this.db.close();
    return this;
  }
}
