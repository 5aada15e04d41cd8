import { describe, expect, test } from "bun:test";
import { Pricing } from "../../src/config.ts";
import { finalAmount, priceFor } from "../../src/jobs/pricing.ts";

describe("pricing", () => {
  test("per job only (the default config)", () => {
    const p = Pricing.parse({});
    expect(priceFor("llama3.2:3b", p)).toBe(10_000);
    expect(priceFor(null, p, 5000)).toBe(10_000);
    expect(finalAmount("llama3.2:3b", p, 1234)).toBe(10_000);
  });

  test("per job plus per 1000 tokens, rounded up to whole sats (what an invoice can ask)", () => {
    const p = Pricing.parse({ perJobMsats: 1000, per1kTokensMsats: 300 });
    expect(priceFor("m", p)).toBe(1000);
    expect(priceFor("m", p, 2048)).toBe(2000); // 1000 + 614.4 → 1615 msats → 2 sats
    expect(finalAmount("m", p, 1000)).toBe(2000);
    expect(finalAmount("m", p, 1)).toBe(2000);
    expect(finalAmount("m", p, 10_000)).toBe(4000);
    expect(priceFor("m", Pricing.parse({ perJobMsats: 21_500 }))).toBe(22_000);
    expect(finalAmount("m", p, 0)).toBe(1000);
    expect(finalAmount("m", p, -5)).toBe(1000);
    expect(finalAmount("m", p, Number.NaN)).toBe(1000);
  });

  test("per-model overrides, matched by Ollama name (llama3.2 = llama3.2:latest)", () => {
    const p = Pricing.parse({
      perJobMsats: 1000,
      per1kTokensMsats: 100,
      models: { "llama3.2": { perJobMsats: 5000 }, "mistral:7b": { per1kTokensMsats: 1000 } },
    });
    expect(priceFor("llama3.2:latest", p)).toBe(5000);
    expect(priceFor("LLAMA3.2", p)).toBe(5000);
    expect(finalAmount("llama3.2", p, 2000)).toBe(6000); // 5000 + 200 (per1k falls back to the default), whole sats
    expect(finalAmount("mistral:7b", p, 2000)).toBe(1000 + 2000);
    expect(priceFor("qwen2.5:7b", p)).toBe(1000);
    expect(priceFor("llama3.2:3b", p)).toBe(1000); // a different tag is a different model
  });

  test("free mode costs nothing", () => {
    const p = Pricing.parse({ mode: "free", perJobMsats: 5000, per1kTokensMsats: 100 });
    expect(priceFor("m", p, 1000)).toBe(0);
    expect(finalAmount("m", p, 1000)).toBe(0);
  });
});
