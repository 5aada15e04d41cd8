import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { atomicWriteFile } from "../../src/util/atomic.ts";

const root = mkdtempSync(join(tmpdir(), "compute-atomic-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("creates missing folders and writes text and bytes, mode 0600 by default", () => {
  const p = join(root, "a", "b", "file.json");
  atomicWriteFile(p, "héllo\n");
  expect(readFileSync(p, "utf8")).toBe("héllo\n");
  atomicWriteFile(p, new Uint8Array([0, 1, 2, 255]));
  expect([...readFileSync(p)]).toEqual([0, 1, 2, 255]);
  if (process.platform !== "win32") {
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, "a")).mode & 0o777).toBe(0o700);
  }
  expect(readdirSync(join(root, "a", "b"))).toEqual(["file.json"]);
});

test("replaces an existing file whole and takes the given mode", () => {
  const p = join(root, "replace.txt");
  writeFileSync(p, "x".repeat(10_000));
  atomicWriteFile(p, "short", 0o640);
  expect(readFileSync(p, "utf8")).toBe("short");
  if (process.platform !== "win32") expect(statSync(p).mode & 0o777).toBe(0o640 & ~process.umask());
});

test("many writes in a row (same millisecond) all succeed and leave no temp files", () => {
  const d = join(root, "burst");
  for (let i = 0; i < 200; i++) atomicWriteFile(join(d, "f"), String(i));
  expect(readFileSync(join(d, "f"), "utf8")).toBe("199");
  expect(readdirSync(d)).toEqual(["f"]);
});

test("a failed rename keeps the old target and removes the temp file", () => {
  const d = join(root, "fail");
  mkdirSync(join(d, "target", "inside"), { recursive: true });
  // Renaming a file over a non-empty directory fails on every platform.
  expect(() => atomicWriteFile(join(d, "target"), "data")).toThrow();
  expect(readdirSync(d)).toEqual(["target"]);
  expect(readdirSync(join(d, "target"))).toEqual(["inside"]);
});

test("a large payload is written in full", () => {
  const p = join(root, "big.bin");
  const data = new Uint8Array(3_000_000).map((_, i) => i % 251);
  atomicWriteFile(p, data);
  const back = readFileSync(p);
  expect(back.length).toBe(data.length);
  expect(Buffer.compare(back, Buffer.from(data))).toBe(0);
});
