// How trusted local servers guard themselves: a random per-run token (traded for an HttpOnly
// SameSite=Strict cookie), Host checks against DNS rebinding, Origin checks on state changes,
// a strict CSP, and a limit on password attempts.
import type { MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { timingSafeEqual } from "node:crypto";
import { networkInterfaces } from "node:os";
import { AppError } from "../errors.ts";

export const COOKIE = "compute_token";

export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export function newToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
}

export function tokenMatches(given: string | undefined | null, token: string): boolean {
  if (!given) return false;
  // Bytes, not UTF-16 units: "é" is one unit but two bytes, and timingSafeEqual throws on a
  // length mismatch (a 500 reachable cross-site by navigating to /?token=é…).
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(token, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Host names a browser may use to reach us: the bound address, plus loopback names when bound to loopback. */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = new Set([host]);
  if (host === "127.0.0.1" || host === "localhost" || host === "::1") ["127.0.0.1", "localhost", "[::1]"].forEach((n) => names.add(n));
  if (host === "0.0.0.0" || host === "::") {
    // Bound to every interface on purpose (--host): the machine's own addresses are fair names;
    // any other name (a rebinding domain) is still refused.
    ["127.0.0.1", "localhost", "[::1]"].forEach((n) => names.add(n));
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(a.address.split("%")[0]!);
  }
  const out = new Set<string>();
  for (const n of names) {
    const h = (n.includes(":") && !n.startsWith("[") ? `[${n}]` : n).toLowerCase();
    out.add(`${h}:${port}`);
    // Browsers leave the default port out of Host and Origin.
    if (port === 80) out.add(h);
  }
  return out;
}

export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.header("Content-Security-Policy", CSP);
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "no-referrer");
    c.header("X-Frame-Options", "DENY");
    c.header("Cache-Control", "no-store");
  };
}

/** DNS rebinding: a page on evil.example resolving to 127.0.0.1 still sends Host: evil.example. */
export function hostCheck(getAllowed: () => Set<string>): MiddlewareHandler {
  return async (c, next) => {
    // Real traffic without a Host header is refused before routing (serveHttp); in-process
    // requests (tests) carry the host in their URL.
    let host = c.req.header("host");
    if (!host) {
      try {
        host = new URL(c.req.url).host;
      } catch {}
    }
    if (!host) throw new AppError("invalid_input", "The request has no Host header.");
    host = host.toLowerCase();
    if (!getAllowed().has(host)) throw new AppError("forbidden", `Host ${host} is not allowed; open the dashboard at the address compute printed.`);
    await next();
  };
}

/** Every /api request carries the token, as a Bearer header (CLI) or the cookie (browser). */
export function apiAuth(token: string, getAllowed: () => Set<string>): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header("authorization");
    // The auth scheme name is case-insensitive (RFC 9110 §11.1).
    const bearer = header?.match(/^bearer +(\S+)$/i)?.[1];
    const viaBearer = tokenMatches(bearer, token);
    const viaCookie = !viaBearer && tokenMatches(getCookie(c, COOKIE), token);
    if (!viaBearer && !viaCookie) throw new AppError("unauthorized", "Missing or wrong access token; open the dashboard link compute printed.");
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const origin = c.req.header("origin");
      // Browsers always send Origin on cross-site and same-site state changes; a cookie-carrying
      // request must prove it comes from our own page. The CLI uses the Bearer header instead.
      if (viaCookie || origin) {
        let ok = false;
        try {
          ok = !!origin && getAllowed().has(new URL(origin).host) && new URL(origin).protocol === "http:";
        } catch {}
        if (!ok) throw new AppError("forbidden", "Cross-origin request refused.");
      }
    }
    await next();
  };
}

/**
 * At most `max` failed password attempts per window; beyond that 429 until the window passes.
 * An attempt counts as failed from the moment it starts: checking a password takes a while
 * (scrypt), and parallel requests must not all slip past the check before the first one fails.
 */
export class AttemptLimiter {
  private failures: number[] = [];
  constructor(
    private readonly max = 5,
    private readonly windowMs = 60_000,
    private readonly now = () => Date.now(),
  ) {}

  check(): void {
    const t = this.now();
    this.failures = this.failures.filter((f) => t - f < this.windowMs);
    if (this.failures.length >= this.max) {
      const wait = Math.max(1, Math.ceil((this.windowMs - (t - this.failures[0]!)) / 1000));
      throw new AppError("rate_limited", `Too many wrong passwords; try again in ${wait} s.`);
    }
  }

  failed(): void {
    this.failures.push(this.now());
  }

  /**
   * Starts an attempt (throws rate_limited when over the limit). Call the returned function with
   * true when the password turned out right (or the attempt never checked it), so it stops counting.
   */
  begin(): (notAFailure: boolean) => void {
    this.check();
    const stamp = this.now();
    this.failures.push(stamp);
    let settled = false;
    return (notAFailure) => {
      if (settled) return;
      settled = true;
      if (!notAFailure) return;
      const i = this.failures.indexOf(stamp);
      if (i >= 0) this.failures.splice(i, 1);
    };
  }
}
