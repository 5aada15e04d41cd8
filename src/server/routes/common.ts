// What the routers share: the JSON body validator (hono/validator with a zod schema, refusals as
// AppError so onError gives them their one shape), the vault-password attempt limit, and the
// idle-timeout exemption for long requests.
import { Hono, type Context } from "hono";
import { LinearRouter } from "hono/router/linear-router";
import { validator } from "hono/validator";
import { z } from "zod";
import { AppError, issueText } from "../../errors.ts";
import type { AttemptLimiter } from "../security.ts";

/** Exactly application/json, parameters (charset) allowed: `text/plain; x=application/json` is not JSON. */
export function isJsonType(type: string | undefined): boolean {
  return (type ?? "").split(";")[0]!.trim().toLowerCase() === "application/json";
}

/**
 * The body, parsed with `schema`, as `c.req.valid("json")`. The type and the JSON are checked here
 * first (hono/validator alone reads a non-JSON body as `{}` and answers bad JSON its own way), so a
 * refusal is always `invalid_input` with the same message.
 */
export function jsonBody<S extends z.ZodType>(schema: S) {
  const check = validator("json", (value: unknown): z.infer<S> => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw new AppError("invalid_input", `Invalid request: ${issueText(parsed.error, { root: "body" })}`);
    }
    return parsed.data;
  });
  const readFirst: typeof check = async (c, next) => {
    if (!isJsonType(c.req.header("content-type"))) throw new AppError("invalid_input", "The body must be JSON (Content-Type: application/json).");
    try {
      await c.req.json(); // cached: the validator reads the same parse
    } catch {
      throw new AppError("invalid_input", "The body is not valid JSON.");
    }
    return check(c, next);
  };
  return readFirst;
}

export const Password = z.string().min(1).max(1024);

export type PasswordGuard = <T>(fn: () => Promise<T>) => Promise<T>;

/** Runs a password check under the attempt limit: only a wrong password counts as a guess. */
export function passwordGuard(limiter: AttemptLimiter): PasswordGuard {
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    const settle = limiter.begin();
    try {
      const out = await fn();
      settle(true);
      return out;
    } catch (err) {
      // "No vault yet" or a damaged file is not a guess.
      settle(!(err instanceof AppError && err.code === "unauthorized"));
      throw err;
    }
  };
}

/** A request that may take minutes (the event stream, a benchmark): exempt from the server's idle timeout. */
export function exemptFromIdleTimeout(c: Context): void {
  (c.env as { timeout?: (req: Request, secs: number) => void } | undefined)?.timeout?.(c.req.raw, 0);
}

/**
 * A Hono app on LinearRouter: Hono's default (RegExpRouter) compiles every route into one pattern
 * on the first request, which delayed the first answer after start-up by ~2-8 ms (BENCHMARKS.md,
 * cold start); matching a few dozen routes linearly costs microseconds, and a dashboard makes few
 * requests.
 */
export const newRouter = () => new Hono({ router: new LinearRouter() });
