import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { RelayListChanged, RelayStatusChanged, type RelayView } from "../../src/nostr/events.ts";
import { RelayPool, type RelayPoolOptions } from "../../src/nostr/pool.ts";
import { AWAITING_ANSWER, backoffDelay } from "../../src/nostr/relay-link.ts";
import { checkExtraRelayUrl, normalizeRelayUrl } from "../../src/nostr/relay-url.ts";
import { resumeFilters } from "../../src/nostr/subscriptions.ts";
import { connectRaw } from "../fixtures/relay-client.ts";
import { cleanups, relay, runCleanups, until } from "./helpers.ts";

const providerKey = generateSecretKey();
const customerKey = generateSecretKey();
const nowSec = () => Math.floor(Date.now() / 1000);
let seq = 0;
function jobRequest(extra: { created_at?: number; kind?: number; tags?: string[][] } = {}): Event {
  return finalizeEvent(
    { kind: extra.kind ?? 5050, tags: extra.tags ?? [["i", "hello", "text"]], content: `req ${seq++}`, created_at: extra.created_at ?? nowSec() },
    customerKey,
  );
}

afterEach(runCleanups);

function makePool(relays: string[], opts: Partial<RelayPoolOptions> = {}) {
  const bus = new Bus();
  const statuses: RelayView[] = [];
  const lists: RelayView[][] = [];
  bus.subscribe(RelayStatusChanged, (p) => statuses.push(p.relay));
  bus.subscribe(RelayListChanged, (p) => lists.push(p.relays));
  const pool = new RelayPool({
    relays,
    bus,
    signer: { secretKey: providerKey },
    backoff: { baseMs: 20, maxMs: 200 },
    allowInsecureLocal: true,
    timeouts: { connectMs: 1000, publishMs: 1000, fetchMs: 1000, authMs: 1000, pingMs: 1000 },
    ...opts,
  });
  cleanups.push(() => pool.stop());
  const state = (url: string) => pool.views().find((v) => v.url === url)?.state;
  return { pool, bus, statuses, lists, state };
}

describe("pure helpers", () => {
  test("backoffDelay grows exponentially, is capped, and jitters between half and full step", () => {
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, 1000, 60_000, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffDelay(20, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffDelay(2, 1000, 60_000, () => 0)).toBe(2000);
    const d = backoffDelay(3, 1000, 60_000);
    expect(d).toBeGreaterThanOrEqual(4000);
    expect(d).toBeLessThanOrEqual(8000);
  });

  test("resumeFilters moves since to the resume point minus the window, never backwards", () => {
    const f = [{ kinds: [5050] }, { kinds: [5], since: 1_000_000 }];
    expect(resumeFilters(f, null, 60)).toEqual(f);
    expect(resumeFilters(f, 500_000, 60)).toEqual([{ kinds: [5050], since: 499_940 }, { kinds: [5], since: 1_000_000 }]);
  });

  test("extra relay policy: wss only, no private hosts, loopback only when allowed", () => {
    expect(checkExtraRelayUrl("wss://relay.example.com/", false)).toEqual({ ok: true, url: "wss://relay.example.com" });
    expect(checkExtraRelayUrl("ws://relay.example.com", false).ok).toBe(false);
    expect(checkExtraRelayUrl("ws://relay.example.com", true).ok).toBe(false);
    expect(checkExtraRelayUrl("wss://192.168.1.5", false).ok).toBe(false);
    expect(checkExtraRelayUrl("wss://[::1]:7000", false).ok).toBe(false);
    expect(checkExtraRelayUrl("ws://127.0.0.1:7000", false).ok).toBe(false);
    expect(checkExtraRelayUrl("ws://127.0.0.1:7000", true)).toEqual({ ok: true, url: "ws://127.0.0.1:7000" });
    expect(checkExtraRelayUrl("https://relay.example.com", false).ok).toBe(false);
    expect(checkExtraRelayUrl("wss://user:pw@relay.example.com", false).ok).toBe(false);
    expect(checkExtraRelayUrl(42, false).ok).toBe(false);
    expect(normalizeRelayUrl("WSS://Relay.Example.com:443/path/#x")).toBe("wss://relay.example.com/path");
  });
});

