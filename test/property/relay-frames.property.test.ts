// A hostile relay: RUNS frames of arbitrary JSON, malformed NIP-01 messages, tampered and
// unrequested events, sent down a real websocket to a RelayPool subscription. Nothing may throw out
// of the pool, the connection must stay up (a relay talking nonsense is not a reason to crash), and
// the subscriber must get exactly the valid events that match its filter, each checked.
import { afterAll, expect, test } from "bun:test";
import type { Server, ServerWebSocket } from "bun";
import fc from "fast-check";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { RelayPool } from "../../src/nostr/pool.ts";
import { isValidEvent } from "../../src/nostr/relay-socket.ts";
import { PROPERTY_TIMEOUT_MS, RUNS, nastyString } from "../fixtures/stress-fc.ts";
import { until } from "../fixtures/stress-app.ts";

const sk = generateSecretKey();
const pk = getPublicKey(sk);
const FILTER = { kinds: [5050], "#t": ["fuzz"] };
const sockets = new Set<ServerWebSocket<unknown>>();
let subIds: string[] = [];
let server: Server<unknown> | null = null;
let pool: RelayPool | null = null;
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => void unhandled.push(e);
process.on("unhandledRejection", onUnhandled);
process.on("uncaughtException", onUnhandled);

afterAll(async () => {
  await pool?.stop();
  await server?.stop(true);
  process.off("unhandledRejection", onUnhandled);
  process.off("uncaughtException", onUnhandled);
});

const wire = (e: Event) => JSON.parse(JSON.stringify(e)) as Event;
const sign = (tags: string[][], content: string, kind = 5050) => wire(finalizeEvent({ kind, created_at: Math.floor(Date.now() / 1000), tags, content }, sk));

test(
  `${RUNS} hostile frames from a relay: no crash, still connected, only the valid matching events delivered`,
  async () => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        return srv.upgrade(req, { data: {} }) ? undefined : new Response("ws only", { status: 426 });
      },
      websocket: {
        open: (ws) => void sockets.add(ws),
        close: (ws) => void sockets.delete(ws),
        message(ws, raw) {
          // Enough of a relay to look alive: EOSE for every REQ (the pool's latency probe too).
          try {
            const msg = JSON.parse(String(raw));
            if (msg[0] === "REQ") {
              if (!String(msg[1]).startsWith("ping")) subIds.push(msg[1]);
              ws.send(JSON.stringify(["EOSE", msg[1]]));
            }
          } catch {}
        },
      },
    });
    const url = `ws://127.0.0.1:${server.port}`;
    pool = new RelayPool({ relays: [url], bus: new Bus(), signer: { secretKey: sk }, allowInsecureLocal: true });
    pool.start();
    const delivered: Event[] = [];
    pool.subscribe([FILTER], { onEvent: (e) => void delivered.push(e) });
    await until(() => subIds.length > 0 && pool!.views()[0]!.state === "connected", 5000, "subscribed");
    const sub = subIds[0]!;

    const good = sign([["t", "fuzz"], ["i", "hello"]], "valid");
    const valid = fc.tuple(nastyString, nastyString).map(([a, b]) => sign([["t", "fuzz"], ["i", a]], b));
    const tampered = fc
      .tuple(fc.constantFrom("id", "sig", "pubkey", "content", "created_at", "kind", "tags"), fc.jsonValue())
      .filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(good[k as keyof Event]))
      .map(([k, v]) => ({ ...good, [k]: v }));
    const unrequested = fc.tuple(nastyString, fc.integer({ min: 0, max: 40_000 })).map(([c, kind]) => sign([["t", "other"]], c, kind === 5050 ? 1 : kind));
    const frame: fc.Arbitrary<{ text: string; expect: Event | null }> = fc.oneof(
      { weight: 3, arbitrary: valid.map((e) => ({ text: JSON.stringify(["EVENT", sub, e]), expect: e })) },
      { weight: 3, arbitrary: tampered.map((e) => ({ text: JSON.stringify(["EVENT", sub, e]), expect: null })) },
      { weight: 2, arbitrary: unrequested.map((e) => ({ text: JSON.stringify(["EVENT", sub, e]), expect: null })) },
      { weight: 1, arbitrary: valid.map((e) => ({ text: JSON.stringify(["EVENT", "not-our-sub", e]), expect: null })) },
      { weight: 2, arbitrary: fc.json().map((text) => ({ text, expect: null })) },
      { weight: 2, arbitrary: nastyString.map((text) => ({ text, expect: null })) },
      {
        weight: 3,
        // NIP-01 message types with wrong arity or types. Never CLOSED/EOSE on our own sub id:
        // that would legitimately end or mark the subscription.
        arbitrary: fc
          .tuple(fc.constantFrom("EVENT", "EOSE", "OK", "CLOSED", "AUTH", "NOTICE", "COUNT", "event", ""), fc.array(fc.jsonValue(), { maxLength: 4 }))
          .filter(([t, rest]) => !((t === "CLOSED" || t === "EOSE") && rest[0] === sub))
          .map(([t, rest]) => ({ text: JSON.stringify([t, ...rest]), expect: null })),
      },
    );
    const frames = fc.sample(frame, RUNS);
    const expected = new Set<string>();
    for (const f of frames) if (f.expect) expected.add(f.expect.id);
    // Send in batches so the socket's buffer never holds everything at once.
    const ws = [...sockets][0]!;
    for (let i = 0; i < frames.length; i++) {
      ws.send(frames[i]!.text);
      if (i % 200 === 199) await Bun.sleep(1);
    }
    // A marker after everything: once it arrives, every earlier frame has been handled.
    const marker = sign([["t", "fuzz"], ["i", "marker"]], "marker");
    ws.send(JSON.stringify(["EVENT", sub, marker]));
    await until(() => delivered.some((e) => e.id === marker.id), 30_000, "marker delivered");

    const got = delivered.filter((e) => e.id !== marker.id);
    expect(got.every((e) => isValidEvent(wire(e)) && e.kind === 5050 && e.tags.some((t) => t[0] === "t" && t[1] === "fuzz"))).toBe(true);
    expect(new Set(got.map((e) => e.id))).toEqual(expected);
    expect(pool.views()[0]!.state).toBe("connected");
    expect(unhandled).toEqual([]);
    console.log(`relay frames: ${frames.length} sent, ${expected.size} valid delivered, ${frames.length - got.length} dropped`);
  },
  PROPERTY_TIMEOUT_MS,
);
