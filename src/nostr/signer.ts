// Schnorr signatures for Nostr events (NIP-01, BIP-340): signing our events and checking everyone
// else's. Two implementations give identical results:
//   - libsecp256k1 compiled to WebAssembly (the module nostr-wasm ships, as nostr-tools'
//     dependency), through our own binding (secp256k1-wasm.ts): the event id hashed natively, our
//     key's keypair kept between signatures; ~0.21 ms to sign and ~0.31 ms to verify here
//     (nostr-wasm's own wrapper: ~0.52 and ~0.31; BENCHMARKS.md);
//   - nostr-tools' pure JS (noble-curves): ~0.9 and ~0.5 ms.
// The module's .wasm file is embedded, so it also loads inside the compiled binary.
// It is loaded when signing and verifying get busy (WASM_DEMAND_OPS operations within
// WASM_DEMAND_WINDOW_MS), or by initSigner(), never at import or start: an idle provider signs a few
// events a minute, which pure JS does in about a millisecond each, and a loaded wasm module
// stays in memory for good (BENCHMARKS.md). Until it is ready, or if it fails to load or fails its
// self-test, the pure-JS code answers, so every call works at any time.
// warmUpSigner() (called once the provider goes online) loads it ahead of traffic and runs the
// code until the engine has compiled it, in slices of ~2 ms that wait while real signing goes on:
// a first burst of jobs then costs what the thousandth does (issue 16; BENCHMARKS.md).
import { finalizeEvent as jsFinalize, verifiedSymbol, verifyEvent as jsVerify, type Event, type EventTemplate } from "nostr-tools/pure";
import { errorMessage } from "../errors.ts";
import { createLogger } from "../log.ts";
import type { Secp256k1 } from "./secp256k1-wasm.ts";

const log = createLogger("nostr.signer");

export type { Event, EventTemplate };
export type SignerKind = "wasm" | "js";

let wasm: Secp256k1 | null = null;
let loading: Promise<SignerKind> | null = null;

/** Signatures made plus signatures checked within the window that make loading nostr-wasm worth it. */
export const WASM_DEMAND_OPS = 50;
export const WASM_DEMAND_WINDOW_MS = 10_000;
let demandWindowStart = -Infinity;
let demandOps = 0;
/** initSigner({ wasm: false }) or COMPUTE_NOSTR_WASM=0: pure JS for good, whatever the demand. */
let jsOnly = process.env.COMPUTE_NOSTR_WASM === "0";

/** When a real signature was last made or checked (not a warm-up one), and how many there were. */
let lastRealOpAt = -Infinity;
let realOps = 0;

/** One signature made or checked: past WASM_DEMAND_OPS in the window, nostr-wasm loads. */
function noteDemand(): void {
  const now = performance.now();
  lastRealOpAt = now;
  realOps++;
  if (wasm || loading || jsOnly) return;
  if (now - demandWindowStart > WASM_DEMAND_WINDOW_MS) {
    demandWindowStart = now;
    demandOps = 0;
  }
  if (++demandOps >= WASM_DEMAND_OPS) {
    log.debug("signing got busy; loading nostr-wasm", { ops: demandOps });
    void initSigner();
  }
}

/** The load under way (or done), if any: resolves with the kind then in use. */
export function signerReady(): Promise<SignerKind> {
  return loading ?? Promise.resolve(signerKind());
}

/** Which implementation signs and verifies right now. */
export function signerKind(): SignerKind {
  return wasm ? "wasm" : "js";
}

export interface InitSignerOptions {
  /** false: stay on the pure-JS code (as does COMPUTE_NOSTR_WASM=0 in the environment). */
  wasm?: boolean;
  /** Tests: where the wasm binding comes from (default: secp256k1-wasm.ts's loadSecp256k1). */
  load?: () => Promise<unknown>;
}

/**
 * Loads nostr-wasm once and self-tests it against known answers; resolves with the kind in use.
 * Never rejects: a failure is logged and the pure-JS code stays. Idempotent.
 */
export function initSigner(opts: InitSignerOptions = {}): Promise<SignerKind> {
  if (opts.wasm === false || process.env.COMPUTE_NOSTR_WASM === "0") {
    jsOnly = true;
    return Promise.resolve(signerKind());
  }
  const load = opts.load ?? (async () => (await import("./secp256k1-wasm.ts")).loadSecp256k1());
  loading ??= (async (): Promise<SignerKind> => {
    try {
      const instance = (await load()) as Secp256k1;
      selfTest(instance);
      wasm = instance;
      log.debug("signing with nostr-wasm");
    } catch (err) {
      log.warn("nostr-wasm is unavailable; signing with the pure-JS code", { err: errorMessage(err) });
    }
    return signerKind();
  })();
  return loading;
}

