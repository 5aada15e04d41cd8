import { describe, expect, test } from "bun:test";
import { inspect } from "node:util";
import { privateKeyFromSeedWords } from "nostr-tools/nip06";
import { decode } from "nostr-tools/nip19";
import { getPublicKey } from "nostr-tools/pure";
import { AppError } from "../../src/errors.ts";
import { NOSTR_DERIVATION_PATH, UnifiedIdentity } from "../../src/identity/identity.ts";
import { generateMnemonic } from "../../src/identity/mnemonic.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// NIP-06 test vectors (nostr-protocol/nips 06.md).
const VECTORS = [
  {
    mnemonic: "leader monkey parrot ring guide accident before fence cannon height naive bean",
    secret: "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a",
    npub: "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu",
  },
  {
    mnemonic:
      "what bleak badge arrange retreat wolf trade produce cricket blur garlic valid proud rude strong choose busy staff weather area salt hollow arm fade",
    secret: "c15d739894c81a2fcfd3a2df85a0d2c0dbc47a280d092799f144d73d7ae78add",
    npub: "npub16sdj9zv4f8sl85e45vgq9n7nsgt5qphpvmf7vk8r5hhvmdjxx4es8rq74h",
  },
];

describe("UnifiedIdentity", () => {
  test("derives on the NIP-06 path", () => {
    expect(NOSTR_DERIVATION_PATH).toBe("m/44'/1237'/0'/0/0");
  });

  test("the derivation warm-up (run while the vault's KDF runs) keeps nothing: the derivations after it give the NIP-06 vectors", async () => {
    UnifiedIdentity.warmUpDerivation();
    for (const v of VECTORS) {
      const id = await UnifiedIdentity.fromMnemonic(v.mnemonic);
      expect(hex(id.secretKey())).toBe(v.secret);
      expect(id.npub).toBe(v.npub);
    }
  });

  for (const v of VECTORS) {
    test(`NIP-06 vector ${v.npub.slice(0, 12)}…`, async () => {
      const id = await UnifiedIdentity.fromMnemonic(v.mnemonic);
      expect(hex(id.secretKey())).toBe(v.secret);
      expect(id.npub).toBe(v.npub);
      expect(id.pubkey).toBe(getPublicKey(id.secretKey()));
      expect(decode(id.npub)).toEqual({ type: "npub", data: id.pubkey });
      const nsec = decode(id.nsec());
      expect(nsec.type).toBe("nsec");
      expect(hex(nsec.data as Uint8Array)).toBe(v.secret);
      // The synchronous path agrees.
      const sync = UnifiedIdentity.fromMnemonicSync(v.mnemonic);
      expect(hex(sync.secretKey())).toBe(v.secret);
    });
  }

  test("agrees with nostr-tools' nip06 on random phrases, with and without passphrase", async () => {
    for (const [i, passphrase] of ["", "correct horse", "ünïcödé pässphrase"].entries()) {
      const mnemonic = generateMnemonic(i % 2 ? 24 : 12);
      const id = await UnifiedIdentity.fromMnemonic(mnemonic, passphrase);
      expect(hex(id.secretKey())).toBe(hex(privateKeyFromSeedWords(mnemonic, passphrase)));
    }
  });

  test("the passphrase changes the key", async () => {
    const m = VECTORS[0]!.mnemonic;
    const a = await UnifiedIdentity.fromMnemonic(m, "");
    const b = await UnifiedIdentity.fromMnemonic(m, "x");
    expect(a.pubkey).not.toBe(b.pubkey);
  });

  test("messy input is normalized; walletSeed hands over the canonical phrase and passphrase", async () => {
    const messy = "  LEADER monkey\tparrot ring guide accident before fence cannon height naive bean\n";
    const id = await UnifiedIdentity.fromMnemonic(messy, "pass phrase");
    expect(id.walletSeed()).toEqual({ mnemonic: VECTORS[0]!.mnemonic, passphrase: "pass phrase" });
  });

  test("invalid phrases are refused with the mnemonic module's precise error", async () => {
    const bad = VECTORS[0]!.mnemonic.replace("parrot", "parot");
    const err = await UnifiedIdentity.fromMnemonic(bad).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe("invalid_input");
    expect(err.message).toContain("Word 3, 'parot'");
    expect(() => UnifiedIdentity.fromMnemonicSync("one two three")).toThrow(AppError);
  });

  test("never shows secrets through JSON, inspect, string conversion or enumeration", async () => {
    const v = VECTORS[0]!;
    const id = await UnifiedIdentity.fromMnemonic(v.mnemonic, "hunter2hunter2");
    const nsec = id.nsec();
    const shown = [
      JSON.stringify(id),
      JSON.stringify({ nested: { id } }),
      inspect(id),
      inspect(id, { showHidden: true, depth: 10 }),
      Bun.inspect(id),
      String(id),
      `${id}`,
      JSON.stringify(Object.entries(id)),
      JSON.stringify({ ...id }),
    ];
    for (const s of shown) {
      expect(s).not.toContain("leader");
      expect(s).not.toContain("monkey");
      expect(s).not.toContain("hunter2");
      expect(s).not.toContain(nsec);
      expect(s).not.toContain(v.secret);
    }
    expect(JSON.parse(JSON.stringify(id))).toEqual({ npub: id.npub });
    expect(inspect(id)).toContain(id.npub);
  });

  test("secretKey returns a copy; wipe zeroes the held key", async () => {
    const id = await UnifiedIdentity.fromMnemonic(VECTORS[0]!.mnemonic);
    const copy = id.secretKey();
    copy.fill(0);
    expect(hex(id.secretKey())).toBe(VECTORS[0]!.secret);
    id.wipe();
    expect(id.secretKey().every((b) => b === 0)).toBe(true);
  });

  test("a non-string or absurd passphrase is refused", async () => {
    const m = VECTORS[0]!.mnemonic;
    await expect(UnifiedIdentity.fromMnemonic(m, 5 as unknown as string)).rejects.toThrow(AppError);
    await expect(UnifiedIdentity.fromMnemonic(m, "x".repeat(2000))).rejects.toThrow("longer than 1024");
  });
});
