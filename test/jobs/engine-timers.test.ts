// Engine.stop() must leave nothing behind: no heartbeat interval, no job timeout, no pending
// publish. The engine runs here against in-process stand-ins (no sockets, no timers of their own)
// while the global timer functions are wrapped, so every live timer left is the engine's.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { ConfigSchema } from "../../src/config.ts";
import { Engine, type EngineInference, type EnginePool } from "../../src/jobs/engine.ts";
import { Ledger } from "../../src/ledger/ledger.ts";
import type { NostrEvent } from "../../src/nostr/nip90.ts";

const liveTimers = new Set<unknown>();
const real = { setTimeout, clearTimeout, setInterval, clearInterval };

beforeAll(() => {
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const h = real.setTimeout(() => {
      liveTimers.delete(h);
      fn(...args);
    }, ms);
    liveTimers.add(h);
    return h;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((h: ReturnType<typeof setTimeout>) => {
    liveTimers.delete(h);
    real.clearTimeout(h);
  }) as typeof clearTimeout;
  globalThis.setInterval = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const h = real.setInterval(fn, ms, ...args);
    liveTimers.add(h);
    return h;
  }) as typeof setInterval;
  globalThis.clearInterval = ((h: ReturnType<typeof setInterval>) => {
    liveTimers.delete(h);
    real.clearInterval(h);
  }) as typeof clearInterval;
});
afterAll(() => Object.assign(globalThis, real));

test("stop() with a running job, a queued job, heartbeat and partials going: no timer survives", async () => {
  const published: NostrEvent[] = [];
  let deliver: ((e: NostrEvent, relay: string) => void) | null = null;
  const subs = new Set<object>();
  const pool: EnginePool = {
    subscribe(_filters, h) {
      const sub = { close: () => void subs.delete(sub) };
      subs.add(sub);
      if (!deliver) deliver = h.onEvent;
      return sub;
    },
    async publish(event) {
      published.push(event);
      return [{ relay: "ws://stub", ok: true, message: "" }];
    },
    async fetch() {
      return [];
    },
  };
  let generating = 0;
  const inference: EngineInference = {
    servedModels: () => ["m:latest"],
    async warm() {},
    async generate({ signal, onToken }) {
      generating++;
      // Tokens until aborted, via queueMicrotask-free polling on Bun.sleep (not a wrapped timer).
      let text = "";
      while (!signal.aborted) {
        text += " tok";
        onToken(text, text.length / 4);
        await Bun.sleep(5);
      }
      throw signal.reason;
    },
  };
  const ledger = Ledger.open(":memory:");
  const sk = generateSecretKey();
  const config = ConfigSchema.parse({ relays: ["ws://127.0.0.1:1"], pricing: { mode: "free" }, limits: { partialIntervalMs: 100, maxConcurrentJobs: 1, perCustomerPerMinute: 100 } });
  const engine = new Engine({ bus: new Bus(), pool, inference, ledger, payments: null, secretKey: sk, pubkey: getPublicKey(sk), config: () => config, heartbeatMs: 20 });
  await engine.goOnline();
  expect(liveTimers.size).toBeGreaterThan(0); // the heartbeat
  const customer = generateSecretKey();
  const request = (text: string) => finalizeEvent({ kind: 5050, created_at: Math.floor(Date.now() / 1000), tags: [["i", text, "text"]], content: "" }, customer) as NostrEvent;
  deliver!(request("first"), "ws://stub");
  deliver!(request("second"), "ws://stub");
  await Bun.sleep(300);
  expect(generating).toBe(1);
  expect(engine.jobs().map((j) => j.status).sort()).toEqual(["processing", "queued"]);
  expect(published.some((e) => e.kind === 7000 && e.tags.some((t) => t[0] === "status" && t[1] === "partial"))).toBe(true);
  expect(published.filter((e) => e.kind === 11998).length).toBeGreaterThan(3);

  await engine.stop(50);
  expect(liveTimers.size).toBe(0);
  expect(subs.size).toBe(0);
  expect(engine.jobs().map((j) => j.status).sort()).toEqual(["cancelled", "cancelled"]);
  const beats = published.filter((e) => e.kind === 11998).length;
  await Bun.sleep(100);
  expect(published.filter((e) => e.kind === 11998).length).toBe(beats);
  expect(liveTimers.size).toBe(0);
  ledger.close();
});
