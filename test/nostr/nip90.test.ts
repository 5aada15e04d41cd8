import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as nip04 from "nostr-tools/nip04";
import * as nip44 from "nostr-tools/nip44";
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent } from "nostr-tools/pure";
import { AppError } from "../../src/errors.ts";
import { DELETION, JOB_FEEDBACK, JOB_REQUEST_TEXT, JOB_RESULT_TEXT, PING, ZAP_RECEIPT, ZAP_REQUEST } from "../../src/nostr/kinds.ts";
import {
  buildFeedback,
  buildPong,
  buildResult,
  cancelsJob,
  type JobRequest,
  type NostrEvent,
  parseDeletion,
  parseJobRequest,
  parsePing,
  toOllamaOptions,
} from "../../src/nostr/nip90.ts";
import { parseZapReceipt } from "../../src/nostr/nip57.ts";

const providerSk = generateSecretKey();
const providerPk = getPublicKey(providerSk);
const customerSk = generateSecretKey();
const customerPk = getPublicKey(customerSk);
const otherSk = generateSecretKey();
const otherPk = getPublicKey(otherSk);
const opts = { providerPubkey: providerPk, providerSecretKey: providerSk };
const NOW = 1_750_000_000_000; // unix ms

function request(tags: string[][], content = "", sk = customerSk, kind = JOB_REQUEST_TEXT): NostrEvent {
  return finalizeEvent({ kind, created_at: Math.floor(NOW / 1000), tags, content }, sk) as NostrEvent;
}

/** The event without nostr-tools' verified-symbol marker, as it arrives over the wire. */
function plainEvent(ev: NostrEvent): NostrEvent {
  return JSON.parse(JSON.stringify(ev));
}

function ok(event: unknown): JobRequest {
  const r = parseJobRequest(event, opts);
  if (!r.ok) throw new Error(`expected ok, got: ${r.reason}`);
  return r.request;
}

function fail(event: unknown) {
  const r = parseJobRequest(event, opts);
  if (r.ok) throw new Error("expected a failure");
  return r;
}

type Scheme = "nip04" | "nip44";
function encryptTo(scheme: Scheme, sk: Uint8Array, pk: string, text: string): string {
  return scheme === "nip04" ? nip04.encrypt(sk, pk, text) : nip44.encrypt(text, nip44.getConversationKey(sk, pk));
}
function decryptAsCustomer(scheme: Scheme, payload: string): string {
  return scheme === "nip04"
    ? nip04.decrypt(customerSk, providerPk, payload)
    : nip44.decrypt(payload, nip44.getConversationKey(customerSk, providerPk));
}

