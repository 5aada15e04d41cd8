import { describe, expect, test } from "bun:test";
import { secp256k1 } from "@noble/curves/secp256k1";
import fc from "fast-check";
import { AppError } from "../../src/errors.ts";
import { bech32Decode, bech32Encode, decodeBolt11, looksLikeBolt11, wordsToBytes } from "../../src/util/bolt11.ts";
import { bolt11Fields, randomSigner } from "../fixtures/bolt11-arb.ts";
import { bytesToWords, encodeBolt11 } from "../fixtures/bolt11-encode.ts";

// Published examples from BOLT #11 ("Examples" and "Examples of Invalid Invoices").
const COFFEE =
  "lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqpqsq67gye39hfg3zd8rgc80k32tvy9xk2xunwm5lzexnvpx6fd77en8qaq424dxgt56cag2dpt359k3ssyhetktkpqh24jqnjyw6uqd08sgptq44qu";
// "Same, but including fields which must be ignored": built from the spec's breakdown so each
// field's length is visible (an unknown field, a fallback, then p/h/s/n fields of wrong lengths).
const COFFEE_IGNORED_FIELDS =
  "lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqpqsq" +
  "2qrqqq" +
  "fppn" + "q".repeat(32) +
  "ppn" + "q".repeat(51) +
  "pp4" + "q".repeat(53) +
  "hpn" + "q".repeat(51) +
  "hp4" + "q".repeat(53) +
  "spn" + "q".repeat(51) +
  "sp4" + "q".repeat(53) +
  "np5" + "q".repeat(52) +
  "npk" + "q".repeat(54) +
  "2jxxfsnucm4jf4zwtznpaxphce606fvhvje5x7d4gw7n73994hgs7nteqvenq8a4ml8aqtchv5d9pf7l558889hp4yyrqv6a7zpq9fgp" +
  "skqhza";
const PICO =
  "lnbc9678785340p1pwmna7lpp5gc3xfm08u9qy06djf8dfflhugl6p7lgza6dsjxq454gxhj9t7a0sd8dgfkx7cmtwd68yetpd5s9xar0wfjn5gpc8qhrsdfq24f5ggrxdaezqsnvda3kkum5wfjkzmfqf3jkgem9wgsyuctwdus9xgrcyqcjcgpzgfskx6eqf9hzqnteypzxz7fzypfhg6trddjhygrcyqezcgpzfysywmm5ypxxjemgw3hxjmn8yptk7untd9hxwg3q2d6xjcmtv4ezq7pqxgsxzmnyyqcjqmt0wfjjq6t5v4khxxqyjw5qcqp2rzjq0gxwkzc8w6323m55m4jyxcjwmy7stt9hwkwe2qxmy8zpsgg7jcuwz87fcqqeuqqqyqqqqlgqqqqn3qq9qn07ytgrxxzad9hc4xt3mawjjt8znfv8xzscs7007v9gh9j569lencxa8xeujzkxs0uamak9aln6ez02uunw6rd2ht2sqe4hz8thcdagpleym0j";
const P2SH_FALLBACK =
  "lnbc20m1pvjluezhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqfppj3a24vwu6r8ejrss3axul8rxldph2q7z9kmrgvr7xlaqm47apw3d48zm203kzcq357a4ls9al2ea73r8jcceyjtya6fu5wzzpe50zrge6ulk4nvjcpxlekvmxl6qcs9j3tz0469gq5g658y";
const SPEC_HASH = "0001020304050607080900010203040506070809000102030405060708090102";

const INVALID: [string, string][] = [
  [
    "bad checksum",
    "lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrnt",
  ],
  [
    "no separator",
    "pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny",
  ],
  [
    "mixed case",
    "LNBC2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny",
  ],
  ["too short", "lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6na6hlh"],
  [
    "invalid multiplier",
    "lnbc2500x1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpujr6jxr9gq9pv6g46y7d20jfkegkg4gljz2ea2a3m9lmvvr95tq2s0kvu70u3axgelz3kyvtp2ywwt0y8hkx2869zq5dll9nelr83zzqqpgl2zg",
  ],
  [
    "sub-millisatoshi amount",
    "lnbc2500000001p1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpu7hqtk93pkf7sw55rdv4k9z2vj050rxdr6za9ekfs3nlt5lr89jqpdmxsmlj9urqumg0h9wzpqecw7th56tdms40p2ny9q4ddvjsedzcplva53s",
  ],
];

