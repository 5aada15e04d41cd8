import { AppError } from "../errors.ts";

// ── storage failures ────────────────────────────────────────────────────────────────────────────
// A full disk, a read-only file or an I/O error reaches the caller as SQLite's own error
// ("database or disk is full", code SQLITE_FULL), which says nothing to a person and is not an
// AppError the server and CLI know how to show. Every public method passes such errors through
// one translation. SQLite rolls back the failed statement or transaction, so the books are as
// they were before the call (the message says so).

/** Words for an SQLite result code; null when it isn't a storage problem (constraint, misuse …). */
export function sqliteProblem(code: string): string | null {
  if (code === "SQLITE_FULL") return "the disk is full";
  if (code.startsWith("SQLITE_READONLY")) return "the file or its folder is read-only";
  if (code.startsWith("SQLITE_IOERR")) return "the disk reported an input/output error";
  if (code.startsWith("SQLITE_CANTOPEN")) return "the file can't be opened";
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") return "the file is damaged";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "another process holds it locked";
  return null;
}

export function storageError(path: string, err: unknown): unknown {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return err;
  const problem = sqliteProblem(code);
  if (!problem) return err;
  const what = code === "SQLITE_FULL" || code.startsWith("SQLITE_READONLY") ? "written" : "used";
  const e = new AppError("unavailable", `The ledger ${path} can't be ${what}: ${problem} (${code}). Nothing was changed.`, { path, code });
  (e as Error & { cause?: unknown }).cause = err;
  return e;
}
