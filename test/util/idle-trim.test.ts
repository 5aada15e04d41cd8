import { describe, expect, test } from "bun:test";
import { IdleTrimmer, trimMemory } from "../../src/util/idle-trim.ts";

function clocked(quietMs: number) {
  let t = 0;
  const trims: number[] = [];
  const trimmer = new IdleTrimmer({ quietMs, now: () => t, trim: () => trims.push(t) });
  return { trimmer, trims, advance: (ms: number) => (t += ms) };
}

describe("IdleTrimmer", () => {
  test("trims once after start-up's quiet period, not again until something happens", () => {
    const { trimmer, trims, advance } = clocked(10_000);
    advance(9_999);
    expect(trimmer.check()).toBe(false);
    advance(1);
    expect(trimmer.check()).toBe(true);
    advance(60_000);
    expect(trimmer.check()).toBe(false);
    expect(trims).toEqual([10_000]);
  });

  test("activity pushes the trim back; after a busy spell it trims once more", () => {
    const { trimmer, trims, advance } = clocked(10_000);
    advance(10_000);
    trimmer.check();
    for (let i = 0; i < 5; i++) {
      advance(4_000);
      trimmer.activity();
      expect(trimmer.check()).toBe(false);
    }
    advance(9_000);
    expect(trimmer.check()).toBe(false);
    advance(1_000);
    expect(trimmer.check()).toBe(true);
    expect(trims).toEqual([10_000, 40_000]);
    expect(trimmer.trims).toBe(2);
  });

  test("quietMs 0 turns it off; a failing trim is logged, not thrown", () => {
    const off = new IdleTrimmer({ quietMs: 0, trim: () => {
      throw new Error("never");
    } });
    off.start();
    off.stop();
    let t = 0;
    const failing = new IdleTrimmer({ quietMs: 5, now: () => t, trim: () => {
      throw new Error("boom");
    } });
    t = 5;
    expect(() => failing.check()).not.toThrow();
    expect(failing.trims).toBe(0);
  });

  test("the real trim collects garbage and the process keeps working", async () => {
    // An object only a WeakRef holds is gone after the trim's full collection (a new turn first:
    // a WeakRef keeps its target for the rest of the turn that made it).
    const ref = (() => new WeakRef({ payload: new Array(100_000).fill("x") }))();
    await Bun.sleep(0);
    trimMemory();
    expect(ref.deref()).toBeUndefined();
    // Code compiled before the trim runs again afterwards.
    const sum = (n: number) => Array.from({ length: n }, (_, i) => i).reduce((a, b) => a + b, 0);
    expect(sum(1000)).toBe(499_500);
  });
});
