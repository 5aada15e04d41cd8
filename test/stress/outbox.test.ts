// The pool's outbox under stress: events published while a relay is down (past publish()'s own
// deadline) reach it when it comes back, in order, each once, with onLateDelivery; what is no use
// any more (NIP-40 expired, superseded replaceable events, refused ones) is not resent; the outbox
// stays bounded however long the outage. And a customer naming our own relay in its `relays` tag
// gets no spurious refusal.
import { afterEach, expect, test } from "bun:test";
import { finalizeEvent, generateSecretKey, type Event } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { OUTBOX_MAX_EVENTS } from "../../src/nostr/outbox.ts";
import { RelayPool } from "../../src/nostr/pool.ts";
import type { PublishResult } from "../../src/nostr/relay-socket.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { until } from "../fixtures/stress-app.ts";

const sk = generateSecretKey();
const live: Array<{ stop(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const x of live.splice(0).reverse()) await x.stop();
});

async function relay(opts: Parameters<typeof startRelay>[0] = {}): Promise<TestRelay> {
  const r = await startRelay(opts);
  live.push(r);
  return r;
}
function pool(urls: string[], allowInsecureLocal = true): RelayPool {
  const p = new RelayPool({ relays: urls, bus: new Bus(), signer: { secretKey: sk }, backoff: { baseMs: 20, maxMs: 100 }, allowInsecureLocal, timeouts: { publishMs: 2000 } });
  live.push(p);
  p.start();
  return p;
}
let n = 0;
const ev = (kind: number, tags: string[][] = [], createdAt = Math.floor(Date.now() / 1000)) => finalizeEvent({ kind, created_at: createdAt, tags, content: `event ${++n}` }, sk);
const connected = (p: RelayPool) => until(() => p.views().every((v) => v.state === "connected"), 3000, "connected");

test("published while the relay is down: delivered in order, once each, on its return; onLateDelivery for each", async () => {
  const r = await relay();
  const p = pool([r.url]);
  await connected(p);
  await r.stop();
  await until(() => p.views()[0]!.state !== "connected", 2000, "down");
  const late: PublishResult[] = [];
  const sent: Event[] = [];
  for (let i = 0; i < 20; i++) {
    const e = ev(7000, [["e", "a".repeat(64)]]);
    sent.push(e);
    const [res] = await p.publish(e, { timeoutMs: 20, onLateDelivery: (x) => void late.push(x) });
    expect(res).toMatchObject({ ok: false, status: "error" });
  }
  expect(p.pending()[r.url]).toBe(20);
  const arrivals: string[] = [];
  r.onEvent((e) => void arrivals.push(e.id));
  await Bun.sleep(300); // longer than any publish deadline above
  await r.restart();
  await until(() => r.events().length === 20, 3000, "all delivered after the return");
  expect(arrivals).toEqual(sent.map((e) => e.id));
  await until(() => late.length === 20, 2000, "onLateDelivery for each");
  expect(late.every((x) => x.ok && x.relay === r.url)).toBe(true);
  expect(p.pending()[r.url]).toBe(0);
  // Once delivered, never again: a later drop and return sends nothing more.
  const before = r.connections().reduce((s, c) => s + c.events, 0);
  r.dropConnections();
  await until(() => r.connections().some((c) => c.open), 3000, "reconnected");
  await connected(p);
  await Bun.sleep(200);
  expect(r.connections().reduce((s, c) => s + c.events, 0)).toBe(before);
});

test("not resent: an expired event (NIP-40), an older replaceable one superseded by a newer, an ephemeral one", async () => {
  const r = await relay();
  const p = pool([r.url]);
  await connected(p);
  await r.stop();
  await until(() => p.views()[0]!.state !== "connected", 2000, "down");
  const now = Math.floor(Date.now() / 1000);
  const expiring = ev(7000, [["expiration", String(now + 1)]]);
  const oldBeat = ev(11998, [["d", "x"]], now - 10);
  const newBeat = ev(11998, [["d", "x"]], now - 5);
  const olderThanNew = ev(11998, [["d", "x"]], now - 20); // arrives after the newer one: dropped
  const ephemeral = ev(20001);
  const keeper = ev(6050);
  for (const e of [expiring, oldBeat, newBeat, olderThanNew, ephemeral, keeper]) await p.publish(e, { timeoutMs: 10 });
  expect(p.pending()[r.url]).toBe(3); // expiring (not yet expired), newBeat, keeper
  await Bun.sleep(2100); // the expiration passes while the relay is down
  await r.restart();
  await until(() => r.events().some((e) => e.id === keeper.id), 3000, "keeper delivered");
  await Bun.sleep(200);
  expect(r.events().map((e) => e.id).sort()).toEqual([newBeat.id, keeper.id].sort());
  expect(p.pending()[r.url]).toBe(0);
});

test("a relay that refuses an event is not asked again; a healthy one gets it at once; the refusal shows in its status", async () => {
  const ok = await relay();
  const no = await relay({ mode: "reject" });
  const p = pool([ok.url, no.url]);
  await connected(p);
  const res = await p.publish(ev(7000));
  expect(res.map((x) => x.status)).toEqual(["ok", "rejected"]);
  expect(p.pending()).toEqual({ [ok.url]: 0, [no.url]: 0 });
  expect(p.views()[1]).toMatchObject({ state: "connected", error: "refuses our events: blocked: test" });
  expect(p.views()[0]!.error).toBeNull();
  no.setMode("normal");
  await p.publish(ev(7000));
  expect(p.views()[1]!.error).toBeNull();
});

test(`bounded: a long outage keeps at most ${OUTBOX_MAX_EVENTS} events, the newest`, async () => {
  const r = await relay();
  const p = pool([r.url]);
  await connected(p);
  await r.stop();
  await until(() => p.views()[0]!.state !== "connected", 2000, "down");
  const sent: Event[] = [];
  for (let i = 0; i < OUTBOX_MAX_EVENTS + 50; i++) {
    const e = ev(7000);
    sent.push(e);
    await p.publish(e, { timeoutMs: 1 });
  }
  expect(p.pending()[r.url]).toBe(OUTBOX_MAX_EVENTS);
  const arrivals: string[] = [];
  r.onEvent((e) => void arrivals.push(e.id));
  await r.restart();
  await until(() => r.events().length === OUTBOX_MAX_EVENTS, 10_000, "the kept ones delivered");
  expect(arrivals).toEqual(sent.slice(50).map((e) => e.id));
}, 30_000);

test("a customer's relays tag naming our own relay (even ws:// where extra relays must be wss://) is covered by it: no refusal", async () => {
  const r = await relay();
  const p = pool([r.url], false);
  await connected(p);
  const res = await p.publish(ev(7000), { extraRelays: [r.url, `${r.url}/`, "ws://127.0.0.1:1"] });
  expect(res.map((x) => [x.relay, x.status])).toEqual([
    [r.url, "ok"],
    ["ws://127.0.0.1:1", "error"],
  ]);
  expect(res[1]!.message).toContain("refused");
  expect(p.pending()[r.url]).toBe(0);
});
