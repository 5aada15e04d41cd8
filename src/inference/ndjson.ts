// Ollama's streamed replies (NDJSON) read with one fetch and one JSON.parse per line: a generation
// is on every job's path, and the `ollama` client makes a client per call and parses each line a
// second time. The caller stringifies the request once; each line is parsed once and handed over as
// a plain object, to be checked by the caller (its shape, once per response shape). Errors take the
// client's forms (ollama.ts still uses the client for its other calls), so one mapping reads both: a
// non-2xx reply is a ResponseError (name, status_code, error), an {"error": …} line a plain Error
// with Ollama's text, a line that is not JSON (or a line without an end) a MalformedNdjson.

/** A line that is not JSON, or that grows past the limit without ending. */
export class MalformedNdjson extends Error {
  constructor(line: string, why?: string) {
    super(why ?? `not JSON: ${line.slice(0, 80)}`);
    this.name = "MalformedNdjson";
  }
}

/** Ollama answered with an HTTP error (the `ollama` client's ResponseError, same fields). */
export class ResponseError extends Error {
  constructor(
    readonly error: string,
    readonly status_code: number,
  ) {
    super(error);
    this.name = "ResponseError";
  }
}

/**
 * POSTs `body` (a JSON string) to `url` and yields each line of the NDJSON reply, parsed once.
 * A line carrying {"error": "…"} ends the stream with that error. `signal` aborts the request
 * and the read.
 */
export async function* postNdjson(
  url: string,
  body: string,
  opts: { signal: AbortSignal; maxLineBytes: number; fetch?: typeof fetch; onResponse?: () => void },
): AsyncGenerator<Record<string, unknown>> {
  const res = await (opts.fetch ?? fetch)(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/x-ndjson" },
    body,
    signal: opts.signal,
  });
  if (!res.ok) {
    const text = await res.text().catch(() => "");
    let message = text.trim() || res.statusText || `HTTP ${res.status}`;
    try {
      const parsed = JSON.parse(text) as { error?: unknown };
      if (typeof parsed?.error === "string") message = parsed.error;
    } catch {
      // Not JSON: the text itself says what went wrong.
    }
    throw new ResponseError(message, res.status);
  }
  opts.onResponse?.();
  if (!res.body) throw new MalformedNdjson("", "a reply without a body");
  const lines = new NdjsonLines(opts.maxLineBytes);
  const parse = (line: string): Record<string, unknown> | null => {
    if (line.trim() === "") return null;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new MalformedNdjson(line);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new MalformedNdjson(line, `not a JSON object: ${line.slice(0, 80)}`);
    const error = (value as { error?: unknown }).error;
    if (typeof error === "string") throw new Error(error);
    return value as Record<string, unknown>;
  };
  for await (const chunk of res.body) {
    lines.push(chunk);
    for (let text = lines.next(); text !== null; text = lines.next()) {
      const line = parse(text);
      if (line) yield line;
    }
  }
  const last = parse(lines.end());
  if (last) yield last;
}

/**
 * Cuts a byte stream into lines as its chunks arrive. A line that grows past `maxLineBytes` without
 * an end fails the stream (MalformedNdjson): it would otherwise grow in memory until the process dies.
 */
export class NdjsonLines {
  private readonly decoder = new TextDecoder();
  private pending = "";
  private start = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** Takes the next chunk; its complete lines come out of next(). */
  push(chunk: Uint8Array): void {
    this.pending = (this.start > 0 ? this.pending.slice(this.start) : this.pending) + this.decoder.decode(chunk, { stream: true });
    this.start = 0;
  }

  /** The next complete line (without its newline), or null when the rest has no end yet. */
  next(): string | null {
    const nl = this.pending.indexOf("\n", this.start);
    if (nl < 0) {
      if (this.pending.length - this.start > this.maxLineBytes) throw new MalformedNdjson("", `a line longer than ${this.maxLineBytes >> 20} MiB`);
      return null;
    }
    const line = this.pending.slice(this.start, nl);
    this.start = nl + 1;
    return line;
  }

  /** What is left when the stream ends: a last line without a newline, or "". */
  end(): string {
    return this.pending.slice(this.start) + this.decoder.decode();
  }
}
