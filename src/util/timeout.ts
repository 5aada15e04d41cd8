// The one bounded wait: a promise, or an error when it takes too long (or the caller gives up).
// The timer is cleared as soon as the race is decided, so a settled wait never keeps the process
// alive or fires later; whatever `p` does after losing is observed (no unhandled rejection).

export interface WithTimeoutOptions<T> {
  /** Gives up at once when this aborts (rejecting with abortError(), else the signal's reason). */
  signal?: AbortSignal;
  abortError?: () => unknown;
  /**
   * Receives a value that arrives after the timeout, e.g. an SDK connection that opened too late
   * and must still be closed. Not called after an abort.
   */
  onLate?: (value: T) => void;
}

/**
 * Settles as `p` does if it settles within `ms`; otherwise rejects with `error` (a message for a
 * plain Error, or a function making the error to throw).
 */
export function withTimeout<T>(p: PromiseLike<T>, ms: number, error: string | (() => unknown), opts: WithTimeoutOptions<T> = {}): Promise<T> {
  const { signal, onLate } = opts;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timedOut = false;
    const onAbort = () => {
      if (settled) return;
      end();
      reject(opts.abortError ? opts.abortError() : (signal?.reason ?? new Error("aborted")));
    };
    const end = () => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const timer = setTimeout(() => {
      if (settled) return;
      timedOut = true;
      end();
      reject(typeof error === "string" ? new Error(error) : error());
    }, Math.max(0, ms));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    p.then(
      (value) => {
        if (!settled) {
          end();
          resolve(value);
        } else if (timedOut && onLate) onLate(value);
      },
      (err) => {
        if (settled) return;
        end();
        reject(err);
      },
    );
  });
}
