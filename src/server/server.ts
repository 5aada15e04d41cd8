// The in-process HTTP API (Hono) and the dashboard: the page, the token check, the body limit and
// one onError; each area's routes are a small router in routes/ (bodies parsed with zod through
// hono/validator, then one controller call).
import type { Hono } from "hono";
import { setCookie } from "hono/cookie";
import { bodyLimit } from "hono/body-limit";
import { AppError, httpStatus } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { Controller } from "./controller.ts";
import { AttemptLimiter, COOKIE, allowedHosts, apiAuth, hostCheck, securityHeaders, tokenMatches } from "./security.ts";
import { newRouter, passwordGuard } from "./routes/common.ts";
import { backendsRoutes } from "./routes/backends.ts";
import { identityRoutes } from "./routes/identity.ts";
import { jobsRoutes } from "./routes/jobs.ts";
import { marketRoutes } from "./routes/market.ts";
import { modelsRoutes } from "./routes/models.ts";
import { providerRoutes } from "./routes/provider.ts";
import { relaysRoutes } from "./routes/relays.ts";
import { settingsRoutes } from "./routes/settings.ts";
import { stateRoutes } from "./routes/state.ts";
import { walletRoutes } from "./routes/wallet.ts";

const log = createLogger("server");

export interface ServerOptions {
  token: string;
  /** Hosts (host:port) the server answers to; a function because the port is known only after listen. */
  allowedHosts: () => Set<string>;
  assets: { html: string; js: string; css: string };
  heartbeatMs?: number;
  attemptLimiter?: AttemptLimiter;
  maxEventStreams?: number;
}

/** Largest JSON body the API reads (every body here is a few fields); larger is a 413 before parsing. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;
/** Seconds a connection may sit idle (keep-alive between requests included); the event stream is exempt. */
export const HTTP_IDLE_TIMEOUT_SECS = 10;
/** Requests being answered at once; beyond it a 503 (a flood can't pile up work). */
export const MAX_PENDING_REQUESTS = 256;

/** Every error the API answers has this body: `name` an ErrorCode (or too_large), `message` one sentence. */
const errorBody = (name: string, message: string) => ({ error: { name, message } });

export function createServer(ctl: Controller, opts: ServerOptions): Hono {
  const withPassword = passwordGuard(opts.attemptLimiter ?? new AttemptLimiter());

  const app = newRouter();
  app.use("*", securityHeaders());
  app.use("*", hostCheck(opts.allowedHosts));

  app.onError((err, c) => {
    if (err instanceof AppError) {
      return c.json(errorBody(err.code, err.message), httpStatus[err.code] as 400);
    }
    log.error("unhandled error in a route", { path: c.req.path, err });
    return c.json(errorBody("internal", "Internal error; see the log."), 500);
  });
  app.notFound((c) => c.json(errorBody("not_found", `No route ${c.req.method} ${c.req.path}`), 404));

  // The page: /?token=… trades the token for a cookie, then redirects so the token leaves the URL.
  app.get("/", (c) => {
    const given = c.req.query("token");
    if (given !== undefined) {
      if (!tokenMatches(given, opts.token)) throw new AppError("unauthorized", "Wrong access token; open the dashboard link compute printed.");
      setCookie(c, COOKIE, opts.token, { httpOnly: true, sameSite: "Strict", path: "/" });
      return c.redirect("/", 302);
    }
    return c.html(opts.assets.html);
  });
  app.get("/app.js", (c) => c.body(opts.assets.js, 200, { "content-type": "text/javascript; charset=utf-8" }));
  app.get("/app.css", (c) => c.body(opts.assets.css, 200, { "content-type": "text/css; charset=utf-8" }));
  app.get("/healthz", (c) => c.json({ ok: true }));

  const api = newRouter();
  api.use("*", apiAuth(opts.token, opts.allowedHosts));
  // Counted while it streams (or from Content-Length) before anything is parsed: a 100 MB body
  // is refused after its first 64 KB instead of being buffered whole.
  api.use(
    "*",
    bodyLimit({
      maxSize: MAX_JSON_BODY_BYTES,
      onError: (c) => c.json(errorBody("too_large", `The body is larger than ${MAX_JSON_BODY_BYTES} bytes.`), 413),
    }),
  );

  // One router per area, each given only the part of the controller it needs.
  api.route("/", stateRoutes(ctl, { heartbeatMs: opts.heartbeatMs, maxEventStreams: opts.maxEventStreams }));
  api.route("/provider", providerRoutes(ctl));
  api.route("/models", modelsRoutes(ctl));
  api.route("/backends", backendsRoutes(ctl));
  api.route("/relays", relaysRoutes(ctl));
  api.route("/settings", settingsRoutes(ctl));
  api.route("/", identityRoutes(ctl, withPassword));
  api.route("/wallet", walletRoutes(ctl, withPassword));
  api.route("/", marketRoutes(ctl));
  api.route("/jobs", jobsRoutes(ctl));

  app.route("/api", api);
  return app;
}

/**
 * The dashboard server for `ctl` on host:port (0 picks a free one): the API with its token and
 * Host check, served by serveHttp. A port in use is an AppError naming it. `origin` is what to show
 * (a wildcard host shown as 127.0.0.1), `url` the dashboard link with the token.
 */
export function listen(
  ctl: Controller,
  opts: { host: string; port: number; token: string; assets: ServerOptions["assets"]; heartbeatMs?: number; idleTimeoutSecs?: number },
): { http: ReturnType<typeof Bun.serve>; origin: string; url: string } {
  const { host, port, token } = opts;
  let boundPort = port;
  const hono = createServer(ctl, { token, allowedHosts: () => allowedHosts(host, boundPort), assets: opts.assets, heartbeatMs: opts.heartbeatMs });
  let http: ReturnType<typeof Bun.serve>;
  try {
    // A short idle timeout for every connection; the SSE stream lifts it for itself (serveHttp).
    http = serveHttp(hono, { hostname: host, port, idleTimeoutSecs: opts.idleTimeoutSecs });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw new AppError("conflict", `Port ${port} is in use; pass --port N (0 picks a free one).`);
    throw err;
  }
  boundPort = http.port!;
  const shownHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  const origin = `http://${shownHost}:${boundPort}`;
  return { http, origin, url: `${origin}/?token=${token}` };
}

/**
 * Bun.serve for the app: a short idle timeout for every connection (the event stream lifts it for
 * itself), at most MAX_PENDING_REQUESTS answered at once, and a request without a Host header
 * refused before routing (Host is what the DNS-rebinding check reads).
 */
export function serveHttp(hono: Hono, opts: { hostname: string; port: number; idleTimeoutSecs?: number }): ReturnType<typeof Bun.serve> {
  const json = (status: number, name: string, message: string) =>
    new Response(JSON.stringify(errorBody(name, message)), { status, headers: { "content-type": "application/json" } });
  return Bun.serve({
    hostname: opts.hostname,
    port: opts.port,
    idleTimeout: opts.idleTimeoutSecs ?? HTTP_IDLE_TIMEOUT_SECS,
    fetch(req, server) {
      if (!req.headers.get("host")) return json(400, "invalid_input", "The request has no Host header.");
      if (server.pendingRequests > MAX_PENDING_REQUESTS) return json(503, "unavailable", "Too many requests at once; try again.");
      return hono.fetch(req, server);
    },
  });
}