describe("parseJobRequest: plain requests", () => {
  test("reads every tag of a full request", () => {
    const ev = request([
      ["i", "What is the capital of France?", "text"],
      ["param", "model", "llama3.2"],
      ["param", "max_tokens", "512"],
      ["param", "temperature", "0.5"],
      ["param", "top_k", "50"],
      ["param", "top_p", "0.7"],
      ["param", "frequency_penalty", "1"],
      ["output", "text/markdown"],
      ["bid", "21000"],
      ["relays", "wss://relay.one", "wss://relay.two"],
      ["p", providerPk],
      ["expiration", String(Math.floor(NOW / 1000) + 60)],
    ]);
    const r = ok(ev);
    expect(r.id).toBe(ev.id);
    expect(r.kind).toBe(JOB_REQUEST_TEXT);
    expect(r.customer).toBe(customerPk);
    expect(r.createdAt).toBe(Math.floor(NOW / 1000));
    expect(r.inputs).toEqual([{ data: "What is the capital of France?", type: "text" }]);
    expect(r.params).toEqual({
      model: "llama3.2",
      maxTokens: 512,
      temperature: 0.5,
      topK: 50,
      topP: 0.7,
      frequencyPenalty: 1,
      other: {},
    });
    expect(r.output).toBe("text/markdown");
    expect(r.bidMsats).toBe(21000);
    expect(r.relays).toEqual(["wss://relay.one", "wss://relay.two"]);
    expect(r.pTag).toBe(providerPk);
    expect(r.expiration).toBe(Math.floor(NOW / 1000) + 60);
    expect(r.encrypted).toBeNull();
    expect(r.raw).toEqual(plainEvent(ev));
  });

  test("the minimal request: no tags, content is the prompt", () => {
    const r = ok(request([], "tell me a joke"));
    expect(r.inputs).toEqual([{ data: "tell me a joke", type: "text" }]);
    expect(r.params).toEqual({ other: {} });
    expect(r.output).toBeNull();
    expect(r.bidMsats).toBeNull();
    expect(r.relays).toEqual([]);
    expect(r.pTag).toBeNull();
    expect(r.expiration).toBeNull();
  });

  test("`prompt`, a missing type and upper case all mean text", () => {
    const r = ok(request([["i", "a", "prompt"], ["i", "b"], ["i", "c", "TEXT"], ["i", "d", ""]]));
    expect(r.inputs.map((i) => [i.data, i.type])).toEqual([
      ["a", "text"],
      ["b", "text"],
      ["c", "text"],
      ["d", "text"],
    ]);
  });

  test("url, event and job inputs keep relay and marker, in order", () => {
    const id = "a".repeat(64);
    const r = ok(
      request([
        ["i", "https://example.com/a.txt", "url"],
        ["i", id, "event", "wss://r.example"],
        ["i", id, "job", "wss://r.example", "context"],
        ["i", "summarize", "text", "", "instruction"],
      ]),
    );
    expect(r.inputs).toEqual([
      { data: "https://example.com/a.txt", type: "url" },
      { data: id, type: "event", relay: "wss://r.example" },
      { data: id, type: "job", relay: "wss://r.example", marker: "context" },
      { data: "summarize", type: "text", marker: "instruction" },
    ]);
  });

  test("i tags win over content", () => {
    expect(ok(request([["i", "from tag", "text"]], "from content")).inputs).toEqual([{ data: "from tag", type: "text" }]);
  });

  test("unknown input type is refused with a reason the customer can act on", () => {
    const r = fail(request([["i", "x", "image"]]));
    expect(r.silent).toBe(false);
    expect(r.reason).toContain('input type "image" is not supported');
    expect(r.ref).toEqual({ id: expect.any(String), customer: customerPk, encrypted: null });
  });

  test("no input at all, or only empty inputs, is refused loudly", () => {
    expect(fail(request([])).reason).toContain("no input");
    expect(fail(request([["param", "model", "x"]], "   ")).reason).toContain("no input");
    expect(fail(request([["i", "  ", "text"]])).reason).toContain("empty");
  });

  test("param aliases: top-k, top-p, max-tokens; last one wins", () => {
    const r = ok(
      request([
        ["i", "x", "text"],
        ["param", "top-k", "40"],
        ["param", "top-p", "0.9"],
        ["param", "max-tokens", "100"],
        ["param", "max_tokens", "200"],
      ]),
    );
    expect(r.params.topK).toBe(40);
    expect(r.params.topP).toBe(0.9);
    expect(r.params.maxTokens).toBe(200);
  });

  test("unknown params are kept as strings", () => {
    const r = ok(request([["i", "x", "text"], ["param", "seed", "42"], ["param", "lang", "es"], ["param", "stop"]]));
    expect(r.params.other).toEqual({ seed: "42", lang: "es" });
  });

  test("numeric params that don't parse are refused with a reason", () => {
    const cases: Array<[string, string, string]> = [
      ["max_tokens", "abc", "whole number above 0"],
      ["max_tokens", "0", "whole number above 0"],
      ["max_tokens", "12.5", "whole number above 0"],
      ["max_tokens", "", "whole number above 0"],
      ["temperature", "hot", "number of 0 or more"],
      ["temperature", "-1", "number of 0 or more"],
      ["temperature", "0x10", "number of 0 or more"],
      ["top_k", "-3", "whole number of 0 or more"],
      ["top-p", "1.5", "from 0 to 1"],
      ["frequency_penalty", "1e", "a number"],
      ["frequency_penalty", "Infinity", "a number"],
    ];
    for (const [key, value, words] of cases) {
      const r = fail(request([["i", "x", "text"], ["param", key, value]]));
      expect(r.silent).toBe(false);
      expect(r.reason).toContain(`param ${key}`);
      expect(r.reason).toContain(words);
    }
  });

  test("numbers in liberal but unambiguous forms are accepted", () => {
    const r = ok(
      request([
        ["i", "x", "text"],
        ["param", "temperature", " .7 "],
        ["param", "max_tokens", "1e3"],
        ["param", "frequency_penalty", "-0.5"],
        ["param", "model", "  "],
      ]),
    );
    expect(r.params.temperature).toBe(0.7);
    expect(r.params.maxTokens).toBe(1000);
    expect(r.params.frequencyPenalty).toBe(-0.5);
    expect(r.params.model).toBeUndefined();
  });

  test("bid: whole msats; decimals floored; huge clamped; junk refused", () => {
    expect(ok(request([["i", "x"], ["bid", "1000.9"]])).bidMsats).toBe(1000);
    expect(ok(request([["i", "x"], ["bid", "99999999999999999999999"]])).bidMsats).toBe(Number.MAX_SAFE_INTEGER);
    expect(ok(request([["i", "x"], ["bid", ""]])).bidMsats).toBeNull();
    expect(fail(request([["i", "x"], ["bid", "ten sats"]])).reason).toContain("bid must be a whole number");
    expect(fail(request([["i", "x"], ["bid", "-5"]])).reason).toContain("bid");
  });

  test("relays: several tags merged, duplicates and non-websocket URLs dropped", () => {
    const r = ok(
      request([
        ["i", "x"],
        ["relays", "wss://a.example", "https://nope.example", "ws://127.0.0.1:7777"],
        ["relays", "wss://a.example", "wss://b.example", ""],
      ]),
    );
    expect(r.relays).toEqual(["wss://a.example", "ws://127.0.0.1:7777", "wss://b.example"]);
  });

  test("p tags: ours among several wins; else the first; none → null", () => {
    expect(ok(request([["i", "x"], ["p", otherPk], ["p", providerPk]])).pTag).toBe(providerPk);
    expect(ok(request([["i", "x"], ["p", otherPk]])).pTag).toBe(otherPk);
    expect(ok(request([["i", "x"], ["p", "not-hex"]])).pTag).toBeNull();
  });

  test("expiration must be a unix timestamp", () => {
    expect(fail(request([["i", "x"], ["expiration", "tomorrow"]])).reason).toContain("expiration");
    expect(fail(request([["i", "x"], ["expiration", "1.5"]])).reason).toContain("expiration");
    expect(ok(request([["i", "x"], ["expiration", "1700000000"]])).expiration).toBe(1_700_000_000);
  });

  test("a params-only tag list with the prompt in content", () => {
    const r = ok(request([["param", "model", "mistral:7b"], ["output", "text/plain"]], "hi"));
    expect(r.inputs).toEqual([{ data: "hi", type: "text" }]);
    expect(r.params.model).toBe("mistral:7b");
    expect(r.output).toBe("text/plain");
  });
});

