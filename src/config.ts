// One zod schema with defaults. Precedence: flags > env > file > defaults. A bad file is an error
// that names the key and the problem; this module never rewrites the file on its own.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { AppError, issueText } from "./errors.ts";
import { LOG_FORMATS, LOG_LEVELS } from "./log.ts";
import { atomicWriteFile } from "./util/atomic.ts";

export const DEFAULT_RELAYS = ["wss://relay.damus.io", "wss://nos.lol", "wss://relay.nostr.band"];
export const DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434";
export const DEFAULT_PORT = 7750;

/** A URL with one of `protocols` and a host; the whole string must parse (no trailing junk). */
function urlWith(protocols: string[]) {
  return (s: string) => {
    if (/\s/.test(s)) return false;
    try {
      const u = new URL(s);
      return protocols.includes(u.protocol) && u.hostname !== "";
    } catch {
      return false;
    }
  };
}
export const isRelayUrl = urlWith(["ws:", "wss:"]);
export const isHttpUrl = urlWith(["http:", "https:"]);
const relayUrl = z.string().trim().refine(isRelayUrl, { message: "must be a ws:// or wss:// URL" });
const httpUrl = z.string().trim().refine(isHttpUrl, { message: "must be an http:// or https:// URL" });

export const PaymentMode = z.enum(["upfront", "after", "free"]);
export type PaymentMode = z.infer<typeof PaymentMode>;

/**
 * Jobs sent to an Ollama at once unless the config says otherwise. Two: the next job already waits
 * at Ollama while one generates (no gap between jobs, no round trip of ours in it), and runs beside
 * it where Ollama runs requests in parallel (OLLAMA_NUM_PARALLEL; Ollama picks by its memory unless
 * it is set). A job's time limit counts from its first token, so that wait doesn't run it down.
 */
export const OLLAMA_DEFAULT_SLOTS = 2;

export const Limits = z.strictObject({
  /** Jobs generating at once on the one-Ollama shorthand (OLLAMA_DEFAULT_SLOTS). */
  maxConcurrentJobs: z.int().min(1).max(64).default(OLLAMA_DEFAULT_SLOTS),
  /** Jobs waiting for a slot; beyond it a request gets error "busy, try later". */
  queueSize: z.int().min(0).max(10_000).default(16),
  /**
   * Jobs one customer may have waiting in that queue; beyond it their request is refused with a
   * reason naming their waiting jobs, so one customer's burst can't fill the queue for everyone.
   */
  maxQueuedPerCustomer: z.int().min(1).max(10_000).default(2),
  maxInputBytes: z.int().min(1).max(10_000_000).default(32_000),
  /** url inputs one request may name (each is an outbound GET); more is refused at admission. */
  maxUrlInputs: z.int().min(0).max(64).default(4),
  maxTokensCap: z.int().min(1).max(1_000_000).default(2048),
  perCustomerPerMinute: z.int().min(1).max(100_000).default(6),
  jobTimeoutSecs: z.int().min(1).max(86_400).default(300),
  partialIntervalMs: z.int().min(100).max(600_000).default(2000),
  allow: z.array(z.string()).default([]),
  deny: z.array(z.string()).default([]),
  /** url inputs pointing at loopback/private addresses are refused unless this is true. */
  allowPrivateUrls: z.boolean().default(false),
  /** On going offline: finish running jobs (default) or cancel them. */
  onOffline: z.enum(["finish", "cancel"]).default("finish"),
});
export type Limits = z.infer<typeof Limits>;

