// The `openai` SDK is loaded when an OpenAI-compatible backend is first used, not when compute
// starts: a provider with Ollama alone never holds it (about half a MiB of idle memory in the
// compiled binary, BENCHMARKS.md). A child process with a loader hook records each of the SDK's
// files as it is loaded; the fake servers are real HTTP servers on 127.0.0.1.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startOpenAIServer, type FakeOpenAI } from "../fixtures/openai-server.ts";

const SRC = join(import.meta.dir, "../../src");
let dir: string;
let ollama: FakeOllama;
let openai: FakeOpenAI;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "compute-openai-lazy-"));
  [ollama, openai] = await Promise.all([startOllamaServer(), startOpenAIServer()]);
  writeFileSync(
    join(dir, "hook.ts"),
    `import { plugin } from "bun";
import { readFileSync } from "node:fs";
(globalThis as { openaiFiles?: number }).openaiFiles = 0;
plugin({ name: "count-openai", setup(build) {
  build.onLoad({ filter: /node_modules\\/openai\\/.*\\.mjs$/ }, (args) => {
    (globalThis as { openaiFiles?: number }).openaiFiles!++;
    return { contents: readFileSync(args.path, "utf8"), loader: "js" };
  });
} });
`,
  );
  writeFileSync(
    join(dir, "child.ts"),
    `import { Bus } from ${JSON.stringify(join(SRC, "bus.ts"))};
import { Router } from ${JSON.stringify(join(SRC, "inference/router.ts"))};
const loaded = () => (globalThis as { openaiFiles?: number }).openaiFiles ?? -1;
const [ollamaUrl, openaiUrl] = process.argv.slice(2);
const report: Record<string, unknown> = {};
const ollamaOnly = new Router({ bus: new Bus(), backends: [{ name: "ollama", type: "ollama", url: ollamaUrl! }], servedModels: null, probeIntervalMs: 60_000 });
await ollamaOnly.start();
report.ollamaReachable = ollamaOnly.backends().every((b) => b.reachable);
report.afterOllama = loaded();
ollamaOnly.stop();
const both = new Router({ bus: new Bus(), backends: [{ name: "ollama", type: "ollama", url: ollamaUrl! }, { name: "vllm", type: "openai", url: openaiUrl! }], servedModels: null, probeIntervalMs: 60_000 });
report.afterConstruct = loaded();
await both.start();
report.bothReachable = both.backends().length === 2 && both.backends().every((b) => b.reachable);
report.afterOpenAI = loaded();
both.stop();
console.log(JSON.stringify(report));
`,
  );
});

afterAll(async () => {
  await Promise.all([ollama?.stop(), openai?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

test("an Ollama-only router never loads the openai SDK; an OpenAI-compatible backend loads it when it is first probed", async () => {
  const child = Bun.spawn([process.execPath, "--preload", join(dir, "hook.ts"), join(dir, "child.ts"), ollama.url, openai.url], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect(err).not.toContain("error:");
  expect(code).toBe(0);
  const report = JSON.parse(out.trim().split("\n").pop()!) as Record<string, unknown>;
  expect(report).toEqual({ ollamaReachable: true, afterOllama: 0, afterConstruct: 0, bothReachable: true, afterOpenAI: expect.any(Number) });
  // The hook sees the SDK's files when they load: the test can tell.
  expect(report.afterOpenAI as number).toBeGreaterThan(10);
}, 30_000);
