// One running compute per data dir. The lock file also tells other commands (status, a second
// `compute`) where the running instance serves its API and with which token; it is mode 0600.
import { existsSync, readFileSync, unlinkSync, openSync, writeSync, closeSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { AppError } from "../errors.ts";
import { atomicWriteFile } from "./atomic.ts";

export const LockInfo = z.object({
  pid: z.number().int(),
  startedAt: z.number(),
  url: z.string().nullable(),
  token: z.string().nullable(),
});
export type LockInfo = z.infer<typeof LockInfo>;

export const lockPath = (dataDir: string) => join(dataDir, "compute.lock");

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
  try {
    const info = LockInfo.parse(JSON.parse(readFileSync(path, "utf8")));
    return alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

export class InstanceLock {
  private held = false;
  private constructor(private readonly dataDir: string) {}

  static acquire(dataDir: string): InstanceLock {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const path = lockPath(dataDir);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, "wx", 0o600);
        writeSync(fd, JSON.stringify({ pid: process.pid, startedAt: Date.now(), url: null, token: null }));
        closeSync(fd);
        const lock = new InstanceLock(dataDir);
        lock.held = true;
        return lock;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const other = readLock(dataDir);
        if (other && other.pid !== process.pid) {
          throw new AppError(
            "conflict",
            `compute is already running on this data dir (pid ${other.pid}${other.url ? `, dashboard at ${other.url}` : ""}); stop it first or use another --data-dir.`,
            { pid: other.pid, url: other.url },
          );
        }
        // Stale lock from a process that died without cleaning up: take it over.
        try {
          unlinkSync(path);
        } catch {}
      }
    }
    throw new AppError("conflict", `Could not lock the data dir ${dataDir}; remove ${path} if no compute is running.`);
  }

  /** Records where this instance serves, for `compute status` and a second `compute`. */
  publish(url: string, token: string): void {
    if (!this.held) return;
    atomicWriteFile(lockPath(this.dataDir), JSON.stringify({ pid: process.pid, startedAt: Date.now(), url, token }), 0o600);
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      const info = readLock(this.dataDir);
      if (!info || info.pid === process.pid) unlinkSync(lockPath(this.dataDir));
    } catch {}
  }
}