export const Pricing = z.strictObject({
  mode: PaymentMode.default("upfront"),
  perJobMsats: z.int().min(0).default(10_000),
  per1kTokensMsats: z.int().min(0).default(0),
  models: z.record(z.string(), z.strictObject({ perJobMsats: z.int().min(0).optional(), per1kTokensMsats: z.int().min(0).optional() })).default({}),
  invoiceExpirySecs: z.int().min(30).max(86_400).default(600),
  freeJobsPerCustomer: z.int().min(0).default(0),
  /**
   * Pay-after jobs answered in the last 24 h and not paid, counted over all customers: at this many,
   * new pay-after jobs are charged up front instead (pubkeys are free, so a per-customer rule alone
   * can't bound the unpaid work done for strangers). 0: every pay-after job is charged up front.
   */
  maxUnpaidAfterJobs: z.int().min(0).max(100_000).default(20),
  /** Free-allowance jobs (freeJobsPerCustomer) given in the last hour over all customers; beyond it, jobs are charged. */
  maxFreeJobsPerHour: z.int().min(0).max(100_000).default(20),
  /** The least the owner will take per job (msats): a suggested price (compute price suggest) never goes below it. */
  floorMsats: z.int().min(0).max(1_000_000_000).default(0),
});
export type Pricing = z.infer<typeof Pricing>;

/** "HH:MM-HH:MM" local time; an end at or before the start runs past midnight; 24:00 ends the day. */
const TimeRange = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$/, { message: "must be HH:MM-HH:MM (24-hour clock)" })
  .refine((r) => r.slice(0, 5) !== r.slice(6), { message: "must not start and end at the same time" });
const DayRanges = z.array(TimeRange).max(48).default([]);

/** When to sell (src/service/schedule.ts): weekly hours in local time, daily limits. */
export const Schedule = z.strictObject({
  /** Sell only within the weekly hours below (limits apply either way). */
  enabled: z.boolean().default(false),
  weekly: z.strictObject({ mon: DayRanges, tue: DayRanges, wed: DayRanges, thu: DayRanges, fri: DayRanges, sat: DayRanges, sun: DayRanges }).prefault({}),
  /** Going offline by schedule or limit: running jobs get this long to finish, then are cancelled. */
  graceSecs: z.int().min(0).max(86_400).default(300),
  maxJobsPerDay: z.int().min(1).nullable().default(null),
  maxSatsPerDay: z.int().min(1).nullable().default(null),
  maxGpuHoursPerDay: z.number().positive().max(24).nullable().default(null),
});
export type Schedule = z.infer<typeof Schedule>;

/** Pause when the machine is busy (src/service/busy.ts): probes, hysteresis, running jobs. */
export const Pause = z.strictObject({
  enabled: z.boolean().default(false),
  /** Other processes on an NVIDIA GPU (nvidia-smi), not this provider's backend. */
  nvidia: z.boolean().default(true),
  /** Models loaded in Ollama that this provider does not serve (another client's). */
  ollama: z.boolean().default(true),
  /** Busy while the owner touched keyboard or mouse within this many seconds; 0 = don't watch. */
  idleSecs: z.int().min(0).max(86_400).default(0),
  probeSecs: z.int().min(1).max(3600).default(10),
  /** Resume only after the machine has been free this long (no flapping). */
  holdSecs: z.int().min(0).max(86_400).default(120),
  /** Jobs running when the pause starts: finish them, or cancel them. */
  running: z.enum(["finish", "cancel"]).default("finish"),
  /** GPU process names (substrings) that never count as the owner's use. */
  ignoreProcesses: z.array(z.string().min(1)).default([]),
});
export type Pause = z.infer<typeof Pause>;

/** One inference backend (src/inference/router.ts): an Ollama, or an OpenAI-compatible server. */
export const BackendEntry = z.strictObject({
  name: z.string().trim().min(1).max(64),
  type: z.enum(["ollama", "openai"]).default("ollama"),
  url: httpUrl,
  apiKey: z.string().min(1).optional(),
  /** Jobs at once on it; default what it reports, else 1 (ollama) / 4 (openai). */
  maxConcurrent: z.int().min(1).max(256).optional(),
  /** Only these of its models (its own names). */
  models: z.array(z.string().min(1)).optional(),
});
export type BackendEntry = z.infer<typeof BackendEntry>;