describe("parseJobRequest: bad shapes never throw", () => {
  const good = request([["i", "x", "text"]]);
  const cases: Array<[string, unknown]> = [
    ["null", null],
    ["a string", "hello"],
    ["an array", []],
    ["missing sig", { ...good, sig: undefined }],
    ["short sig", { ...good, sig: "ab" }],
    ["upper-case id", { ...good, id: good.id.toUpperCase() }],
    ["short pubkey", { ...good, pubkey: "abc" }],
    ["tags not arrays", { ...good, tags: ["i"] }],
    ["tag with a number", { ...good, tags: [["i", 5]] }],
    ["content not a string", { ...good, content: 5 }],
    ["float created_at", { ...good, created_at: 1.5 }],
    ["negative created_at", { ...good, created_at: -1 }],
    ["kind as string", { ...good, kind: "5050" }],
  ];
  for (const [name, ev] of cases) {
    test(name, () => {
      const r = fail(ev);
      expect(r.silent).toBe(true);
      expect(r.ref).toBeNull();
      expect(r.reason).toMatch(/^not a valid event/);
    });
  }

  test("another kind is silently not a request", () => {
    const r = fail(request([["i", "x"]], "", customerSk, 5000));
    expect(r.silent).toBe(true);
    expect(r.reason).toContain("kind 5000");
  });
});

