// The in-process HTTP API (Hono) and the dashboard. Routes are thin: parse the body with zod, call
// the controller, map errors in one onError.
import { Hono } from "hono";
import { LinearRouter } from "hono/router/linear-router";
import { setCookie } from "hono/cookie";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { isHttpUrl, isRelayUrl } from "../config.ts";
import { AppError, httpStatus } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { Controller } from "./controller.ts";
import { eventStream } from "./events.ts";
import { parseWindow } from "../market/service.ts";
import { AttemptLimiter, COOKIE, apiAuth, hostCheck, securityHeaders, tokenMatches } from "./security.ts";

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
/** Event streams open at once (a dashboard holds one; each holds a descriptor for good). */
export const MAX_EVENT_STREAMS = 16;
/** Requests being answered at once; beyond it a 503 (a flood can't pile up work). */
export const MAX_PENDING_REQUESTS = 256;

/** Exactly application/json, parameters (charset) allowed: `text/plain; x=application/json` is not JSON. */
export function isJsonType(type: string | undefined): boolean {
  return (type ?? "").split(";")[0]!.trim().toLowerCase() === "application/json";
}

async function body<S extends z.ZodType>(c: { req: { json(): Promise<unknown>; header(n: string): string | undefined } }, schema: S): Promise<z.infer<S>> {
  if (!isJsonType(c.req.header("content-type"))) throw new AppError("invalid_input", "The body must be JSON (Content-Type: application/json).");
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new AppError("invalid_input", "The body is not valid JSON.");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");
    throw new AppError("invalid_input", `Invalid request: ${msg}`);
  }
  return parsed.data;
}

const Password = z.string().min(1).max(1024);

