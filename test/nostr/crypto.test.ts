import { describe, expect, test } from "bun:test";
import * as nip04 from "nostr-tools/nip04";
import * as nip44 from "nostr-tools/nip44";
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { AppError } from "../../src/errors.ts";
import { decryptFrom, detectScheme, encryptFor, NIP44_MAX_PLAINTEXT_BYTES, fitNip44 } from "../../src/nostr/crypto.ts";

const customerSk = generateSecretKey();
const customerPk = getPublicKey(customerSk);
const providerSk = generateSecretKey();
const providerPk = getPublicKey(providerSk);

describe("detectScheme", () => {
  test("recognises real NIP-04 and NIP-44 payloads", () => {
    expect(detectScheme(nip04.encrypt(customerSk, providerPk, "hello"))).toBe("nip04");
    const key = nip44.getConversationKey(customerSk, providerPk);
    expect(detectScheme(nip44.encrypt("hello", key))).toBe("nip44");
  });

  test("rejects things that are neither", () => {
    for (const s of ["", "hello world", "not base64!!", "abc?iv=", "?iv=abc", "a?iv=b?iv=c", "AAAAAAAA", "#AgAB"]) {
      expect(detectScheme(s)).toBeNull();
    }
    // Valid base64 whose first byte is 1, not the NIP-44 version 2.
    expect(detectScheme(btoa(String.fromCharCode(1) + "x".repeat(100)))).toBeNull();
    expect(detectScheme(btoa(String.fromCharCode(2) + "x".repeat(100)))).toBe("nip44");
  });
});

describe("round trips", () => {
  for (const scheme of ["nip04", "nip44"] as const) {
    test(`${scheme}: customer → provider → customer`, () => {
      const text = 'what is the capital of France? ünïcødé 🚀 "quotes"';
      const toProvider = encryptFor(scheme, customerSk, providerPk, text);
      expect(detectScheme(toProvider)).toBe(scheme);
      expect(decryptFrom(scheme, providerSk, customerPk, toProvider)).toBe(text);
      // and the customer's own library reads what we send back
      const back = encryptFor(scheme, providerSk, customerPk, "Paris");
      const read =
        scheme === "nip04"
          ? nip04.decrypt(customerSk, providerPk, back)
          : nip44.decrypt(back, nip44.getConversationKey(customerSk, providerPk));
      expect(read).toBe("Paris");
    });

    test(`${scheme}: a wrong key is a clear error, not a crash`, () => {
      const other = generateSecretKey();
      const payload = encryptFor(scheme, customerSk, providerPk, JSON.stringify([["i", "secret", "text"]]));
      let err: unknown;
      let out: string | undefined;
      try {
        out = decryptFrom(scheme, other, customerPk, payload);
      } catch (e) {
        err = e;
      }
      // NIP-04 has no MAC: a wrong key usually fails the padding, else yields garbage that is
      // certainly not the plaintext. NIP-44 always fails its MAC.
      if (scheme === "nip44") expect(err).toBeInstanceOf(AppError);
      if (err) expect((err as AppError).code).toBe("invalid_input");
      else expect(out).not.toBe(JSON.stringify([["i", "secret", "text"]]));
    });

    test(`${scheme}: garbage payload → AppError`, () => {
      const bad = scheme === "nip04" ? "AAAA?iv=AAAA" : "Ag" + "A".repeat(200);
      expect(() => decryptFrom(scheme, providerSk, customerPk, bad)).toThrow(AppError);
    });
  }

  test("a bad pubkey is refused", () => {
    expect(() => encryptFor("nip44", providerSk, "zz", "x")).toThrow(AppError);
    expect(() => decryptFrom("nip04", providerSk, customerPk.toUpperCase(), "AAAA?iv=AAAA")).toThrow(AppError);
  });

  test("NIP-44 length limits", () => {
    const max = "a".repeat(NIP44_MAX_PLAINTEXT_BYTES);
    const payload = encryptFor("nip44", providerSk, customerPk, max);
    expect(decryptFrom("nip44", customerSk, providerPk, payload)).toBe(max);
    expect(() => encryptFor("nip44", providerSk, customerPk, max + "a")).toThrow(/at most 65535 bytes/);
    // multi-byte characters count as bytes
    expect(() => encryptFor("nip44", providerSk, customerPk, "é".repeat(40_000))).toThrow(AppError);
    // empty text can't be NIP-44 encrypted; it becomes a single space instead of failing
    const empty = encryptFor("nip44", providerSk, customerPk, "");
    expect(decryptFrom("nip44", customerSk, providerPk, empty)).toBe(" ");
    expect(() => decryptFrom("nip44", customerSk, providerPk, "Ag" + "A".repeat(90_000))).toThrow(/too long/);
  });
});

describe("fitNip44", () => {
  const len = (t: string) => new TextEncoder().encode(t).length;
  test("short texts pass untouched; long ones are cut to at most 65,535 bytes between characters", () => {
    expect(fitNip44("hello")).toEqual({ text: "hello", truncated: false });
    const exact = "a".repeat(65_535);
    expect(fitNip44(exact)).toEqual({ text: exact, truncated: false });
    expect(fitNip44(exact + "b")).toEqual({ text: exact, truncated: true });
    // 2-, 3- and 4-byte characters straddling the limit: the cut backs up to a whole character.
    for (const ch of ["é", "€", "🙂"]) {
      const big = ch.repeat(40_000);
      const cut = fitNip44(big);
      expect(cut.truncated).toBe(true);
      expect(len(cut.text)).toBeLessThanOrEqual(65_535);
      expect(len(cut.text)).toBeGreaterThan(65_535 - len(ch));
      expect(big.startsWith(cut.text)).toBe(true);
      expect(cut.text).not.toContain("\uFFFD");
    }
  });
});