export const ConfigSchema = z.strictObject({
  relays: z.array(relayUrl).default(DEFAULT_RELAYS),
  /** The one-Ollama shorthand: used when `backends` is empty. */
  ollamaUrl: httpUrl.default(DEFAULT_OLLAMA_URL),
  backends: z
    .array(BackendEntry)
    .max(64)
    .refine((b) => new Set(b.map((x) => x.name)).size === b.length, { message: "backend names must differ" })
    .default([]),
  /** A backend's model name → the public name (the same weights on two backends are one model). */
  aliases: z.record(z.string().min(1), z.string().trim().min(1)).default({}),
  host: z.string().default("127.0.0.1"),
  port: z.int().min(0).max(65535).default(DEFAULT_PORT),
  online: z.boolean().default(false),
  logLevel: z.enum(LOG_LEVELS).default("info"),
  /** Unset: pretty lines when stderr is a terminal, JSON lines otherwise. */
  logFormat: z.enum(LOG_FORMATS).optional(),
  network: z.enum(["mainnet", "regtest"]).default("mainnet"),
  breezApiKey: z.string().optional(),
  provider: z
    .strictObject({
      name: z.string().max(100).default("compute"),
      about: z.string().max(1000).default("Text generation on local Ollama models, paid over Lightning."),
      picture: z.string().default(""),
      /** null = serve every installed model. */
      servedModels: z.array(z.string()).nullable().default(null),
      defaultModel: z.string().optional(),
      /** Publish a kind 0 profile when going online (only if the user set a name). */
      publishProfile: z.boolean().default(false),
    })
    .prefault({}),
  limits: Limits.prefault({}),
  pricing: Pricing.prefault({}),
  schedule: Schedule.prefault({}),
  pause: Pause.prefault({}),
  /** The market view (src/market/): its own relay subscriptions, kept in market.sqlite. */
  market: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** How far back the first look goes (days). */
      lookbackDays: z.int().min(0).max(30).default(7),
    })
    .prefault({}),
});
export type Config = z.infer<typeof ConfigSchema>;

export interface ConfigFlags {
  relays?: string[];
  ollamaUrl?: string;
  /** --backend URL / --backend openai:URL, repeatable: this run's backends. */
  backends?: string[];
  port?: number;
  host?: string;
  online?: boolean;
  logLevel?: string;
  logFormat?: string;
  network?: string;
  paymentMode?: string;
  priceMsats?: number;
  pricePer1kTokensMsats?: number;
}

export { defaultDataDir } from "./data-dir.ts";

export const configPath = (dataDir: string) => join(dataDir, "config.json");

/**
 * `lead` says what was wrong ("The environment variables are invalid"); each issue names its key
 * path, or the variable/flag the user actually typed when `names` knows it (a person who passed
 * --payment-mode should read "--payment-mode", not "pricing.mode").
 */
function formatIssues(err: z.ZodError, lead: string, names: Record<string, string> = {}): string {
  return `${lead}: ${issueText(err, { names })}.`;
}

const ENV_NAMES: Record<string, string> = {
  ollamaUrl: "OLLAMA_HOST",
  relays: "COMPUTE_RELAYS",
  port: "COMPUTE_PORT",
  logLevel: "COMPUTE_LOG_LEVEL",
  logFormat: "COMPUTE_LOG_FORMAT",
  network: "COMPUTE_NETWORK",
  breezApiKey: "BREEZ_API_KEY",
};

const FLAG_NAMES: Record<string, string> = {
  relays: "--relay",
  backends: "--backend",
  ollamaUrl: "--ollama-url",
  port: "--port",
  host: "--host",
  logLevel: "--log-level",
  logFormat: "--log-format",
  network: "--network",
  "pricing.mode": "--payment-mode",
  "pricing.perJobMsats": "--price-msats",
  "pricing.per1kTokensMsats": "--price-per-1k-tokens-msats",
};

