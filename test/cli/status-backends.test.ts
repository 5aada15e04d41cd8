// `compute status` shows each backend's health: the real CLI against two local backends (an Ollama
// test server and an OpenAI-compatible one) and one that is down, all given with --backend.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { closedPort } from "../fixtures/common.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startOpenAIServer, type FakeOpenAI } from "../fixtures/openai-server.ts";

const REPO = resolve(import.meta.dir, "../..");
let ollama: FakeOllama;
let openai: FakeOpenAI;
let dir: string;

beforeAll(async () => {
  ollama = await startOllamaServer({ models: [{ name: "llama3.2:3b" }], instant: true });
  openai = await startOpenAIServer({ models: ["Qwen/Qwen2.5-7B-Instruct"], instant: true, llamaSlots: true, slots: 3 });
  dir = mkdtempSync(join(tmpdir(), "compute-status-backends-"));
});
afterAll(async () => {
  await Promise.all([ollama.stop(), openai.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function status(extra: string[]) {
  const down = closedPort();
  const p = Bun.spawn(["bun", "src/index.ts", "status", ...extra, "--backend", ollama.url, "--backend", `openai:${openai.url}/v1`, "--backend", `http://127.0.0.1:${down}`, "--relay", `ws://127.0.0.1:${down}`], {
    cwd: REPO,
    env: { ...process.env, COMPUTE_DATA_DIR: dir, COMPUTE_LOG_LEVEL: "error" },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 20_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code, down };
}

test("status --json lists every backend with health, slots and models", async () => {
  const r = await status(["--json"]);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.backends.map((b: any) => [b.type, b.reachable, b.slots, b.models])).toEqual([
    ["ollama", true, 2, ["llama3.2:3b"]],
    ["openai", true, 3, ["Qwen/Qwen2.5-7B-Instruct"]],
    ["ollama", false, 2, []],
  ]);
  expect(report.backends[0].version).toBe("0.6.5");
  expect(report.backends[2].error).toMatch(/not running/);
  expect(report.models.map((m: any) => m.name)).toEqual(["llama3.2:3b", "Qwen/Qwen2.5-7B-Instruct"]);
});

test("status prints one line per backend, the one down with its reason", async () => {
  const r = await status([]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/backends +127\.0\.0\.1:\d+ \(ollama, http:\/\/127\.0\.0\.1:\d+\) up \(version 0\.6\.5\)/);
  expect(r.stdout).toMatch(/\(openai, .*\/v1\) up .*0\/3 slots, models: Qwen\/Qwen2\.5-7B-Instruct/);
  expect(r.stdout).toContain(`(ollama, http://127.0.0.1:${r.down}) DOWN: `);
});
