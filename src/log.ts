// Structured logs: one JSON line per record on stderr, tagged with the service that wrote it.
// Secrets never reach a log: fields whose names look secret are replaced before writing, and so is
// secret-looking text (an nsec, a ?token=) anywhere in a message or a value.

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
// Field names that hold secrets. "token" only at the end of a name, so token counts
// (maxTokens, outputTokens, tokensPerSecond) stay readable while token, authToken, api_token go.
const SECRET_KEY = /seed|mnemonic|nsec|passw|passphrase|secret|private|privkey|api_?key|authorization|cookie|preimage|token$/i;
// Secrets that can hide inside any string (messages, URLs, error texts): a bech32 nsec (NIP-19)
// and the dashboard's ?token= query parameter.
const SECRET_IN_TEXT = [/\bnsec1[02-9ac-hj-np-z]{20,}/gi, /([?&]token=)[^&\s"']+/gi];

let threshold: LogLevel = parseLevel(process.env.COMPUTE_LOG_LEVEL) ?? "info";
let sink: (line: string) => void = (line) => process.stderr.write(line + "\n");

function parseLevel(value: string | undefined): LogLevel | undefined {
  return LOG_LEVELS.find((l) => l === value);
}

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

export function getLogLevel(): LogLevel {
  return threshold;
}

/** Tests capture logs by swapping the sink; returns the previous one. */
export function setLogSink(next: (line: string) => void): (line: string) => void {
  const prev = sink;
  sink = next;
  return prev;
}

function redactText(text: string): string {
  let out = text;
  for (const re of SECRET_IN_TEXT) out = out.replace(re, (_m, prefix?: string) => (typeof prefix === "string" ? `${prefix}[redacted]` : "[redacted]"));
  return out;
}

const MAX_DEPTH = 4;

/** A copy of `value` safe to log: secret-named fields and secret-looking text replaced. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return value;
  // Raw bytes are usually key material; never dump them.
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  // Past the depth limit say so instead of writing the object unfiltered.
  if (depth >= MAX_DEPTH) return "[nested]";
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: redactText(value.message), ...(typeof code === "string" ? { code } : {}) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
  return out;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function createLogger(service: string): Logger {
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (rank[level] < rank[threshold]) return;
    const record: Record<string, unknown> = { t: new Date().toISOString(), level, service, msg: redactText(msg) };
    // Fields never overwrite the record's own keys.
    if (fields) for (const [k, v] of Object.entries(redact(fields) as object)) if (!(k in record)) record[k] = v;
    sink(JSON.stringify(record));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}
