import { describe, expect, test } from "bun:test";
import { npubEncode } from "nostr-tools/nip19";
import { generateSecretKey, getPublicKey } from "nostr-tools/pure";
import { ConfigSchema } from "../../src/config.ts";
import { MIN_PASSWORD_LENGTH } from "../../src/identity/vault.ts";
import { toHexPubkey } from "../../src/jobs/admission.ts";
import {
  checkAnswers,
  completeWord,
  formToPatch,
  MIN_PASSWORD,
  passwordProblem,
  pickCheckPositions,
  settingsToForm,
  splitWords,
  toggleServed,
  wordAtCaret,
  parseKeyList,
} from "../../ui/forms.ts";

describe("recovery phrase helpers", () => {
  test("splitWords normalises case and spacing", () => {
    expect(splitWords("  Abandon\tABILITY \n able ")).toEqual(["abandon", "ability", "able"]);
    expect(splitWords("   ")).toEqual([]);
  });

  test("pickCheckPositions returns k distinct sorted positions in range", () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 200; round++) {
      const n = round % 2 ? 12 : 24;
      const p = pickCheckPositions(n, 3, rnd);
      expect(p.length).toBe(3);
      expect(new Set(p).size).toBe(3);
      expect([...p].sort((a, b) => a - b)).toEqual(p);
      for (const x of p) expect(x >= 0 && x < n).toBe(true);
    }
    expect(pickCheckPositions(2, 3, rnd).sort()).toEqual([0, 1]);
    // Every position can be drawn (a bias bug would starve the last one).
    const seen = new Set<number>();
    for (let i = 0; i < 400; i++) for (const x of pickCheckPositions(12, 3, rnd)) seen.add(x);
    expect(seen.size).toBe(12);
  });

  test("checkAnswers compares case- and space-insensitively", () => {
    const words = ["alpha", "bravo", "charlie", "delta"];
    expect(checkAnswers(words, [0, 2, 3], [" Alpha", "charlie", "echo"])).toEqual([true, true, false]);
    expect(checkAnswers(words, [1], [])).toEqual([false]);
  });

  test("wordAtCaret and completeWord", () => {
    const text = "abandon abil able";
    expect(wordAtCaret(text, 12)).toEqual({ start: 8, end: 12, prefix: "abil" });
    expect(wordAtCaret(text, 10)).toEqual({ start: 8, end: 12, prefix: "ab" });
    expect(wordAtCaret("", 0)).toEqual({ start: 0, end: 0, prefix: "" });
    expect(wordAtCaret("abc ", 4).prefix).toBe("");
    expect(completeWord(text, 12, "ability")).toEqual({ text: "abandon ability able", caret: 16 });
    expect(completeWord("aban", 4, "abandon")).toEqual({ text: "abandon ", caret: 8 });
  });

  test("passwordProblem", () => {
    expect(passwordProblem("short", "short")).toMatch(/at least 8/);
    expect(passwordProblem("long enough", "long enougH")).toMatch(/differ/);
    expect(passwordProblem("long enough", "long enough")).toBeNull();
    // The vault's rule (vault.ts can't go in the browser bundle: it reads files and hashes).
    expect(MIN_PASSWORD).toBe(MIN_PASSWORD_LENGTH);
  });
});