describe("decodeBolt11 on the BOLT #11 examples", () => {
  test("coffee beans: amount, hash, secret, description, default expiry", () => {
    const d = decodeBolt11(COFFEE);
    expect(d.network).toBe("mainnet");
    expect(d.amountMsats).toBe(2_500_000_000); // 25 mBTC
    expect(d.timestamp).toBe(1496314658);
    expect(d.paymentHash).toBe(SPEC_HASH);
    expect(d.paymentSecret).toBe("11".repeat(32));
    expect(d.description).toBe("coffee beans");
    expect(d.expirySecs).toBe(3600);
    expect(d.expiresAt).toBe((1496314658 + 3600) * 1000);
  });

  test("upper case and the lightning: prefix decode the same", () => {
    expect(decodeBolt11(COFFEE.toUpperCase()).paymentHash).toBe(SPEC_HASH);
    expect(decodeBolt11("lightning:" + COFFEE).description).toBe("coffee beans");
  });

  test("fields of the wrong length are skipped, the first valid ones win", () => {
    const d = decodeBolt11(COFFEE_IGNORED_FIELDS);
    expect(d.paymentHash).toBe(SPEC_HASH);
    expect(d.paymentSecret).toBe("11".repeat(32));
    expect(d.payeePubkey).toBeNull();
    expect(d.descriptionHash).toBeNull();
  });

  test("pico-BTC amount, expiry and min_final_cltv_expiry", () => {
    const d = decodeBolt11(PICO);
    expect(d.amountMsats).toBe(967_878_534);
    expect(d.timestamp).toBe(1572468703);
    expect(d.paymentHash).toBe("462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f");
    expect(d.expirySecs).toBe(604800);
    expect(d.minFinalCltvExpiry).toBe(10);
    expect(d.description).toStartWith("Blockstream Store: 88.85 USD");
  });

  test("signing hash and signature match the published breakdown", () => {
    const d = decodeBolt11(P2SH_FALLBACK);
    expect(d.signingHash).toBe("64f1ff500bcc62a1b211cd6db84a1d93d1f77c6a132904465b6ff912420176be");
    expect(d.signature).toBe(
      "b6c6860fc6ff41bafba1745b538b6a7c6c2c0234f76bf817bf567be88cf2c632492c9dd279470841cd1e21a33ae7ed59b25809bf9b3366fe81881651589f5d15" + "00",
    );
    expect(d.descriptionHash).toBe("3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1");
    expect(d.description).toBeNull();
  });

  for (const [name, invoice] of INVALID) {
    test(`rejects: ${name}`, () => {
      expect(() => decodeBolt11(invoice)).toThrow(AppError);
    });
  }

  test("rejects unknown prefixes and plain text", () => {
    expect(() => decodeBolt11(bech32Encode("lnxy", new Array(120).fill(0)))).toThrow(/prefix/);
    expect(() => decodeBolt11("hello")).toThrow(AppError);
  });
});

describe("encodeBolt11", () => {
  const key = secp256k1.utils.randomPrivateKey();
  const pub = Buffer.from(secp256k1.getPublicKey(key, true)).toString("hex");
  const signer = (digest: Uint8Array) => {
    const sig = secp256k1.sign(digest, key);
    return { signature: sig.toCompactRawBytes(), recovery: sig.recovery };
  };
  const base = { timestamp: 1_700_000_000, paymentHash: "ab".repeat(32), paymentSecret: "cd".repeat(32) };

  test("round-trips every field and amount multiplier", () => {
    for (const amountMsats of [1, 10, 999, 1000, 10_000, 123_456_789, 100_000_000_000, 2_100_000_000_000]) {
      const inv = encodeBolt11({ ...base, network: "regtest", amountMsats, description: "job ü", expirySecs: 600, minFinalCltvExpiry: 40 }, signer);
      expect(inv.startsWith("lnbcrt")).toBe(true);
      const d = decodeBolt11(inv);
      expect(d.amountMsats).toBe(amountMsats);
      expect(d.network).toBe("regtest");
      expect(d.paymentHash).toBe(base.paymentHash);
      expect(d.paymentSecret).toBe(base.paymentSecret);
      expect(d.description).toBe("job ü");
      expect(d.expirySecs).toBe(600);
      expect(d.minFinalCltvExpiry).toBe(40);
      expect(d.expiresAt).toBe((base.timestamp + 600) * 1000);
    }
  });

  test("the signature recovers the signing key over the signing hash", () => {
    const d = decodeBolt11(encodeBolt11({ ...base, network: "mainnet", description: "x" }, signer));
    expect(d.amountMsats).toBeNull();
    const sig = secp256k1.Signature.fromCompact(d.signature.slice(0, 128)).addRecoveryBit(parseInt(d.signature.slice(128), 16));
    const recovered = sig.recoverPublicKey(Buffer.from(d.signingHash, "hex")).toHex(true);
    expect(recovered).toBe(pub);
  });

  test("description hash and payee fields", () => {
    const d = decodeBolt11(encodeBolt11({ ...base, network: "signet", descriptionHash: "ef".repeat(32), payeePubkey: pub }, signer));
    expect(d.network).toBe("signet");
    expect(d.descriptionHash).toBe("ef".repeat(32));
    expect(d.description).toBeNull();
    expect(d.payeePubkey).toBe(pub);
  });

  test("bad fields are rejected", () => {
    expect(() => encodeBolt11({ ...base, network: "regtest", paymentHash: "zz" }, signer)).toThrow(AppError);
    expect(() => encodeBolt11({ ...base, network: "regtest", amountMsats: 1.5 }, signer)).toThrow(AppError);
    expect(() => encodeBolt11({ ...base, network: "regtest" }, () => ({ signature: new Uint8Array(10), recovery: 0 }))).toThrow(AppError);
  });

  test("looksLikeBolt11 tells invoices from addresses", () => {
    expect(looksLikeBolt11(COFFEE)).toBe(true);
    expect(looksLikeBolt11("LIGHTNING:" + COFFEE.toUpperCase())).toBe(true);
    expect(looksLikeBolt11("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")).toBe(false);
    expect(looksLikeBolt11("alice@example.com")).toBe(false);
  });
});

