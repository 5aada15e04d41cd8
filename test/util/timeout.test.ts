import { expect, test } from "bun:test";
import { withTimeout } from "../../src/util/timeout.ts";

const later = <T>(ms: number, v: T) => new Promise<T>((r) => setTimeout(() => r(v), ms));
const failLater = (ms: number, message: string) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(message)), ms));
const settle = <T>(p: Promise<T>) => p.then((value) => ({ value }), (error: unknown) => ({ error }));

test("a promise that settles in time: its value or its error, and the timeout never fires afterwards", async () => {
  let made = 0;
  const tooLate = () => {
    made++;
    return new Error("too late");
  };
  expect(await withTimeout(later(5, "v"), 60, tooLate)).toBe("v");
  expect(await settle(withTimeout(failLater(5, "boom"), 60, tooLate))).toEqual({ error: new Error("boom") });
  await Bun.sleep(90);
  expect(made).toBe(0);
});

test("too slow: rejects after ms with the message or the made error; a late value goes to onLate only", async () => {
  const started = performance.now();
  expect(await settle(withTimeout(later(200, 1), 20, "took too long"))).toEqual({ error: new Error("took too long") });
  expect(performance.now() - started).toBeLessThan(190);
  const custom = new TypeError("custom");
  expect(await settle(withTimeout(later(50, 1), 10, () => custom))).toEqual({ error: custom });
  const late: number[] = [];
  expect(await settle(withTimeout(later(40, 7), 10, "slow", { onLate: (v) => late.push(v) }))).toEqual({ error: new Error("slow") });
  expect(late).toEqual([]);
  await Bun.sleep(60);
  expect(late).toEqual([7]);
});

test("a promise rejecting after the timeout is observed: no unhandled rejection", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    expect(await settle(withTimeout(failLater(30, "late failure"), 5, "slow"))).toEqual({ error: new Error("slow") });
    await Bun.sleep(60);
    expect(unhandled).toEqual([]);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});

test("an abort signal ends the wait at once with abortError (or the signal's reason), and no onLate", async () => {
  const ctl = new AbortController();
  const late: string[] = [];
  const waiting = settle(withTimeout(later(40, "x"), 1_000, "slow", { signal: ctl.signal, abortError: () => new Error("closed"), onLate: (v) => late.push(v) }));
  ctl.abort();
  expect(await waiting).toEqual({ error: new Error("closed") });
  const gone = new AbortController();
  gone.abort(new Error("already gone"));
  expect(await settle(withTimeout(later(5, 1), 1_000, "slow", { signal: gone.signal }))).toEqual({ error: new Error("already gone") });
  await Bun.sleep(60);
  expect(late).toEqual([]);
});

test("a settled wait leaves nothing running: a process that used it exits at once", async () => {
  const mod = new URL("../../src/util/timeout.ts", import.meta.url).pathname;
  const script = `import { withTimeout } from ${JSON.stringify(mod)};
await withTimeout(Promise.resolve(1), 60_000, "slow");
await withTimeout(Promise.reject(new Error("x")), 60_000, "slow").catch(() => {});
const ctl = new AbortController();
const w = withTimeout(new Promise(() => {}), 60_000, "slow", { signal: ctl.signal }).catch(() => {});
ctl.abort();
await w;`;
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, "-e", script], { env: {}, stdout: "ignore", stderr: "pipe" });
  expect(await proc.exited).toBe(0);
  expect(performance.now() - started).toBeLessThan(30_000);
}, 40_000);
