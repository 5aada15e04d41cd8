// One running compute per data dir. The lock file also tells other commands (status, a second
// `compute`) where the running instance serves its API and with which token; it is mode 0600.
import { chmodSync, existsSync, readFileSync, unlinkSync, openSync, writeSync, closeSync, mkdirSync, linkSync, renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { Database } from "bun:sqlite";
import { lockPath } from "../data-dir.ts";
import { AppError } from "../errors.ts";
import { atomicWriteFile, fsProblem } from "./atomic.ts";

export const LockInfo = z.object({
  // kill(0 or negative pid, 0) probes a process group and would "find" it alive.
  pid: z.number().int().positive(),
  startedAt: z.number(),
  url: z.string().nullable(),
  token: z.string().nullable(),
});
export type LockInfo = z.infer<typeof LockInfo>;

/** How long a start waits for another process's lock before saying compute is already running. */
const LOCK_WAIT_MS = 250;

export { lockPath };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The running instance on this data dir, if any (a stale lock from a dead process is ignored). */
export function readLock(dataDir: string): LockInfo | null {
  const path = lockPath(dataDir);
  if (!existsSync(path)) return null;
  const info = parseLockFile(path);
  return info && alive(info.pid) ? info : null;
}

function parseLockFile(path: string): LockInfo | null {
  try {
    return LockInfo.parse(JSON.parse(readFileSync(path, "utf8")));
  } catch {
    return null;
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

/**
 * Creates `path` holding `text`, failing with EEXIST if it exists. The content is written to a
 * private temp file first and hard-linked into place, so no other process can ever see the lock
 * file empty or half written (and mistake it for a stale one). File systems without hard links
 * fall back to an exclusive create.
 */
function createExclusive(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600, flag: "wx" });
  try {
    linkSync(tmp, path);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EXDEV") throw err;
  } finally {
    unlinkQuiet(tmp);
  }
  const fd = openSync(path, "wx", 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

function conflict(other: LockInfo): AppError {
  return new AppError(
    "conflict",
    `compute is already running on this data dir (pid ${other.pid}${other.url ? `, dashboard at ${other.url}` : ""}); stop it first or use another --data-dir.`,
    { pid: other.pid, url: other.url },
  );
}

/**
 * Lock files this process holds, with the SQLite handle that holds each: a second acquire in the
 * same process is a conflict too. The handle lives here, not only in the InstanceLock, because a
 * garbage-collected Database closes itself and so would drop the lock while the process still
 * runs (a caller that let go of its InstanceLock would let a second compute in).
 */
const heldHere = new Map<string, Database>();

export class InstanceLock {
  private held = false;
  private constructor(private readonly dataDir: string) {}

  static acquire(dataDir: string): InstanceLock {
    try {
      return InstanceLock.take(dataDir);
    } catch (err) {
      if (err instanceof AppError) throw err;
      // The first write to the data dir happens here: a read-only or full disk shows up as errno
      // codes, which say nothing to a person.
      const code = (err as NodeJS.ErrnoException).code;
      const why = fsProblem(err) ?? (err as Error).message;
      throw new AppError(
        "unavailable",
        `The data dir ${dataDir} is not writable: ${why}${code ? ` (${code})` : ""}. compute keeps its ledger and settings there; use another one with --data-dir, or fix it.`,
        { dataDir, code: code ?? null },
      );
    }
  }

  private static take(dataDir: string): InstanceLock {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const path = resolve(lockPath(dataDir));
    if (heldHere.has(path)) {
      throw new AppError("conflict", `This process already runs compute on the data dir ${dataDir}.`, { pid: process.pid, url: readLock(dataDir)?.url ?? null });
    }
    // The lock itself is an exclusive SQLite transaction held for the life of the process: the OS
    // releases it when the process dies (even by kill -9), so there is no stale lock to take over
    // and no race between processes taking one. compute.lock beside it only says who runs where.
    // Created 0600 before SQLite opens it (SQLite would use 0644 under the usual umask, and gives
    // its journal the database file's mode); an older, wider file is narrowed.
    const dbPath = `${path}.db`;
    closeSync(openSync(dbPath, "a", 0o600));
    if (process.platform !== "win32") chmodSync(dbPath, 0o600);
    const db = new Database(dbPath, { create: true });
    try {
      // Two processes starting at the same instant can each hold a shared lock while both ask
      // for the exclusive one; with no wait both would give up and neither would run. SQLite
      // retries, dropping its shared lock in between, for this long before calling it a
      // conflict. (No `locking_mode = EXCLUSIVE`: in that mode the shared lock is never dropped,
      // so two such starters wait each other out and both lose.) The transaction is never
      // committed: the exclusive lock lasts until release or the process's end.
      db.exec(`PRAGMA busy_timeout = ${LOCK_WAIT_MS}`);
      db.exec("BEGIN EXCLUSIVE");
      db.exec("CREATE TABLE IF NOT EXISTS held (pid INTEGER)");
    } catch (err) {
      db.close();
      if (/locked|busy/i.test((err as Error).message)) {
        const other = readLock(dataDir);
        throw conflict(other ?? { pid: 0, startedAt: 0, url: null, token: null });
      }
      throw err;
    }
    atomicWriteFile(path, JSON.stringify({ pid: process.pid, startedAt: Date.now(), url: null, token: null }), 0o600);
    const lock = new InstanceLock(dataDir);
    lock.held = true;
    lock.db = db;
    heldHere.set(path, db);
    return lock;
  }


  get isHeld(): boolean {
    return this.held;
  }

  /** Records where this instance serves, for `compute status` and a second `compute`. */
  publish(url: string, token: string): void {
    if (!this.held) return;
    atomicWriteFile(lockPath(this.dataDir), JSON.stringify({ pid: process.pid, startedAt: Date.now(), url, token }), 0o600);
  }

  /** Removes the lock file if it is still ours; calling it again is harmless. */
  private db: Database | null = null;

  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      this.db?.exec("ROLLBACK");
    } catch {}
    this.db?.close();
    this.db = null;
    const path = resolve(lockPath(this.dataDir));
    heldHere.delete(path);
    const info = parseLockFile(path);
    if (!info || info.pid === process.pid) unlinkQuiet(path);
  }
}