export function createServer(ctl: Controller, opts: ServerOptions): Hono {
  const limiter = opts.attemptLimiter ?? new AttemptLimiter();
  const withPassword = async <T>(fn: () => Promise<T>): Promise<T> => {
    const settle = limiter.begin();
    try {
      const out = await fn();
      settle(true);
      return out;
    } catch (err) {
      // Only a wrong password counts; "no vault yet" or a damaged file is not a guess.
      settle(!(err instanceof AppError && err.code === "unauthorized"));
      throw err;
    }
  };

  // LinearRouter: Hono's default (RegExpRouter) compiles every route into one pattern on the first
  // request, which delayed the first answer after start-up by ~2-8 ms (BENCHMARKS.md, cold start);
  // matching a few dozen routes linearly costs microseconds, and a dashboard makes few requests.
  const app = new Hono({ router: new LinearRouter() });
  app.use("*", securityHeaders());
  app.use("*", hostCheck(opts.allowedHosts));

  app.onError((err, c) => {
    if (err instanceof AppError) {
      return c.json({ error: { name: err.code, message: err.message } }, httpStatus[err.code] as 400);
    }
    log.error("unhandled error in a route", { path: c.req.path, err });
    return c.json({ error: { name: "internal", message: "Internal error; see the log." } }, 500);
  });
  app.notFound((c) => c.json({ error: { name: "not_found", message: `No route ${c.req.method} ${c.req.path}` } }, 404));

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

  const api = new Hono({ router: new LinearRouter() });
  api.use("*", apiAuth(opts.token, opts.allowedHosts));
  // Counted while it streams (or from Content-Length) before anything is parsed: a 100 MB body
  // is refused after its first 64 KB instead of being buffered whole.
  api.use(
    "*",
    bodyLimit({
      maxSize: MAX_JSON_BODY_BYTES,
      onError: (c) => c.json({ error: { name: "too_large", message: `The body is larger than ${MAX_JSON_BODY_BYTES} bytes.` } }, 413),
    }),
  );

  api.get("/state", (c) => c.json(ctl.snapshot()));
  let streams = 0;
  api.get("/events", (c) => {
    if (streams >= (opts.maxEventStreams ?? MAX_EVENT_STREAMS)) throw new AppError("unavailable", "Too many event streams are open; close another dashboard tab.");
    // The one long-lived request: exempt from the server's idle timeout (it sends its own heartbeat).
    (c.env as { timeout?: (req: Request, secs: number) => void } | undefined)?.timeout?.(c.req.raw, 0);
    streams++;
    let counted = true;
    const release = () => {
      if (counted) streams--;
      counted = false;
    };
    c.req.raw.signal.addEventListener("abort", release, { once: true });
    const res = eventStream(c, ctl.bus, { heartbeatMs: opts.heartbeatMs, onEnd: release });
    return res;
  });

  api.post("/provider/online", async (c) => {
    const { online } = await body(c, z.strictObject({ online: z.boolean() }));
    await ctl.setOnline(online);
    return c.json(ctl.snapshot().provider);
  });

  api.put("/models/served", async (c) => {
    const { models } = await body(c, z.strictObject({ models: z.array(z.string().min(1).max(200)).max(500).nullable() }));
    await ctl.setServedModels(models);
    return c.json({ models: ctl.snapshot().models });
  });
  api.post("/models/pull", async (c) => {
    const { model } = await body(c, z.strictObject({ model: z.string().trim().min(1).max(200).regex(/^[\w.:/-]+$/, "not a model name") }));
    // Pulling can take minutes: progress goes out as ollama.pull.progress events.
    ctl.pullModel(model).catch((err) => log.warn("pull failed", { model, err }));
    return c.json({ started: true }, 202);
  });

  // Inference backends: checked by the controller (it must answer as its type) before it is saved.
  const BackendBody = z.strictObject({
    name: z.string().trim().max(64).optional(),
    type: z.enum(["ollama", "openai"]),
    url: z.string().trim().max(500).refine(isHttpUrl, "must be an http:// or https:// URL"),
    apiKey: z.string().trim().min(1).max(500).optional(),
    maxConcurrent: z.int().min(1).max(256).optional(),
  });
  api.post("/backends", async (c) => {
    if (!ctl.addBackend) throw new AppError("not_found", "Backends can't be changed here.");
    await ctl.addBackend(await body(c, BackendBody));
    return c.json({ backends: ctl.snapshot().backends ?? [] });
  });
  api.delete("/backends", async (c) => {
    const { name } = await body(c, z.strictObject({ name: z.string().trim().min(1).max(64) }));
    if (!ctl.removeBackend) throw new AppError("not_found", "Backends can't be changed here.");
    await ctl.removeBackend(name);
    return c.json({ backends: ctl.snapshot().backends ?? [] });
  });

  const RelayBody = z.strictObject({ url: z.string().trim().max(500).refine(isRelayUrl, "must be a ws:// or wss:// URL") });
  api.post("/relays", async (c) => {
    const { url } = await body(c, RelayBody);
    await ctl.addRelay(url);
    return c.json({ relays: ctl.snapshot().relays });
  });
  api.delete("/relays", async (c) => {
    const { url } = await body(c, RelayBody);
    await ctl.removeRelay(url);
    return c.json({ relays: ctl.snapshot().relays });
  });

  // pricing and limits are checked whole against the config schema when merged (updateConfigFile);
  // the profile is checked here, tighter than the file's schema: the picture must be a web address
  // a Nostr client can load (NIP-01 kind 0 `picture`), and publishing needs a name.
  const ProfilePatch = z
    .strictObject({
      name: z.string().trim().max(100).nullable().optional(),
      about: z.string().trim().max(1000).nullable().optional(),
      picture: z
        .string()
        .trim()
        .max(2000)
        .refine((s) => s === "" || isHttpUrl(s), "must be an http:// or https:// URL, or empty")
        .nullable()
        .optional(),
      publishProfile: z.boolean().nullable().optional(),
    })
    .refine((p) => !(p.publishProfile === true && p.name === ""), { path: ["name"], message: "set a name to publish a profile" });
  const SettingsBody = z.strictObject({
    pricing: z.record(z.string(), z.unknown()).optional(),
    limits: z.record(z.string(), z.unknown()).optional(),
    provider: ProfilePatch.optional(),
    // Checked in full against the config schema before anything is written.
    schedule: z.record(z.string(), z.unknown()).optional(),
    pause: z.record(z.string(), z.unknown()).optional(),
  });
  api.get("/settings", (c) => c.json(ctl.settings()));
  api.put("/settings", async (c) => {
    const patch = await body(c, SettingsBody);
    return c.json(await ctl.updateSettings(patch));
  });

  api.post("/onboarding/generate", async (c) => {
    const { words } = await body(c, z.strictObject({ words: z.union([z.literal(12), z.literal(24)]).default(12) }));
    return c.json({ mnemonic: ctl.generateMnemonic(words) });
  });
  api.post("/onboarding/validate", async (c) => {
    const { mnemonic } = await body(c, z.strictObject({ mnemonic: z.string().max(1000) }));
    return c.json(ctl.validateMnemonic(mnemonic));
  });
  api.get("/onboarding/suggest", (c) => {
    const prefix = (c.req.query("prefix") ?? "").trim().toLowerCase().slice(0, 20);
    return c.json({ words: ctl.suggestWords(prefix) });
  });
  api.post("/onboarding/create", async (c) => {
    const input = await body(c, z.strictObject({ mnemonic: z.string().max(1000), passphrase: z.string().max(1000).optional(), password: Password }));
    return c.json(await ctl.createIdentity(input));
  });
  api.post("/unlock", async (c) => {
    const { password } = await body(c, z.strictObject({ password: Password }));
    await withPassword(() => ctl.unlock(password));
    return c.json({ ok: true });
  });
  api.post("/lock", async (c) => {
    await ctl.lock();
    return c.json({ ok: true });
  });
  api.post("/identity/reveal", async (c) => {
    const { password } = await body(c, z.strictObject({ password: Password }));
    const mnemonic = await withPassword(() => ctl.revealMnemonic(password));
    return c.json({ mnemonic });
  });

  api.post("/wallet/receive", async (c) => {
    const { amountSats } = await body(c, z.strictObject({ amountSats: z.int().positive().max(21e14).optional() }));
    return c.json(await ctl.walletReceive(amountSats));
  });
  api.post("/wallet/send/prepare", async (c) => {
    const { destination, amountSats } = await body(c, z.strictObject({ destination: z.string().trim().min(1).max(2000), amountSats: z.int().positive().max(21e14).optional() }));
    return c.json(await ctl.walletPrepareSend(destination, amountSats));
  });
  // Money leaves only with the vault password, under the same attempt limit as unlock and reveal:
  // the dashboard token alone (in logs, browser history, a cookie every 127.0.0.1 port gets) can't drain the wallet.
  api.post("/wallet/send/confirm", async (c) => {
    const { id, password } = await body(
      c,
      z.strictObject({ id: z.string().min(1).max(200), password: z.string({ error: "the vault password is needed to send" }).min(1, "the vault password is needed to send").max(1024) }),
    );
    const sent = await withPassword(() => ctl.walletConfirmSend(id, password));
    // A pending or failed payment is said as such; only "completed" has certainly paid.
    return c.json({ ok: sent.status !== "failed", ...sent });
  });

  const need = <K extends keyof Controller>(name: K): NonNullable<Controller[K]> => {
    const fn = ctl[name];
    if (typeof fn !== "function") throw new AppError("not_found", "This build's wallet does not offer that.");
    return (fn as (...a: unknown[]) => unknown).bind(ctl) as NonNullable<Controller[K]>;
  };
  api.get("/wallet/balance", async (c) => c.json(await need("walletBalance")()));
  api.get("/wallet/payments", async (c) => {
    const raw = c.req.query("limit");
    const limit = raw === undefined ? 50 : /^\d{1,4}$/.test(raw) ? Math.min(Number(raw), 1000) : NaN;
    if (!Number.isInteger(limit)) throw new AppError("invalid_input", "limit must be a whole number from 0 to 1000.");
    const payments = await need("walletPayments")(limit);
    // Received payments come from the ledger; sent ones from the wallet, which may be away.
    let sent: unknown[] | null = null;
    let sentError: string | null = null;
    if (typeof ctl.walletSent === "function") {
      try {
        sent = await ctl.walletSent(limit);
        if (sent === null) sentError = "The wallet is not connected: sent payments show once it is.";
      } catch (err) {
        sentError = err instanceof Error ? err.message : String(err);
      }
    }
    return c.json({ payments, sent, sentError });
  });
  api.get("/wallet/lightning-address", async (c) => c.json({ lightningAddress: await need("walletLightningAddress")() }));
  api.put("/wallet/lightning-address", async (c) => {
    const { username } = await body(c, z.strictObject({ username: z.string().trim().min(1).max(64) }));
    return c.json({ lightningAddress: await need("walletSetLightningAddress")(username) });
  });
  api.delete("/wallet/lightning-address", async (c) => {
    await need("walletDeleteLightningAddress")();
    return c.json({ ok: true });
  });
  // A Breez API key for a build that carries none: saved, answered masked, never echoed back.
  api.get("/wallet/breez-key", (c) => c.json(need("walletBreezKey")()));
  api.put("/wallet/breez-key", async (c) => {
    const { apiKey } = await body(c, z.strictObject({ apiKey: z.string().max(4096) }));
    return c.json(await need("walletSetBreezKey")(apiKey));
  });

  // The market (src/market/): ?since=7d|24h|90m, ?model=NAME for one model's suggested price.
  api.get("/market", (c) => {
    const model = c.req.query("model");
    if (model !== undefined && !/^[\w.:/-]{1,200}$/.test(model)) throw new AppError("invalid_input", "model: not a model name");
    return c.json(need("marketView")({ sinceSecs: parseWindow(c.req.query("since")), ...(model ? { model } : {}) }));
  });
  api.post("/models/benchmark", async (c) => {
    const { model } = await body(c, z.strictObject({ model: z.string().trim().min(1).max(200).regex(/^[\w.:/-]+$/, "not a model name").optional() }));
    // A benchmark takes seconds to minutes: exempt from the idle timeout, like the event stream.
    (c.env as { timeout?: (req: Request, secs: number) => void } | undefined)?.timeout?.(c.req.raw, 0);
    return c.json(await need("benchmarkModel")(model));
  });

  api.post("/jobs/:id/cancel", async (c) => {
    const id = c.req.param("id");
    if (!/^[0-9a-f]{64}$/.test(id)) throw new AppError("invalid_input", "A job id is 64 hex characters.");
    await ctl.cancelJob(id);
    return c.json({ ok: true });
  });

  app.route("/api", api);
  return app;
}

/**
 * Bun.serve for the app: a short idle timeout for every connection (the event stream lifts it for
 * itself), at most MAX_PENDING_REQUESTS answered at once, and a request without a Host header
 * refused before routing (Host is what the DNS-rebinding check reads).
 */
export function serveHttp(hono: Hono, opts: { hostname: string; port: number; idleTimeoutSecs?: number }): ReturnType<typeof Bun.serve> {
  const json = (status: number, name: string, message: string) =>
    new Response(JSON.stringify({ error: { name, message } }), { status, headers: { "content-type": "application/json" } });
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
