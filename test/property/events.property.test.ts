// Hostile events against the NIP-90 parsers and the pool's signature check, RUNS times per target
// (1,000; 100,000 with COMPUTE_SLOW=1): tags of every wrong shape, huge contents, invalid
// encryption payloads, unicode corners, tampered signatures. None may throw; every refusal must be
// a clear sentence; whatever is accepted must be well-formed, and our reply to it must be a valid
// signed event after a trip through JSON (what a relay stores).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as nip04 from "nostr-tools/nip04";
import * as nip44 from "nostr-tools/nip44";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import { isValidEvent } from "../../src/nostr/relay-socket.ts";
import {
  JobRequest,
  buildFeedback,
  buildResult,
  cancelsJob,
  parseDeletion,
  parseJobRequest,
  parsePing,
  type ParseResult,
} from "../../src/nostr/nip90.ts";
import { parseZapReceipt } from "../../src/nostr/nip57.ts";
import { PROPERTY_TIMEOUT_MS, RUNS, fcParams, maybeHuge, nastyString, unclearMessage } from "../fixtures/stress-fc.ts";

const providerSk = generateSecretKey();
const providerPk = getPublicKey(providerSk);
const customerSk = generateSecretKey();
const customerPk = getPublicKey(customerSk);
const strangerSk = generateSecretKey();
const strangerPk = getPublicKey(strangerSk);
const opts = { providerPubkey: providerPk, providerSecretKey: providerSk };
/** The slowest single parse seen (a hostile event must not stall the relay loop). */
let slowestMs = 0;

function parse(ev: unknown): ParseResult {
  const t = performance.now();
  const r = parseJobRequest(ev, opts);
  slowestMs = Math.max(slowestMs, performance.now() - t);
  return r;
}

/** What the engine relies on, whatever came in. */
function checkResult(r: ParseResult): void {
  expect(typeof r.ok).toBe("boolean");
  if (!r.ok) {
    expect(unclearMessage(r.reason)).toBeNull();
    expect(typeof r.silent).toBe("boolean");
    // A loud refusal is sent to the customer: it needs an address.
    if (!r.silent) expect(r.ref).not.toBeNull();
    if (r.ref) expect(r.ref.customer).toMatch(/^[0-9a-f]{64}$/);
    return;
  }
  const req = r.request;
  expect(JobRequest.safeParse(req).success).toBe(true);
  expect(req.inputs.length).toBeGreaterThan(0);
  expect(req.inputs.some((i) => i.data.trim() !== "")).toBe(true);
  for (const url of req.relays) expect(url).toMatch(/^wss?:\/\//i);
  if (req.params.maxTokens !== undefined) expect(Number.isSafeInteger(req.params.maxTokens) && req.params.maxTokens > 0).toBe(true);
  if (req.bidMsats !== null) expect(Number.isSafeInteger(req.bidMsats) && req.bidMsats >= 0).toBe(true);
}

/** Our replies to an accepted request: valid signed events after a JSON round trip. */
function checkReplies(r: ParseResult, reason: string, content: string): void {
  if (!r.ok) {
    if (r.silent || !r.ref) return;
    const fb = finalizeEvent(buildFeedback({ request: r.ref, status: "error", extraInfo: r.reason, providerSecretKey: providerSk, now: Date.now() }), providerSk);
    expect(isValidEvent(JSON.parse(JSON.stringify(fb)))).toBe(true);
    return;
  }
  const fb = finalizeEvent(buildFeedback({ request: r.request, status: "error", extraInfo: reason, providerSecretKey: providerSk, now: Date.now() }), providerSk);
  expect(isValidEvent(JSON.parse(JSON.stringify(fb)))).toBe(true);
  let result: Event;
  try {
    result = finalizeEvent(buildResult({ request: r.request, content, providerSecretKey: providerSk, now: Date.now() }), providerSk);
  } catch (err) {
    // The one documented refusal: a NIP-44 result over 65,535 bytes.
    expect(r.request.encrypted).toBe("nip44");
    expect(unclearMessage((err as Error).message)).toBeNull();
    return;
  }
  expect(isValidEvent(JSON.parse(JSON.stringify(result)))).toBe(true);
}

const event = (tags: string[][], content: string, sk = customerSk, kind = 5050) => finalizeEvent({ kind, created_at: Math.floor(Date.now() / 1000), tags, content }, sk);

// Tags of every shape a string[][] can take: known names with missing, extra, odd values.
const tagName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("i", "param", "bid", "output", "relays", "p", "expiration", "encrypted", "e", "k", "t") },
  { weight: 1, arbitrary: nastyString },
);
const tag = fc.tuple(tagName, fc.array(maybeHuge, { maxLength: 6 })).map(([n, rest]) => [n, ...rest]);
const tags = fc.array(fc.oneof({ weight: 10, arbitrary: tag }, { weight: 1, arbitrary: fc.constant([] as string[]) }), { maxLength: 10 });

