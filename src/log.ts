// Structured logs: one JSON line per record on stderr, tagged with the service that wrote it.
// Secrets never reach a log: fields whose names look secret are replaced before writing.

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const SECRET_KEY = /seed|mnemonic|nsec|password|passphrase|secret|private|token|apikey|api_key/i;

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

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== "object") {
    if (typeof value === "bigint") return value.toString();
    if (typeof value === "string" && /^nsec1[02-9ac-hj-np-z]{20,}$/.test(value)) return "[redacted]";
    return value;
  }
  if (value instanceof Error) return { name: value.name, message: value.message };
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
    const record = { t: new Date().toISOString(), level, service, msg, ...(fields ? (redact(fields) as object) : {}) };
    sink(JSON.stringify(record));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}
