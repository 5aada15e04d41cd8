// Structured logs: one JSON line per record on stderr, tagged with the service that wrote it.
// When stderr is a terminal the same records print as short readable lines instead (time, level,
// service, message, key=value, in colour); `--log-format json|pretty` (COMPUTE_LOG_FORMAT, config
// logFormat) overrides. Services and files always get JSON unless told otherwise.
// Secrets never reach a log: fields whose names look secret are replaced before writing, and so is
// secret-looking text (an nsec, a ?token=) anywhere in a message or a value; both formats print
// the redacted record. The pretty format escapes control characters, so text from a peer can't
// forge a line or send escape sequences to the terminal.

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
// Field names that hold secrets. "token" only at the end of a name, so token counts
// (maxTokens, outputTokens, tokensPerSecond) stay readable while token, authToken, api_token go.
const SECRET_KEY = /seed|mnemonic|nsec|passw|passphrase|secret|private|privkey|api_?key|authorization|cookie|preimage|token$/i;
// Secrets that can hide inside any string (messages, URLs, error texts): a bech32 nsec (NIP-19)
// and the dashboard's ?token= query parameter.
const SECRET_IN_TEXT = [/\bnsec1[02-9ac-hj-np-z]{20,}/gi, /([?&]token=)[^&\s"']+/gi];

export const LOG_FORMATS = ["json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogRecord = { t: string; level: LogLevel; service: string; msg: string } & Record<string, unknown>;
/** Receives each record as its JSON line; the record itself is there for formatting. */
export type LogSink = (line: string, record?: LogRecord) => void;

let threshold: LogLevel = parseLevel(process.env.COMPUTE_LOG_LEVEL) ?? "info";
/** "auto": pretty when stderr is a terminal, JSON otherwise. */
let format: LogFormat | "auto" = parseLogFormat(process.env.COMPUTE_LOG_FORMAT) ?? "auto";

/** The format records are written in to stderr now. */
export function getLogFormat(): LogFormat {
  return format === "auto" ? (process.stderr.isTTY ? "pretty" : "json") : format;
}

export function setLogFormat(next: LogFormat | "auto"): void {
  format = next;
}

export function parseLogFormat(value: string | undefined): LogFormat | undefined {
  return LOG_FORMATS.find((f) => f === value);
}

const stderrSink: LogSink = (line, record) => {
  if (getLogFormat() === "json") return void process.stderr.write(line + "\n");
  const colour = process.stderr.isTTY === true && !process.env.NO_COLOR;
  process.stderr.write(formatPretty(record ?? (JSON.parse(line) as LogRecord), { colour }) + "\n");
};
let sink: LogSink = stderrSink;

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
export function setLogSink(next: LogSink): LogSink {
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
    const record: LogRecord = { t: new Date().toISOString(), level, service, msg: redactText(msg) };
    // Fields never overwrite the record's own keys.
    if (fields) for (const [k, v] of Object.entries(redact(fields) as object)) if (!(k in record)) record[k] = v;
    sink(JSON.stringify(record), record);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

// ---- the pretty format ----

const LEVEL_LABEL: Record<LogLevel, string> = { debug: "DEBUG", info: "INFO ", warn: "WARN ", error: "ERROR", silent: "" };
const LEVEL_COLOUR: Record<LogLevel, string> = { debug: "90", info: "36", warn: "33", error: "1;31", silent: "0" };

/** Control characters (C0, DEL, C1) written as JSON escapes: no forged lines, no terminal escapes. */
function escapeControls(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function prettyValue(v: unknown): string {
  // Plain when it reads unambiguously (a URL, a number-like id, [redacted]), else quoted.
  if (typeof v === "string") return /^[\w.:/@+%,?=&[\]-]+$/.test(v) ? v : JSON.stringify(v);
  if (v === undefined) return "undefined";
  if (typeof v === "object" && v !== null) {
    const { name, message, code } = v as { name?: unknown; message?: unknown; code?: unknown };
    // A redacted Error ({name, message, code?}) reads as its message.
    const keys = Object.keys(v).length;
    if (typeof message === "string" && typeof name === "string" && keys === (code === undefined ? 2 : 3)) {
      return JSON.stringify(`${name === "Error" ? "" : name + ": "}${message}${typeof code === "string" ? ` (${code})` : ""}`);
    }
  }
  return JSON.stringify(v) ?? String(v);
}

function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** One record as a line a person reads: `12:04:05.123 INFO  server listening port=7750`. */
export function formatPretty(record: LogRecord, opts: { colour: boolean }): string {
  const paint = (code: string, text: string) => (opts.colour ? `\x1b[${code}m${text}\x1b[0m` : text);
  const parts = [
    paint("2", localTime(record.t)),
    paint(LEVEL_COLOUR[record.level] ?? "0", LEVEL_LABEL[record.level] ?? String(record.level)),
    paint("35", escapeControls(String(record.service))),
    escapeControls(String(record.msg)),
  ];
  for (const [k, v] of Object.entries(record)) {
    if (k === "t" || k === "level" || k === "service" || k === "msg") continue;
    parts.push(`${paint("2", escapeControls(k) + "=")}${escapeControls(prettyValue(v))}`);
  }
  return parts.join(" ");
}