describe("parseJobRequest: encrypted requests", () => {
  const secretTags = [
    ["i", "what is the capital of France? ", "text"],
    ["param", "model", "LLaMA-2"],
    ["param", "max_tokens", "512"],
    ["param", "temperature", "0.5"],
    ["param", "top-k", "50"],
    ["param", "top-p", "0.7"],
    ["param", "frequency_penalty", "1"],
  ];

  for (const scheme of ["nip04", "nip44"] as const) {
    test(`${scheme}: decrypts the i and param tags with the provider key`, () => {
      const ev = request([["p", providerPk], ["encrypted"]], encryptTo(scheme, customerSk, providerPk, JSON.stringify(secretTags)));
      const r = ok(ev);
      expect(r.encrypted).toBe(scheme);
      expect(r.inputs).toEqual([{ data: "what is the capital of France? ", type: "text" }]);
      expect(r.params).toEqual({
        model: "LLaMA-2",
        maxTokens: 512,
        temperature: 0.5,
        topK: 50,
        topP: 0.7,
        frequencyPenalty: 1,
        other: {},
      });
      expect(r.pTag).toBe(providerPk);
      expect(r.raw.content).toBe(ev.content); // the raw event keeps the ciphertext
    });

    test(`${scheme}: p-tagged to another provider → silent "not for us"`, () => {
      const ev = request([["p", otherPk], ["encrypted"]], encryptTo(scheme, customerSk, otherPk, JSON.stringify(secretTags)));
      const r = fail(ev);
      expect(r).toEqual({ ok: false, reason: "not for us", silent: true, ref: null });
    });

    test(`${scheme}: no p tag and encrypted to someone else → silent`, () => {
      const ev = request([["encrypted"]], encryptTo(scheme, customerSk, otherPk, JSON.stringify(secretTags)));
      const r = fail(ev);
      expect(r.silent).toBe(true);
      expect(r.reason).toBe("not for us");
    });

    test(`${scheme}: no p tag but encrypted to us → accepted`, () => {
      const ev = request([["encrypted"]], encryptTo(scheme, customerSk, providerPk, JSON.stringify(secretTags)));
      expect(ok(ev).encrypted).toBe(scheme);
    });

    test(`${scheme}: to us but encrypted with the wrong key → loud, answerable in the same scheme`, () => {
      // Encrypted by the customer to someone else's key, yet p-tagged to us.
      const ev = request([["p", providerPk], ["encrypted"]], encryptTo(scheme, customerSk, otherPk, JSON.stringify(secretTags)));
      const r = parseJobRequest(ev, opts);
      if (r.ok) {
        // NIP-04 without a MAC may, rarely, decrypt to garbage instead of failing.
        throw new Error("decrypted with a wrong key");
      }
      expect(r.silent).toBe(false);
      expect(r.ref).toEqual({ id: ev.id, customer: customerPk, encrypted: scheme });
    });

    test(`${scheme}: bad JSON inside → loud reason`, () => {
      for (const [inner, words] of [
        ["not json", "not JSON"],
        ['{"i":"x"}', "JSON array"],
        ['[["i", {"x":1}]]', "arrays of strings"],
        ['["i"]', "arrays of strings"],
      ] as const) {
        const r = fail(request([["p", providerPk], ["encrypted"]], encryptTo(scheme, customerSk, providerPk, inner)));
        expect(r.silent).toBe(false);
        expect(r.reason).toContain(words);
        expect(r.ref?.encrypted).toBe(scheme);
      }
    });

    test(`${scheme}: numbers inside are read as strings; no input inside is refused`, () => {
      const r = ok(
        request(
          [["p", providerPk], ["encrypted"]],
          encryptTo(scheme, customerSk, providerPk, JSON.stringify([["i", "hi", "text"], ["param", "max_tokens", 64]])),
        ),
      );
      expect(r.params.maxTokens).toBe(64);
      const f = fail(
        request([["p", providerPk], ["encrypted"]], encryptTo(scheme, customerSk, providerPk, JSON.stringify([["param", "model", "x"]]))),
      );
      expect(f.reason).toContain("no input");
    });
  }

  test("content that is no ciphertext at all → loud when addressed to us, silent otherwise", () => {
    const toUs = fail(request([["p", providerPk], ["encrypted"]], "plain words"));
    expect(toUs.silent).toBe(false);
    expect(toUs.reason).toContain("neither NIP-04 nor NIP-44");
    expect(toUs.ref?.encrypted).toBeNull();
    const toNobody = fail(request([["encrypted"]], "plain words"));
    expect(toNobody.silent).toBe(true);
  });
});

