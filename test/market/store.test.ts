// The market's own file (market.sqlite) is a cache of public relay traffic: its writes never wait
// for the disk (a checkpoint in the middle of a burst of jobs cost ~20 ms of fsync), and a file
// damaged by a power cut (or anything else) is moved aside for a fresh one instead of keeping
// compute from starting. Real SQLite files in a temp dir.
import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MarketStore } from "../../src/market/store.ts";
import type { MarketRecord } from "../../src/market/records.ts";
import { caseDirs } from "../fixtures/common.ts";

let dir: string;
caseDirs("compute-market-store-", (d) => {
  mkdirSync(d);
  dir = d;
});

const record = (i: number): MarketRecord => ({
  id: i.toString(16).padStart(64, "0"),
  kind: 5050,
  pubkey: "a".repeat(64),
  createdAt: 1_700_000_000 + i,
  receivedAt: 1_700_000_000_000 + i,
  ref: null,
  model: "llama3.2",
  bidMsats: null,
  amountMsats: null,
  status: null,
  target: null,
  encrypted: false,
  tokens: null,
  info: null,
});

test("the cache's writes never wait for the disk: synchronous is OFF on its connection, WAL as before", () => {
  const store = MarketStore.open(join(dir, "market.sqlite"));
  try {
    const pragmas = (store as unknown as { db: Database }).db;
    expect((pragmas.query("PRAGMA synchronous").get() as { synchronous: number }).synchronous).toBe(0);
    expect((pragmas.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    expect(store.insert([record(1), record(2)])).toBe(2);
    expect(store.count()).toBe(2);
  } finally {
    store.close();
  }
});

test("a damaged market file is moved aside and a fresh one opened: compute still starts", () => {
  const path = join(dir, "market.sqlite");
  const garbage = Buffer.from("SQLite format 3\0" + "this is not a database page ".repeat(300));
  writeFileSync(path, garbage);
  const store = MarketStore.open(path);
  try {
    expect(store.count()).toBe(0);
    expect(store.insert([record(1)])).toBe(1);
  } finally {
    store.close();
  }
  const aside = readdirSync(dir).filter((f) => f.startsWith("market.sqlite.damaged-"));
  expect(aside.length).toBe(1);
  // What was there is kept byte for byte, for whoever wants to look at it.
  expect(readFileSync(join(dir, aside[0]!)).equals(garbage)).toBe(true);
});

test("a healthy market file is kept as it is across reopening", () => {
  const path = join(dir, "market.sqlite");
  const first = MarketStore.open(path);
  first.insert([record(1), record(2), record(3)]);
  first.close();
  const again = MarketStore.open(path);
  try {
    expect(again.count()).toBe(3);
  } finally {
    again.close();
  }
  expect(readdirSync(dir).filter((f) => f.includes("damaged"))).toEqual([]);
});
