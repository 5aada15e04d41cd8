// Shared CLI plumbing: the flags every command takes, parsing with util.parseArgs, password input,
// calls to the compute running on the data dir.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { readFileSync, statSync } from "node:fs";
import { AppError, httpStatus, type ErrorCode } from "../errors.ts";
import type { ConfigFlags } from "../config.ts";
import { defaultDataDir } from "../data-dir.ts";
import { LOG_FORMATS, LOG_LEVELS, parseLogFormat, setLogFormat, setLogLevel, type LogLevel } from "../log.ts";

export const COMMON_OPTIONS = {
  help: { type: "boolean", short: "h" },
  "data-dir": { type: "string" },
  relay: { type: "string", multiple: true },
  "ollama-url": { type: "string" },
  backend: { type: "string", multiple: true },
  port: { type: "string" },
  host: { type: "string" },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
  network: { type: "string" },
  json: { type: "boolean" },
  "password-file": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

export const COMMON_HELP = `Common options:
  --data-dir DIR        where compute keeps its files (env COMPUTE_DATA_DIR; default ${defaultDataDirLabel()})
  --relay URL           a relay to use; repeat for several; replaces the configured relays
  --ollama-url URL      Ollama's address (default from OLLAMA_HOST, else http://127.0.0.1:11434)
  --backend URL         an inference backend for this run: an Ollama URL, or openai:URL for an
                        OpenAI-compatible server (vLLM, llama.cpp, ...); repeat for several
  --port N              dashboard/API port (default 7750; 0 = any free port)
  --host ADDR           address to bind (default 127.0.0.1; anything else is reachable from the network)
  --network NET         mainnet (default) or regtest for the wallet
  --log-level LEVEL     debug, info, warn, error or silent (default info)
  --log-format FORMAT   json or pretty (default: pretty on a terminal, else json lines)
  --password-file F     read the vault password from file F (or set COMPUTE_PASSWORD)
  --json                print data as JSON
  -h, --help            this help`;

function defaultDataDirLabel(): string {
  if (process.platform === "darwin") return "~/Library/Application Support/compute";
  if (process.platform === "win32") return "%APPDATA%\\compute";
  return "$XDG_DATA_HOME/compute or ~/.local/share/compute";
}

export function parse<O extends ParseArgsConfig["options"]>(args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals, strict: true });
  } catch (err) {
    // parseArgs writes several lines; the CLI says one sentence.
    const raw = (err as Error).message;
    const ambiguous = raw.match(/^Option '(--?[\w-]+)' argument is ambiguous/);
    const msg = ambiguous
      ? `${ambiguous[1]} needs a value (to give one that starts with a dash, write ${ambiguous[1]}=VALUE)`
      : raw.split("\n")[0]!.replace(/\. To specify a positional argument.*$/s, "").replace(/\.$/, "");
    throw new AppError("usage", `${msg}; see --help.`);
  }
}

export function intFlag(value: string | undefined, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  // Digits only: Number() would also take "", " 1", "0x10" and "1e3".
  const n = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new AppError("usage", `--${name} must be a whole number from ${min} to ${max}, not '${value}'.`);
  return n;
}

/**
 * Log level for a one-shot command (init, status, …): --log-level, else COMPUTE_LOG_LEVEL, else
 * `fallback`. Their output is for a person; info-level JSON lines on stderr would only be noise.
 */
export function applyLogLevel(values: { "log-level"?: string; "log-format"?: string }, fallback: LogLevel = "warn"): void {
  applyLogFormat(values);
  const flag = values["log-level"];
  if (flag !== undefined) {
    const level = LOG_LEVELS.find((l) => l === flag);
    if (!level) throw new AppError("usage", `--log-level must be one of ${LOG_LEVELS.join(", ")}, not '${flag}'.`);
    setLogLevel(level);
    return;
  }
  setLogLevel(LOG_LEVELS.find((l) => l === process.env.COMPUTE_LOG_LEVEL) ?? fallback);
}

/** --log-format, else COMPUTE_LOG_FORMAT (read by log.ts), else pretty on a terminal. */
export function applyLogFormat(values: { "log-format"?: string }): void {
  const flag = values["log-format"];
  if (flag === undefined) return;
  const format = parseLogFormat(flag);
  if (!format) throw new AppError("usage", `--log-format must be one of ${LOG_FORMATS.join(", ")}, not '${flag}'.`);
  setLogFormat(format);
}

export function dataDirFrom(values: { "data-dir"?: string }): string {
  return values["data-dir"] ?? defaultDataDir();
}

export function configFlagsFrom(values: Record<string, unknown>): ConfigFlags {
  return {
    relays: values.relay as string[] | undefined,
    ollamaUrl: values["ollama-url"] as string | undefined,
    backends: values.backend as string[] | undefined,
    port: intFlag(values.port as string | undefined, "port", 0, 65535),
    host: values.host as string | undefined,
    logLevel: values["log-level"] as string | undefined,
    logFormat: values["log-format"] as string | undefined,
    network: values.network as string | undefined,
    online: values.online as boolean | undefined,
    paymentMode: values["payment-mode"] as string | undefined,
    priceMsats: intFlag(values["price-msats"] as string | undefined, "price-msats"),
    pricePer1kTokensMsats: intFlag(values["price-per-1k-tokens-msats"] as string | undefined, "price-per-1k-tokens-msats"),
  };
}

