import { describe, expect, test } from "bun:test";
import { blockers, inferenceDown, notSellingNowError, UNLOCK_FIRST, type BlockerFacts } from "../../src/jobs/blockers.ts";

const ready: BlockerFacts = {
  notSelling: null,
  identity: "unlocked",
  inference: { reachable: true, url: "http://127.0.0.1:11434", servedModels: 1, backends: [{ name: "local", error: null }] },
  paymentMode: "free",
  wallet: null,
  relays: [{ state: "connected", error: null }],
};
const with_ = (patch: Partial<BlockerFacts>): BlockerFacts => ({ ...ready, ...patch });

describe("blockers: why GO ONLINE can't work", () => {
  test("nothing stops a ready provider", () => {
    expect(blockers(ready)).toEqual([]);
  });

  test("each reason has its one sentence", () => {
    expect(blockers(with_({ notSelling: "outside the schedule" }))).toEqual(["Not selling now: outside the schedule."]);
    expect(blockers(with_({ identity: "locked" }))).toEqual([UNLOCK_FIRST]);
    expect(blockers(with_({ identity: "none" }))).toEqual(["Create or import your seed phrase first."]);
    expect(blockers(with_({ inference: { ...ready.inference, servedModels: 0 } }))).toEqual(["No model is served: pull one (`ollama pull llama3.2`) or switch one on under MODELS."]);
    expect(blockers(with_({ paymentMode: "per_job", wallet: { ok: false, reason: "the wallet is not connected yet" } }))).toEqual([
      "Paid mode needs a working wallet (the wallet is not connected yet); set it up, or use payment mode free.",
    ]);
    expect(blockers(with_({ relays: [{ state: "disconnected", error: "refused" }] }))).toEqual(["No relay is connected: check your network or add a relay under NETWORK."]);
    expect(blockers(with_({ relays: [{ state: "connecting", error: "no answer yet" }] }))).toEqual([
      "Waiting for your relays to answer: a relay that stays silent is marked failed within 10 s.",
    ]);
  });

  test("paid mode without a payments service (locked) says the wallet is not set up; free mode never asks for one", () => {
    expect(blockers(with_({ paymentMode: "per_job", wallet: null }))).toEqual(["Paid mode needs a working wallet (the wallet is not set up); set it up, or use payment mode free."]);
    expect(blockers(with_({ paymentMode: "per_job", wallet: { ok: true } }))).toEqual([]);
    expect(blockers(with_({ paymentMode: "free", wallet: { ok: false, reason: "x" } }))).toEqual([]);
  });

  test("no pool yet (locked) is not 'no relay connected'", () => {
    expect(blockers(with_({ relays: null }))).toEqual([]);
    expect(blockers(with_({ relays: [] }))).toEqual(["No relay is connected: check your network or add a relay under NETWORK."]);
  });

  test("a down backend hides 'no model' (it would send the person to pull a model), and the reasons come in order", () => {
    const down = { reachable: false, url: "http://127.0.0.1:1", servedModels: 0, backends: [{ name: "local", error: "Ollama is not running at http://127.0.0.1:1" }] };
    expect(blockers({ notSelling: "over the daily job limit", identity: "locked", inference: down, paymentMode: "per_job", wallet: null, relays: null })).toEqual([
      "Not selling now: over the daily job limit.",
      UNLOCK_FIRST,
      "Ollama is not running at http://127.0.0.1:1: install it from ollama.com, then `ollama pull llama3.2`.",
      "Paid mode needs a working wallet (the wallet is not set up); set it up, or use payment mode free.",
    ]);
  });

  test("one backend: the Ollama sentence; several: each backend's name and reason", () => {
    expect(inferenceDown({ url: "http://127.0.0.1:1", backends: [{ name: "a", error: "x" }] })).toBe("Ollama is not running at http://127.0.0.1:1: install it from ollama.com, then `ollama pull llama3.2`.");
    expect(inferenceDown({ url: "", backends: [{ name: "desk", error: "Ollama is not running at http://127.0.0.1:2" }, { name: "vllm", error: null }] })).toBe(
      "No inference backend is reachable: desk: Ollama is not running at http://127.0.0.1:2; vllm: not answering.",
    );
  });

  test("GO ONLINE refused by the schedule says the same reason and where to change it", () => {
    expect(notSellingNowError("outside the schedule")).toBe("Not selling now: outside the schedule; change the schedule or the daily limits under SETTINGS to sell now.");
  });
});
