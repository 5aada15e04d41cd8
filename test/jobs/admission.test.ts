import { describe, expect, test } from "bun:test";
import { npubEncode } from "nostr-tools/nip19";
import { finalizeEvent, generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { Limits } from "../../src/config.ts";
import { type AdmissionContext, admit, inputBytes, toHexPubkey } from "../../src/jobs/admission.ts";
import { JOB_REQUEST_TEXT } from "../../src/nostr/kinds.ts";
import { type JobRequest, parseJobRequest } from "../../src/nostr/nip90.ts";

const providerSk = generateSecretKey();
const providerPk = getPublicKey(providerSk);
const customerSk = generateSecretKey();
const customerPk = getPublicKey(customerSk);
const otherPk = getPublicKey(generateSecretKey());
const NOW = 1_750_000_000_000;

function req(tags: string[][], content = ""): JobRequest {
  const ev = finalizeEvent({ kind: JOB_REQUEST_TEXT, created_at: NOW / 1000, tags, content }, customerSk);
  const r = parseJobRequest(ev, { providerPubkey: providerPk, providerSecretKey: providerSk });
  if (!r.ok) throw new Error(r.reason);
  return r.request;
}

function ctx(over: Omit<Partial<AdmissionContext>, "limits"> & { limits?: Partial<Limits> } = {}): AdmissionContext {
  const { limits, ...rest } = over;
  return {
    providerPubkey: providerPk,
    now: NOW,
    limits: Limits.parse(limits ?? {}),
    servedModels: ["llama3.2:3b", "mistral:7b"],
    seen: () => false,
    customerRecent: () => 0,
    activeCount: 0,
    queuedCount: 0,
    customerQueued: 0,
    price: 10_000,
    paymentMode: "upfront",
    ...rest,
  };
}

const hi = () => req([["i", "hello"]]);

describe("admit: silent rejects", () => {
  test("p-tagged to another provider", () => {
    expect(admit(req([["i", "x"], ["p", otherPk]]), ctx())).toEqual({ accept: false, silent: true, reason: "addressed to another provider" });
    expect(admit(req([["i", "x"], ["p", providerPk]]), ctx()).accept).toBe(true);
  });

  test("already seen (arrived through another relay)", () => {
    const r = hi();
    const seen = new Set([r.id]);
    expect(admit(r, ctx({ seen: (id) => seen.has(id) }))).toMatchObject({ accept: false, silent: true, reason: "already seen" });
    expect(admit(req([["i", "another"]]), ctx({ seen: (id) => seen.has(id) })).accept).toBe(true);
  });

  test("expired (NIP-40), including exactly now", () => {
    const s = NOW / 1000;
    expect(admit(req([["i", "x"], ["expiration", String(s - 1)]]), ctx())).toMatchObject({ silent: true, reason: "expired" });
    expect(admit(req([["i", "x"], ["expiration", String(s)]]), ctx())).toMatchObject({ silent: true, reason: "expired" });
    expect(admit(req([["i", "x"], ["expiration", String(s + 1)]]), ctx()).accept).toBe(true);
  });
});

describe("admit: loud rejects a person can act on", () => {
  test("deny list (npub or hex)", () => {
    for (const entry of [npubEncode(customerPk), customerPk, customerPk.toUpperCase()]) {
      const a = admit(hi(), ctx({ limits: { deny: [entry] } }));
      expect(a).toMatchObject({ accept: false, silent: false });
      if (!a.accept) expect(a.reason).toContain("does not accept jobs from you");
    }
    expect(admit(hi(), ctx({ limits: { deny: [npubEncode(otherPk), "garbage", "npub1garbage"] } })).accept).toBe(true);
  });

  test("allow list (npub or hex)", () => {
    expect(admit(hi(), ctx({ limits: { allow: [npubEncode(customerPk)] } })).accept).toBe(true);
    expect(admit(hi(), ctx({ limits: { allow: [customerPk] } })).accept).toBe(true);
    const a = admit(hi(), ctx({ limits: { allow: [otherPk] } }));
    expect(a).toMatchObject({ accept: false, silent: false });
    if (!a.accept) expect(a.reason).toContain("allow list");
    // deny wins over allow
    expect(admit(hi(), ctx({ limits: { allow: [customerPk], deny: [customerPk] } })).accept).toBe(false);
  });

  test("input too large, counted in UTF-8 bytes over all inputs", () => {
    const big = req([["i", "a".repeat(30_000)], ["i", "é".repeat(5_000)]]);
    expect(inputBytes(big)).toBe(40_000);
    expect(admit(big, ctx())).toEqual({
      accept: false,
      silent: false,
      reason: "input is 40000 bytes; this provider accepts at most 32000",
    });
    expect(admit(req([["i", "a".repeat(32_000)]]), ctx()).accept).toBe(true);
  });

  test("rate limit per customer per minute", () => {
    let asked: [string, number] | null = null;
    const recent = (n: number) => (pubkey: string, since: number) => {
      asked = [pubkey, since];
      return n;
    };
    expect(admit(hi(), ctx({ customerRecent: recent(5) })).accept).toBe(true);
    expect(asked!).toEqual([customerPk, NOW - 60_000]);
    expect(admit(hi(), ctx({ customerRecent: recent(6) }))).toEqual({
      accept: false,
      silent: false,
      reason: "too many requests: at most 6 per minute per customer",
    });
    expect(admit(hi(), ctx({ customerRecent: recent(6), limits: { perCustomerPerMinute: 10 } })).accept).toBe(true);
  });

  test("model not offered, with the list of what is", () => {
    expect(admit(req([["i", "x"], ["param", "model", "llama9"]]), ctx())).toEqual({
      accept: false,
      silent: false,
      reason: "model llama9 is not offered here; offered: llama3.2:3b, mistral:7b",
    });
  });

  test("no models at all", () => {
    const a = admit(hi(), ctx({ servedModels: [] }));
    expect(a).toMatchObject({ accept: false, silent: false });
    if (!a.accept) expect(a.reason).toContain("no models");
  });

  test("bid below price; no bid or free mode is fine", () => {
    expect(admit(req([["i", "x"], ["bid", "1000"]]), ctx())).toEqual({
      accept: false,
      silent: false,
      reason: "bid 1000 msats is below this provider's price of 10000 msats",
    });
    expect(admit(req([["i", "x"], ["bid", "10000"]]), ctx()).accept).toBe(true);
    expect(admit(hi(), ctx()).accept).toBe(true);
    expect(admit(req([["i", "x"], ["bid", "0"]]), ctx({ paymentMode: "free", price: 0 })).accept).toBe(true);
    expect(admit(req([["i", "x"], ["bid", "1"]]), ctx({ paymentMode: "after" })).accept).toBe(false);
  });

  test("queue full → busy; a free slot or queue room → accept", () => {
    const limits = { maxConcurrentJobs: 2, queueSize: 3 };
    expect(admit(hi(), ctx({ limits, activeCount: 1, queuedCount: 3 })).accept).toBe(true); // slot free
    expect(admit(hi(), ctx({ limits, activeCount: 2, queuedCount: 2 })).accept).toBe(true); // queue room
    expect(admit(hi(), ctx({ limits, activeCount: 2, queuedCount: 3 }))).toEqual({ accept: false, silent: false, reason: "busy, try later" });
    expect(admit(hi(), ctx({ limits: { maxConcurrentJobs: 1, queueSize: 0 }, activeCount: 1 })).accept).toBe(false);
  });

  test("per-customer share of the queue: a customer with maxQueuedPerCustomer jobs waiting is refused, others are not", () => {
    const limits = { maxConcurrentJobs: 1, queueSize: 10, maxQueuedPerCustomer: 2 };
    // Room in the queue, the customer below its share → accept.
    expect(admit(hi(), ctx({ limits, activeCount: 1, queuedCount: 5, customerQueued: 1 })).accept).toBe(true);
    // At its share (or above: paid jobs resumed after a restart skip admission) → its own reason.
    for (const n of [2, 3]) {
      expect(admit(hi(), ctx({ limits, activeCount: 1, queuedCount: 5, customerQueued: n }))).toEqual({
        accept: false,
        silent: false,
        reason: `you already have ${n} jobs waiting here (at most 2 per customer); try again when one finishes`,
      });
    }
    expect(admit(hi(), ctx({ limits: { ...limits, maxQueuedPerCustomer: 1 }, activeCount: 1, customerQueued: 1 }))).toMatchObject({
      reason: "you already have 1 job waiting here (at most 1 per customer); try again when one finishes",
    });
    // A free slot: the job waits for nothing, so the share does not apply.
    expect(admit(hi(), ctx({ limits, activeCount: 0, queuedCount: 0, customerQueued: 2 })).accept).toBe(true);
    // Queue full and the customer at its share: the share is the reason (the one it can act on).
    expect(admit(hi(), ctx({ limits, activeCount: 1, queuedCount: 10, customerQueued: 2 }))).toMatchObject({ reason: expect.stringContaining("you already have 2 jobs waiting") });
    // Queue full of others' jobs: busy.
    expect(admit(hi(), ctx({ limits, activeCount: 1, queuedCount: 10, customerQueued: 0 }))).toMatchObject({ reason: "busy, try later" });
    // The default share.
    expect(Limits.parse({}).maxQueuedPerCustomer).toBe(2);
    expect(Limits.safeParse({ maxQueuedPerCustomer: 0 }).success).toBe(false);
    expect(Limits.safeParse({ maxQueuedPerCustomer: 1.5 }).success).toBe(false);
  });

  test("silent reasons come before loud ones", () => {
    const r = req([["i", "a".repeat(40_000)], ["p", otherPk]]);
    expect(admit(r, ctx({ limits: { deny: [customerPk] } }))).toMatchObject({ silent: true, reason: "addressed to another provider" });
  });
});

describe("admit: accept names the model to run", () => {
  test("requested, default, first", () => {
    expect(admit(req([["i", "x"], ["param", "model", "mistral:7b"]]), ctx())).toEqual({ accept: true, model: "mistral:7b" });
    expect(admit(hi(), ctx({ defaultModel: "mistral:7b" }))).toEqual({ accept: true, model: "mistral:7b" });
    expect(admit(hi(), ctx())).toEqual({ accept: true, model: "llama3.2:3b" });
  });

  test("a model the caller already chose is used as is, null as not offered", () => {
    expect(admit(hi(), ctx({ model: "mistral:7b" }))).toEqual({ accept: true, model: "mistral:7b" });
    expect(admit(req([["i", "x"], ["param", "model", "gpt-4"]]), ctx({ model: null }))).toMatchObject({ accept: false, silent: false });
  });
});

describe("models", () => {
  test("toHexPubkey", () => {
    expect(toHexPubkey(npubEncode(customerPk))).toBe(customerPk);
    expect(toHexPubkey(` ${customerPk.toUpperCase()} `)).toBe(customerPk);
    expect(toHexPubkey("npub1xyz")).toBeNull();
    expect(toHexPubkey("hello")).toBeNull();
  });
});
