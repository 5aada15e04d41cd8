import { expect, test } from "bun:test";
import { OnlineKeeper } from "../../src/jobs/online.ts";

/** A keeper over a scripted "go online": throws `reason` until it is null. */
function keeper() {
  const s = { reason: "Unlock your identity first." as string | null, online: false, calls: 0, change: () => {}, subscribed: 0 };
  const k = new OnlineKeeper({
    goOnline: async () => {
      s.calls++;
      if (s.reason) throw new Error(s.reason);
      s.online = true;
    },
    isOnline: () => s.online,
    stopped: () => false,
    onChange: (retry) => {
      s.change = retry;
      s.subscribed++;
      return () => s.subscribed--;
    },
    retryMs: 60_000,
  });
  return { k, s };
}

test("keeping online reports each reason once, then 'online'; a change retries at once", async () => {
  const { k, s } = keeper();
  const lines: string[] = [];
  const stop = k.keep((l) => lines.push(l));
  expect(stop).not.toBeNull();
  expect(k.keep((l) => lines.push(l))).toBeNull(); // already keeping: not twice
  await k.tryOnline();
  await k.tryOnline();
  expect(lines).toEqual(["not online yet: Unlock your identity first. (it goes online by itself once that is fixed)"]);
  s.reason = null;
  s.change();
  await k.tryOnline();
  expect(lines.at(-1)).toBe("online");
  const calls = s.calls;
  await k.tryOnline(); // online: nothing to do
  expect(s.calls).toBe(calls);
  stop!();
  expect(s.subscribed).toBe(0);
});

test("released (the person chose offline): no more attempts; the schedule's offline comes back by itself", async () => {
  const { k, s } = keeper();
  s.reason = null;
  k.release();
  await k.tryOnline();
  expect(s.calls).toBe(0);
  const lines: string[] = [];
  k.keep((l) => lines.push(l));
  k.release();
  s.online = false;
  k.wentOfflineByPolicy("outside the schedule");
  await k.tryOnline();
  expect(s.online).toBe(true);
  expect(lines).toEqual(["offline: outside the schedule", "online"]);
});