describe("settings form", () => {
  const defaults = ConfigSchema.parse({});

  test("round-trips the defaults into a patch the config schema accepts", () => {
    const form = settingsToForm(defaults.pricing, defaults.limits);
    expect(form.perJobSats).toBe("10");
    const r = formToPatch(form);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.patch.pricing.perJobMsats).toBe(defaults.pricing.perJobMsats);
    expect(r.patch.limits.maxConcurrentJobs).toBe(defaults.limits.maxConcurrentJobs);
    expect(r.patch.limits.maxQueuedPerCustomer).toBe(defaults.limits.maxQueuedPerCustomer);
    const merged = ConfigSchema.safeParse({ pricing: { ...defaults.pricing, ...r.patch.pricing }, limits: { ...defaults.limits, ...r.patch.limits } });
    expect(merged.success).toBe(true);
  });

  test("converts sats with decimals to msats", () => {
    const form = { ...settingsToForm(defaults.pricing, defaults.limits), perJobSats: "0.5", per1kTokensSats: "2" };
    const r = formToPatch(form);
    expect(r.ok && r.patch.pricing).toMatchObject({ perJobMsats: 500, per1kTokensMsats: 2000 });
  });

  test("the price floor: sats in the form, msats in the patch; empty is none (0); bad or above the config's bound is refused", () => {
    const form = settingsToForm(defaults.pricing, defaults.limits);
    expect(form.floorSats).toBe("");
    expect(settingsToForm({ ...defaults.pricing, floorMsats: 30_500 }, defaults.limits).floorSats).toBe("30.5");
    const floorOf = (floorSats: string) => {
      const r = formToPatch({ ...form, floorSats });
      return r.ok ? r.patch.pricing.floorMsats : r.errors.floorSats;
    };
    expect(floorOf("")).toBe(0);
    expect(floorOf(" 25 ")).toBe(25_000);
    expect(floorOf("0.125")).toBe(125);
    expect(floorOf("1000000")).toBe(1_000_000_000);
    expect(floorOf("abc")).toMatch(/amount in sats/);
    expect(floorOf("-5")).toMatch(/amount in sats/);
    expect(floorOf("1000000.001")).toMatch(/At most 1,000,000 sats/);
    // What the form sends, the config schema takes.
    const r = formToPatch({ ...form, floorSats: "25" });
    expect(r.ok && ConfigSchema.safeParse({ pricing: { ...defaults.pricing, ...r.patch.pricing } }).success).toBe(true);
  });

  test("names each bad field", () => {
    const form = {
      ...settingsToForm(defaults.pricing, defaults.limits),
      perJobSats: "abc",
      maxConcurrentJobs: "0",
      queueSize: "1.5",
      maxQueuedPerCustomer: "0",
      invoiceExpirySecs: "5",
    };
    const r = formToPatch(form);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(Object.keys(r.errors).sort()).toEqual(["invoiceExpirySecs", "maxConcurrentJobs", "maxQueuedPerCustomer", "perJobSats", "queueSize"]);
    expect(r.errors.maxConcurrentJobs).toBe("Between 1 and 64.");
  });

  test("allow/deny lists: npubs and hex keys, one per line (or commas), checked and deduplicated", () => {
    const hex = getPublicKey(generateSecretKey());
    const npub = npubEncode(getPublicKey(generateSecretKey()));
    expect(parseKeyList(`  ${npub}\n\n${hex.toUpperCase()}, ${hex}  `)).toEqual({ keys: [npub, hex] });
    expect(parseKeyList("")).toEqual({ keys: [] });
    expect(parseKeyList(`${hex}\nnpub1short`)).toEqual({ bad: "npub1short" });
    // What the form accepts, admission reads as the same customer.
    expect(toHexPubkey(npub)).toMatch(/^[0-9a-f]{64}$/);
    const form = { ...settingsToForm(defaults.pricing, defaults.limits), allow: `${npub}\n${hex}`, deny: "" };
    const r = formToPatch(form);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.patch.limits.allow).toEqual([npub, hex]);
    expect(r.patch.limits.deny).toEqual([]);
    expect(settingsToForm(defaults.pricing, { ...defaults.limits, allow: [npub, hex] }).allow).toBe(`${npub}\n${hex}`);
    const bad = formToPatch({ ...form, deny: "alice" });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.deny).toContain("'alice' is not a public key");
  });

  test("a model's own prices: shown for configured and installed models, empty = default, cleared = removed", () => {
    const pricing = { ...defaults.pricing, models: { "big:70b": { perJobMsats: 50_000 }, "old:1b": { per1kTokensMsats: 1_500 } } };
    const form = settingsToForm(pricing, defaults.limits, ["llama3.2:latest", "big:70b"]);
    expect(form.models).toEqual([
      { name: "big:70b", perJobSats: "50", per1kTokensSats: "" },
      { name: "llama3.2:latest", perJobSats: "", per1kTokensSats: "" },
      { name: "old:1b", perJobSats: "", per1kTokensSats: "1.5" },
    ]);
    const edited = {
      ...form,
      models: [
        { name: "big:70b", perJobSats: "60", per1kTokensSats: "2" },
        { name: "llama3.2:latest", perJobSats: "0.5", per1kTokensSats: "" },
        { name: "old:1b", perJobSats: "", per1kTokensSats: " " },
      ],
    };
    const r = formToPatch(edited);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.patch.pricing.models).toEqual({
      "big:70b": { perJobMsats: 60_000, per1kTokensMsats: 2_000 },
      "llama3.2:latest": { perJobMsats: 500, per1kTokensMsats: null },
      "old:1b": null,
    });
    const bad = formToPatch({ ...edited, models: [{ name: "big:70b", perJobSats: "lots", per1kTokensSats: "" }] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.models).toBe("big:70b: enter an amount in sats (up to 3 decimals), or leave it empty for the default.");
  });

  test("profile and partial interval: shown, checked like the server, sent trimmed", () => {
    const profile = { name: "Alice's GPU", about: "Fast.", picture: "https://example.test/a.png", publishProfile: true };
    const form = settingsToForm(defaults.pricing, { ...defaults.limits, partialIntervalMs: 750 }, [], profile);
    expect(form).toMatchObject({ ...profile, partialIntervalMs: "750" });
    // A server that sends no profile (the UI dev mock) gives empty fields.
    expect(settingsToForm(defaults.pricing, defaults.limits)).toMatchObject({ name: "", about: "", picture: "", publishProfile: false, partialIntervalMs: "2000" });
    const r = formToPatch({ ...form, name: "  Bob  ", picture: " http://example.test/b.png " });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.patch.provider).toEqual({ name: "Bob", about: "Fast.", picture: "http://example.test/b.png", publishProfile: true });
    expect(r.patch.limits.partialIntervalMs).toBe(750);
    const merged = ConfigSchema.safeParse({ provider: r.patch.provider, limits: { ...defaults.limits, ...r.patch.limits } });
    expect(merged.success).toBe(true);
    expect(formToPatch({ ...form, picture: "", publishProfile: false, name: "" }).ok).toBe(true);

    const errorsOf = (edit: Partial<typeof form>) => {
      const out = formToPatch({ ...form, ...edit });
      return out.ok ? {} : out.errors;
    };
    expect(errorsOf({ partialIntervalMs: "99" })).toEqual({ partialIntervalMs: "Between 100 and 600000." });
    expect(errorsOf({ partialIntervalMs: "600001" })).toEqual({ partialIntervalMs: "Between 100 and 600000." });
    expect(errorsOf({ partialIntervalMs: "1.5" })).toEqual({ partialIntervalMs: "Enter a whole number." });
    for (const picture of ["not a url", "ftp://example.test/a.png", "javascript:alert(1)", "https://exa mple.test/a.png", `https://example.test/${"a".repeat(2000)}`]) {
      expect(Object.keys(errorsOf({ picture }))).toEqual(["picture"]);
    }
    expect(errorsOf({ name: "n".repeat(101) })).toEqual({ name: "At most 100 characters." });
    expect(errorsOf({ name: "   ", publishProfile: true })).toEqual({ name: "Enter a name to publish your profile." });
    expect(errorsOf({ about: "a".repeat(1001) })).toEqual({ about: "At most 1,000 characters." });
  });

  test("a paid mode needs a price; free does not", () => {
    const base = { ...settingsToForm(defaults.pricing, defaults.limits), perJobSats: "0", per1kTokensSats: "0" };
    const paid = formToPatch({ ...base, mode: "upfront" });
    expect(paid.ok).toBe(false);
    expect(formToPatch({ ...base, mode: "free" }).ok).toBe(true);
  });
});

describe("toggleServed", () => {
  const models = [
    { name: "a", served: true },
    { name: "b", served: false },
    { name: "c", served: true },
  ];
  test("flips one model and keeps the others", () => {
    expect(toggleServed(models, "b")).toEqual(["a", "b", "c"]);
    expect(toggleServed(models, "a")).toEqual(["c"]);
    expect(toggleServed(models, "zzz")).toEqual(["a", "c"]);
  });
});
