// What the Ollama and OpenAI-compatible backends share around one streamed request: its own abort
// controller tied to the caller's signal and to stop(), the first-token and stall timers, and the
// reading of why the request ended (caller, stop(), or one of our timeouts).
import { AppError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** One of our timers fired; the reason a guarded request's controller was aborted with. */
export class Timeout {
  constructor(
    readonly kind: "first" | "stall" | "request",
    readonly ms: number,
  ) {}
}

/** Something the backend sent shows it is broken (not merely busy or away). */
export class BadReply extends Error {}

export function secs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

/**
 * One request to a backend (a stream, or a short call like a model load). Throws the caller's reason at once if its signal is already aborted; else
 * registers its controller in `inflight` (so stop() can abort it) until close().
 */
export class StreamGuard {
  readonly ctl = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = () => this.ctl.abort(this.caller!.reason);

  constructor(
    private readonly caller: AbortSignal | undefined,
    private readonly inflight: Set<AbortController>,
  ) {
    caller?.throwIfAborted();
    caller?.addEventListener("abort", this.onAbort, { once: true });
    inflight.add(this.ctl);
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  /** (Re)starts the one timer: when it fires the request is aborted with a Timeout. */
  arm(kind: Timeout["kind"], ms: number): void {
    clearTimeout(this.timer);
    const t = new Timeout(kind, ms);
    this.timer = setTimeout(() => this.ctl.abort(t), ms);
  }

  get callerAborted(): boolean {
    return this.caller?.aborted === true;
  }

  /** The AppError stop() aborted the request with, if it did. */
  stopped(): AppError | undefined {
    const r = this.ctl.signal.aborted ? this.ctl.signal.reason : undefined;
    return r instanceof AppError ? r : undefined;
  }

  /** The timeout that aborted the request, if one did. */
  timedOut(): Timeout | undefined {
    const r = this.ctl.signal.aborted ? this.ctl.signal.reason : undefined;
    return r instanceof Timeout ? r : undefined;
  }

  /** In a catch: rethrows the caller's reason if it aborted, else stop()'s error if stopped. */
  rethrowAbort(): void {
    if (this.callerAborted) throw this.caller!.reason;
    const s = this.stopped();
    if (s) throw s;
  }

  /** In a finally: clears the timer, unhooks the caller and closes the connection. */
  close(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener("abort", this.onAbort);
    this.inflight.delete(this.ctl);
    this.ctl.abort(); // closes the connection if we stopped reading early
  }
}

/** Calls a listener; a broken one is logged and must not kill a generation someone is paying for. */
export function notify(log: Logger, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.error(`${what} threw`, { err });
  }
}
