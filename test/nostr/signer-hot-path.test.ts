// The signer on the hot path (issue 16). Warm-up: after going online the provider loads nostr-wasm and runs the
// signing code until it is compiled, in short slices that wait while real signatures are made, so
// a first burst of jobs does not pay for the compile and never waits behind the warm-up.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent as jsVerify } from "nostr-tools/pure";
import { loadSecp256k1 } from "../../src/nostr/secp256k1-wasm.ts";
import { initSigner, resetSigner, signEvent, signerKind, verifyEvent, WASM_DEMAND_OPS, warmUpSigner } from "../../src/nostr/signer.ts";

// Every test file runs in one process: an earlier file may have left nostr-wasm loaded.
beforeEach(() => resetSigner());
afterEach(() => resetSigner());

const template = (i: number) => ({ kind: 7000, created_at: 1_700_000_000 + i, tags: [["status", "processing"]], content: "" });

test("warm-up loads nostr-wasm with no traffic at all and runs its ops; later signatures are good", async () => {
  expect(signerKind()).toBe("js");
  const w = warmUpSigner({ ops: 60, gapMs: 1 });
  expect(warmUpSigner()).toBe(w); // one warm-up per process
  const r = await w.done;
  expect(r).toEqual({ kind: "wasm", ops: 60 });
  expect(signerKind()).toBe("wasm");
  const sk = generateSecretKey();
  const e = signEvent(template(1), sk);
  // A plain copy: the signed event carries nostr-tools' "verified" mark.
  expect(jsVerify({ id: e.id, pubkey: e.pubkey, sig: e.sig, kind: e.kind, created_at: e.created_at, tags: e.tags, content: e.content } as typeof e)).toBe(true);
});

test("warm-up does no slice while real signatures are being made (a job is never delayed by it)", async () => {
  const sk = generateSecretKey();
  signEvent(template(0), sk);
  const w = warmUpSigner({ ops: 40, gapMs: 1, quietMs: 2000 });
  // Traffic: a signature every 10 ms for 800 ms (the warm-up's quiet window is 2 s: a loaded
  // machine that stalls a 10 ms sleep for longer than that would let a slice in).
  const until = performance.now() + 800;
  let i = 0;
  while (performance.now() < until) {
    signEvent(template(i++), sk);
    await Bun.sleep(10);
  }
  expect(w.progress()).toBe(0);
  // The traffic (more than 40 signatures) did the warming: it ends without a warm-up op of its own.
  expect(await w.done).toEqual({ kind: signerKind(), ops: 0 });
});

test("real signatures count toward the warm-up: a burst right after going online ends it early", async () => {
  const sk = generateSecretKey();
  const w = warmUpSigner({ ops: 200, gapMs: 20, quietMs: 1 });
  // 150 real signatures while it runs: it needs at most 50 of its own.
  for (let i = 0; i < 150; i++) {
    signEvent(template(i), sk);
    if (i % 10 === 0) await Bun.sleep(1);
  }
  const r = await w.done;
  expect(r.ops).toBeLessThanOrEqual(50);
});

test("warm-up ops do not count as demand, and stop() ends it early", async () => {
  // With COMPUTE_NOSTR_WASM=0 semantics (JS chosen for good) the warm-up compiles the JS code and never loads wasm.
  await initSigner({ wasm: false });
  const w = warmUpSigner({ ops: WASM_DEMAND_OPS * 4, gapMs: 1 });
  const r = await w.done;
  expect(r.kind).toBe("js");
  expect(r.ops).toBe(WASM_DEMAND_OPS * 4);
  expect(signerKind()).toBe("js");
  resetSigner();
  const long = warmUpSigner({ ops: 1_000_000, gapMs: 5 });
  await Bun.sleep(50);
  long.stop();
  const stopped = await long.done;
  expect(stopped.ops).toBeLessThan(1_000_000);
});