/** For tests: back to the pure-JS code (initSigner loads the wasm again). */
export function resetSigner(): void {
  known.clear();
  realOps = 0;
  warmUp?.stop();
  warmUp = null;
  lastRealOpAt = -Infinity;
  wasm = null;
  loading = null;
  demandWindowStart = -Infinity;
  demandOps = 0;
  jsOnly = process.env.COMPUTE_NOSTR_WASM === "0";
}

/**
 * Known answers for the self-test, made once with the pure-JS code (noble-curves, an implementation
 * independent of libsecp256k1): the public key of the secret key 0x0707…07, and an event it signed.
 * Checking against constants needs no JS curve arithmetic at run time (from source, where
 * nostr-tools has its own copy of noble-curves, running it built a second ~0.7 MiB base-point
 * table; the compiled binary has one copy, whose table the NIP-06 derivation builds anyway).
 */
const SELF_TEST_PUBKEY = "989c0b76cb563971fdc9bef31ec06c3560f3249d6ee9e5d83c57625596e05f6f";
const SELF_TEST_TEMPLATE = { kind: 1, created_at: 1_700_000_000, tags: [["t", "self-test"]], content: "nostr-wasm self-test ✓" };
const SELF_TEST_ID = "139de84efc087ce05ca5406a151231a05010327e52584bdcfceba497482a1704";
const SELF_TEST_SIG = "5d71c47878a587297389a6296945d2396782f9cfb483a0b407543dc7d9bee88ef7303fb0c567171c434ff289f5e81c4676d8aad52c05c6346f89c40a5c4aef3c";

/**
 * A fresh wasm binding must agree with the known answers before it is trusted with our key: it
 * derives the known public key and event id, verifies its own signature and the JS code's, and
 * rejects a signature with one bit changed. The throwaway key is forgotten after.
 */
function selfTest(instance: Secp256k1): void {
  const sk = new Uint8Array(32).fill(7);
  const template = (): EventTemplate => ({ ...SELF_TEST_TEMPLATE, tags: SELF_TEST_TEMPLATE.tags.map((t) => [...t]) });
  try {
    const byWasm = signWith(instance, template(), sk);
    if (byWasm.pubkey !== SELF_TEST_PUBKEY) throw new Error("self-test: it derives a wrong public key");
    if (byWasm.id !== SELF_TEST_ID) throw new Error("self-test: it hashes an event wrongly");
    const own = { id: byWasm.id, pubkey: byWasm.pubkey, sig: byWasm.sig, ...template() } as Event;
    if (!verifyWith(instance, own)) throw new Error("self-test: its signature does not verify");
    const byJs = { id: SELF_TEST_ID, pubkey: SELF_TEST_PUBKEY, sig: SELF_TEST_SIG, ...template() } as Event;
    if (!verifyWith(instance, byJs)) throw new Error("self-test: it rejects a good signature");
    const flipped = (parseInt(byJs.sig[10]!, 16) ^ 1).toString(16);
    if (verifyWith(instance, { ...byJs, sig: byJs.sig.slice(0, 10) + flipped + byJs.sig.slice(11) } as Event)) throw new Error("self-test: it accepted a changed signature");
  } finally {
    instance.forgetKeys();
  }
}

/** NIP-01 event id, as bytes: sha256 of the serialization [0, pubkey, created_at, kind, tags, content]. */
function idBytes(e: { pubkey: string; created_at: number; kind: number; tags: string[][]; content: string }): Buffer {
  return new Bun.CryptoHasher("sha256").update(JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content])).digest();
}

/** A new event signed by the wasm binding (throws what the binding throws, e.g. for an invalid key). */
function signWith(instance: Secp256k1, t: EventTemplate, secretKey: Uint8Array): Event {
  const key = instance.key(secretKey);
  const event = { kind: t.kind, created_at: t.created_at, tags: t.tags, content: t.content, pubkey: key.pubkey, id: "", sig: "" };
  const id = idBytes(event);
  event.id = id.toString("hex");
  event.sig = Buffer.from(key.sign(id)).toString("hex");
  return event as Event;
}

/** The id and signature checked by the wasm binding; the event's shape was checked before. */
function verifyWith(instance: Secp256k1, e: Event): boolean {
  const id = idBytes(e);
  if (id.toString("hex") !== e.id) return false;
  return instance.verify(Buffer.from(e.sig, "hex"), id, Buffer.from(e.pubkey, "hex"));
}

