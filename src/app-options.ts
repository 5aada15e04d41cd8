// What App.start takes: the data dir, the run's flags and environment, the vault password, and the
// knobs tests shorten (timers, probes, retries) or replace (the wallet, the idle-time source).
import type { ConfigFlags } from "./config.ts";
import type { WalletFactory } from "./wallet/service.ts";

export interface AppOptions {
  dataDir: string;
  flags?: ConfigFlags;
  env?: NodeJS.ProcessEnv;
  /** Unlocks the vault at start (COMPUTE_PASSWORD / --password-file). */
  password?: string | null;
  /** Tests shorten the SSE heartbeat and probe intervals. */
  heartbeatMs?: number;
  ollamaProbeMs?: number;
  /**
   * Builds the wallet once the identity is unlocked. Default: the Breez Spark wallet. Tests pass a
   * Lightning test double here (settlement can't happen offline).
   */
  walletFactory?: WalletFactory;
  /** How often payments are reconciled with the wallet's list (default 60 s). */
  reconcileMs?: number;
  /** Bound on each wallet call made for a job (default 15 s); tests shorten it. */
  walletCallMs?: number;
  /** How long a receive matching no invoice waits for its zap receipt (default 30 s). */
  zapGraceMs?: number;
  /** Quiet time after which memory is given back (default 10 s; 0 = never; src/util/idle-trim.ts). */
  idleTrimMs?: number;
  /** keepOnline: how often going online is tried again while something stops it (default 5 s). */
  onlineRetryMs?: number;
  /** Waits before reconnecting a wallet that failed to connect (default 5 s, 15 s, 30 s, 60 s, then every 2 min). */
  walletRetryMs?: number[];
  /** Schedule/pause (src/service/sentinel.ts): probe period and resume hold; tests shorten them. */
  sentinelProbeMs?: number;
  sentinelHoldMs?: number;
  /** Tests: a scripted input idle-time source instead of xprintidle/logind. */
  idleSource?: () => Promise<{ idleMs: number | null; idleHint: boolean | null }>;
  /** Idle timeout of HTTP connections other than the event stream (default HTTP_IDLE_TIMEOUT_SECS). */
  httpIdleTimeoutSecs?: number;
}