describe("buildFeedback", () => {
  const plain = ok(request([["i", "hello", "text"]]));

  test("tags for each status, in spec form", () => {
    const fb = buildFeedback({ request: plain, status: "processing", providerSecretKey: providerSk, now: NOW });
    expect(fb).toEqual({
      kind: JOB_FEEDBACK,
      created_at: Math.floor(NOW / 1000),
      tags: [["status", "processing"], ["e", plain.id], ["p", customerPk]],
      content: "",
    });
    const err = buildFeedback({
      request: plain,
      status: "error",
      extraInfo: "model llama9 is not offered here",
      relayHint: "wss://relay.example",
      providerSecretKey: providerSk,
      now: NOW,
    });
    expect(err.tags).toEqual([
      ["status", "error", "model llama9 is not offered here"],
      ["e", plain.id, "wss://relay.example"],
      ["p", customerPk],
    ]);
    const pay = buildFeedback({
      request: plain,
      status: "payment-required",
      amount: { msats: 10_000, bolt11: "lnbc100n1fake" },
      providerSecretKey: providerSk,
      now: NOW,
    });
    expect(pay.tags).toContainEqual(["amount", "10000", "lnbc100n1fake"]);
    const partial = buildFeedback({ request: plain, status: "partial", content: "Paris is", providerSecretKey: providerSk, now: NOW });
    expect(partial.content).toBe("Paris is");
    const success = buildFeedback({ request: plain, status: "success", amount: { msats: 5 }, providerSecretKey: providerSk, now: NOW });
    expect(success.tags).toContainEqual(["amount", "5"]);
  });

  test("payment-required without an invoice is a programming error", () => {
    expect(() => buildFeedback({ request: plain, status: "payment-required", amount: { msats: 1 }, providerSecretKey: providerSk, now: NOW })).toThrow(
      AppError,
    );
    expect(() => buildFeedback({ request: plain, status: "success", amount: { msats: 1.5 }, providerSecretKey: providerSk, now: NOW })).toThrow(AppError);
  });

  test("works from a RequestRef of a request that failed to parse", () => {
    const r = fail(request([["i", "x", "image"]]));
    const fb = buildFeedback({ request: r.ref!, status: "error", extraInfo: r.reason, providerSecretKey: providerSk, now: NOW });
    expect(fb.tags[0]).toEqual(["status", "error", r.reason]);
    const signed = finalizeEvent(fb, providerSk);
    expect(verifyEvent(signed)).toBe(true);
  });

  for (const scheme of ["nip04", "nip44"] as const) {
    test(`${scheme}: encrypted request → status etc. only inside the encrypted content`, () => {
      const req = ok(
        request([["p", providerPk], ["encrypted"]], encryptTo(scheme, customerSk, providerPk, JSON.stringify([["i", "secret prompt", "text"]]))),
      );
      const fb = buildFeedback({
        request: req,
        status: "payment-required",
        extraInfo: "pay to start",
        amount: { msats: 10_000, bolt11: "lnbc100n1fake" },
        content: "preview",
        relayHint: "wss://r.example",
        providerSecretKey: providerSk,
        now: NOW,
      });
      expect(fb.tags).toEqual([["p", customerPk], ["e", req.id, "wss://r.example"], ["encrypted"]]);
      expect(fb.content).not.toContain("payment-required");
      const inner = JSON.parse(decryptAsCustomer(scheme, fb.content));
      expect(inner).toEqual([
        ["status", "payment-required", "pay to start"],
        ["e", req.id, "wss://r.example"],
        ["p", customerPk],
        ["amount", "10000", "lnbc100n1fake"],
        ["content", "preview"],
      ]);
      // no content → no content tag
      const proc = buildFeedback({ request: req, status: "processing", providerSecretKey: providerSk, now: NOW });
      expect(JSON.parse(decryptAsCustomer(scheme, proc.content))).toEqual([["status", "processing"], ["e", req.id], ["p", customerPk]]);
    });
  }
});

