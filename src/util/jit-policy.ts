// JavaScriptCore's tier-up thresholds during start-up. A start runs a lot of code once or a few
// times (module evaluation, config and schema set-up, the vault unlock and key derivation, the
// signer's self-test, the first subscriptions); with the normal thresholds some of it is compiled
// by the optimizing JITs anyway, and that compiled code and the compilers' own pages stay resident
// while the provider idles. `compute` (the long-running command) starts with the thresholds
// raised (`startupJitPolicy`) and puts them back once the app has started (`interactiveJitPolicy`),
// before any job runs, so jobs are compiled as usual. Measured in BENCHMARKS.md (idle RSS).
// Bun.unsafe.setJITPolicy is per thread: workers (the vault's KDF) are not affected.

/** How many times more reluctant to compile JavaScriptCore is during start-up. */
export const STARTUP_JIT_POLICY = 100;

function setJitPolicy(scale: number): void {
  const set = (Bun as { unsafe?: { setJITPolicy?: (scale: number) => void } }).unsafe?.setJITPolicy;
  if (typeof set === "function") set(scale);
}

/** Start-up begins: run-once code stays in the interpreter. */
export function startupJitPolicy(): void {
  setJitPolicy(STARTUP_JIT_POLICY);
}

/** Start-up is over: the normal thresholds (idempotent). */
export function interactiveJitPolicy(): void {
  setJitPolicy(1);
}
