// Relays a customer names (the `relays` tag, relay hints of event/job inputs) get the same address
// check as url inputs, and the provider holds only so many connections to them at once. Attacks
// are driven against a real TCP listener on 127.0.0.1 that counts the connections it gets.
import { afterEach, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { finalizeEvent, generateSecretKey } from "nostr-tools/pure";
import { Bus } from "../../src/bus.ts";
import { RelayPool, type RelayPoolOptions } from "../../src/nostr/pool.ts";
import { checkExtraRelayUrl } from "../../src/nostr/relay-url.ts";

const key = generateSecretKey();
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP listener that takes connections and never answers (a websocket handshake hangs). */
async function listener(): Promise<{ port: number; accepted: () => number; open: () => number; maxOpen: () => number }> {
  let accepted = 0;
  let maxOpen = 0;
  const socks = new Set<Socket>();
  const srv: Server = createServer((s) => {
    accepted++;
    socks.add(s);
    maxOpen = Math.max(maxOpen, socks.size);
    s.on("error", () => {});
    s.on("close", () => socks.delete(s));
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    for (const s of socks) s.destroy();
    return new Promise<void>((r) => srv.close(() => r()));
  });
  return { port: (srv.address() as { port: number }).port, accepted: () => accepted, open: () => socks.size, maxOpen: () => maxOpen };
}

function makePool(opts: Partial<RelayPoolOptions> = {}) {
  const pool = new RelayPool({
    relays: [],
    bus: new Bus(),
    signer: { secretKey: key },
    timeouts: { connectMs: 1500, publishMs: 1500, fetchMs: 1500, authMs: 1000, pingMs: 1000 },
    ...opts,
  });
  pool.start();
  cleanups.push(() => pool.stop());
  return pool;
}

const event = () => finalizeEvent({ kind: 7000, tags: [], content: "x", created_at: Math.floor(Date.now() / 1000) }, key);

test("a customer's reply relay wss://localhost.:PORT (trailing dot) does not reach the operator's loopback", async () => {
  const l = await listener();
  const pool = makePool();
  const [result] = await pool.publish(event(), { extraRelays: [`wss://localhost.:${l.port}`], timeoutMs: 1000 });
  await Bun.sleep(100);
  expect(l.accepted()).toBe(0);
  expect(result!.ok).toBe(false);
  expect(result!.message).toMatch(/refused/);
});

test("a customer's relay hint on an event input whose name resolves to 127.0.0.1 is not contacted", async () => {
  const l = await listener();
  // The name resolves (as an attacker's DNS would answer) to loopback.
  const pool = makePool({ resolveHost: async (host) => (host === "localhost." ? ["127.0.0.1"] : []) });
  await pool.fetch([{ ids: ["ab".repeat(32)] }], { extraRelays: [`wss://localhost.:${l.port}`], timeoutMs: 800 });
  await Bun.sleep(100);
  expect(l.accepted()).toBe(0);
});

test("a customer's relay named by a host name that resolves to a private address is refused, saying why", async () => {
  const pool = makePool({ resolveHost: async () => ["10.0.0.7"] });
  const [result] = await pool.publish(event(), { extraRelays: ["wss://relay.attacker.test"], timeoutMs: 1000 });
  expect(result!.ok).toBe(false);
  expect(result!.message).toMatch(/refused.*private/);
});

test("a customer's relay whose host name never resolves is refused at the connect deadline, saying so", async () => {
  const pool = makePool({ resolveHost: () => new Promise<string[]>(() => {}) });
  const started = performance.now();
  const [result] = await pool.publish(event(), { extraRelays: ["wss://relay.attacker.test"], timeoutMs: 5000 });
  expect(result!.ok).toBe(false);
  expect(result!.message).toMatch(/refused.*cannot resolve/);
  expect(performance.now() - started).toBeLessThan(4000);
});

test("IPv6 forms that hide a private IPv4 address, and documentation ranges, are refused as customer relays", () => {
  for (const url of [
    "wss://[64:ff9b::7f00:1]", // NAT64 well-known prefix → 127.0.0.1
    "wss://[64:ff9b::a00:1]", // NAT64 → 10.0.0.1
    "wss://[64:ff9b:1::808:808]", // NAT64 local-use prefix
    "wss://[::ffff:0:7f00:1]", // SIIT-translated 127.0.0.1
    "wss://[2002:c0a8:101::1]", // 6to4 of 192.168.1.1
    "wss://[2002:7f00:1::1]", // 6to4 of 127.0.0.1
    "wss://[::7f00:1]", // IPv4-compatible 127.0.0.1
    "wss://192.0.2.10", // TEST-NET-1
    "wss://198.51.100.10", // TEST-NET-2
    "wss://203.0.113.10", // TEST-NET-3
    "wss://[2001:db8::1]", // IPv6 documentation
    "wss://198.18.0.1", // benchmarking
    "wss://localhost.",
    "wss://relay.localhost.",
  ]) {
    expect({ url, ok: checkExtraRelayUrl(url, false).ok }).toEqual({ url, ok: false });
  }
  // Public addresses, and public ones behind the well-known NAT64 prefix, stay usable.
  for (const url of ["wss://relay.example.com", "wss://8.8.8.8", "wss://[2606:4700::1111]", "wss://[64:ff9b::808:808]"]) {
    expect({ url, ok: checkExtraRelayUrl(url, false).ok }).toEqual({ url, ok: true });
  }
});

test("a flood of requests naming distinct reply relays holds at most maxCustomerRelayConnections connections at once", async () => {
  const l = await listener();
  // allowInsecureLocal lets the loopback listener stand in for the customers' relays.
  const pool = makePool({ allowInsecureLocal: true, maxCustomerRelayConnections: 4 });
  const publishes = Array.from({ length: 30 }, (_, i) => pool.publish(event(), { extraRelays: [`ws://127.0.0.1:${l.port}/r${i}`], timeoutMs: 1200 }));
  const results = await Promise.all(publishes);
  expect(l.maxOpen()).toBeLessThanOrEqual(4);
  expect(l.accepted()).toBeGreaterThan(0);
  // The ones over the cap are told why, not silently dropped.
  expect(results.flat().some((r) => /too many/.test(r.message))).toBe(true);
}, 20_000);
