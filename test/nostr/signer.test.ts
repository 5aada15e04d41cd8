import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { finalizeEvent, generateSecretKey, getPublicKey, verifyEvent as jsVerify, type Event } from "nostr-tools/pure";
import { NostrEvent } from "../../src/nostr/nip90.ts";
import { loadSecp256k1 } from "../../src/nostr/secp256k1-wasm.ts";
import { WASM_DEMAND_OPS, forgetSigningKeys, hasEventShape, initSigner, resetSigner, signEvent, signerKind, signerReady, verifyEvent } from "../../src/nostr/signer.ts";

const sk = generateSecretKey();
const pk = getPublicKey(sk);
const template = (content = "hello") => ({ kind: 7000, created_at: 1_750_000_000, tags: [["status", "processing"], ["e", "a".repeat(64)], ["p", "b".repeat(64)]], content });
/** A copy as it would arrive from a relay: no cached verification flag. */
const wire = (e: Event): Event => JSON.parse(JSON.stringify(e));

afterAll(() => resetSigner());

for (const kind of ["wasm", "js"] as const) {
  describe(`signer (${kind})`, () => {
    beforeEach(async () => {
      resetSigner();
      expect(await initSigner({ wasm: kind === "wasm" })).toBe(kind);
      expect(signerKind()).toBe(kind);
    });

    test("signs events that nostr-tools verifies, without touching the template", () => {
      const t = template("ünïcödé \u0001 \"quoted\" ✓");
      const before = JSON.stringify(t);
      const e = signEvent(t, sk);
      expect(JSON.stringify(t)).toBe(before);
      expect(e.pubkey).toBe(pk);
      expect(e.id).toMatch(/^[0-9a-f]{64}$/);
      expect(e.sig).toMatch(/^[0-9a-f]{128}$/);
      expect(jsVerify(wire(e))).toBe(true);
      // Signed here: already known good, and valid for a fresh check too.
      expect(verifyEvent(e)).toBe(true);
      expect(verifyEvent(wire(e))).toBe(true);
    });

    test("verifies what nostr-tools signed and rejects every kind of tampering", () => {
      const good = finalizeEvent(template(), generateSecretKey());
      expect(verifyEvent(wire(good))).toBe(true);
      const bad: Array<[string, Partial<Event>]> = [
        ["changed content", { content: "hullo" }],
        ["changed tags", { tags: [["status", "success"]] }],
        ["changed kind", { kind: 7001 }],
        ["changed time", { created_at: good.created_at + 1 }],
        ["other pubkey", { pubkey: pk }],
        ["zeroed sig", { sig: "0".repeat(128) }],
        ["flipped sig bit", { sig: (good.sig[0] === "0" ? "1" : "0") + good.sig.slice(1) }],
        ["other id", { id: "f".repeat(64) }],
        // nostr-wasm skips its id comparison for a short id: the shape check must catch it.
        ["empty id", { id: "" }],
        ["short id", { id: good.id.slice(0, 62) }],
        ["upper-case hex", { id: good.id.toUpperCase() }],
        ["non-hex sig", { sig: "zz" + good.sig.slice(2) }],
      ];
      for (const [what, patch] of bad) {
        expect({ what, ok: verifyEvent({ ...wire(good), ...patch } as Event) }).toEqual({ what, ok: false });
      }
      for (const junk of [null, 42, "event", [], {}, { ...wire(good), tags: [[1]] }, { ...wire(good), content: null }]) {
        expect(verifyEvent(junk as unknown as Event)).toBe(false);
      }
    });

    test("events larger than nostr-wasm's own memory (1 MiB) sign and verify", () => {
      const e = signEvent(template("x".repeat(1_200_000)), sk);
      expect(jsVerify(wire(e))).toBe(true);
      expect(verifyEvent(wire(e))).toBe(true);
      expect(verifyEvent({ ...wire(e), content: "y".repeat(1_200_000) })).toBe(false);
      const other = finalizeEvent(template("z".repeat(2_000_000)), generateSecretKey());
      expect(verifyEvent(wire(other))).toBe(true);
    });

    test("signs with the right key when several keys take turns, and after the kept keys are forgotten", () => {
      const keys = [generateSecretKey(), generateSecretKey(), generateSecretKey()];
      for (const i of [0, 1, 0, 2, 0, 1, 2, 2, 1]) {
        const e = signEvent(template(`key ${i}`), keys[i]!);
        expect(e.pubkey).toBe(getPublicKey(keys[i]!));
        expect(jsVerify(wire(e))).toBe(true);
        if (i === 2) forgetSigningKeys();
      }
    });

    test("an invalid secret key (zero, or not below the curve order) is refused", () => {
      expect(() => signEvent(template(), new Uint8Array(32))).toThrow();
      expect(() => signEvent(template(), new Uint8Array(32).fill(0xff))).toThrow();
      // The refusal leaves nothing behind: the next signature is good.
      expect(jsVerify(wire(signEvent(template(), sk)))).toBe(true);
    });

    test("refuses to sign a malformed template or with a bad key", () => {
      expect(() => signEvent({ ...template(), kind: 1.5 }, sk)).toThrow();
      expect(() => signEvent({ ...template(), kind: 70_000 }, sk)).toThrow();
      expect(() => signEvent({ ...template(), created_at: -1 }, sk)).toThrow();
      expect(() => signEvent({ ...template(), content: 5 as unknown as string }, sk)).toThrow();
      expect(() => signEvent({ ...template(), tags: [["a", 1 as unknown as string]] }, sk)).toThrow();
      expect(() => signEvent(template(), new Uint8Array(31))).toThrow();
    });
  });
}