/** Zeroes the keys the wasm binding keeps between signatures (the vault was locked). */
export function forgetSigningKeys(): void {
  wasm?.forgetKeys();
}

/** NIP-01 template shape, checked before anything is serialized or signed. */
function assertTemplate(t: EventTemplate): void {
  if (!Number.isInteger(t.kind) || t.kind < 0 || t.kind > 65535) throw new Error("can't sign an event with a bad kind");
  if (!Number.isInteger(t.created_at) || t.created_at < 0) throw new Error("can't sign an event with a bad created_at");
  if (typeof t.content !== "string") throw new Error("can't sign an event whose content is not a string");
  if (!Array.isArray(t.tags)) throw new Error("can't sign an event whose tags are not a list");
  for (const tag of t.tags) {
    if (!Array.isArray(tag)) throw new Error("can't sign an event with a tag that is not a list");
    for (const v of tag) if (typeof v !== "string") throw new Error("can't sign an event with a tag value that is not a string");
  }
}

/**
 * Signs a template (NIP-01): a new event with pubkey, id and sig; the template is not changed.
 * The result is marked verified for nostr-tools' verifyEvent cache (and ours).
 */
export function signEvent(template: EventTemplate, secretKey: Uint8Array): Event {
  assertTemplate(template);
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) throw new Error("a secret key is 32 bytes");
  noteDemand();
  const event = sign(template, secretKey);
  remember(event);
  return event;
}

/**
 * Events signed here or checked lately, id → signature and key. The same event reaches us more
 * than once: a relay sends it once per matching subscription (the engine's and the market view's
 * both take kind 5050, each as its own message and so its own object), and sends back the events
 * we publish (our subscriptions include feedback and results). A Schnorr check per copy would cost
 * one more per request and two per job's replies (issue 16). A copy whose id, key and signature
 * are those of a known good event, and whose content still hashes to that id, is that event.
 */
const KNOWN_MAX = 4096;
const known = new Map<string, { sig: string; pubkey: string }>();

function remember(e: Event): void {
  known.set(e.id, { sig: e.sig, pubkey: e.pubkey });
  if (known.size > KNOWN_MAX) known.delete(known.keys().next().value!);
}

function isKnownCopy(e: Event): boolean {
  const good = known.get(e.id);
  return good !== undefined && good.sig === e.sig && good.pubkey === e.pubkey && idBytes(e).toString("hex") === e.id;
}

function sign(template: EventTemplate, secretKey: Uint8Array): Event {
  if (wasm) {
    try {
      const event = signWith(wasm, template, secretKey);
      event[verifiedSymbol] = true;
      return event;
    } catch (err) {
      // An invalid key included: the JS code then says so in its own words.
      log.debug("nostr-wasm could not sign; signing in JS", { err: errorMessage(err) });
    }
  }
  return jsFinalize({ kind: template.kind, created_at: template.created_at, tags: template.tags, content: template.content }, secretKey);
}

