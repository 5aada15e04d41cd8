// GET /api/events: exact SSE frames, heartbeats, and a stalled client that must never hold up
// bus.publish nor make the server buffer without bound.
import { afterEach, describe, expect, test } from "bun:test";
import { Hono } from "hono";
import { z } from "zod";
import { Bus, defineEvent } from "../../src/bus.ts";
import type { Controller } from "../../src/server/controller.ts";
import { eventStream, MAX_QUEUE } from "../../src/server/events.ts";
import { allowedHosts } from "../../src/server/security.ts";
import { createServer } from "../../src/server/server.ts";

const TOKEN = "k".repeat(64);
const BASE = "http://127.0.0.1:7750";
const Tick = defineEvent("test.tick.happened", z.object({ n: z.int(), big: z.bigint().optional(), text: z.string().optional() }));

const subscribers = (bus: Bus) => (bus as unknown as { all: Set<unknown> }).all.size;
const open: Array<ReadableStreamDefaultReader<Uint8Array>> = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.cancel().catch(() => {});
});

function server(bus: Bus, heartbeatMs = 60_000) {
  return createServer({ bus } as unknown as Controller, { token: TOKEN, allowedHosts: () => allowedHosts("127.0.0.1", 7750), assets: { html: "", js: "", css: "" }, heartbeatMs });
}

/** Reads SSE frames ("...\n\n") off a response body. */
class Frames {
  private buf = "";
  private dec = new TextDecoder();
  done = false;
  constructor(readonly reader: ReadableStreamDefaultReader<Uint8Array>) {
    open.push(reader);
  }
  async next(timeoutMs = 2000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (!this.buf.includes("\n\n")) {
      if (this.done) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${timeoutMs} ms; have ${JSON.stringify(this.buf.slice(0, 200))}`);
      const r = await Promise.race([this.reader.read(), Bun.sleep(left).then(() => "timeout" as const)]);
      if (r === "timeout") continue;
      if (r.done) this.done = true;
      else this.buf += this.dec.decode(r.value, { stream: true });
    }
    const i = this.buf.indexOf("\n\n");
    const frame = this.buf.slice(0, i + 2);
    this.buf = this.buf.slice(i + 2);
    return frame;
  }
  async data(timeoutMs?: number): Promise<{ type: string; properties: unknown } | null> {
    const f = await this.next(timeoutMs);
    if (f === null) return null;
    return JSON.parse(f.split("\n").find((l) => l.startsWith("data: "))!.slice(6));
  }
}

describe("GET /api/events", () => {
  test("needs the token", async () => {
    const res = await server(new Bus()).request(`${BASE}/api/events`);
    expect(res.status).toBe(401);
  });

  test("exact frames: server.connected first, then bus events in order with rising ids", async () => {
    const bus = new Bus();
    const res = await server(bus).request(`${BASE}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    const frames = new Frames(res.body!.getReader());
    expect(await frames.next()).toBe(`event: message\ndata: {"type":"server.connected","properties":{}}\nid: 1\n\n`);
    bus.publish(Tick, { n: 1 });
    bus.publish(Tick, { n: 2, big: 12345678901234567890n, text: "two\nlines" });
    expect(await frames.next()).toBe(`event: message\ndata: {"type":"test.tick.happened","properties":{"n":1}}\nid: 2\n\n`);
    // A newline inside the payload stays escaped inside the JSON: still one data line.
    expect(await frames.next()).toBe(`event: message\ndata: {"type":"test.tick.happened","properties":{"n":2,"big":12345678901234567000,"text":"two\\nlines"}}\nid: 3\n\n`);
  });

  test("heartbeats arrive when nothing else happens", async () => {
    const bus = new Bus();
    const res = await server(bus, 40).request(`${BASE}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const frames = new Frames(res.body!.getReader());
    expect((await frames.data())!.type).toBe("server.connected");
    const t0 = Date.now();
    expect(await frames.data()).toEqual({ type: "server.heartbeat", properties: {} });
    expect(await frames.data()).toEqual({ type: "server.heartbeat", properties: {} });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(60);
  });

  test("a client that goes away is unsubscribed", async () => {
    const bus = new Bus();
    const res = await server(bus, 20).request(`${BASE}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const frames = new Frames(res.body!.getReader());
    await frames.data();
    expect(subscribers(bus)).toBe(1);
    await frames.reader.cancel();
    await Bun.sleep(30);
    expect(subscribers(bus)).toBe(0);
    bus.publish(Tick, { n: 1 }); // nobody listening: fine
  });

  test("a client that never reads does not block publish and is cut off, not buffered for", async () => {
    const bus = new Bus();
    const res = await server(bus).request(`${BASE}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const frames = new Frames(res.body!.getReader());
    await frames.data();
    // Stop reading. Publishing must stay fast.
    const t0 = performance.now();
    for (let n = 0; n < 5000; n++) bus.publish(Tick, { n, text: "x".repeat(100) });
    expect(performance.now() - t0).toBeLessThan(1000);
    // The stream overflowed: it is no longer subscribed and holds no queue.
    expect(subscribers(bus)).toBe(0);
    // When the client reads again it gets at most what was in flight, then the end of the stream.
    let got = 0;
    let last: { type: string } | null = null;
    for (;;) {
      const d = await frames.data(2000);
      if (d === null) break;
      last = d;
      got++;
    }
    expect(frames.done).toBe(true);
    expect(got).toBeLessThan(MAX_QUEUE + 10);
    if (last) expect(last.type).toBe("test.tick.happened");
  });

  test("a slow reader that keeps up gets every event", async () => {
    const bus = new Bus();
    const app = new Hono();
    app.get("/e", (c) => eventStream(c, bus, { heartbeatMs: 60_000, maxQueue: 50 }));
    const res = await app.request("/e");
    const frames = new Frames(res.body!.getReader());
    await frames.data();
    const seen: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 40; i++) bus.publish(Tick, { n: round * 40 + i });
      for (let i = 0; i < 40; i++) seen.push(((await frames.data())!.properties as { n: number }).n);
    }
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(subscribers(bus)).toBe(1);
  });

  test("over a real socket, a stalled client is also cut off", async () => {
    const bus = new Bus();
    let port = 0;
    const app = createServer({ bus } as unknown as Controller, { token: TOKEN, allowedHosts: () => allowedHosts("127.0.0.1", port), assets: { html: "", js: "", css: "" }, heartbeatMs: 60_000 });
    const http = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch, idleTimeout: 0 });
    port = http.port!;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const frames = new Frames(res.body!.getReader());
      expect((await frames.data())!.type).toBe("server.connected");
      // Enough data to fill the socket buffers several times over.
      const text = "y".repeat(4000);
      const t0 = performance.now();
      for (let n = 0; n < 5000 && subscribers(bus) > 0; n++) {
        bus.publish(Tick, { n, text });
        if (n % 200 === 0) await Bun.sleep(1); // let the server try to write
      }
      expect(performance.now() - t0).toBeLessThan(5000);
      expect(subscribers(bus)).toBe(0);
    } finally {
      http.stop(true);
    }
  });
});
