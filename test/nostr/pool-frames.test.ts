// The order of the frames the pool sends: EVENTs at once, REQ/CLOSE on the next turn of the event
// loop, and nothing for a subscription that ends before it was sent. A bare websocket server on
// 127.0.0.1 records every frame (the test relay would hide the order behind its own processing).
import { afterEach, expect, test } from "bun:test";
import type { Server } from "bun";
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { RelayPool } from "../../src/nostr/pool.ts";

const key = generateSecretKey();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Frame = [string, ...unknown[]];

/** Records frames (ping REQ/CLOSE left out), answers EVENT with OK and REQ with EOSE. */
function recordingRelay() {
  const frames: Frame[] = [];
  let socket: { send(s: string): void } | null = null;
  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("websocket only", { status: 400 })),
    websocket: {
      open(ws) {
        socket = ws;
      },
      message(ws, raw) {
        const msg = JSON.parse(String(raw)) as Frame;
        if (typeof msg[1] === "string" && msg[1].startsWith("ping:")) {
          if (msg[0] === "REQ") ws.send(JSON.stringify(["EOSE", msg[1]]));
          return;
        }
        frames.push(msg);
        if (msg[0] === "EVENT") ws.send(JSON.stringify(["OK", (msg[1] as { id: string }).id, true, ""]));
        if (msg[0] === "REQ") ws.send(JSON.stringify(["EOSE", msg[1]]));
      },
    },
  });
  cleanups.push(() => server.stop(true));
  return { url: `ws://127.0.0.1:${server.port}`, frames, send: (m: unknown[]) => socket?.send(JSON.stringify(m)) };
}

async function connectedPool(url: string): Promise<RelayPool> {
  const pool = new RelayPool({ relays: [url], bus: new Bus(), signer: { secretKey: key }, allowInsecureLocal: true });
  cleanups.push(() => pool.stop());
  pool.start();
  const end = Date.now() + 3000;
  while (pool.views()[0]?.state !== "connected") {
    if (Date.now() > end) throw new Error("pool did not connect");
    await Bun.sleep(5);
  }
  return pool;
}

const note = (content: string) => finalizeEvent({ kind: 1, created_at: Math.floor(Date.now() / 1000), tags: [], content }, key);

test("an EVENT sent in the same turn goes out before the REQ; a subscription closed in its own turn sends nothing", async () => {
  const relay = recordingRelay();
  const pool = await connectedPool(relay.url);
  const seen: string[] = [];
  const a = pool.subscribe([{ kinds: [5] }], { onEvent: (e) => seen.push(e.id) });
  const published = pool.publish(note("first"));
  const b = pool.subscribe([{ kinds: [7] }], { onEvent: () => {} });
  b.close();
  expect((await published).map((r) => r.status)).toEqual(["ok"]);
  await Bun.sleep(50);
  expect(relay.frames.map((f) => f[0])).toEqual(["EVENT", "REQ"]);
  const subId = relay.frames[1]![1] as string;
  expect(relay.frames[1]!.slice(2)).toEqual([{ kinds: [5] }]);
  // The subscription works once its REQ is out.
  const del = finalizeEvent({ kind: 5, created_at: Math.floor(Date.now() / 1000), tags: [["e", "a".repeat(64)]], content: "" }, key);
  relay.send(["EVENT", subId, del]);
  const end = Date.now() + 2000;
  while (seen.length === 0 && Date.now() < end) await Bun.sleep(5);
  expect(seen).toEqual([del.id]);
  // Closing a subscription that went out sends CLOSE (on the next turn).
  a.close();
  expect(relay.frames.length).toBe(2);
  await Bun.sleep(50);
  expect(relay.frames.map((f) => f[0])).toEqual(["EVENT", "REQ", "CLOSE"]);
  expect(relay.frames[2]).toEqual(["CLOSE", subId]);
});

test("many subscription changes in one turn leave one REQ per live subscription", async () => {
  const relay = recordingRelay();
  const pool = await connectedPool(relay.url);
  const subs = Array.from({ length: 5 }, (_, i) => pool.subscribe([{ kinds: [5], "#e": [String(i).repeat(64)] }], { onEvent: () => {} }));
  for (const s of subs.slice(0, 4)) s.close();
  await Bun.sleep(50);
  expect(relay.frames.map((f) => f[0])).toEqual(["REQ"]);
  expect(relay.frames[0]!.slice(2)).toEqual([{ kinds: [5], "#e": ["4".repeat(64)] }]);
  // A fetch still gets its answer (its REQ also waits one turn).
  expect(await pool.fetch([{ kinds: [1] }], { timeoutMs: 1000 })).toEqual([]);
});
