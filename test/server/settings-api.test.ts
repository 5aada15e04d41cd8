// PUT/GET /api/settings for the profile and the partial-result interval, over HTTP against the
// REAL app (src/app.ts, its server and config.json on disk): a good change round-trips and lands in
// the file; a bad one is refused with a message naming the field and leaves the file byte for byte
// as it was. Real relay and Ollama test servers on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";

let relay: TestRelay;
let ollama: FakeOllama;
let started: TestApp;
let origin: string;

beforeAll(async () => {
  relay = await startRelay();
  ollama = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
  started = await startTestApp({
    flags: {},
    config: { relays: [relay.url], ollamaUrl: ollama.url, pricing: { mode: "free" } },
  });
  origin = new URL(started.app.url).origin;
});

afterAll(async () => {
  await started?.stop();
  await relay?.stop();
  await ollama?.stop();
});

async function call(method: "GET" | "PUT", body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${started.app.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${origin}/api/settings`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const configBytes = () => readFileSync(join(started.dataDir, "config.json"));

describe("settings API: profile and partial interval (real app)", () => {
  test("GET returns the profile and partialIntervalMs with their defaults", async () => {
    const { status, json } = await call("GET");
    expect(status).toBe(200);
    expect(json.provider).toEqual({
      name: "compute",
      about: "Text generation on local Ollama models, paid over Lightning.",
      picture: "",
      publishProfile: false,
    });
    expect(json.limits.partialIntervalMs).toBe(2000);
  });

  test("PUT round-trips the new fields and writes them to config.json", async () => {
    const provider = { name: "Alice's GPU", about: "A 4090 in a cupboard.", picture: "https://example.test/alice.png", publishProfile: true };
    const put = await call("PUT", { provider, limits: { partialIntervalMs: 750 } });
    expect(put.status).toBe(200);
    expect(put.json.provider).toEqual(provider);
    expect(put.json.limits.partialIntervalMs).toBe(750);
    const got = await call("GET");
    expect(got.json.provider).toEqual(provider);
    expect(got.json.limits.partialIntervalMs).toBe(750);
    const file = JSON.parse(configBytes().toString("utf8"));
    expect(file.provider).toEqual(provider);
    expect(file.limits.partialIntervalMs).toBe(750);
    // Other settings in the file are kept.
    expect(file.relays).toEqual([relay.url]);
    expect(file.pricing.mode).toBe("free");
    // The picture can be cleared again.
    expect((await call("PUT", { provider: { picture: "" } })).json.provider.picture).toBe("");
    expect((await call("PUT", { provider: { picture: provider.picture } })).json.provider.picture).toBe(provider.picture);
  });

  test("bad values are refused naming the field; config.json is byte for byte unchanged", async () => {
    const before = configBytes();
    const settingsBefore = (await call("GET")).json;
    const bad: [unknown, string][] = [
      [{ provider: { picture: "not a url" } }, "provider.picture"],
      [{ provider: { picture: "ftp://example.test/a.png" } }, "provider.picture"],
      [{ provider: { name: "n".repeat(101) } }, "provider.name"],
      [{ provider: { name: "", publishProfile: true } }, "provider.name"],
      [{ provider: { about: "a".repeat(1001) } }, "provider.about"],
      [{ provider: { publishProfile: "yes" } }, "provider.publishProfile"],
      [{ provider: { servedModels: null } }, "servedModels"],
      [{ limits: { partialIntervalMs: 99 } }, "limits.partialIntervalMs"],
      [{ limits: { partialIntervalMs: 600_001 } }, "limits.partialIntervalMs"],
      [{ limits: { partialIntervalMs: 1.5 } }, "limits.partialIntervalMs"],
      [{ limits: { partialIntervalMs: "500" } }, "limits.partialIntervalMs"],
      // A good profile change in the same body as a bad value is not saved either.
      [{ provider: { name: "Half saved?" }, limits: { partialIntervalMs: 50 } }, "limits.partialIntervalMs"],
    ];
    for (const [body, field] of bad) {
      const { status, json } = await call("PUT", body);
      expect(status).toBe(400);
      expect(json.error.name).toBe("invalid_input");
      expect(json.error.message).toContain(field);
      expect(configBytes().equals(before)).toBe(true);
    }
    expect((await call("GET")).json).toEqual(settingsBefore);
  });
});

describe("settings API: the price floor (pricing.floorMsats; real app)", () => {
  const market = async () => {
    const res = await fetch(`${origin}/api/market`, { headers: { authorization: `Bearer ${started.app.token}` } });
    return (await res.json()) as { current: { floorMsats: number }; suggestions: { model: string; perJobMsats: number; reason: string }[] };
  };

  test("a floor round-trips, lands in config.json, and the suggested price never goes below it; 0 or null is none", async () => {
    const put = await call("PUT", { pricing: { floorMsats: 42_000 } });
    expect(put.status).toBe(200);
    expect(put.json.pricing.floorMsats).toBe(42_000);
    expect((await call("GET")).json.pricing.floorMsats).toBe(42_000);
    expect(JSON.parse(configBytes().toString("utf8")).pricing.floorMsats).toBe(42_000);
    // Free mode prices at 0 and no one else sells on this relay: the floor is the suggestion.
    const m = await market();
    expect(m.current.floorMsats).toBe(42_000);
    expect(m.suggestions.length).toBeGreaterThan(0);
    for (const s of m.suggestions) expect(s.perJobMsats).toBeGreaterThanOrEqual(42_000);
    expect(m.suggestions[0]!.reason).toContain("floor");
    // null removes it (back to the default: no floor), as 0 does.
    expect((await call("PUT", { pricing: { floorMsats: null } })).json.pricing.floorMsats).toBe(0);
    expect((await market()).current.floorMsats).toBe(0);
  });

  test("a bad floor is refused naming pricing.floorMsats; config.json is byte for byte unchanged", async () => {
    expect((await call("PUT", { pricing: { floorMsats: 5_000 } })).status).toBe(200);
    const before = configBytes();
    for (const floorMsats of [-1, 1.5, "1000", 1_000_000_001, true, { msats: 1 }]) {
      const { status, json } = await call("PUT", { pricing: { floorMsats } });
      expect(status).toBe(400);
      expect(json.error.name).toBe("invalid_input");
      expect(json.error.message).toContain("floorMsats");
      expect(configBytes().equals(before)).toBe(true);
    }
    expect((await call("GET")).json.pricing.floorMsats).toBe(5_000);
  });
});
