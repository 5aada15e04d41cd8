import { describe, expect, test } from "bun:test";
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from "nostr-tools/pure";
import { Pricing } from "../../src/config.ts";
import { DELETION, HANDLER_INFO, HEARTBEAT, PROFILE } from "../../src/nostr/kinds.ts";
import { buildAnnouncement, buildHeartbeat, buildProfile, buildWithdrawal, defaultParamRanges } from "../../src/nostr/nip89.ts";

const NOW = 1_750_000_000_123; // unix ms
const SECS = 1_750_000_000;

describe("buildAnnouncement", () => {
  const base = {
    d: "compute-abc123",
    name: "compute",
    about: "Text generation on local models",
    picture: "https://example.com/p.png",
    models: ["llama3.2:3b", "mistral:7b"],
    paramRanges: defaultParamRanges(2048),
    encryption: true,
    now: NOW,
  };

  test("kind 31990 with d and k tags; content describes us", () => {
    const ev = buildAnnouncement(base);
    expect(ev.kind).toBe(HANDLER_INFO);
    expect(ev.created_at).toBe(SECS);
    expect(ev.tags).toEqual([
      ["d", "compute-abc123"],
      ["k", "5050"],
    ]);
    const c = JSON.parse(ev.content);
    expect(c.name).toBe("compute");
    expect(c.about).toBe("Text generation on local models");
    expect(c.picture).toBe("https://example.com/p.png");
    expect(c.encryptionSupported).toBe(true);
    expect(c.supportsEncryption).toBe(true);
    expect(c.nip90Params.model).toEqual({ required: false, values: ["llama3.2:3b", "mistral:7b"] });
    expect(c.nip90Params.max_tokens).toEqual({ required: false, values: [], min: 1, max: 2048 });
    expect(c.nip90Params.temperature).toMatchObject({ min: 0, max: 2 });
    expect(c.nip90Params.top_k).toMatchObject({ min: 0 });
    expect(c.nip90Params.top_p).toMatchObject({ min: 0, max: 1 });
    expect(c.pricing).toBeUndefined();
    expect(verifyEvent(finalizeEvent(ev, generateSecretKey()))).toBe(true);
  });

  test("no picture → no picture key; encryption off says so", () => {
    const c = JSON.parse(buildAnnouncement({ ...base, picture: "", encryption: false }).content);
    expect("picture" in c).toBe(false);
    expect(c.encryptionSupported).toBe(false);
    expect(c.supportsEncryption).toBe(false);
  });

  test("pricing in msats with its mode and per-model overrides", () => {
    const pricing = Pricing.parse({ mode: "after", perJobMsats: 5000, per1kTokensMsats: 200, models: { "mistral:7b": { perJobMsats: 9000 } } });
    const c = JSON.parse(buildAnnouncement({ ...base, pricing }).content);
    expect(c.pricing).toEqual({ mode: "after", perJobMsats: 5000, per1kTokensMsats: 200, models: { "mistral:7b": { perJobMsats: 9000 } } });
    expect(c.amount).toBeUndefined();
  });

  test("free mode shows zero prices and nostrdvm's amount: free", () => {
    const c = JSON.parse(buildAnnouncement({ ...base, pricing: Pricing.parse({ mode: "free", perJobMsats: 5000 }) }).content);
    expect(c.pricing).toEqual({ mode: "free", perJobMsats: 0, per1kTokensMsats: 0 });
    expect(c.amount).toBe("free");
    const zero = JSON.parse(buildAnnouncement({ ...base, pricing: Pricing.parse({ perJobMsats: 0, freeJobsPerCustomer: 3 }) }).content);
    expect(zero.amount).toBe("free");
    expect(zero.pricing.freeJobsPerCustomer).toBe(3);
  });
});

describe("withdrawal, heartbeat, profile", () => {
  test("withdrawal deletes by id and by address", () => {
    const pk = getPublicKey(generateSecretKey());
    const ev = buildWithdrawal({ announcementId: "a".repeat(64), pubkey: pk, d: "compute-abc123", now: NOW });
    expect(ev.kind).toBe(DELETION);
    expect(ev.created_at).toBe(SECS);
    expect(ev.tags).toEqual([
      ["e", "a".repeat(64)],
      ["a", `31990:${pk}:compute-abc123`],
      ["k", "31990"],
    ]);
  });

  test("heartbeat carries the d tag and expires after 300 s", () => {
    const ev = buildHeartbeat({ d: "compute-abc123", now: NOW });
    expect(ev).toEqual({
      kind: HEARTBEAT,
      created_at: SECS,
      tags: [
        ["d", "compute-abc123"],
        ["expiration", String(SECS + 300)],
      ],
      content: "",
    });
  });

  test("profile is kind 0 JSON marked as a bot", () => {
    const ev = buildProfile({ name: "my gpu", about: "fast", picture: "https://x/p.png", now: NOW });
    expect(ev.kind).toBe(PROFILE);
    expect(ev.tags).toEqual([]);
    expect(JSON.parse(ev.content)).toEqual({ name: "my gpu", about: "fast", picture: "https://x/p.png", bot: true });
    expect(JSON.parse(buildProfile({ name: "n", about: "a", now: NOW }).content)).toEqual({ name: "n", about: "a", bot: true });
  });
});
