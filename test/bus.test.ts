import { afterEach, describe, expect, test } from "bun:test";
import { z } from "zod";
import { Bus, defineEvent } from "../src/bus.ts";
import { getLogLevel, setLogLevel, setLogSink } from "../src/log.ts";

const Ping = defineEvent("test.ping.sent", z.object({ n: z.int() }));
const Pong = defineEvent("test.pong.sent", z.object({ text: z.string().default("pong") }));

let prevSink: ((l: string) => void) | null = null;
afterEach(() => {
  if (prevSink) setLogSink(prevSink);
  prevSink = null;
});

describe("Bus", () => {
  test("defineEvent names the event's schema", () => {
    expect(Ping.type).toBe("test.ping.sent");
    expect(Pong.schema.parse({})).toEqual({ text: "pong" });
  });

  test("subscribe gets only its event's properties; subscribeAll gets {type, properties}", () => {
    const bus = new Bus();
    const pings: unknown[] = [];
    const all: unknown[] = [];
    bus.subscribe(Ping, (p) => pings.push(p));
    bus.subscribeAll((e) => all.push(e));
    bus.publish(Ping, { n: 1 });
    bus.publish(Pong, { text: "pong" });
    expect(pings).toEqual([{ n: 1 }]);
    expect(all).toEqual([
      { type: "test.ping.sent", properties: { n: 1 } },
      { type: "test.pong.sent", properties: { text: "pong" } },
    ]);
  });

  test("a malformed payload is refused before any subscriber sees it", () => {
    const bus = new Bus();
    const seen: unknown[] = [];
    bus.subscribeAll((e) => seen.push(e));
    expect(() => bus.publish(Ping, { n: 1.5 })).toThrow();
    expect(() => bus.publish(Ping, {} as { n: number })).toThrow();
    expect(seen).toEqual([]);
  });

  test("without checks (a running app) the payload reaches subscribers as it is: no zod parse on publish", () => {
    let parses = 0;
    const Counted = defineEvent(
      "test.counted.sent",
      z.object({ n: z.int() }).refine(() => ++parses > 0),
    );
    const payload = { n: 1 };
    const got: unknown[] = [];
    const bus = new Bus({ check: false });
    bus.subscribe(Counted, (p) => got.push(p));
    bus.publish(Counted, payload);
    expect(parses).toBe(0);
    expect(got[0]).toBe(payload);
    // Under test (the default here: bun test sets NODE_ENV=test) the same publish is parsed.
    new Bus().publish(Counted, payload);
    expect(parses).toBe(1);
  });

  test("checked: a payload with a field its schema does not know is refused (it would reach the UI unfiltered)", () => {
    const bus = new Bus({ check: true });
    const seen: unknown[] = [];
    bus.subscribeAll((e) => seen.push(e));
    const withExtra = { n: 1, secret: "x" };
    expect(() => bus.publish(Ping, withExtra)).toThrow(/not what its schema describes/);
    expect(() => bus.publish(Pong, {} as { text: string })).toThrow(/not what its schema describes/);
    expect(seen).toEqual([]);
  });

  test("unsubscribe stops delivery, and is harmless twice", () => {
    const bus = new Bus();
    const got: number[] = [];
    const off = bus.subscribe(Ping, (p) => got.push(p.n));
    const offAll = bus.subscribeAll(() => got.push(-1));
    bus.publish(Ping, { n: 1 });
    off();
    offAll();
    off();
    offAll();
    bus.publish(Ping, { n: 2 });
    expect(got).toEqual([1, -1]);
  });

  test("a throwing subscriber is logged and does not stop the others or the publisher", () => {
    const bus = new Bus();
    const logged: string[] = [];
    prevSink = setLogSink((l) => logged.push(l));
    const level = getLogLevel();
    setLogLevel("error");
    const got: string[] = [];
    bus.subscribe(Ping, () => {
      throw new Error("boom");
    });
    bus.subscribe(Ping, () => got.push("second"));
    bus.subscribeAll(() => {
      throw new Error("boom all");
    });
    bus.subscribeAll(() => got.push("all"));
    try {
      expect(() => bus.publish(Ping, { n: 1 })).not.toThrow();
    } finally {
      setLogLevel(level);
    }
    expect(got).toEqual(["second", "all"]);
    const records = logged.map((l) => JSON.parse(l)).filter((r) => r.msg === "subscriber threw");
    expect(records.map((r) => r.err.message)).toEqual(["boom", "boom all"]);
  });

  test("a subscriber that unsubscribes itself during publish does not break delivery", () => {
    const bus = new Bus();
    const got: string[] = [];
    const off = bus.subscribe(Ping, () => {
      got.push("once");
      off();
    });
    bus.subscribe(Ping, () => got.push("always"));
    bus.publish(Ping, { n: 1 });
    bus.publish(Ping, { n: 2 });
    expect(got).toEqual(["once", "always", "always"]);
  });

  test("buses are independent", () => {
    const a = new Bus();
    const b = new Bus();
    const got: string[] = [];
    a.subscribeAll(() => got.push("a"));
    b.subscribeAll(() => got.push("b"));
    a.publish(Ping, { n: 1 });
    expect(got).toEqual(["a"]);
  });
});