/** Reads the config file; missing → {}. Bad JSON or bad keys → AppError naming the key. */
export function readConfigFile(dataDir: string): Record<string, unknown> {
  const path = configPath(dataDir);
  if (!existsSync(path)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new AppError("invalid_input", `The config file ${path} is not valid JSON (${(err as Error).message}); fix or remove it.`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new AppError("invalid_input", `The config file ${path} must hold a JSON object.`);
  }
  const check = ConfigSchema.safeParse(raw);
  if (!check.success) throw new AppError("invalid_input", formatIssues(check.error, `The config file ${path} is invalid`));
  return raw as Record<string, unknown>;
}

/**
 * Ollama's own OLLAMA_HOST, read the way Ollama's CLI reads it: the scheme is optional (http), a
 * missing port means 11434 when no scheme was given, and an empty host means 127.0.0.1. People set
 * it to a listen address such as "0.0.0.0" to expose Ollama; as a destination that wildcard means
 * "this machine", and connecting to 0.0.0.0 fails on Windows, so it becomes 127.0.0.1.
 */
export function ollamaUrlFromHost(value: string): string {
  const v = value.trim();
  const explicit = /^[a-z][a-z0-9+.-]*:\/\//i.test(v);
  if (explicit) return v;
  let url: URL;
  try {
    url = new URL(`http://${v.startsWith(":") ? `127.0.0.1${v}` : v}`);
  } catch {
    return `http://${v}`; // left for the schema to reject with a message naming ollamaUrl
  }
  const wildcard = url.hostname === "0.0.0.0" || url.hostname === "[::]";
  const host = wildcard ? "127.0.0.1" : url.hostname;
  const path = url.pathname === "/" ? "" : url.pathname.replace(/\/$/, "");
  return `http://${host}:${url.port || "11434"}${path}`;
}

/**
 * `--backend URL` (an Ollama) or `--backend openai:URL` / `ollama:URL`, each named by its host and
 * port (a bad URL is left for the schema to name).
 */
export function backendsFromFlags(values: string[]): Array<{ name: string; type: "ollama" | "openai"; url: string }> {
  const out: Array<{ name: string; type: "ollama" | "openai"; url: string }> = [];
  for (const v of values) {
    const m = /^(ollama|openai):(.*)$/i.exec(v.trim());
    const type = (m?.[1]?.toLowerCase() ?? "ollama") as "ollama" | "openai";
    const url = (m ? m[2]! : v).trim();
    let base: string;
    try {
      base = new URL(url).host || url;
    } catch {
      base = url || "backend";
    }
    let name = base;
    for (let i = 2; out.some((b) => b.name === name); i++) name = `${base}-${i}`;
    out.push({ name, type, url });
  }
  return out;
}

/**
 * The backends a config runs on: `backends` when any are set, else the one-Ollama shorthand
 * (`ollamaUrl`, OLLAMA_HOST, --ollama-url) with limits.maxConcurrentJobs slots, as before backends
 * existed, so an existing config keeps its meaning.
 */
export function effectiveBackends(config: Pick<Config, "backends" | "ollamaUrl" | "limits">): BackendEntry[] {
  if (config.backends.length) return config.backends;
  return [{ name: "ollama", type: "ollama", url: config.ollamaUrl, maxConcurrent: config.limits.maxConcurrentJobs }];
}

/**
 * The migration of a config that had only `ollamaUrl` to `backends` (written when a backend is
 * first added or removed): the Ollama it ran on comes first, with the slots it had, so adding a
 * backend never drops it.
 */
export function backendsToSave(config: Pick<Config, "backends" | "ollamaUrl" | "limits">): BackendEntry[] {
  if (config.backends.length) return config.backends.map((b) => ({ ...b }));
  const slots = config.limits.maxConcurrentJobs;
  return [{ name: "ollama", type: "ollama", url: config.ollamaUrl, ...(slots !== OLLAMA_DEFAULT_SLOTS ? { maxConcurrent: slots } : {}) }];
}

function envLayer(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (env.OLLAMA_HOST?.trim()) out.ollamaUrl = ollamaUrlFromHost(env.OLLAMA_HOST);
  if (env.COMPUTE_RELAYS) out.relays = env.COMPUTE_RELAYS.split(",").map((s) => s.trim()).filter(Boolean);
  if (env.COMPUTE_PORT) out.port = Number(env.COMPUTE_PORT);
  if (env.COMPUTE_LOG_LEVEL) out.logLevel = env.COMPUTE_LOG_LEVEL;
  if (env.COMPUTE_LOG_FORMAT) out.logFormat = env.COMPUTE_LOG_FORMAT;
  if (env.COMPUTE_NETWORK) out.network = env.COMPUTE_NETWORK;
  if (env.BREEZ_API_KEY) out.breezApiKey = env.BREEZ_API_KEY;
  return out;
}

function flagLayer(flags: ConfigFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (flags.relays?.length) out.relays = flags.relays;
  if (flags.ollamaUrl !== undefined) out.ollamaUrl = flags.ollamaUrl;
  if (flags.backends?.length) out.backends = backendsFromFlags(flags.backends);
  if (flags.port !== undefined) out.port = flags.port;
  if (flags.host !== undefined) out.host = flags.host;
  if (flags.online) out.online = true;
  if (flags.logLevel !== undefined) out.logLevel = flags.logLevel;
  if (flags.logFormat !== undefined) out.logFormat = flags.logFormat;
  if (flags.network !== undefined) out.network = flags.network;
  const pricing: Record<string, unknown> = {};
  if (flags.paymentMode !== undefined) pricing.mode = flags.paymentMode;
  if (flags.priceMsats !== undefined) pricing.perJobMsats = flags.priceMsats;
  if (flags.pricePer1kTokensMsats !== undefined) pricing.per1kTokensMsats = flags.pricePer1kTokensMsats;
  if (Object.keys(pricing).length) out.pricing = pricing;
  return out;
}

/**
 * A settings patch over the file: objects merge key by key, arrays and values replace, and null
 * removes the key (its default applies again; e.g. a model's own price, or servedModels → all).
 */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) {
      delete out[k];
      continue;
    }
    const b = out[k];
    const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
    // An object merges into what is there (or into nothing, which still drops its nulls).
    out[k] = isObject(v) ? merge(isObject(b) ? b : {}, v) : v;
  }
  return out;
}

