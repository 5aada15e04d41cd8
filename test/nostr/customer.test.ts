// The customer side (`compute ask`, `compute selftest`): request building read back with
// nostr-tools primitives, and ask() against a real provider (relays + fake Ollama + engine).
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import * as nip04 from "nostr-tools/nip04";
import * as nip44 from "nostr-tools/nip44";
import { generateSecretKey, getPublicKey, verifyEvent } from "nostr-tools/pure";
import { AppError } from "../../src/errors.ts";
import { ask, buildRequest, type FeedbackSeen } from "../../src/nostr/customer.ts";
import { fakeAnswer, startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay } from "../fixtures/relay.ts";
import { startProvider, type Provider } from "../jobs/harness.ts";

const tagsNamed = (tags: string[][], name: string) => tags.filter((t) => t[0] === name);

describe("buildRequest", () => {
  const sk = generateSecretKey();
  const provider = getPublicKey(generateSecretKey());

  test("plain: i, params, p, output, relays, bid; signed by the customer", () => {
    const ev = buildRequest({ prompt: "Why?", model: "llama3.2", maxTokens: 64, provider, relays: ["wss://a.example", "wss://b.example"], bidMsats: 5000 }, sk, 1_700_000_000_000);
    expect(verifyEvent(ev)).toBe(true);
    expect(ev.kind).toBe(5050);
    expect(ev.pubkey).toBe(getPublicKey(sk));
    expect(ev.created_at).toBe(1_700_000_000);
    expect(ev.tags).toEqual([
      ["i", "Why?", "text"],
      ["param", "model", "llama3.2"],
      ["param", "max_tokens", "64"],
      ["p", provider],
      ["output", "text/plain"],
      ["relays", "wss://a.example", "wss://b.example"],
      ["bid", "5000"],
    ]);
    expect(ev.content).toBe("");
  });

  for (const scheme of ["nip04", "nip44"] as const) {
    test(`${scheme}: only p and encrypted are public; the provider decrypts the i and param tags`, () => {
      const providerSk = generateSecretKey();
      const providerPk = getPublicKey(providerSk);
      const ev = buildRequest({ prompt: "secret question", maxTokens: 10, provider: providerPk, encrypt: scheme, relays: ["wss://a.example"] }, sk);
      expect(tagsNamed(ev.tags, "i")).toEqual([]);
      expect(tagsNamed(ev.tags, "param")).toEqual([]);
      expect(tagsNamed(ev.tags, "p")).toEqual([["p", providerPk]]);
      expect(tagsNamed(ev.tags, "encrypted")).toEqual([["encrypted"]]);
      expect(ev.content).not.toContain("secret");
      const plain = scheme === "nip04" ? nip04.decrypt(providerSk, ev.pubkey, ev.content) : nip44.decrypt(ev.content, nip44.getConversationKey(providerSk, ev.pubkey));
      expect(JSON.parse(plain)).toEqual([
        ["i", "secret question", "text"],
        ["param", "max_tokens", "10"],
      ]);
    });
  }

  test("encrypting needs a provider", () => {
    expect(() => buildRequest({ prompt: "x", encrypt: "nip44", relays: [] }, sk)).toThrow(AppError);
  });
});

describe("ask() against a running provider", () => {
  let fake: FakeOllama;
  let p: Provider;
  beforeAll(async () => {
    fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
    p = await startProvider(fake);
  });
  afterAll(async () => {
    await p.stop();
    await fake.stop();
  });
  afterEach(() => fake.clearRequests());

  test("the result, the feedback seen on the way, timings; connections closed afterwards", async () => {
    const before = p.relays.map((r) => r.connections().length);
    const seen: FeedbackSeen[] = [];
    const r = await ask({ prompt: "hello there", relays: p.urls, maxTokens: 20 }, generateSecretKey(), { timeoutMs: 5000, onFeedback: (f) => seen.push(f) });
    expect(r.content).toBe(fakeAnswer("hello there"));
    expect(r.provider).toBe(p.pubkey);
    expect(p.urls).toContain(r.relay);
    expect(r.ms).toBeGreaterThanOrEqual(0);
    expect(r.feedback.map((f) => f.status)).toContain("processing");
    expect(seen).toEqual(r.feedback);
    expect(r.amountMsats).toBeNull();
    expect(fake.requests("/api/generate").find((q) => q.body?.prompt === "hello there")?.body.options.num_predict).toBe(20);
    await Bun.sleep(100);
    p.relays.forEach((relay, i) => {
      const mine = relay.connections().slice(before[i]);
      expect(mine.length).toBe(1);
      expect(mine.every((c) => !c.open)).toBe(true);
    });
  });

  test("encrypted (NIP-44) to a named provider: the decrypted result", async () => {
    const r = await ask({ prompt: "private words", provider: p.pubkey, encrypt: "nip44", relays: p.urls }, generateSecretKey(), { timeoutMs: 5000 });
    expect(r.content).toBe(fakeAnswer("private words"));
    expect(r.feedback.map((f) => f.status)).toContain("processing");
  });

  test("the named provider's error feedback ends the wait with its reason", async () => {
    const err = await ask({ prompt: "x", model: "no-such-model", provider: p.pubkey, relays: p.urls }, generateSecretKey(), { timeoutMs: 5000, stopOnProviderError: true }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.message).toContain("no-such-model is not offered here");
  });

  test("no answer in time → unavailable, naming the last feedback", async () => {
    const nobody = getPublicKey(generateSecretKey());
    const t0 = Date.now();
    const err = await ask({ prompt: "anyone?", provider: nobody, relays: p.urls }, generateSecretKey(), { timeoutMs: 400 }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.message).toContain("no provider answered");
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe("ask() when relays fail", () => {
  test("unreachable relays → a clear error naming them", async () => {
    const relay = await startRelay();
    const url = relay.url;
    await relay.stop();
    const err = await ask({ prompt: "x", relays: [url] }, generateSecretKey(), { timeoutMs: 5000, connectTimeoutMs: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.message).toContain("No relay took the request");
    expect(err.message).toContain(url);
  });

  test("a relay refusing the event → a clear error; its connection is closed", async () => {
    const relay = await startRelay({ mode: "reject" });
    try {
      const err = await ask({ prompt: "x", relays: [relay.url] }, generateSecretKey(), { timeoutMs: 5000 }).catch((e) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err.message).toContain("refused the request");
      await Bun.sleep(100);
      expect(relay.connections().every((c) => !c.open)).toBe(true);
    } finally {
      await relay.stop();
    }
  });

  test("no relays → usage error", async () => {
    const err = await ask({ prompt: "x", relays: [] }, generateSecretKey(), { timeoutMs: 100 }).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe("usage");
  });
});