function isLowerHex(s: unknown, length: number): boolean {
  if (typeof s !== "string" || s.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * NIP-01 event shape as it arrives on the wire: 64-hex id and pubkey, 128-hex sig, integer
 * created_at ≥ 0, kind 0..65535, tags a list of lists of strings, content a string. Never throws.
 * (The same rules as nip90.ts's NostrEvent schema, written out: this runs on every event we receive.)
 */
export function hasEventShape(input: unknown): input is Event {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return false;
  const e = input as Record<string, unknown>;
  if (!isLowerHex(e.id, 64) || !isLowerHex(e.pubkey, 64) || !isLowerHex(e.sig, 128)) return false;
  const createdAt = e.created_at;
  const kind = e.kind;
  if (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt) || createdAt < 0) return false;
  if (typeof kind !== "number" || !Number.isInteger(kind) || kind < 0 || kind > 65535) return false;
  if (typeof e.content !== "string" || !Array.isArray(e.tags)) return false;
  for (const tag of e.tags as unknown[]) {
    if (!Array.isArray(tag)) return false;
    for (const v of tag) if (typeof v !== "string") return false;
  }
  return true;
}

/**
 * Checks an event's shape, id and signature (NIP-01). Never throws. The answer is cached on the
 * event (nostr-tools' verifiedSymbol), so an event checked once, or signed here, costs nothing
 * the next time.
 */
export function verifyEvent(event: Event): boolean {
  if (typeof event !== "object" || event === null) return false;
  const cached = event[verifiedSymbol];
  if (typeof cached === "boolean") return cached;
  // The hex fields are decoded without further checks (Buffer skips what isn't hex).
  if (!hasEventShape(event)) return false;
  noteDemand();
  if (isKnownCopy(event)) {
    event[verifiedSymbol] = true;
    return true;
  }
  const ok = verify(event);
  if (ok) remember(event);
  return ok;
}

function verify(event: Event): boolean {
  if (wasm) {
    try {
      const ok = verifyWith(wasm, event);
      event[verifiedSymbol] = ok;
      return ok;
    } catch (err) {
      // A fault in the module, not an answer: the JS code decides.
      log.debug("nostr-wasm could not check an event; checking it in JS", { err: errorMessage(err) });
    }
  }
  try {
    return jsVerify(event);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Warm-up: the signer ready before the first job, without delaying one

export interface WarmUpOptions {
  /** Signatures made and checked in all, real ones made meanwhile included (a warm-up op: one sign, one check). Default 300. */
  ops?: number;
  /** Longest a slice keeps the thread, ms. Default 2. */
  sliceMs?: number;
  /** Pause between slices, ms. Default 1: the thread is free again at once, and a slice is short. */
  gapMs?: number;
  /** A slice waits until no real signature was made or checked for this long, ms. Default 50. */
  quietMs?: number;
}

export interface WarmUp {
  /** Resolves when the warm-up has run all its ops, or was stopped (with the ops done). */
  readonly done: Promise<{ kind: SignerKind; ops: number }>;
  /** Ops done so far. */
  progress(): number;
  stop(): void;
}

let warmUp: WarmUp | null = null;

/**
 * Gets the signer ready in the background: loads nostr-wasm at once (unless the JS code is chosen),
 * then signs and checks throwaway events in slices of `sliceMs` until
 * `ops` are done, so the engine's JIT (and the wasm tiers) have compiled the code before traffic
 * does it mid-burst. A slice starts only when no real signature was made or checked for `quietMs`,
 * so it never runs between a job's steps; the ops count as no demand. Idempotent: a second call
 * returns the warm-up under way (or done). The timers are unref'd: they never keep the process up.
 */
export function warmUpSigner(opts: WarmUpOptions = {}): WarmUp {
  if (warmUp) return warmUp;
  const ops = opts.ops ?? 300;
  const sliceMs = opts.sliceMs ?? 2;
  const gapMs = opts.gapMs ?? 1;
  const quietMs = opts.quietMs ?? 50;
  let stopped = false;
  let n = 0;
  const realAtStart = realOps;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
      (timer as { unref?: () => void }).unref?.();
    });
  const quiet = async () => {
    for (let idle = performance.now() - lastRealOpAt; !stopped && idle < quietMs; idle = performance.now() - lastRealOpAt) await sleep(quietMs - idle + 1);
  };
  const done = (async () => {
    // The load itself goes first, traffic or not: its compile runs on the engine's helper threads,
    // and every job after it signs in wasm (a burst right after going online would otherwise run
    // in JS until WASM_DEMAND_OPS, then pay for the load anyway).
    await sleep(0);
    if (!jsOnly) await initSigner();
    if (stopped) return { kind: signerKind(), ops: 0 };
    // A throwaway key and events shaped like a job's feedback (never published).
    const sk = new Uint8Array(32).fill(9);
    const tags = [["status", "processing"], ["e", "0".repeat(64)], ["p", "1".repeat(64)]];
    // Real signatures made meanwhile warm the same code: they count toward `ops`, so traffic that
    // arrives at once ends the warm-up early instead of paying for it on top.
    const left = () => !stopped && n + (realOps - realAtStart) < ops;
    while (left()) {
      await quiet();
      const t0 = performance.now();
      while (left() && performance.now() - t0 < sliceMs) {
        const e = sign({ kind: 7000, created_at: 1_700_000_000 + n, tags, content: "" }, sk);
        // A plain copy: the signed event carries nostr-tools' verified mark, which would skip the check.
        if (!verify({ id: e.id, pubkey: e.pubkey, sig: e.sig, kind: e.kind, created_at: e.created_at, tags: e.tags, content: e.content } as Event)) {
          log.warn("signer warm-up: a fresh signature did not verify");
          return { kind: signerKind(), ops: n };
        }
        n++;
      }
      await sleep(gapMs);
    }
    log.debug("signer warmed up", { kind: signerKind(), ops: n });
    return { kind: signerKind(), ops: n };
  })();
  warmUp = {
    done,
    progress: () => n,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
    },
  };
  return warmUp;
}