const takenSecrets = new Map<string, string | undefined>();

/**
 * A secret environment variable (COMPUTE_PASSWORD), removed from process.env the first time it is
 * read so processes spawned later don't inherit it; later reads get the value. node:child_process
 * passes process.env by default; Bun.spawn passes the environment as it was at start-up unless
 * given `env: process.env`, so spawns must say so (the window's does: windowEnv).
 */
export function takeEnvSecret(name: string): string | undefined {
  if (!takenSecrets.has(name)) {
    takenSecrets.set(name, process.env[name]);
  } else if (process.env[name] !== undefined) {
    takenSecrets.set(name, process.env[name]); // set again since (tests, an embedding program)
  }
  delete process.env[name];
  return takenSecrets.get(name);
}

/** A password file others can read: said on stderr (the file name only), like ssh does for keys. */
export function warnIfShared(path: string): void {
  if (process.platform === "win32") return;
  try {
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) {
      process.stderr.write(`warning: the password file ${path} is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${path}\n`);
    }
  } catch {}
}

/** The vault password: --password-file, then COMPUTE_PASSWORD, then a prompt on a terminal. */
export async function readPassword(values: { "password-file"?: string }, opts: { prompt: string; confirm?: boolean; required: boolean }): Promise<string | null> {
  if (values["password-file"]) {
    let text: string;
    try {
      text = readFileSync(values["password-file"], "utf8");
    } catch (err) {
      throw new AppError("invalid_input", `Cannot read the password file ${values["password-file"]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`);
    }
    const pw = text.replace(/\r?\n$/, "");
    if (!pw) throw new AppError("invalid_input", `The password file ${values["password-file"]} is empty.`);
    warnIfShared(values["password-file"]);
    return pw;
  }
  const fromEnv = takeEnvSecret("COMPUTE_PASSWORD");
  if (fromEnv) return fromEnv;
  if (process.stdin.isTTY) {
    const pw = await promptHidden(opts.prompt);
    if (opts.confirm) {
      const again = await promptHidden("Repeat it: ");
      if (again !== pw) throw new AppError("invalid_input", "The two passwords differ; run the command again.");
    }
    return pw;
  }
  if (opts.required) throw new AppError("usage", "No vault password: set COMPUTE_PASSWORD, pass --password-file FILE, or run in a terminal to be asked.");
  return null;
}

/** Reads a line from the terminal without echoing it. */
export async function promptHidden(question: string): Promise<string> {
  process.stderr.write(question);
  const stdin = process.stdin;
  stdin.setRawMode?.(true);
  stdin.resume();
  let out = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") {
            stdin.off("data", onData);
            process.stderr.write("\n");
            return resolve(out);
          }
          if (ch === "\u0003") {
            stdin.off("data", onData);
            process.stderr.write("\n");
            return reject(new AppError("usage", "Cancelled."));
          }
          if (ch === "\u007f" || ch === "\b") out = out.slice(0, -1);
          else out += ch;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode?.(false);
    stdin.pause();
  }
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? Number(v) : v), 2) + "\n");
}

// ---- the compute running on the data dir, over its API ----

export interface RunningApi {
  url: string;
  /** One request with the lock file's token; the answer's JSON, or the server's error as an AppError. */
  call<T = unknown>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T>;
  /** `v` when `ok(v)`; else "sent an answer this version does not understand". */
  expect<T>(v: unknown, ok: (v: unknown) => boolean): T;
}

const ERROR_CODES = new Set(Object.keys(httpStatus));

/**
 * The running compute named by the lock file. No answer within the timeout, or an answer that is not
 * JSON, is `unavailable` naming its address; the server's errors keep their code, except that a
 * usage error becomes invalid_input (it is about the input, not this command line).
 */
export function runningApi(running: { url: string; token: string }): RunningApi {
  const { url, token } = running;
  const notUnderstood = () => new AppError("unavailable", `The running compute at ${url} sent an answer this version does not understand.`);
  return {
    url,
    async call<T>(method: string, path: string, body?: unknown, timeoutMs = 20_000): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${url}/api${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const why = (err as Error).name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : (err as Error).message;
        throw new AppError("unavailable", `The running compute at ${url} did not answer (${why}).`);
      }
      const data = (await res.json().catch(() => null)) as { error?: { name?: string; message?: string } } | null;
      if (!res.ok) {
        const e = data?.error;
        const code = (e?.name && ERROR_CODES.has(e.name) ? e.name : "unavailable") as ErrorCode;
        throw new AppError(code === "usage" ? "invalid_input" : code, e?.message ?? `The running compute at ${url} answered HTTP ${res.status}.`);
      }
      if (data === null) throw notUnderstood();
      return data as T;
    },
    expect<T>(v: unknown, ok: (v: unknown) => boolean): T {
      if (!ok(v)) throw notUnderstood();
      return v as T;
    },
  };
}