test("a signature made during warm-up checks out with the JS code, and a forged one is refused", async () => {
  const w = warmUpSigner({ ops: 30, gapMs: 1 });
  const sk = generateSecretKey();
  const e = signEvent(template(2), sk);
  await w.done;
  const plain = { id: e.id, pubkey: e.pubkey, sig: e.sig, kind: e.kind, created_at: e.created_at, tags: e.tags, content: e.content };
  expect(verifyEvent({ ...plain })).toBe(true);
  expect(verifyEvent({ ...plain, content: "changed" })).toBe(false);
});

// Our own events come back from the relay (the subscriptions include the kinds we publish), and a
// request matching two subscriptions (the engine's and the market view's) arrives twice, each copy
// its own object: a copy of a known good event is recognised without a second Schnorr check, and
// nothing else is.
describe("echoes of our own events and second copies", () => {
  async function countingWasm() {
    const real = await loadSecp256k1();
    const counter = { verifies: 0 };
    await initSigner({
      load: async () => ({
        ...real,
        verify: (sig: Uint8Array, msg: Uint8Array, pub: Uint8Array) => {
          counter.verifies++;
          return real.verify(sig, msg, pub);
        },
      }),
    });
    counter.verifies = 0; // the self-test's checks
    return counter;
  }
  const wire = (e: { id: string; pubkey: string; sig: string; kind: number; created_at: number; tags: string[][]; content: string }) =>
    JSON.parse(JSON.stringify({ id: e.id, pubkey: e.pubkey, sig: e.sig, kind: e.kind, created_at: e.created_at, tags: e.tags, content: e.content }));

  test("an echo of an event we signed is accepted without a signature check", async () => {
    const counter = await countingWasm();
    const sk = generateSecretKey();
    const e = signEvent(template(3), sk);
    expect(verifyEvent(wire(e))).toBe(true);
    expect(counter.verifies).toBe(0);
    // Someone else's event is checked as always.
    const other = finalizeEvent(template(4), generateSecretKey());
    expect(verifyEvent(wire(other))).toBe(true);
    expect(counter.verifies).toBe(1);
  });

  test("a request that arrives on two subscriptions costs one signature check", async () => {
    const counter = await countingWasm();
    const request = finalizeEvent({ ...template(7), kind: 5050, tags: [["i", "hello", "text"]] }, generateSecretKey());
    expect(verifyEvent(wire(request))).toBe(true);
    expect(verifyEvent(wire(request))).toBe(true);
    expect(counter.verifies).toBe(1);
  });

  test("a relay that puts a checked event's id and signature on changed content gets it refused", async () => {
    const counter = await countingWasm();
    const request = finalizeEvent({ ...template(8), kind: 5050, tags: [["i", "pay me", "text"]] }, generateSecretKey());
    expect(verifyEvent(wire(request))).toBe(true);
    expect(verifyEvent({ ...wire(request), content: "forged" })).toBe(false);
    expect(verifyEvent({ ...wire(request), tags: [["i", "pay you", "text"]] })).toBe(false);
    expect(verifyEvent({ ...wire(request), pubkey: getPublicKey(generateSecretKey()) })).toBe(false);
    // A copy that failed its check is not remembered as good.
    const forged = { ...wire(request), id: "f".repeat(64) };
    expect(verifyEvent(forged)).toBe(false);
    expect(verifyEvent({ ...forged })).toBe(false);
    // One signature check, the first copy's: each changed copy no longer hashes to its id (the
    // pubkey is part of what is hashed), which refuses it before any signature check.
    expect(counter.verifies).toBe(1);
  });

  test("a relay that puts our id and signature on changed content gets it refused", async () => {
    await countingWasm();
    const sk = generateSecretKey();
    const e = signEvent(template(5), sk);
    expect(verifyEvent({ ...wire(e), content: "forged" })).toBe(false);
    expect(verifyEvent({ ...wire(e), tags: [["status", "success"]] })).toBe(false);
    expect(verifyEvent({ ...wire(e), created_at: e.created_at + 1 })).toBe(false);
    // Our id with another signature (or another key) is a full check, and fails.
    const other = signEvent(template(6), sk);
    expect(verifyEvent({ ...wire(e), sig: other.sig })).toBe(false);
    expect(verifyEvent({ ...wire(e), pubkey: getPublicKey(generateSecretKey()) })).toBe(false);
  });
});
