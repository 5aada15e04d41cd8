// Errors with a name and typed data; the server maps them to HTTP status in one place and the CLI
// prints their message as one plain sentence.
import type { z } from "zod";

export type ErrorCode =
  | "usage" // bad CLI arguments → exit 2
  | "invalid_input" // bad body / value → 400
  | "unauthorized" // 401
  | "forbidden" // 403
  | "not_found" // 404
  | "conflict" // 409 (already exists, already running)
  | "locked" // 423 (vault locked / data dir in use)
  | "rate_limited" // 429
  | "unavailable" // 503 (Ollama down, wallet not configured)
  | "internal"; // 500

export class AppError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly data: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const httpStatus: Record<ErrorCode, number> = {
  usage: 400,
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  locked: 423,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * A zod error as part of a sentence: each issue "key: message", joined by "; ". The key is the
 * issue's path, `root` for an issue about the whole value, or what `names` calls the path (or its
 * first part): the flag or variable a person typed rather than the config key.
 */
export function issueText(err: z.ZodError, opts: { root?: string; names?: Record<string, string> } = {}): string {
  const names = opts.names ?? {};
  return err.issues
    .map((i) => {
      const path = i.path.map(String);
      const key = names[path.join(".")] ?? names[path[0] ?? ""] ?? (path.length ? path.join(".") : (opts.root ?? "(root)"));
      return `${key}: ${i.message}`;
    })
    .join("; ");
}
