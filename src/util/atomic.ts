// Atomic file replacement: write a temp file beside the target, fsync it, rename over the target,
// fsync the folder. A crash at any point leaves either the old file or the new one, never a mix.
// A failure (full disk, read-only file system, …) is an AppError that says so in words; the old
// file is left as it was and the temp file is removed.
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { AppError } from "../errors.ts";

/** What a file-system error code means for a person ("ENOSPC" → "the disk is full"); null if unknown. */
export function fsProblem(err: unknown): string | null {
  switch ((err as NodeJS.ErrnoException | null)?.code) {
    case "ENOSPC":
      return "the disk is full";
    case "EDQUOT":
      return "the disk quota is used up";
    case "EROFS":
      return "the file system is read-only";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "part of the path is a file, not a folder";
    case "EISDIR":
      return "there is a folder in the way";
    case "ENAMETOOLONG":
      return "the path is too long";
    case "EMFILE":
    case "ENFILE":
      return "too many files are open";
    case "EIO":
      return "the disk reported an input/output error";
    default:
      return null;
  }
}

/** An AppError for a failed write of `path`: the reason in words, the errno code in brackets. */
export function writeError(path: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const why = fsProblem(err) ?? (err as Error)?.message ?? String(err);
  const e = new AppError("unavailable", `Could not write ${path}: ${why}${code ? ` (${code})` : ""}.`, { path, code: code ?? null });
  (e as Error & { cause?: unknown }).cause = err;
  return e;
}

export function atomicWriteFile(path: string, data: string | Uint8Array, mode = 0o600): void {
  try {
    replace(path, data, mode);
  } catch (err) {
    throw writeError(path, err);
  }
}

/**
 * Like atomicWriteFile, but only if `path` does not exist yet: the temp file is hard-linked into
 * place, which fails with EEXIST atomically (two creators racing: exactly one wins; the check and
 * the write are one step, unlike exists-then-rename). Returns false when the file already exists.
 */
export function atomicCreateFile(path: string, data: string | Uint8Array, mode = 0o600): boolean {
  try {
    return replace(path, data, mode, true);
  } catch (err) {
    throw writeError(path, err);
  }
}

/** All of `data` (a write may take only part of it), then fsync. */
function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  fsyncSync(fd);
}

function replace(path: string, data: string | Uint8Array, mode: number, exclusive = false): boolean {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // pid + random: two writers (processes, or a retry after a failed write) never share a temp file.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fd = openSync(tmp, "wx", mode);
  try {
    writeAll(fd, data);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw err;
  }
  closeSync(fd);
  try {
    if (exclusive) {
      try {
        linkSync(tmp, path);
      } finally {
        unlinkSync(tmp);
      }
    } else renameSync(tmp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (exclusive && code === "EEXIST") return false;
    if (exclusive && (code === "EPERM" || code === "ENOTSUP" || code === "ENOSYS")) {
      // No hard links on this file system: an exclusive create is still one atomic check.
      let xfd: number;
      try {
        xfd = openSync(path, "wx", mode);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw e;
      }
      try {
        writeAll(xfd, data);
      } finally {
        closeSync(xfd);
      }
      return true;
    }
    // e.g. the target is a directory, or (Windows) open elsewhere: keep the old file, drop the temp one.
    try {
      unlinkSync(tmp);
    } catch {}
    throw err;
  }
  try {
    const dfd = openSync(dir, "r");
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Directory fsync is not supported everywhere (Windows); the rename is still atomic.
  }
  return true;
}
