// The JS elliptic-curve code (noble-curves, inside nostr-tools and @scure/bip32) builds a table of
// ~0.7 MiB the first time it multiplies the base point, and keeps it for the life of the process;
// there are two copies of it (nostr-tools' and bip32's). Going online needs neither nostr-tools'
// copy: the signer's self-test checks the wasm module against known answers (made with that JS
// code, once), and the identity takes its public key from the NIP-06 derivation it already made.
// Spies on nostr-tools' own copy count its calls.
import { afterAll, afterEach, beforeEach, expect, test } from "bun:test";
import { schnorr } from "../../node_modules/nostr-tools/node_modules/@noble/curves/secp256k1.js";
import { finalizeEvent, getPublicKey, verifyEvent as jsVerify } from "nostr-tools/pure";
import { UnifiedIdentity } from "../../src/identity/identity.ts";
import { initSigner, resetSigner, signEvent, verifyEvent } from "../../src/nostr/signer.ts";

// NIP-06's test vector.
const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const calls: string[] = [];
const originals = { getPublicKey: schnorr.getPublicKey, sign: schnorr.sign, verify: schnorr.verify };

beforeEach(() => {
  calls.length = 0;
  schnorr.getPublicKey = ((...a: Parameters<typeof originals.getPublicKey>) => (calls.push("getPublicKey"), originals.getPublicKey(...a))) as typeof schnorr.getPublicKey;
  schnorr.sign = ((...a: Parameters<typeof originals.sign>) => (calls.push("sign"), originals.sign(...a))) as typeof schnorr.sign;
  schnorr.verify = ((...a: Parameters<typeof originals.verify>) => (calls.push("verify"), originals.verify(...a))) as typeof schnorr.verify;
});
afterEach(() => Object.assign(schnorr, originals));
afterAll(() => resetSigner());

test("the spies see nostr-tools' JS code when it is used (the test can fail)", () => {
  const sk = new Uint8Array(32).fill(5);
  // A copy: the signed object carries nostr-tools' verified mark, which would skip the check.
  expect(jsVerify(JSON.parse(JSON.stringify(finalizeEvent({ kind: 1, created_at: 1, tags: [], content: "" }, sk))))).toBe(true);
  expect(getPublicKey(sk)).toMatch(/^[0-9a-f]{64}$/);
  expect(calls).toContain("sign");
  expect(calls).toContain("verify");
  expect(calls).toContain("getPublicKey");
});

test("loading and self-testing the wasm signer, then signing and checking with it, use no JS curve code", async () => {
  resetSigner();
  expect(await initSigner()).toBe("wasm");
  const sk = new Uint8Array(32).fill(9);
  const e = signEvent({ kind: 7000, created_at: 1_750_000_000, tags: [], content: "x" }, sk);
  expect(verifyEvent(JSON.parse(JSON.stringify(e)))).toBe(true);
  expect(calls).toEqual([]);
});

test("deriving the NIP-06 identity uses none of nostr-tools' JS curve code, and gives the NIP-06 test vector's key", async () => {
  const id = await UnifiedIdentity.fromMnemonic(MNEMONIC);
  expect(calls).toEqual([]);
  // The key the JS code derives from the secret key (asked only now), and NIP-06's published one.
  expect(id.pubkey).toBe(getPublicKey(id.secretKey()));
  expect(id.pubkey).toBe("17162c921dc4d2518f9a101db33695df1afb56ab82f5ff3e5da6eec3ca5cd917");
});
