// Backends in the config: the zod schema, --backend flags, and the migration of a config that had
// only ollamaUrl (OLLAMA_HOST, --ollama-url) to `backends`.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { backendsFromFlags, backendsToSave, effectiveBackends, loadConfig, updateConfigFile } from "../src/config.ts";
import { DEFAULT_SLOTS } from "../src/inference/router.ts";
import { AppError } from "../src/errors.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dataDir(config?: unknown): string {
  const d = mkdtempSync(join(tmpdir(), "compute-backends-"));
  dirs.push(d);
  if (config !== undefined) writeFileSync(join(d, "config.json"), JSON.stringify(config));
  return d;
}

describe("the backends schema", () => {
  test("a list of ollama and openai backends with aliases loads", () => {
    const d = dataDir({
      backends: [
        { name: "desk", url: "http://127.0.0.1:11434" },
        { name: "vllm", type: "openai", url: "http://127.0.0.1:8000/v1", apiKey: "sk-x", maxConcurrent: 16, models: ["meta-llama/Llama-3.2-3B-Instruct"] },
      ],
      aliases: { "meta-llama/Llama-3.2-3B-Instruct": "llama3.2:3b" },
    });
    const c = loadConfig({ dataDir: d, env: {} });
    expect(c.backends).toEqual([
      { name: "desk", type: "ollama", url: "http://127.0.0.1:11434" },
      { name: "vllm", type: "openai", url: "http://127.0.0.1:8000/v1", apiKey: "sk-x", maxConcurrent: 16, models: ["meta-llama/Llama-3.2-3B-Instruct"] },
    ]);
    expect(effectiveBackends(c)).toBe(c.backends);
    expect(c.aliases).toEqual({ "meta-llama/Llama-3.2-3B-Instruct": "llama3.2:3b" });
  });

  test.each([
    [{ backends: [{ name: "a", type: "grpc", url: "http://127.0.0.1:1" }] }, /backends\.0\.type/],
    [{ backends: [{ name: "a", url: "ftp://x" }] }, /backends\.0\.url: must be an http/],
    [{ backends: [{ name: "a", url: "http://127.0.0.1:1", maxConcurrent: 0 }] }, /backends\.0\.maxConcurrent/],
    [{ backends: [{ name: "a", url: "http://127.0.0.1:1", extra: 1 }] }, /backends\.0/],
    [{ backends: [{ name: "a", url: "http://127.0.0.1:1" }, { name: "a", url: "http://127.0.0.1:2" }] }, /backend names must differ/],
    [{ aliases: { x: "" } }, /aliases\.x/],
  ])("a bad backend entry is refused naming the key: %j", (config, message) => {
    const err = (() => {
      try {
        loadConfig({ dataDir: dataDir(config), env: {} });
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AppError);
    expect((err as Error).message).toMatch(message);
  });
});

describe("migration from ollamaUrl", () => {
  test("a config with only ollamaUrl runs on that one Ollama with its maxConcurrentJobs slots", () => {
    const c = loadConfig({ dataDir: dataDir({ ollamaUrl: "http://127.0.0.1:12345", limits: { maxConcurrentJobs: 3 } }), env: {} });
    expect(c.backends).toEqual([]);
    expect(effectiveBackends(c)).toEqual([{ name: "ollama", type: "ollama", url: "http://127.0.0.1:12345", maxConcurrent: 3 }]);
  });

  test("OLLAMA_HOST and --ollama-url stay the one-backend shorthand", () => {
    const env = loadConfig({ dataDir: dataDir(), env: { OLLAMA_HOST: "0.0.0.0:11500" } });
    expect(effectiveBackends(env)).toEqual([{ name: "ollama", type: "ollama", url: "http://127.0.0.1:11500", maxConcurrent: 2 }]);
    const flag = loadConfig({ dataDir: dataDir(), env: {}, flags: { ollamaUrl: "http://127.0.0.1:11600" } });
    expect(effectiveBackends(flag)[0]!.url).toBe("http://127.0.0.1:11600");
  });

  test("adding a first backend writes the Ollama it ran on first (the file's other keys kept)", () => {
    const d = dataDir({ ollamaUrl: "http://127.0.0.1:12345", limits: { maxConcurrentJobs: 3 }, relays: ["wss://relay.example"] });
    const c = loadConfig({ dataDir: d, env: {} });
    const next = [...backendsToSave(c), { name: "gpu", type: "openai" as const, url: "http://127.0.0.1:8000" }];
    const saved = updateConfigFile(d, { backends: next });
    expect(saved.backends.map((b) => [b.name, b.type, b.url, b.maxConcurrent])).toEqual([
      ["ollama", "ollama", "http://127.0.0.1:12345", 3],
      ["gpu", "openai", "http://127.0.0.1:8000", undefined],
    ]);
    const file = JSON.parse(readFileSync(join(d, "config.json"), "utf8"));
    expect(file.relays).toEqual(["wss://relay.example"]);
    expect(file.ollamaUrl).toBe("http://127.0.0.1:12345");
    // Read back, the backends are what runs.
    expect(effectiveBackends(loadConfig({ dataDir: d, env: {} })).map((b) => b.name)).toEqual(["ollama", "gpu"]);
  });

  test("with the default slots, the migrated entry leaves maxConcurrent to its default (the same 2)", () => {
    const c = loadConfig({ dataDir: dataDir({ ollamaUrl: "http://127.0.0.1:12345" }), env: {} });
    expect(backendsToSave(c)).toEqual([{ name: "ollama", type: "ollama", url: "http://127.0.0.1:12345" }]);
    expect(c.limits.maxConcurrentJobs).toBe(DEFAULT_SLOTS.ollama);
    // One slot set by hand is kept as such.
    const one = loadConfig({ dataDir: dataDir({ ollamaUrl: "http://127.0.0.1:12345", limits: { maxConcurrentJobs: 1 } }), env: {} });
    expect(backendsToSave(one)).toEqual([{ name: "ollama", type: "ollama", url: "http://127.0.0.1:12345", maxConcurrent: 1 }]);
  });
});

describe("--backend flags", () => {
  test("URL is an Ollama, openai:URL an OpenAI-compatible server; named by host:port", () => {
    expect(backendsFromFlags(["http://127.0.0.1:11434", "openai:http://10.0.0.5:8000/v1", "ollama:http://127.0.0.1:11434"])).toEqual([
      { name: "127.0.0.1:11434", type: "ollama", url: "http://127.0.0.1:11434" },
      { name: "10.0.0.5:8000", type: "openai", url: "http://10.0.0.5:8000/v1" },
      { name: "127.0.0.1:11434-2", type: "ollama", url: "http://127.0.0.1:11434" },
    ]);
  });

  test("flags replace the file's backends for this run; a bad one names --backend", () => {
    const d = dataDir({ backends: [{ name: "file", url: "http://127.0.0.1:1" }] });
    const c = loadConfig({ dataDir: d, env: {}, flags: { backends: ["openai:http://127.0.0.1:8000"] } });
    expect(c.backends.map((b) => b.name)).toEqual(["127.0.0.1:8000"]);
    const err = (() => {
      try {
        loadConfig({ dataDir: d, env: {}, flags: { backends: ["openai:ftp://nope"] } });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/--backend/);
  });
});
