// selftest's discoverability check against the relay fixture: found with a fresh beat; a relay
// without our announcement or beat says so; a closed port is an error, not a crash.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { checkDiscoverable } from "../../src/market/discover.ts";
import { buildAnnouncement, buildHeartbeat, defaultParamRanges } from "../../src/nostr/nip89.ts";
import { closedPort } from "../fixtures/common.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";

let withUs: TestRelay;
let empty: TestRelay;
const key = generateSecretKey();
const pubkey = getPublicKey(key);

beforeAll(async () => {
  withUs = await startRelay();
  empty = await startRelay();
  const now = Date.now();
  await withUs.inject(finalizeEvent(buildAnnouncement({ d: "x", name: "n", about: "a", models: ["m"], paramRanges: defaultParamRanges(10), encryption: true, now }), key) as never);
  await withUs.inject(finalizeEvent(buildHeartbeat({ d: "x", now: now - 20_000 }), key) as never);
  // Someone else's announcement on the empty relay: found by the query, but not ours.
  await empty.inject(finalizeEvent(buildAnnouncement({ d: "y", name: "other", about: "", models: ["m"], paramRanges: defaultParamRanges(10), encryption: true, now }), generateSecretKey()) as never);
});
afterAll(async () => {
  await withUs?.stop();
  await empty?.stop();
});

test("our announcement answers the #k=5050 query and the beat is fresh", async () => {
  const d = await checkDiscoverable(withUs.url, pubkey, 5000);
  expect(d).toMatchObject({ announcement: true, heartbeatFresh: true, error: null });
  expect(d.heartbeatAgeSecs).toBeGreaterThanOrEqual(19);
  expect(d.heartbeatAgeSecs).toBeLessThan(60);
  // A clock 20 minutes later: the beat is stale.
  const later = await checkDiscoverable(withUs.url, pubkey, 5000, () => Date.now() + 20 * 60_000);
  expect(later.heartbeatFresh).toBe(false);
});

test("a relay without our announcement or beat says so; a closed port is an error", async () => {
  expect(await checkDiscoverable(empty.url, pubkey, 5000)).toMatchObject({ announcement: false, heartbeatAgeSecs: null, heartbeatFresh: false });
  const closed = await checkDiscoverable(`ws://127.0.0.1:${closedPort()}`, pubkey, 1500);
  expect(closed.announcement).toBe(false);
  expect(closed.error).not.toBeNull();
}, 15_000);
