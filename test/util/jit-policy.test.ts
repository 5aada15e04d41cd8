import { expect, test } from "bun:test";
import { interactiveJitPolicy, STARTUP_JIT_POLICY, startupJitPolicy } from "../../src/util/jit-policy.ts";

test("the start-up JIT policy is raised, then put back to normal; both calls are safe to repeat", () => {
  expect(STARTUP_JIT_POLICY).toBeGreaterThan(1);
  // Bun.unsafe.setJITPolicy throws on a bad scale: the values these pass must be accepted.
  expect(() => {
    startupJitPolicy();
    startupJitPolicy();
    interactiveJitPolicy();
    interactiveJitPolicy();
  }).not.toThrow();
});
