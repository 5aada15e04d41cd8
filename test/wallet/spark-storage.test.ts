import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BunSqliteDatabase } from "../../src/wallet/spark-storage.ts";

const dir = mkdtempSync(join(tmpdir(), "spark-storage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("BunSqliteDatabase (the better-sqlite3 subset the Breez SDK storage uses)", () => {
  test("creates the folder, runs multi-statement exec, pragma user_version", () => {
    const db = new BunSqliteDatabase(join(dir, "a", "b", "storage.sql"));
    db.exec("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER); CREATE TABLE u (x TEXT);");
    expect(db.pragma("user_version", { simple: true })).toBe(0);
    db.pragma("user_version = 7");
    expect(db.pragma("user_version")).toEqual([{ user_version: 7 }]);
    expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: 7 });
    db.close();
    // Reopening sees the same file.
    const again = new BunSqliteDatabase(join(dir, "a", "b", "storage.sql"));
    expect(again.pragma("user_version", { simple: true })).toBe(7);
    again.close();
  });

  test("named parameters bind without their @ prefix; run reports changes", () => {
    const db = new BunSqliteDatabase(":memory:");
    db.exec("CREATE TABLE p (id TEXT PRIMARY KEY, amount TEXT, ts INTEGER)");
    const ins = db.prepare("INSERT INTO p (id, amount, ts) VALUES (@id, @amount, @ts) ON CONFLICT(id) DO UPDATE SET amount = excluded.amount");
    expect(ins.run({ id: "a", amount: "10", ts: 5 }).changes).toBe(1);
    ins.run({ id: "a", amount: "11", ts: 5 });
    ins.run({ id: "b", amount: 12n.toString(), ts: 6 });
    expect(db.prepare("SELECT amount FROM p WHERE id = ?").get("a")).toEqual({ amount: "11" });
    expect(db.prepare("SELECT * FROM p ORDER BY ts").all().length).toBe(2);
    expect(() => ins.run({ id: "c", amount: "1" })).toThrow(); // a missing named parameter is an error, as in better-sqlite3
  });

  test("get() is undefined (not null) without a row; pluck() returns the first column", () => {
    const db = new BunSqliteDatabase(":memory:");
    db.exec("CREATE TABLE k (key TEXT PRIMARY KEY, value TEXT)");
    expect(db.prepare("SELECT value FROM k WHERE key = ?").get("none")).toBeUndefined();
    db.prepare("INSERT INTO k VALUES (?, ?)").run("x", "1");
    db.prepare("INSERT INTO k VALUES (?, ?)").run("y", "2");
    expect(db.prepare("SELECT EXISTS(SELECT 1 FROM k WHERE key = 'x')").pluck().get()).toBe(1);
    expect(db.prepare("SELECT value FROM k ORDER BY key").pluck().all()).toEqual(["1", "2"]);
    expect(db.prepare("SELECT value FROM k WHERE key = 'zz'").pluck().get()).toBeUndefined();
    expect([...db.prepare("SELECT key FROM k ORDER BY key").iterate()]).toEqual([{ key: "x" }, { key: "y" }]);
  });

  test("transaction(fn) and .immediate() commit, and roll back on throw", () => {
    const db = new BunSqliteDatabase(":memory:");
    db.exec("CREATE TABLE c (n INTEGER)");
    const add = db.transaction((n: number) => {
      db.prepare("INSERT INTO c VALUES (?)").run(n);
      if (n < 0) throw new Error("negative");
    });
    add(1);
    add.immediate(2);
    expect(() => add(-1)).toThrow("negative");
    expect(db.prepare("SELECT n FROM c ORDER BY n").pluck().all()).toEqual([1, 2]);
    expect(db.inTransaction).toBe(false);
  });
});
