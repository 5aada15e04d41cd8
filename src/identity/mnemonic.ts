// BIP39 seed phrases: generate, normalize, validate with errors a person can act on, and suggest
// words while typing. The English wordlist is the only one we accept: it is what every Nostr and
// Lightning wallet shows, and the Breez SDK restores from the same phrase.
import { entropyToMnemonic, generateMnemonic as bip39Generate } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { createHash } from "node:crypto";
import { AppError } from "../errors.ts";

/** BIP39 allows 128–256 bits of entropy in 32-bit steps: 12, 15, 18, 21 or 24 words. */
export const VALID_WORD_COUNTS = [12, 15, 18, 21, 24] as const;

const WORD_INDEX = new Map<string, number>(wordlist.map((w, i) => [w, i]));

/** A new phrase from the CSPRNG: 12 words (128 bits) or 24 words (256 bits). */
export function generateMnemonic(words: 12 | 24 = 12): string {
  if (words !== 12 && words !== 24) throw new AppError("invalid_input", "A new seed phrase has 12 or 24 words.");
  return bip39Generate(wordlist, words === 12 ? 128 : 256);
}

/**
 * The canonical form of what a person typed or pasted: NFKD (BIP39 hashes the NFKD form),
 * lower case, words separated by one space, no leading/trailing blanks. Pasted phrases often
 * carry newlines, numbering tabs or non-breaking spaces; all whitespace counts as a separator.
 */
export function normalizeMnemonic(input: string): string {
  return input.normalize("NFKD").toLowerCase().trim().split(/\s+/u).filter(Boolean).join(" ");
}

/**
 * Normalizes and validates a seed phrase; returns the canonical phrase or throws
 * AppError("invalid_input") saying exactly what is wrong (count, which word, or checksum).
 */
export function parseMnemonic(input: string): string {
  if (typeof input !== "string") throw new AppError("invalid_input", "The seed phrase must be text.");
  const phrase = normalizeMnemonic(input);
  const words = phrase ? phrase.split(" ") : [];
  if (!(VALID_WORD_COUNTS as readonly number[]).includes(words.length)) {
    throw new AppError(
      "invalid_input",
      `A seed phrase has 12, 15, 18, 21 or 24 words; this one has ${words.length}.`,
      { reason: "word_count", wordCount: words.length },
    );
  }
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (WORD_INDEX.has(word)) continue;
    const suggestions = suggestWords(word, 3);
    const hint = suggestions.length ? ` Did you mean ${suggestions.map((s) => `'${s}'`).join(", ")}?` : "";
    throw new AppError("invalid_input", `Word ${i + 1}, '${word}', is not in the BIP39 English list.${hint}`, {
      reason: "unknown_word",
      position: i + 1,
      word,
      suggestions,
    });
  }
  if (!checksumMatches(words)) {
    throw new AppError(
      "invalid_input",
      "The words are all valid but the checksum does not match: a word is wrong or out of order.",
      { reason: "checksum" },
    );
  }
  return phrase;
}

/**
 * BIP39: each word carries 11 bits; the last ENT/32 bits are the first bits of SHA-256(entropy).
 * Done here rather than via the library so the checksum failure is told apart from the others.
 */
function checksumMatches(words: string[]): boolean {
  const bits = words.map((w) => WORD_INDEX.get(w)!.toString(2).padStart(11, "0")).join("");
  const checksumBits = words.length / 3; // = ENT / 32
  const entBits = bits.length - checksumBits;
  const entropy = new Uint8Array(entBits / 8);
  for (let i = 0; i < entropy.length; i++) entropy[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const hash = createHash("sha256").update(entropy).digest();
  const expected = Array.from(hash, (b) => b.toString(2).padStart(8, "0")).join("").slice(0, checksumBits);
  if (expected !== bits.slice(entBits)) return false;
  // Belt and braces: the library agrees on the round trip.
  return entropyToMnemonic(entropy, wordlist) === words.join(" ");
}

/**
 * Words from the English list for what was typed so far, best first: words starting with it,
 * then words sharing its first four letters (BIP39 English words are unique in their first four);
 * if none, words within one or two edits (typos: a letter added, dropped, changed or two swapped).
 */
export function suggestWords(prefix: string, limit = 5): string[] {
  const typed = typeof prefix === "string" ? normalizeMnemonic(prefix).replace(/ /g, "") : "";
  if (!typed || limit <= 0) return [];
  const out: string[] = [];
  const add = (w: string) => {
    if (out.length < limit && !out.includes(w)) out.push(w);
  };
  for (const w of wordlist) if (w.startsWith(typed)) add(w);
  if (typed.length > 4) {
    const head = typed.slice(0, 4);
    for (const w of wordlist) if (w.startsWith(head)) add(w);
  }
  // Fuzzy matches only when nothing starts like the input: they are typo repairs, not completions.
  if (out.length === 0 && typed.length >= 3) {
    const max = typed.length <= 4 ? 1 : 2;
    const near: { w: string; d: number }[] = [];
    for (const w of wordlist) {
      if (Math.abs(w.length - typed.length) > max) continue;
      const d = editDistance(typed, w, max);
      if (d <= max) near.push({ w, d });
    }
    near.sort((a, b) => a.d - b.d || (a.w < b.w ? -1 : 1));
    for (const { w } of near) add(w);
  }
  return out;
}

/** Optimal string alignment distance (Levenshtein plus adjacent swaps), early exit past `max`. */
function editDistance(a: string, b: string, max: number): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push(new Array<number>(b.length + 1).fill(0));
    rows[i]![0] = i;
  }
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    let best = Infinity;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = v;
      if (v < best) best = v;
    }
    if (best > max) return max + 1;
  }
  return rows[a.length]![b.length]!;
}