describe("relay pool", () => {
  test("states reach the bus: connecting then connected with a measured latency, for each relay", async () => {
    const a = await relay();
    const b = await relay();
    const { pool, statuses, state } = makePool([a.url, b.url]);
    expect(pool.views().map((v) => v.state)).toEqual(["disconnected", "disconnected"]);
    pool.start();
    await until(() => pool.views().every((v) => v.state === "connected" && v.latencyMs !== null), 3000, "both connected");
    for (const url of [a.url, b.url]) {
      const seen = statuses.filter((s) => s.url === url);
      // Connecting (dialing, then open and waiting for the relay's first answer), then connected.
      expect(seen.slice(0, 3).map((s) => [s.state, s.error])).toEqual([
        ["connecting", null],
        ["connecting", AWAITING_ANSWER],
        ["connected", null],
      ]);
    }
    expect(state(a.url)).toBe("connected");
    // The latency probe is a REQ the relay answered.
    expect(a.connections()[0]!.reqs).toBeGreaterThanOrEqual(1);
  });

  test("a relay that refuses connections is failed with a reason and retried with growing delays", async () => {
    const dead = await relay();
    await dead.stop();
    const { pool, statuses, state } = makePool([dead.url], { backoff: { baseMs: 20, maxMs: 80 }, random: () => 1 });
    pool.start();
    await until(() => statuses.filter((s) => s.state === "connecting").length >= 4, 3000, "4 attempts");
    const failed = statuses.filter((s) => s.state === "failed");
    expect(failed.length).toBeGreaterThanOrEqual(3);
    expect(failed[0]!.error).toBeTruthy();
    // Gaps between a failure and the next attempt follow the backoff: 20, 40, 80 (capped) ms.
    const gaps: number[] = [];
    for (let i = 1; i < statuses.length; i++) {
      if (statuses[i]!.state === "connecting" && statuses[i - 1]!.state === "failed") gaps.push(statuses[i]!.since - statuses[i - 1]!.since);
    }
    expect(gaps[0]!).toBeGreaterThanOrEqual(15);
    expect(gaps[2]!).toBeGreaterThanOrEqual(60);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    // It comes back on its own once the relay is up again.
    await dead.restart();
    await until(() => state(dead.url) === "connected", 3000, "reconnect");
  });

  test("publish results: ok, rejected (reject mode), timeout (silent mode)", async () => {
    const good = await relay();
    const rejecting = await relay({ mode: "reject" });
    const silent = await relay({ mode: "silent" });
    const { pool, state } = makePool([good.url, rejecting.url, silent.url], { timeouts: { pingMs: 20_000 } });
    pool.start();
    // The silent relay's socket is open but it never answered: not shown connected, yet used.
    await until(() => state(good.url) === "connected" && state(rejecting.url) === "connected", 3000, "connected");
    await until(() => pool.views()[2]!.error === AWAITING_ANSWER, 3000, "silent relay open");
    expect(state(silent.url)).toBe("connecting");
    const ev = jobRequest({ kind: 7000 });
    const started = Date.now();
    const results = await pool.publish(ev, { timeoutMs: 400 });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(results).toEqual([
      { relay: good.url, ok: true, status: "ok", message: "" },
      { relay: rejecting.url, ok: false, status: "rejected", message: "blocked: test" },
      { relay: silent.url, ok: false, status: "timeout", message: expect.stringContaining("no OK") },
    ]);
    expect(good.events().map((e) => e.id)).toEqual([ev.id]);
    expect(silent.connections()[0]!.events).toBe(1);
  });

  test("publish to a relay that is down waits for it within the deadline, else reports not connected", async () => {
    const r = await relay();
    await r.stop();
    const { pool, state } = makePool([r.url]);
    pool.start();
    await until(() => state(r.url) === "failed", 2000, "failed");
    const lost = await pool.publish(jobRequest(), { timeoutMs: 150 });
    expect(lost[0]).toMatchObject({ ok: false, status: "error" });
    expect(lost[0]!.message).toStartWith("not connected");

    const ev = jobRequest();
    const pending = pool.publish(ev, { timeoutMs: 3000 });
    await Bun.sleep(100);
    await r.restart();
    expect((await pending)[0]).toMatchObject({ ok: true, status: "ok" });
    expect(r.events().map((e) => e.id)).toContain(ev.id);
  });

  test("relay killed and restarted: reconnects, resubscribes with a since window, gets what was missed", async () => {
    const r = await relay();
    const other = await relay();
    const { pool, statuses, state } = makePool([r.url, other.url], { resubscribeWindowSec: 60 });
    pool.start();
    const got: { id: string; relay: string }[] = [];
    pool.subscribe([{ kinds: [5050] }], { onEvent: (e, relay) => got.push({ id: e.id, relay }) });
    await until(() => state(r.url) === "connected" && state(other.url) === "connected", 3000, "connected");
    const first = jobRequest();
    await until(() => r.connections()[0]!.requests.some((q) => q.subId.startsWith("sub:")), 2000, "REQ sent");
    const pub = await connectRaw(r.url);
    pub.send(["EVENT", first]);
    await until(() => got.some((g) => g.id === first.id), 2000, "first event");

    await r.stop();
    await until(() => state(r.url) !== "connected", 2000, "noticed the outage");
    expect(statuses.some((s) => s.url === r.url && (s.state === "disconnected" || s.state === "failed") && s.error)).toBe(true);
    expect(state(other.url)).toBe("connected");
    // Published by someone else while we were cut off, and one far too old to be replayed.
    const missed = jobRequest();
    const ancient = jobRequest({ created_at: nowSec() - 3600 });
    await r.inject(missed);
    await r.inject(ancient);
    const downAt = nowSec();

    await r.restart();
    await until(() => got.some((g) => g.id === missed.id), 3000, "missed event after restart");
    const conn = r.connections().at(-1)!;
    const resub = conn.requests.find((q) => q.subId.startsWith("sub:"))!;
    const since = resub.filters[0]!.since as number;
    expect(since).toBeGreaterThanOrEqual(downAt - 60 - 5);
    expect(since).toBeLessThanOrEqual(downAt - 60 + 1);

    const after = jobRequest();
    const pub2 = await connectRaw(r.url);
    pub2.send(["EVENT", after]);
    await until(() => got.some((g) => g.id === after.id), 2000, "live event after restart");
    expect(got.some((g) => g.id === ancient.id)).toBe(false);
    // Inside the window events are replayed once more (the engine deduplicates by id).
    expect(got.filter((g) => g.id === first.id)).toHaveLength(2);
    pub.close();
    pub2.close();
  });

  test("a relay that hangs is failed: connect timeout, or no answer to the latency probe", async () => {
    // Accepts TCP, never completes the websocket handshake.
    const tcp = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    cleanups.push(() => tcp.stop(true));
    const hanging = `ws://127.0.0.1:${tcp.port}`;
    const silent = await relay({ mode: "silent" });
    const { pool, statuses, state } = makePool([hanging, silent.url], { timeouts: { connectMs: 150, pingMs: 150 } });
    pool.start();
    await until(() => statuses.some((s) => s.url === hanging && s.state === "failed"), 2000, "connect timeout");
    expect(statuses.find((s) => s.url === hanging && s.state === "failed")!.error).toContain("timed out");
    await until(() => statuses.some((s) => s.url === silent.url && s.state === "failed"), 2000, "probe timeout");
    expect(statuses.find((s) => s.url === silent.url && s.state === "failed")!.error).toContain("not responding");
    silent.setMode("normal");
    await until(() => state(silent.url) === "connected" && pool.views()[1]!.latencyMs !== null, 3000, "recovered");
    await pool.stop();
    expect(pool.views().map((v) => v.state)).toEqual(["disconnected", "disconnected"]);
  });

  test("a dropped connection is noticed and re-established", async () => {
    const r = await relay();
    const { pool, statuses, state } = makePool([r.url]);
    pool.start();
    await until(() => state(r.url) === "connected", 2000, "connected");
    r.dropConnections();
    await until(() => statuses.some((s) => s.state === "disconnected" && s.error !== null), 2000, "disconnected");
    await until(() => state(r.url) === "connected" && r.connections().length === 2, 2000, "reconnected");
  });

  test("NIP-42: answers the challenge with a signed kind 22242, then publishes, subscribes and fetches", async () => {
    const r = await relay({ requireAuth: true });
    const { pool, state } = makePool([r.url]);
    pool.start();
    const got: string[] = [];
    pool.subscribe([{ kinds: [5050] }], { onEvent: (e) => got.push(e.id) });
    await until(() => state(r.url) === "connected", 2000, "connected");
    const ev = jobRequest({ kind: 6050 });
    const [res] = await pool.publish(ev);
    expect(res).toMatchObject({ ok: true, status: "ok" });
    expect(r.connections()[0]!.authed).toBe(getPublicKey(providerKey));
    const req = jobRequest();
    await until(() => r.connections()[0]!.requests.filter((q) => q.subId.startsWith("sub:")).length >= 2, 2000, "re-REQ after auth");
    await r.inject(req);
    await until(() => got.includes(req.id), 2000, "event on the authed subscription");
    expect(await pool.fetch([{ ids: [ev.id] }], { timeoutMs: 1000 })).toEqual([ev]);
  });

  test("NIP-42 on publish alone, with a sign() function as signer", async () => {
    const r = await relay({ requireAuth: true });
    const otherKey = generateSecretKey();
    let signed = 0;
    const { pool, state } = makePool([r.url], {
      signer: {
        sign: async (t) => {
          signed++;
          expect(t.kind).toBe(22242);
          return finalizeEvent(t, otherKey);
        },
      },
    });
    pool.start();
    await until(() => state(r.url) === "connected", 2000, "connected");
    const ev = jobRequest({ kind: 7000 });
    const [res] = await pool.publish(ev);
    expect(res).toMatchObject({ ok: true, status: "ok" });
    expect(signed).toBe(1);
    expect(r.connections()[0]!.authed).toBe(getPublicKey(otherKey));
    expect(r.connections()[0]!.events).toBe(2);
  });

  test("NIP-42 with a signer function that fails: publish is rejected with the relay's reason", async () => {
    const r = await relay({ requireAuth: true });
    const { pool, state } = makePool([r.url], {
      signer: {
        sign: () => {
          throw new Error("signer locked");
        },
      },
    });
    pool.start();
    await until(() => state(r.url) === "connected", 2000, "connected");
    const [res] = await pool.publish(jobRequest({ kind: 7000 }), { timeoutMs: 1000 });
    expect(res!.status).toBe("rejected");
    expect(res!.message).toStartWith("auth-required:");
    expect(r.events()).toEqual([]);
  });

  test("NIP-42 with a signer that never answers: publish is rejected at the AUTH deadline", async () => {
    const r = await relay({ requireAuth: true });
    const { pool, state } = makePool([r.url], {
      signer: { sign: () => new Promise<Event>(() => {}) },
      timeouts: { connectMs: 1000, publishMs: 1000, fetchMs: 1000, authMs: 300, pingMs: 1000 },
    });
    pool.start();
    await until(() => state(r.url) === "connected", 2000, "connected");
    const started = performance.now();
    const [res] = await pool.publish(jobRequest({ kind: 7000 }), { timeoutMs: 5000 });
    expect(res!.status).toBe("rejected");
    expect(res!.message).toEndWith("(our AUTH failed)");
    expect(performance.now() - started).toBeLessThan(3000);
    expect(r.events()).toEqual([]);
  });

  test("events with bad signatures, wrong shape or not matching the filter never reach subscribers", async () => {
    const good = jobRequest();
    const forged = { ...jobRequest(), content: "tampered" };
    const wrongKind = jobRequest({ kind: 1 });
    const frames = (subId: string) => [
      "not json at all",
      JSON.stringify(["EVENT", subId, forged]),
      JSON.stringify(["EVENT", subId, { ...good, sig: "zz" }]),
      JSON.stringify(["EVENT", subId, null]),
      JSON.stringify(["EVENT", subId, wrongKind]),
      JSON.stringify(["EVENT", "unknown-sub", good]),
      JSON.stringify(["OK", 5, "x"]),
      JSON.stringify(["EOSE"]),
      JSON.stringify({ not: "an array" }),
      JSON.stringify(["AUTH", { challenge: 1 }]),
      JSON.stringify(["EVENT", subId, good]),
      JSON.stringify(["EOSE", subId]),
    ];
    // A hostile relay: answers every REQ with garbage around one valid event.
    const hostile: Server<undefined> = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        return srv.upgrade(req) ? undefined : new Response("no", { status: 400 });
      },
      websocket: {
        message(ws, raw) {
          const msg = JSON.parse(String(raw));
          if (msg[0] !== "REQ") return;
          ws.send(new Uint8Array([1, 2, 3]));
          for (const f of frames(msg[1])) ws.send(f);
        },
      },
    });
    cleanups.push(() => void hostile.stop(true));
    const url = `ws://127.0.0.1:${hostile.port}`;
    const { pool, state } = makePool([url]);
    const got: string[] = [];
    let eoses = 0;
    pool.subscribe([{ kinds: [5050] }], { onEvent: (e) => got.push(e.id), onEose: () => eoses++ });
    pool.start();
    await until(() => eoses >= 1, 2000, "EOSE");
    expect(got).toEqual([good.id]);
    expect(await pool.fetch([{ kinds: [5050] }], { timeoutMs: 1000 })).toEqual([good]);
    expect(state(url)).toBe("connected");
  });

  test("extra relays: allowed ones get short-lived connections (at most 5), others are refused", async () => {
    const own = await relay();
    const extra = await relay();
    const { pool, state } = makePool([own.url]);
    pool.start();
    await until(() => state(own.url) === "connected", 2000, "connected");
    const ev = jobRequest({ kind: 7000 });
    // Six distinct URLs on one server (paths differ): only five may be contacted.
    const extras = ["a", "b", "c", "d", "e", "f"].map((p) => `${extra.url}/${p}`);
    const results = await pool.publish(ev, {
      extraRelays: [own.url, ...extras, "ws://relay.example.com", "wss://10.1.2.3", "https://x.example.com"],
      timeoutMs: 2000,
    });
    const by = (status: string) => results.filter((r) => r.status === status);
    expect(by("ok").map((r) => r.relay)).toEqual([own.url, ...extras.slice(0, 5)]);
    expect(by("error").map((r) => r.message)).toEqual([
      expect.stringContaining("at most 5"),
      expect.stringContaining("only wss://"),
      expect.stringContaining("private"),
      expect.stringContaining("ws:// or wss://"),
    ]);
    expect(extra.events().map((e) => e.id)).toEqual([ev.id]);
    expect(extra.connections()).toHaveLength(5);
    await until(() => extra.connections().every((c) => !c.open), 2000, "extra connections closed");
    // The pool relay stays connected; only extras are short-lived.
    expect(own.connections()[0]!.open).toBe(true);
    // An unreachable extra relay costs at most the deadline.
    const deadExtra = await relay();
    await deadExtra.stop();
    const [, unreachable] = await pool.publish(jobRequest({ kind: 7000 }), { extraRelays: [deadExtra.url], timeoutMs: 500 });
    expect(unreachable).toMatchObject({ relay: deadExtra.url, ok: false, status: "error" });
  });

  test("fetch: one-shot query across relays, deduplicated, bounded by the timeout when a relay is silent", async () => {
    const a = await relay();
    const b = await relay();
    const hint = await relay();
    const e1 = jobRequest();
    const e2 = jobRequest({ created_at: nowSec() + 1 });
    const e3 = jobRequest();
    await a.inject(e1);
    await b.inject(e1);
    await b.inject(e2);
    await hint.inject(e3);
    const { pool } = makePool([a.url, b.url]);
    pool.start();
    const found = await pool.fetch([{ ids: [e1.id, e2.id, e3.id] }], { timeoutMs: 1500, extraRelays: [hint.url] });
    expect(found.map((e) => e.id).sort()).toEqual([e1.id, e2.id, e3.id].sort());
    expect(found[0]!.id).toBe(e2.id);
    await until(() => hint.connections().every((c) => !c.open), 2000, "hint connection closed");

    b.setMode("silent");
    const started = Date.now();
    const partial = await pool.fetch([{ ids: [e1.id, e2.id] }], { timeoutMs: 300 });
    const took = Date.now() - started;
    expect(partial.map((e) => e.id)).toEqual([e1.id]);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1000);
  });

  test("setRelays adds and removes relays at runtime", async () => {
    const a = await relay();
    const b = await relay();
    const { pool, lists, state } = makePool([a.url]);
    pool.start();
    await until(() => state(a.url) === "connected", 2000, "a connected");
    pool.setRelays([a.url, `${b.url}/`]);
    expect(lists.at(-1)!.map((v) => v.url)).toEqual([a.url, b.url]);
    await until(() => state(b.url) === "connected", 2000, "b connected");
    pool.setRelays([b.url]);
    expect(pool.views().map((v) => v.url)).toEqual([b.url]);
    await until(() => a.connections().every((c) => !c.open), 2000, "a closed");
    const [res] = await pool.publish(jobRequest({ kind: 7000 }));
    expect(res!.relay).toBe(b.url);
    expect(a.events()).toEqual([]);
  });

  test("stop() is idempotent and leaves nothing running: a process using the pool exits promptly", async () => {
    const r = await relay();
    const silent = await relay({ mode: "silent" });
    const dir = mkdtempSync(join(tmpdir(), "pool-exit-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, "run.ts");
    const poolPath = new URL("../../src/nostr/pool.ts", import.meta.url).pathname;
    const linkPath = new URL("../../src/nostr/relay-link.ts", import.meta.url).pathname;
    const busPath = new URL("../../src/bus.ts", import.meta.url).pathname;
    writeFileSync(
      script,
      `import { RelayPool } from ${JSON.stringify(poolPath)};
import { AWAITING_ANSWER } from ${JSON.stringify(linkPath)};
import { Bus } from ${JSON.stringify(busPath)};
const key = new Uint8Array(${JSON.stringify([...providerKey])});
const pool = new RelayPool({ relays: [${JSON.stringify(r.url)}, ${JSON.stringify(silent.url)}, "ws://127.0.0.1:9"], bus: new Bus(), signer: { secretKey: key },
  allowInsecureLocal: true, pingIntervalMs: 60000, timeouts: { pingMs: 60000, connectMs: 60000, publishMs: 60000, fetchMs: 60000, authMs: 60000 }, backoff: { baseMs: 30000, maxMs: 60000 } });
pool.start();
pool.subscribe([{ kinds: [5050] }], { onEvent() {} });
while (pool.views()[0].state !== "connected" || pool.views()[1].error !== AWAITING_ANSWER) await Bun.sleep(5);
const ev = ${JSON.stringify(jobRequest({ kind: 7000 }))};
const pending = pool.publish(ev, { timeoutMs: 60000, extraRelays: [${JSON.stringify(silent.url + "/extra")}] });
const fetching = pool.fetch([{ kinds: [1] }], { timeoutMs: 60000 });
await Bun.sleep(100);
await pool.stop();
await pool.stop();
const results = await pending;
await fetching;
console.log(JSON.stringify(results.map((x) => x.status)));
`,
    );
    const started = Date.now();
    const proc = Bun.spawn([process.execPath, script], { cwd: join(import.meta.dir, "..", ".."), stdout: "pipe", stderr: "pipe", env: { ...process.env, COMPUTE_LOG_LEVEL: "silent" } });
    const killer = setTimeout(() => proc.kill(), 8000);
    const code = await proc.exited;
    clearTimeout(killer);
    const out = await new Response(proc.stdout).text();
    const err = await new Response(proc.stderr).text();
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
    // The silent relay and the extra never answered; stop() ended the waits instead of 60 s timers.
    expect(JSON.parse(out.trim())).toEqual(["ok", "error", "error", "error"]);
  });
});