// Ciphertexts that are not what they claim, or not for us.
const b64 = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b) => Buffer.from(b).toString("base64"));
const badPayload = fc.oneof(
  b64,
  fc.tuple(b64, b64).map(([a, b]) => `${a}?iv=${b}`),
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from([2, ...b]).toString("base64")), // NIP-44 version byte, garbage after
  fc.constant(nip44.encrypt("[]", nip44.getConversationKey(customerSk, strangerPk))), // to someone else
  fc.constant(nip04.encrypt(customerSk, strangerPk, '[["i","x"]]')),
  fc.tuple(fc.constant(nip44.encrypt('[["i","hello"]]', nip44.getConversationKey(customerSk, providerPk))), fc.nat({ max: 100 })).map(([p, n]) => p.slice(0, p.length - 1 - n)), // truncated
  nastyString,
);
// Real ciphertexts for us whose plaintext is not a tag array (or a hostile one).
const badPlaintext = fc.oneof(
  fc.json(),
  fc.array(fc.array(fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.object()), { maxLength: 4 }), { maxLength: 5 }).map((x) => JSON.stringify(x)),
  tags.map((t) => JSON.stringify(t)),
  nastyString,
);

describe("NIP-90 request parsing under hostile input", () => {
  test(
    `well-signed requests with tags of every wrong shape, huge and unicode values (${RUNS} runs)`,
    () => {
      fc.assert(
        fc.property(tags, maybeHuge, fc.boolean(), (t, content, forUs) => {
          const ev = event(forUs ? [...t, ["p", providerPk]] : t, content);
          const r = parse(ev);
          checkResult(r);
          checkReplies(r, t.flat().join(" ").slice(0, 200), content.slice(0, 70_000));
          // The other readers of the same event never throw either.
          parseDeletion(ev);
          parsePing(ev, providerPk);
          parseZapReceipt(ev);
          cancelsJob(ev, { id: ev.id, customer: customerPk });
        }),
        fcParams(),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  test(
    `encrypted requests with invalid payloads, or valid ones hiding bad plaintext (${RUNS} runs)`,
    () => {
      fc.assert(
        fc.property(fc.oneof(badPayload, badPlaintext.map((p) => nip44.encrypt(p || " ", nip44.getConversationKey(customerSk, providerPk))), badPlaintext.map((p) => nip04.encrypt(customerSk, providerPk, p))), fc.constantFrom("us", "none", "other"), (content, p) => {
          const pTags = p === "us" ? [["p", providerPk]] : p === "other" ? [["p", strangerPk]] : [];
          const r = parse(event([...pTags, ["encrypted"]], content));
          checkResult(r);
          checkReplies(r, "refused", "an answer");
          // Encrypted to someone else: never our business, never answered.
          if (p === "other") expect(r.ok === false && r.silent).toBe(true);
        }),
        fcParams(),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  test(
    `values that are not events at all, and events of the wrong shape (${RUNS} runs)`,
    () => {
      // As from the wire: a plain object (nostr-tools marks events it signed or checked as verified).
      const real = JSON.parse(JSON.stringify(event([["i", "x"]], ""))) as Event;
      const wrongShape = fc.oneof(
        fc.anything(),
        fc.record({ ...Object.fromEntries(Object.keys(real).map((k) => [k, fc.anything()])) }),
        fc.tuple(fc.constantFrom(...Object.keys(real)), fc.anything()).map(([k, v]) => ({ ...real, [k]: v })),
        fc.array(fc.array(fc.anything(), { maxLength: 4 }), { maxLength: 4 }).map((t) => ({ ...real, tags: t })),
      );
      fc.assert(
        fc.property(wrongShape, (v) => {
          const r = parse(v);
          checkResult(r);
          expect(Array.isArray(parseDeletion(v))).toBe(true);
          parsePing(v, providerPk);
          parseZapReceipt(v);
          expect(typeof cancelsJob(v, { id: real.id, customer: customerPk })).toBe("boolean");
          expect(isValidEvent(v)).toBe(typeof v === "object" && v !== null && JSON.stringify(v) === JSON.stringify(real));
        }),
        fcParams(),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  test("no single parse took long", () => {
    // A hostile event is handled on the relay loop: it must not stall it.
    expect(slowestMs).toBeLessThan(1_000);
    console.log(`parseJobRequest: slowest single call ${slowestMs.toFixed(1)} ms`);
  });
});

describe("the pool's signature check (isValidEvent)", () => {
  // As from the wire: a plain object. (nostr-tools caches "verified" on events it signed or checked,
  // and a copy made with spread would carry that mark along.)
  const base = JSON.parse(JSON.stringify(event([["i", "sign me"], ["p", providerPk]], "content ✓ 👩‍👩‍👧‍👦"))) as Event;
  const fields = ["id", "pubkey", "created_at", "kind", "tags", "content", "sig"] as const;

  test(
    `any change to a signed event is caught: a flipped character, a swapped field, another key's signature (${RUNS} runs)`,
    () => {
      const other = JSON.parse(JSON.stringify(finalizeEvent({ kind: base.kind, created_at: base.created_at, tags: base.tags, content: base.content }, strangerSk))) as Event;
      const mutation = fc.oneof(
        // One hex character of id/pubkey/sig changed.
        fc.tuple(fc.constantFrom("id", "pubkey", "sig"), fc.nat(), fc.constantFrom(..."0123456789abcdef")).map(([f, i, ch]) => {
          const s = base[f];
          const at = i % s.length;
          return { ...base, [f]: s.slice(0, at) + (s[at] === ch ? (ch === "0" ? "1" : "0") : ch) + s.slice(at + 1) };
        }),
        // Signed content changed (the id and signature no longer match).
        nastyString.filter((s) => s !== base.content).map((content) => ({ ...base, content })),
        tags.filter((t) => JSON.stringify(t) !== JSON.stringify(base.tags)).map((t) => ({ ...base, tags: t })),
        fc.integer({ min: 0, max: 65_535 }).filter((k) => k !== base.kind).map((kind) => ({ ...base, kind })),
        fc.nat().filter((n) => n !== base.created_at).map((created_at) => ({ ...base, created_at })),
        // Fields taken from another author's event of the same text.
        // (All three of id, pubkey and sig would simply be the other author's valid event.)
        fc
          .subarray([...fields], { minLength: 1, maxLength: 6 })
          .filter((fs) => fs.some((f) => JSON.stringify(base[f]) !== JSON.stringify(other[f])) && !(["id", "pubkey", "sig"] as const).every((f) => fs.includes(f)))
          .map((fs) => ({ ...base, ...Object.fromEntries(fs.map((f) => [f, other[f]])) })),
        // Upper-case hex: the same bytes, but not NIP-01 (lowercase) any more.
        fc.constantFrom("id", "pubkey", "sig").map((f) => ({ ...base, [f]: base[f].toUpperCase() })),
      );
      // On a copy: the check marks the object it verified.
      expect(isValidEvent(structuredClone(base))).toBe(true);
      fc.assert(
        fc.property(mutation, (ev) => {
          expect(isValidEvent(ev)).toBe(false);
          expect(isValidEvent(JSON.parse(JSON.stringify(ev)))).toBe(false);
        }),
        fcParams(),
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
