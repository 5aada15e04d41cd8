import { describe, expect, test } from "bun:test";
import { generateMnemonic as libGenerate, validateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { AppError } from "../../src/errors.ts";
import { generateMnemonic, normalizeMnemonic, parseMnemonic, suggestWords } from "../../src/identity/mnemonic.ts";
import { appError as errorOf } from "../fixtures/common.ts";

function isValidMnemonic(input: string): boolean {
  try {
    parseMnemonic(input);
    return true;
  } catch {
    return false;
  }
}

const LEADER = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const WHAT =
  "what bleak badge arrange retreat wolf trade produce cricket blur garlic valid proud rude strong choose busy staff weather area salt hollow arm fade";


describe("generateMnemonic", () => {
  test("12 and 24 words, valid per the library, different every time", () => {
    const a = generateMnemonic(12);
    const b = generateMnemonic(12);
    const c = generateMnemonic(24);
    expect(a.split(" ")).toHaveLength(12);
    expect(c.split(" ")).toHaveLength(24);
    expect(a).not.toBe(b);
    for (const m of [a, b, c]) {
      expect(validateMnemonic(m, wordlist)).toBe(true);
      expect(parseMnemonic(m)).toBe(m);
    }
    expect(generateMnemonic().split(" ")).toHaveLength(12);
  });

  test("other sizes are refused", () => {
    expect(errorOf(() => generateMnemonic(15 as 12)).code).toBe("invalid_input");
  });
});

describe("normalizeMnemonic / parseMnemonic", () => {
  test("trims, lowercases, collapses any whitespace, NFKD", () => {
    const messy = `  Leader\tMONKEY\n\nparrot\u00a0ring  guide accident before fence cannon height naive bean \n`;
    expect(normalizeMnemonic(messy)).toBe(LEADER);
    expect(parseMnemonic(messy)).toBe(LEADER);
    // Fullwidth letters fold to ASCII under NFKD.
    expect(normalizeMnemonic("\uff4c\uff45\uff41\uff44\uff45\uff52")).toBe("leader");
  });

  test("wrong word count names the count", () => {
    const e = errorOf(() => parseMnemonic(LEADER.split(" ").slice(0, 11).join(" ")));
    expect(e.code).toBe("invalid_input");
    expect(e.message).toContain("12, 15, 18, 21 or 24 words; this one has 11");
    expect(e.data).toMatchObject({ reason: "word_count", wordCount: 11 });
    expect(errorOf(() => parseMnemonic("")).message).toContain("this one has 0");
    expect(errorOf(() => parseMnemonic(`${LEADER} bean`)).message).toContain("this one has 13");
  });

  test("unknown word: its position, itself, and close suggestions", () => {
    const words = "abandon abandon abandon abandonn abandon abandon abandon abandon abandon abandon abandon about".split(" ");
    const e = errorOf(() => parseMnemonic(words.join(" ")));
    expect(e.code).toBe("invalid_input");
    expect(e.message).toContain("Word 4, 'abandonn', is not in the BIP39 English list");
    expect(e.message).toContain("'abandon'");
    expect(e.data).toMatchObject({ reason: "unknown_word", position: 4, word: "abandonn" });
    expect((e.data.suggestions as string[]).length).toBeLessThanOrEqual(3);
    expect((e.data.suggestions as string[])[0]).toBe("abandon");
  });

  test("the first unknown word is the one reported", () => {
    const words = LEADER.split(" ");
    words[6] = "befor";
    words[9] = "hieght";
    const e = errorOf(() => parseMnemonic(words.join(" ")));
    expect(e.data).toMatchObject({ position: 7, word: "befor" });
    expect(e.data.suggestions).toContain("before");
  });

  test("valid words, bad checksum", () => {
    const swapped = LEADER.split(" ");
    [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
    const e = errorOf(() => parseMnemonic(swapped.join(" ")));
    expect(e.code).toBe("invalid_input");
    expect(e.message).toContain("checksum does not match");
    expect(e.data).toMatchObject({ reason: "checksum" });
    expect(isValidMnemonic(swapped.join(" "))).toBe(false);
    expect(isValidMnemonic(LEADER)).toBe(true);
    expect(isValidMnemonic(WHAT)).toBe(true);
  });

  test("agrees with the library on many random phrases and mutations", () => {
    for (let i = 0; i < 200; i++) {
      const m = generateMnemonic(i % 2 ? 12 : 24).split(" ");
      // Replace one word with a random valid word: the library and we must agree on validity.
      const j = i % m.length;
      m[j] = wordlist[(i * 7919) % 2048]!;
      const phrase = m.join(" ");
      expect(isValidMnemonic(phrase)).toBe(validateMnemonic(phrase, wordlist));
    }
  });

  test("15, 18 and 21 word phrases are accepted", () => {
    for (const words of [15, 18, 21]) {
      const phrase = libGenerate(wordlist, (words / 3) * 32); // ENT = words · 32/3 bits
      expect(parseMnemonic(phrase).split(" ")).toHaveLength(words);
    }
  });

  test("non-strings are refused cleanly", () => {
    expect(errorOf(() => parseMnemonic(42 as unknown as string)).code).toBe("invalid_input");
  });
});

describe("suggestWords", () => {
  test("prefix matches first, in list order, limited", () => {
    expect(suggestWords("aban")).toEqual(["abandon"]);
    const ab = suggestWords("ab", 5);
    expect(ab).toHaveLength(5);
    for (const w of ab) expect(w.startsWith("ab")).toBe(true);
    expect(suggestWords("zoo", 10)).toEqual(["zoo"]);
  });

  test("typos get near words", () => {
    expect(suggestWords("abandonn", 3)).toContain("abandon");
    expect(suggestWords("hieght", 3)).toContain("height"); // swapped letters
    expect(suggestWords("monkee", 3)).toContain("monkey");
    expect(suggestWords("parot", 3)).toContain("parrot");
  });

  test("first four letters identify a BIP39 word", () => {
    expect(suggestWords("leadxyz", 3)).toContain("leader");
  });

  test("nothing for empty or hopeless input", () => {
    expect(suggestWords("")).toEqual([]);
    expect(suggestWords("   ")).toEqual([]);
    expect(suggestWords("qqqqqqqq")).toEqual([]);
    expect(suggestWords("ab", 0)).toEqual([]);
  });

  test("case and spacing don't matter", () => {
    expect(suggestWords("  ABAN ")).toEqual(["abandon"]);
  });
});
