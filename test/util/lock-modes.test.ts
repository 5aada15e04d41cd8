// The lock file holds the dashboard token: it and the SQLite file that carries the lock stay
// private to the owner (0600), whatever the umask.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InstanceLock, lockPath } from "../../src/util/lock.ts";

const root = mkdtempSync(join(tmpdir(), "compute-lock-modes-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;

test("another local user can't read the lock file's token or open compute.lock.db (both 0600 under umask 022)", () => {
  const old = process.umask(0o022);
  try {
    const dir = join(root, "a");
    const lock = InstanceLock.acquire(dir);
    lock.publish("http://127.0.0.1:1", "secret-token");
    expect(mode(lockPath(dir))).toBe(0o600);
    for (const f of readdirSync(dir).filter((n) => n.startsWith("compute.lock.db"))) expect({ f, mode: mode(join(dir, f)) }).toEqual({ f, mode: 0o600 });
    expect(readdirSync(dir)).toContain("compute.lock.db");
    lock.release();
  } finally {
    process.umask(old);
  }
});