describe("initSigner", () => {
  beforeEach(() => resetSigner());

  test("a module that fails to load leaves the pure-JS code in place", async () => {
    expect(await initSigner({ load: async () => Promise.reject(new Error("no wasm here")) })).toBe("js");
    expect(verifyEvent(wire(signEvent(template(), sk)))).toBe(true);
  });

  test("a module that signs wrongly fails its self-test and is not used", async () => {
    const real = await loadSecp256k1();
    const broken = {
      ...real,
      key(secretKey: Uint8Array) {
        const k = real.key(secretKey);
        return { pubkey: k.pubkey, sign: (msg: Uint8Array) => k.sign(msg).fill(0) };
      },
    };
    expect(await initSigner({ load: async () => broken })).toBe("js");
    const lenient = { ...real, verify: () => true };
    resetSigner();
    expect(await initSigner({ load: async () => lenient })).toBe("js");
    const strict = { ...real, verify: () => false };
    resetSigner();
    expect(await initSigner({ load: async () => strict })).toBe("js");
  });

  test("COMPUTE_NOSTR_WASM=0 keeps the pure-JS code; concurrent calls share one load", async () => {
    process.env.COMPUTE_NOSTR_WASM = "0";
    try {
      expect(await initSigner()).toBe("js");
    } finally {
      delete process.env.COMPUTE_NOSTR_WASM;
    }
    let loads = 0;
    const load = async () => {
      loads++;
      return loadSecp256k1();
    };
    expect(await Promise.all([initSigner({ load }), initSigner({ load }), initSigner({ load })])).toEqual(["wasm", "wasm", "wasm"]);
    expect(loads).toBe(1);
  });
});

describe("nostr-wasm on demand", () => {
  beforeEach(() => resetSigner());

  test("an idle signer stays in pure JS; a burst of signatures and checks loads nostr-wasm", async () => {
    const signed = signEvent(template("one"), sk);
    for (let i = 2; i < WASM_DEMAND_OPS; i++) expect(verifyEvent(wire(signed))).toBe(true);
    expect(await signerReady()).toBe("js");
    expect(signerKind()).toBe("js");
    // The operation that crosses the threshold starts the load; it answers in JS meanwhile.
    expect(verifyEvent(wire(signed))).toBe(true);
    expect(await signerReady()).toBe("wasm");
    const after = signEvent(template("two"), sk);
    expect(jsVerify(wire(after))).toBe(true);
  });

  test("checks answered from the cache are not demand; COMPUTE_NOSTR_WASM=0 and initSigner({wasm:false}) pin pure JS", async () => {
    const signed = signEvent(template("cached"), sk);
    for (let i = 0; i < WASM_DEMAND_OPS * 2; i++) verifyEvent(signed);
    expect(await signerReady()).toBe("js");
    await initSigner({ wasm: false });
    for (let i = 0; i < WASM_DEMAND_OPS * 2; i++) verifyEvent(wire(signed));
    expect(await signerReady()).toBe("js");
    process.env.COMPUTE_NOSTR_WASM = "0";
    try {
      resetSigner();
      for (let i = 0; i < WASM_DEMAND_OPS * 2; i++) verifyEvent(wire(signed));
      expect(await signerReady()).toBe("js");
    } finally {
      delete process.env.COMPUTE_NOSTR_WASM;
    }
  });
});

describe("hasEventShape", () => {
  const good = wire(finalizeEvent(template(), sk));
  const value = fc.oneof(
    fc.constant(undefined),
    fc.constant(null),
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.string({ unit: fc.constantFrom(..."0123456789abcdefA"), minLength: 0, maxLength: 130 }),
    fc.constantFrom(good.id, good.pubkey, good.sig, good.id.toUpperCase(), -1, 65535, 65536, 2 ** 53, 1.5),
    fc.array(fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }), { maxLength: 3 }),
  );
  const field = fc.constantFrom("id", "pubkey", "sig", "kind", "created_at", "tags", "content", "extra");

  test("agrees with nip90's NostrEvent zod schema on valid events with one field changed or dropped", () => {
    fc.assert(
      fc.property(field, value, fc.boolean(), (key, v, drop) => {
        const input: Record<string, unknown> = { ...good };
        if (drop) delete input[key];
        else input[key] = v;
        expect(hasEventShape(input)).toBe(NostrEvent.safeParse(input).success);
      }),
      { numRuns: 3000 },
    );
  });

  test("agrees on arbitrary values", () => {
    fc.assert(
      fc.property(fc.anything(), (v) => {
        expect(hasEventShape(v)).toBe(NostrEvent.safeParse(v).success);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("the wasm binding's kept keys", () => {
  test("a signing key held past forgetKeys or its eviction refuses to sign instead of signing with the key that took its slot", async () => {
    const { schnorr } = await import("@noble/curves/secp256k1.js");
    const b = await loadSecp256k1();
    const [k1, k2, k3] = [generateSecretKey(), generateSecretKey(), generateSecretKey()];
    const msg = new Uint8Array(32).fill(5);
    const held = b.key(k1);
    expect(schnorr.verify(held.sign(msg), msg, Buffer.from(held.pubkey, "hex"))).toBe(true);
    // Two other keys push k1 out of the two kept slots; its old handle must not sign with k3's keypair.
    b.key(k2);
    b.key(k3);
    expect(() => held.sign(msg)).toThrow();
    const again = b.key(k1);
    expect(schnorr.verify(again.sign(msg), msg, Buffer.from(getPublicKey(k1), "hex"))).toBe(true);
    b.forgetKeys();
    expect(() => again.sign(msg)).toThrow();
  });
});