export function loadConfig(opts: { dataDir: string; flags?: ConfigFlags; env?: NodeJS.ProcessEnv }): Config {
  const file = readConfigFile(opts.dataDir);
  const env = envLayer(opts.env ?? process.env);
  const flags = flagLayer(opts.flags ?? {});
  const envCheck = ConfigSchema.safeParse(merge(file, env));
  if (!envCheck.success) throw new AppError("invalid_input", formatIssues(envCheck.error, "The environment variables are invalid", ENV_NAMES));
  const all = ConfigSchema.safeParse(merge(merge(file, env), flags));
  if (!all.success) throw new AppError("usage", formatIssues(all.error, "The command-line options are invalid", FLAG_NAMES));
  return all.data;
}

/**
 * This run's config after a change the user saved: the change applies at once, on top of what the
 * command line and the environment set for this run (which stay in force, as they were not saved).
 */
export function withChange(config: Config, patch: Record<string, unknown>): Config {
  const check = ConfigSchema.safeParse(merge(config as unknown as Record<string, unknown>, patch));
  if (!check.success) throw new AppError("invalid_input", formatIssues(check.error, "The new settings are invalid"));
  return check.data;
}

/**
 * Saves a change the user asked for (dashboard, CLI): the file's own keys are kept, the patch is
 * merged in, the result is validated, then written atomically. Flags/env of this run are not saved.
 */
export function updateConfigFile(dataDir: string, patch: Record<string, unknown>): Config {
  const next = merge(readConfigFile(dataDir), patch);
  const check = ConfigSchema.safeParse(next);
  if (!check.success) throw new AppError("invalid_input", formatIssues(check.error, "The new settings are invalid"));
  atomicWriteFile(configPath(dataDir), JSON.stringify(next, null, 2) + "\n", 0o600);
  return check.data;
}