describe("buildResult", () => {
  test("plain: request JSON, e, copied i tags, p, amount", () => {
    const ev = request([
      ["i", "first", "prompt"],
      ["i", "https://example.com", "url", "", "ctx"],
      ["param", "model", "m"],
      ["bid", "5000"],
    ]);
    const req = ok(ev);
    const res = buildResult({
      request: req,
      content: "Paris.",
      amount: { msats: 5000, bolt11: "lnbc50n1fake" },
      relayHint: "wss://hint.example",
      providerSecretKey: providerSk,
      now: NOW,
    });
    expect(res.kind).toBe(JOB_RESULT_TEXT);
    expect(res.created_at).toBe(Math.floor(NOW / 1000));
    expect(res.content).toBe("Paris.");
    expect(JSON.parse(res.tags[0]![1]!)).toEqual(plainEvent(ev));
    // the embedded request is still the customer's signed event
    expect(verifyEvent(JSON.parse(res.tags[0]![1]!))).toBe(true);
    expect(res.tags.slice(1)).toEqual([
      ["e", ev.id, "wss://hint.example"],
      ["i", "first", "prompt"],
      ["i", "https://example.com", "url", "", "ctx"],
      ["p", customerPk],
      ["amount", "5000", "lnbc50n1fake"],
    ]);
    expect(verifyEvent(finalizeEvent(res, providerSk))).toBe(true);
  });

  test("no amount → no amount tag; content as prompt → no i tag", () => {
    const req = ok(request([], "just content"));
    const res = buildResult({ request: req, content: "ok", providerSecretKey: providerSk, now: NOW });
    expect(res.tags.map((t) => t[0])).toEqual(["request", "e", "p"]);
  });

  for (const scheme of ["nip04", "nip44"] as const) {
    test(`${scheme}: encrypted output in the request's scheme, no i tag, ["encrypted"]`, () => {
      const ev = request([["p", providerPk], ["encrypted"]], encryptTo(scheme, customerSk, providerPk, JSON.stringify([["i", "secret", "text"]])));
      const req = ok(ev);
      const res = buildResult({ request: req, content: "the answer ✓", amount: { msats: 7 }, providerSecretKey: providerSk, now: NOW });
      expect(res.tags[0]![0]).toBe("request");
      expect(JSON.parse(res.tags[0]![1]!)).toEqual(plainEvent(ev));
      expect(res.tags.slice(1)).toEqual([["e", ev.id], ["p", customerPk], ["amount", "7"], ["encrypted"]]);
      expect(res.content).not.toContain("answer");
      expect(decryptAsCustomer(scheme, res.content)).toBe("the answer ✓");
    });
  }

  test("a NIP-44 result too long to encrypt is a clear error", () => {
    const req = ok(request([["p", providerPk], ["encrypted"]], encryptTo("nip44", customerSk, providerPk, JSON.stringify([["i", "s"]]))));
    expect(() => buildResult({ request: req, content: "x".repeat(70_000), providerSecretKey: providerSk, now: NOW })).toThrow(/65535/);
  });
});

describe("cancellation", () => {
  const req = ok(request([["i", "x"]]));
  const del = (tags: string[][], sk = customerSk, kind = DELETION) =>
    finalizeEvent({ kind, created_at: 1, tags, content: "" }, sk);

  test("parseDeletion lists the e tags of a kind 5", () => {
    const b = "b".repeat(64);
    expect(parseDeletion(del([["e", req.id], ["k", "5050"], ["e", b], ["e", req.id], ["e", "short"]]))).toEqual([req.id, b]);
    expect(parseDeletion(del([["e", req.id]], customerSk, 1))).toEqual([]);
    expect(parseDeletion({ kind: 5 })).toEqual([]);
  });

  test("only the request's author cancels it", () => {
    expect(cancelsJob(del([["e", req.id], ["k", "5050"]]), req)).toBe(true);
    expect(cancelsJob(del([["e", req.id]], otherSk), req)).toBe(false);
    expect(cancelsJob(del([["e", "c".repeat(64)]]), req)).toBe(false);
    expect(cancelsJob("junk", req)).toBe(false);
  });
});

