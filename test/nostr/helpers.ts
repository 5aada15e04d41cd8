// What the pool's test files share: a polling wait, and relays (and anything else) stopped after
// each test. A file using `cleanups` registers `afterEach(runCleanups)`.
import { startRelay, type StartRelayOptions, type TestRelay } from "../fixtures/relay.ts";

export async function until(cond: () => boolean, timeoutMs = 3000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}

export const cleanups: (() => unknown)[] = [];

export async function runCleanups(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/** A relay fixture stopped by the next runCleanups(). */
export async function relay(opts?: StartRelayOptions): Promise<TestRelay> {
  const r = await startRelay(opts);
  cleanups.push(() => r.stop());
  return r;
}
