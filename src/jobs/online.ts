// Keeping the provider online (config `online`, --online): go online now if it can, and otherwise
// as soon as what stops it clears: a wallet still connecting, Ollama not started yet, no model yet,
// a locked identity. Tried again on every change that may clear a reason and every few seconds, so
// a headless provider started at boot (or restarted after a crash) ends up online by itself. The
// schedule taking it offline (policy) also brings it back by itself when the schedule allows.

export const ONLINE_RETRY_MS = 5_000;

export interface OnlineKeeperDeps {
  /** Goes online, or throws why it can't (the reason is reported once). */
  goOnline: () => Promise<void>;
  isOnline: () => boolean;
  /** The app is stopping: no more attempts. */
  stopped: () => boolean;
  /** Calls `retry` on each change that may clear a reason (identity, wallet, inference, models); returns the unsubscribe. */
  onChange: (retry: () => void) => () => void;
  retryMs?: number;
}

export class OnlineKeeper {
  /** The config's `online` asks to be online whenever compute can be. */
  private want = false;
  /** The schedule or a limit took us offline: back online by itself when it allows. */
  private policyOffline = false;
  private attempt: Promise<void> | null = null;
  private block: string | null = null;
  private report: (line: string) => void = () => {};

  constructor(private readonly deps: OnlineKeeperDeps) {}

  /**
   * Starts keeping online; `report` hears each new reason once, and "online" when it gets there.
   * Returns what stops the retries, the first time only (null when already keeping).
   */
  keep(report: (line: string) => void): (() => void) | null {
    this.report = report;
    if (this.want) return null;
    this.want = true;
    const unsubscribe = this.deps.onChange(() => void this.tryOnline());
    const timer = setInterval(() => void this.tryOnline(), this.deps.retryMs ?? ONLINE_RETRY_MS);
    timer.unref?.();
    return () => {
      clearInterval(timer);
      unsubscribe();
    };
  }

  /** The person chose offline: that wins over --online (and the schedule's return) for the rest of this run. */
  release(): void {
    this.want = false;
    this.policyOffline = false;
  }

  /** The schedule or a limit took us offline (`gate` says why): come back when it allows. */
  wentOfflineByPolicy(gate: string): void {
    this.policyOffline = true;
    this.block = null;
    this.report(`offline: ${gate}`);
  }

  tryOnline(): Promise<void> {
    if (!(this.want || this.policyOffline) || this.deps.stopped() || this.deps.isOnline()) return Promise.resolve();
    this.attempt ??= (async () => {
      try {
        await this.deps.goOnline();
        if (!this.deps.isOnline()) return;
        this.block = null;
        this.policyOffline = false;
        this.report("online");
      } catch (err) {
        const why = (err as Error).message;
        if (why === this.block || !(this.want || this.policyOffline)) return;
        this.block = why;
        this.report(`not online yet: ${why} (it goes online by itself once that is fixed)`);
      }
    })().finally(() => {
      this.attempt = null;
    });
    return this.attempt;
  }
}