describe("ping / pong", () => {
  test("a ping p-tagged to us is answered with a pong", () => {
    const ping = finalizeEvent({ kind: PING, created_at: 1, tags: [["p", providerPk]], content: "" }, customerSk);
    const p = parsePing(ping, providerPk);
    expect(p).toEqual({ id: ping.id, from: customerPk });
    const pong = buildPong({ ping: p!, relayHint: "wss://r", now: NOW });
    expect(pong).toEqual({
      kind: JOB_FEEDBACK,
      created_at: Math.floor(NOW / 1000),
      tags: [["status", "pong"], ["e", ping.id, "wss://r"], ["p", customerPk]],
      content: "",
    });
  });

  test("pings for others, other kinds and junk are ignored", () => {
    const forOther = finalizeEvent({ kind: PING, created_at: 1, tags: [["p", otherPk]], content: "" }, customerSk);
    expect(parsePing(forOther, providerPk)).toBeNull();
    const untagged = finalizeEvent({ kind: PING, created_at: 1, tags: [], content: "" }, customerSk);
    expect(parsePing(untagged, providerPk)).toBeNull();
    const note = finalizeEvent({ kind: 1, created_at: 1, tags: [["p", providerPk]], content: "" }, customerSk);
    expect(parsePing(note, providerPk)).toBeNull();
    expect(parsePing(undefined, providerPk)).toBeNull();
  });
});

describe("toOllamaOptions", () => {
  test("maps only the given params; num_predict is always capped", () => {
    expect(toOllamaOptions({ other: {} }, { maxTokensCap: 2048 })).toEqual({ num_predict: 2048 });
    expect(toOllamaOptions({ maxTokens: 100, other: {} }, { maxTokensCap: 2048 })).toEqual({ num_predict: 100 });
    expect(toOllamaOptions({ maxTokens: 5000, other: {} }, { maxTokensCap: 2048 })).toEqual({ num_predict: 2048 });
    expect(
      toOllamaOptions(
        { model: "m", maxTokens: 64, temperature: 0, topK: 40, topP: 0.9, frequencyPenalty: -1, other: { seed: "1" } },
        { maxTokensCap: 2048 },
      ),
    ).toEqual({ num_predict: 64, temperature: 0, top_k: 40, top_p: 0.9, frequency_penalty: -1 });
  });

  test("end to end from request tags (top-k / top-p spellings)", () => {
    const r = ok(request([["i", "x"], ["param", "top-k", "10"], ["param", "top-p", "0.5"], ["param", "max_tokens", "9999"]]));
    expect(toOllamaOptions(r.params, { maxTokensCap: 512 })).toEqual({ num_predict: 512, top_k: 10, top_p: 0.5 });
  });
});

describe("parsers never throw (property)", () => {
  const tagName = fc.constantFrom("i", "param", "bid", "output", "relays", "p", "expiration", "encrypted", "e", "x");
  const tag = fc.tuple(tagName, fc.array(fc.string({ maxLength: 20 }), { maxLength: 5 })).map(([n, rest]) => [n, ...rest]);
  const shaped = fc.record({
    tags: fc.array(tag, { maxLength: 8 }),
    content: fc.oneof(fc.string({ maxLength: 50 }), fc.constant(nip04.encrypt(customerSk, providerPk, "[]"))),
    kind: fc.constantFrom(JOB_REQUEST_TEXT, DELETION, PING, ZAP_RECEIPT),
  });

  test("random well-shaped events and random values", () => {
    fc.assert(
      fc.property(shaped, ({ tags, content, kind }) => {
        const ev = { id: "a".repeat(64), pubkey: customerPk, created_at: 1, kind, tags, content, sig: "b".repeat(128) };
        const r = parseJobRequest(ev, opts);
        expect(typeof r.ok).toBe("boolean");
        if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
        parseDeletion(ev);
        parsePing(ev, providerPk);
        parseZapReceipt(ev);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.anything(), (v) => {
        expect(parseJobRequest(v, opts).ok).toBe(false);
        expect(parseDeletion(v)).toEqual([]);
        expect(parsePing(v, providerPk)).toBeNull();
        expect(parseZapReceipt(v)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });
});
