// Being found: our NIP-89 announcement as NDK (a real Nostr client library) reads it: fetched from
// a relay with the filter clients use ({kinds:[31990], "#k":["5050"]}), parsed as an
// NDKAppHandlerEvent, and carrying name, about, picture, the models with their prices,
// nip90Params, encryption support and a link to the profile.
import { afterAll, beforeAll, expect, test } from "bun:test";
import NDK, { NDKAppHandlerEvent, NDKEvent } from "@nostr-dev-kit/ndk";
import { decode } from "nostr-tools/nip19";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { Pricing } from "../../src/config.ts";
import { buildAnnouncement, defaultParamRanges } from "../../src/nostr/nip89.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startOllamaServer } from "../fixtures/ollama-server.ts";
import { startTestApp } from "../fixtures/test-app.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { until } from "./helpers.ts";

let relay: TestRelay;
const key = generateSecretKey();
const pubkey = getPublicKey(key);

beforeAll(async () => {
  relay = await startRelay();
});
afterAll(async () => {
  await relay?.stop();
});

test("NDK finds our announcement by #k=5050 and parses it as an app handler with everything a listing shows", async () => {
  const pricing = Pricing.parse({ mode: "upfront", perJobMsats: 21_000, per1kTokensMsats: 500, models: { "qwen2.5:7b": { perJobMsats: 40_000 } }, floorMsats: 15_000 });
  const template = buildAnnouncement({
    d: "compute-test",
    name: "Test provider",
    about: "Text generation on a laptop",
    picture: "https://example.com/me.png",
    models: ["llama3.2:3b", "qwen2.5:7b"],
    paramRanges: defaultParamRanges(2048),
    pricing,
    encryption: true,
    pubkey,
    relays: [relay.url],
    now: Date.now(),
  });
  const signed = finalizeEvent(template, key);
  expect((await relay.inject(signed as never)).ok).toBe(true);

  const ndk = new NDK({ explicitRelayUrls: [relay.url] });
  await ndk.connect(3000);
  const found = await ndk.fetchEvents({ kinds: [31990], "#k": ["5050"] });
  const raw = [...found].find((e) => e.pubkey === pubkey)!;
  expect(raw).toBeDefined();
  const handler = NDKAppHandlerEvent.from(raw as NDKEvent)!;
  expect(handler).not.toBeNull();
  expect(handler.isValid).toBe(true);
  expect(handler.dTag).toBe("compute-test");
  expect(handler.tagValue("k")).toBe("5050");
  // fetchProfile() answers from the content when it has a name (no network).
  const profile = (await handler.fetchProfile()) as Record<string, any>;
  expect(profile.name).toBe("Test provider");
  expect(profile.about).toBe("Text generation on a laptop");
  expect(profile.picture).toBe("https://example.com/me.png");
  expect(profile.encryptionSupported).toBe(true);
  expect(profile.nip90Params.model.values).toEqual(["llama3.2:3b", "qwen2.5:7b"]);
  expect(profile.models).toEqual([
    { model: "llama3.2:3b", perJobMsats: 21_000, per1kTokensMsats: 500 },
    { model: "qwen2.5:7b", perJobMsats: 40_000, per1kTokensMsats: 500 },
  ]);
  // The profile link is a NIP-21 nprofile naming our key and the relay.
  const link = decode(String(profile.profile).replace(/^nostr:/, "") as `nprofile1${string}`);
  expect(link.type).toBe("nprofile");
  expect(link.data.pubkey).toBe(pubkey);
  expect(link.data.relays).toEqual([relay.url]);
  expect(decode(String(profile.npub) as `npub1${string}`).data).toBe(pubkey);
  // The floor is the owner's private minimum: never published.
  expect(JSON.stringify(profile)).not.toContain("floor");
  for (const r of ndk.pool.relays.values()) r.disconnect();
}, 20_000);

test("the running app's own announcement, going online, reads the same in NDK (prices per model, profile link); paid mode with the Lightning test double", async () => {
  const ollama = await startOllamaServer({ models: [{ name: "llama3.2:3b" }], instant: true });
  const t = await startTestApp({
    flags: { relays: [relay.url], ollamaUrl: ollama.url },
    config: { provider: { name: "Bench box", about: "a test", picture: "https://example.com/x.png" }, pricing: { perJobMsats: 12_000, models: { "llama3.2:3b": { perJobMsats: 9_000 } }, floorMsats: 8_000 } },
    options: { walletFactory: async () => new LightningDouble() },
  });
  await until(() => t.app.controller.snapshot().wallet.state === "ready", 10_000, "wallet ready");
  const ndk = new NDK({ explicitRelayUrls: [relay.url] });
  try {
    await t.app.controller.setOnline(true);
    const me = decode(t.app.controller.snapshot().identity.npub as `npub1${string}`).data;
    await until(() => relay.events().some((e) => e.kind === 31990 && e.pubkey === me), 10_000, "announced");
    await ndk.connect(3000);
    const found = [...(await ndk.fetchEvents({ kinds: [31990], "#k": ["5050"], authors: [me] }))];
    const handler = NDKAppHandlerEvent.from(found[0] as NDKEvent)!;
    const profile = (await handler.fetchProfile()) as Record<string, any>;
    expect(profile.name).toBe("Bench box");
    expect(profile.models).toEqual([{ model: "llama3.2:3b", perJobMsats: 9_000, per1kTokensMsats: 0 }]);
    expect(decode(String(profile.profile).replace(/^nostr:/, "") as `nprofile1${string}`).data.pubkey).toBe(me);
    expect(JSON.stringify(profile)).not.toContain("floor");
  } finally {
    for (const r of ndk.pool.relays.values()) r.disconnect();
    await t.stop();
    await ollama.stop();
  }
}, 30_000);