describe("bech32", () => {
  test("BIP-173 valid strings decode; a flipped character fails the checksum", () => {
    for (const s of ["A12UEL5L", "a12uel5l", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w"]) {
      const { hrp, words } = bech32Decode(s);
      expect(bech32Encode(hrp, words)).toBe(s.toLowerCase());
    }
    expect(() => bech32Decode("split1checkupstagehandshakeupstreamerranterredcaperred2y9e2w")).toThrow(/checksum/);
  });

  test("an LNURL longer than BIP-173's 90 characters decodes to its URL, upper case too", () => {
    const url = "https://pay.example.com/.well-known/lnurlp/alice?amount=1000&comment=for+the+jobs";
    const lnurl = bech32Encode("lnurl", bytesToWords(new TextEncoder().encode(url)));
    expect(lnurl.length).toBeGreaterThan(90);
    for (const s of [lnurl, lnurl.toUpperCase()]) {
      const { hrp, words } = bech32Decode(s);
      expect(hrp).toBe("lnurl");
      expect(new TextDecoder().decode(wordsToBytes(words, false))).toBe(url);
    }
    expect(() => bech32Decode(lnurl.slice(0, 10) + lnurl.slice(10).toUpperCase())).toThrow(/Mixed-case/);
  });

  test("bytes ↔ words", () => {
    const bytes = Uint8Array.from([0, 1, 2, 250, 255, 128, 7]);
    expect([...wordsToBytes(bytesToWords(bytes), false)]).toEqual([...bytes]);
  });
});

describe("decodeBolt11 on top of light-bolt11-decoder", () => {
  const words = (n: number) => new Array<number>(n).fill(0);

  test("a field whose declared length runs past the data is rejected, not read into the signature", () => {
    // timestamp, then a d field that claims 40 words but only 10 follow, then the signature.
    const truncated = bech32Encode("lnbcrt", [...words(7), 13, 1, 8, ...words(10), ...words(104)]);
    expect(() => decodeBolt11(truncated)).toThrow(/Truncated/);
  });

  test("a p field of the wrong length alone leaves no payment hash", () => {
    const inv = bech32Encode("lnbc", [...words(7), 1, 1, 19, ...words(51), ...words(104)]);
    expect(() => decodeBolt11(inv)).toThrow(/no payment hash/);
  });

  test("a leading zero in the amount is rejected", () => {
    const inv = bech32Encode("lnbc025m", [...words(7), 1, 1, 20, ...words(52), ...words(104)]);
    expect(() => decodeBolt11(inv)).toThrow(AppError);
  });

  test("any bech32 string with an invoice prefix decodes or fails with AppError, never another error", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("lnbc", "lntb", "lntbs", "lnbcrt", "lnbc10u", "lnbc1p", "lnsb"),
        fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 0, maxLength: 400 }),
        (hrp, data) => {
          const inv = bech32Encode(hrp, data);
          try {
            const d = decodeBolt11(inv);
            expect(d.paymentHash).toMatch(/^[0-9a-f]{64}$/);
          } catch (err) {
            expect(err).toBeInstanceOf(AppError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test("random fields made by the test encoder read back the same", () => {
    const signer = randomSigner();
    fc.assert(
      fc.property(
        bolt11Fields(fc.string({ maxLength: 200 })),
        (f) => {
          const d = decodeBolt11(encodeBolt11(f, signer));
          expect([d.network, d.amountMsats, d.timestamp, d.paymentHash, d.paymentSecret, d.description, d.expirySecs]).toEqual([
            f.network, f.amountMsats, f.timestamp, f.paymentHash, f.paymentSecret, f.description, f.expirySecs,
          ]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
