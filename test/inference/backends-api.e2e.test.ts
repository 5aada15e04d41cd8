// Adding and removing inference backends through the real App's HTTP API: the check before saving
// (nothing answering, the wrong type), the migration of a config that had only ollamaUrl, and a
// backend removed and re-added with jobs following (the router's served models).
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { closedPort } from "../fixtures/common.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startOpenAIServer, type FakeOpenAI } from "../fixtures/openai-server.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "../jobs/harness.ts";

let ollama: FakeOllama;
let openai: FakeOpenAI;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  ollama = await startOllamaServer({ models: [{ name: "llama3.2:3b" }], instant: true });
  openai = await startOpenAIServer({ models: ["Qwen/Qwen2.5-7B-Instruct"], instant: true, apiKey: "sk-local" });
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(async () => {
  await Promise.all([ollama.stop(), openai.stop()]);
});

async function app(): Promise<TestApp & { call: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }> }> {
  const port = closedPort();
  const t = await startTestApp({ flags: { relays: [`ws://127.0.0.1:${port}`] }, config: { ollamaUrl: ollama.url, limits: { maxConcurrentJobs: 3 } }, options: { ollamaProbeMs: 100 } });
  cleanups.push(() => t.stop());
  const base = new URL(t.app.url).origin;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${t.app.token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json().catch(() => null) };
  };
  return { ...t, call };
}

const fileOf = (t: TestApp) => JSON.parse(readFileSync(join(t.dataDir, "config.json"), "utf8"));

test("adding an OpenAI backend: checked, saved after the Ollama the config had, serving at once", async () => {
  const t = await app();
  await until(() => t.app.controller.snapshot().backends?.[0]?.reachable === true, 5000, "ollama up");
  const r = await t.call("POST", "/backends", { name: "vllm", type: "openai", url: `${openai.url}/v1`, apiKey: "sk-local" });
  expect(r.status).toBe(200);
  expect(r.json.backends.map((b: any) => [b.name, b.type, b.healthy])).toEqual([
    ["ollama", "ollama", true],
    ["vllm", "openai", true],
  ]);
  expect(fileOf(t).backends).toEqual([
    { name: "ollama", type: "ollama", url: ollama.url, maxConcurrent: 3 },
    { name: "vllm", type: "openai", url: `${openai.url}/v1`, apiKey: "sk-local" },
  ]);
  expect(t.app.controller.snapshot().models.filter((m) => m.served).map((m) => m.name)).toEqual(["llama3.2:3b", "Qwen/Qwen2.5-7B-Instruct"]);
  // The key never comes back in the state.
  expect(JSON.stringify(t.app.controller.snapshot())).not.toContain("sk-local");
});

test("a URL where nothing answers, or where the other type answers, is refused with the reason; nothing saved", async () => {
  const t = await app();
  const down = await t.call("POST", "/backends", { type: "ollama", url: `http://127.0.0.1:${closedPort()}` });
  expect(down.status).toBe(503);
  expect(down.json.error.message).toMatch(/^Ollama does not answer at http:\/\/127\.0\.0\.1:\d+ \(.*not running.*\)\.$/);
  const wrong = await t.call("POST", "/backends", { type: "ollama", url: openai.url, apiKey: "sk-local" });
  expect(wrong.status).toBe(400);
  expect(wrong.json.error.message).toBe(`${openai.url} answers as an OpenAI-compatible server, not Ollama: choose the type openai.`);
  const bad = await t.call("POST", "/backends", { type: "grpc", url: "http://127.0.0.1:1" });
  expect(bad.status).toBe(400);
  const badUrl = await t.call("POST", "/backends", { type: "openai", url: "file:///etc/passwd" });
  expect(badUrl.status).toBe(400);
  expect(fileOf(t).backends).toBeUndefined();
  expect(t.app.controller.snapshot().backends!.map((b) => b.name)).toEqual(["ollama"]);
});

test("removed and re-added: its models leave and come back; the last backend can't be removed", async () => {
  const t = await app();
  expect((await t.call("POST", "/backends", { name: "vllm", type: "openai", url: openai.url, apiKey: "sk-local" })).status).toBe(200);
  expect((await t.call("DELETE", "/backends", { name: "ollama" })).status).toBe(200);
  expect(t.app.controller.snapshot().models.map((m) => m.name)).toEqual(["Qwen/Qwen2.5-7B-Instruct"]);
  const last = await t.call("DELETE", "/backends", { name: "vllm" });
  expect(last.status).toBe(409);
  expect((await t.call("DELETE", "/backends", { name: "nope" })).status).toBe(404);
  expect((await t.call("POST", "/backends", { name: "ollama", type: "ollama", url: ollama.url })).status).toBe(200);
  expect(t.app.controller.snapshot().models.map((m) => m.name).sort()).toEqual(["Qwen/Qwen2.5-7B-Instruct", "llama3.2:3b"]);
  expect(fileOf(t).backends.map((b: any) => b.name)).toEqual(["vllm", "ollama"]);
  const dup = await t.call("POST", "/backends", { name: "ollama", type: "ollama", url: ollama.url });
  expect(dup.status).toBe(409);
});

test("with several backends all down, GO ONLINE says which and why (not 'Ollama is not running at a, b')", async () => {
  const port = closedPort();
  const t = await startTestApp({
    flags: { relays: [`ws://127.0.0.1:${port}`], paymentMode: "free" },
    config: { backends: [{ name: "desk", url: `http://127.0.0.1:${closedPort()}` }, { name: "vllm", type: "openai", url: `http://127.0.0.1:${closedPort()}/v1` }] },
    options: { ollamaProbeMs: 100 },
  });
  cleanups.push(() => t.stop());
  const err = await t.app.controller.setOnline(true).catch((e) => e);
  expect(err.message).toMatch(/^No inference backend is reachable: desk: Ollama is not running at http:\/\/127\.0\.0\.1:\d+; vllm: The OpenAI-compatible server is not running at http:\/\/127\.0\.0\.1:\d+\.$/);
});
