// Ollama's streamed replies (NDJSON) read with one fetch and one JSON.parse per line (issue 16.5):
// the `ollama` client would make a client per generation and parse each line a second time. The
// caller stringifies the request once; each line is parsed once and handed over as a plain object,
// to be checked by the caller (its shape, once per response shape). Errors keep the client's forms,
// so callers map them the same way: a non-2xx reply is a ResponseError (name, status_code, error), an
// {"error": …} line a plain Error with Ollama's text, a line that is not JSON (or a line without an
// end) a MalformedNdjson.

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
  const decoder = new TextDecoder();
  let pending = "";
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
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n", start)) {
      const line = parse(pending.slice(start, nl));
      start = nl + 1;
      if (line) yield line;
    }
    pending = pending.slice(start);
    // A line that never ends would otherwise grow in memory until the process dies.
    if (pending.length > opts.maxLineBytes) throw new MalformedNdjson("", `a line longer than ${opts.maxLineBytes >> 20} MiB`);
  }
  const last = parse(pending + decoder.decode());
  if (last) yield last;
}
