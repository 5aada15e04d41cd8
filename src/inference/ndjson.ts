// Ollama's streamed replies (NDJSON), checked as they pass to the `ollama` client (ollama.ts): the
// client skips a line that is not JSON with a console warning and keeps no limit on a line's
// length. For a paid answer a silently dropped chunk is worse than an error, and a line that never
// ends would grow in memory until the process dies; so the check fails the stream at either.

/** A line that is not JSON, or that grows past the limit without ending. */
export class MalformedNdjson extends Error {
  constructor(line: string, why?: string) {
    super(why ?? `not JSON: ${line.slice(0, 80)}`);
    this.name = "MalformedNdjson";
  }
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
