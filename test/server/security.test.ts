import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/errors.ts";
import { AttemptLimiter, allowedHosts, newToken, tokenMatches } from "../../src/server/security.ts";

describe("tokens", () => {
  test("newToken is 64 hex characters and different every time", () => {
    const a = newToken();
    const b = newToken();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(b);
  });
  test("tokenMatches only on exact equality", () => {
    const t = newToken();
    expect(tokenMatches(t, t)).toBe(true);
    expect(tokenMatches(t.slice(0, -1), t)).toBe(false);
    expect(tokenMatches(`${t}0`, t)).toBe(false);
    expect(tokenMatches(t.toUpperCase(), t)).toBe(false);
    expect(tokenMatches("", t)).toBe(false);
    expect(tokenMatches(undefined, t)).toBe(false);
    expect(tokenMatches(null, t)).toBe(false);
  });
  test("an attacker's non-ASCII token of the same UTF-16 length is a plain mismatch, not a throw", () => {
    const t = newToken();
    expect(tokenMatches("é".repeat(t.length), t)).toBe(false);
    expect(tokenMatches(`${t.slice(0, -1)}é`, t)).toBe(false);
    expect(tokenMatches("\u{1F600}".repeat(32), t)).toBe(false);
  });
});

describe("allowedHosts", () => {
  test("loopback binds allow every loopback name with the port", () => {
    for (const bind of ["127.0.0.1", "localhost", "::1"]) {
      const set = allowedHosts(bind, 7750);
      for (const h of ["127.0.0.1:7750", "localhost:7750", "[::1]:7750"]) expect(set.has(h)).toBe(true);
      expect(set.has("127.0.0.1:7751")).toBe(false);
      expect(set.has("127.0.0.1")).toBe(false);
      expect(set.has("evil.example:7750")).toBe(false);
    }
  });
  test("a LAN address allows only itself", () => {
    const set = allowedHosts("192.168.1.5", 9000);
    expect([...set]).toEqual(["192.168.1.5:9000"]);
  });
  test("IPv6 addresses are bracketed; wildcard binds allow loopback names", () => {
    expect(allowedHosts("fe80::1", 1).has("[fe80::1]:1")).toBe(true);
    expect(allowedHosts("0.0.0.0", 5).has("localhost:5")).toBe(true);
    expect(allowedHosts("::", 5).has("[::1]:5")).toBe(true);
  });
  test("port 80 also allows the bare name (browsers omit the default port)", () => {
    const set = allowedHosts("127.0.0.1", 80);
    expect(set.has("localhost")).toBe(true);
    expect(set.has("localhost:80")).toBe(true);
    expect(allowedHosts("127.0.0.1", 8080).has("localhost")).toBe(false);
  });
});

describe("AttemptLimiter", () => {
  function limited(fn: () => unknown): AppError {
    try {
      fn();
    } catch (e) {
      expect((e as AppError).code).toBe("rate_limited");
      return e as AppError;
    }
    throw new Error("expected rate_limited");
  }
  test("max failures per window, then a wait that ends with the window", () => {
    let now = 1_000_000;
    const l = new AttemptLimiter(3, 60_000, () => now);
    for (let i = 0; i < 3; i++) {
      l.check();
      l.failed();
      now += 1000;
    }
    expect(limited(() => l.check()).message).toContain("try again in 57 s");
    now += 57_000; // first failure is 60 s old
    l.check();
    l.failed();
    limited(() => l.check());
  });
  test("begin counts an attempt at once; settle(true) takes it back", () => {
    let now = 0;
    const l = new AttemptLimiter(2, 10_000, () => now);
    const a = l.begin();
    const b = l.begin();
    limited(() => l.begin()); // two in flight use up the limit
    a(true);
    const c = l.begin();
    b(false);
    c(false);
    limited(() => l.begin());
    now += 10_001;
    l.begin()(true);
  });
  test("settle is idempotent", () => {
    const l = new AttemptLimiter(1, 10_000, () => 5);
    const a = l.begin();
    a(true);
    a(true);
    const b = l.begin();
    b(false);
    b(true); // too late: already counted as a failure
    limited(() => l.begin());
  });
});
