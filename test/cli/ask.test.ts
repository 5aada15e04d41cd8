// `compute ask`, `compute selftest`, `compute earnings` and `compute password` as real processes
// against `compute --headless` (another real process), a relay from npm and the Ollama test server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";

const REPO = resolve(import.meta.dir, "../..");
const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const NPUB = "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu";
const PASSWORD = "ask test password";
const root = mkdtempSync(join(tmpdir(), "compute-cli-ask-"));
const providerDir = join(root, "provider");
const customerDir = join(root, "customer");
let relay: TestRelay;
let ollama: FakeOllama;
let provider: Bun.Subprocess<"ignore", "pipe", "pipe">;

function run(args: string[], dataDir: string, extraEnv: Record<string, string> = {}, stdin?: string) {
  return Bun.spawn(["bun", "src/index.ts", ...args], {
    cwd: REPO,
    env: { ...process.env, COMPUTE_DATA_DIR: dataDir, COMPUTE_LOG_LEVEL: "error", ...extraEnv },
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
}

async function output(p: ReturnType<typeof run>) {
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

beforeAll(async () => {
  relay = await startRelay();
  ollama = await startOllamaServer({ tokensPerSec: 500 });
  const init = await output(run(["init", "--import"], providerDir, { COMPUTE_PASSWORD: PASSWORD }, MNEMONIC));
  expect(init.code).toBe(0);
  provider = Bun.spawn(["bun", "src/index.ts", "--headless", "--online", "--payment-mode", "free", "--port", "0", "--relay", relay.url, "--ollama-url", ollama.url], {
    cwd: REPO,
    env: { ...process.env, COMPUTE_DATA_DIR: providerDir, COMPUTE_PASSWORD: PASSWORD, COMPUTE_LOG_LEVEL: "error" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  // Online once its announcement is on the relay.
  for (let i = 0; i < 100 && !relay.events().some((e) => e.kind === 31990); i++) await Bun.sleep(100);
  expect(relay.events().some((e) => e.kind === 31990)).toBe(true);
}, 30_000);

afterAll(async () => {
  provider?.kill("SIGTERM");
  await provider?.exited;
  await relay?.stop();
  await ollama?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("compute ask against compute --headless", () => {
  test("prints feedback with timings on stderr and the answer on stdout", async () => {
    const r = await output(run(["ask", "What is a sat?", "--relay", relay.url, "--anon", "--timeout", "20"], customerDir));
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toStartWith("echo: What is a sat?");
    expect(r.stderr).toMatch(/\[\s*\d+ ms\] [0-9a-f]{8} processing/);
    expect(r.stderr).toMatch(/result via ws:\/\/127\.0\.0\.1/);
  }, 30_000);

  test("--json, --provider npub, --encrypt (NIP-44), --model and --max-tokens", async () => {
    const r = await output(
      run(["ask", "encrypted hello", "--relay", relay.url, "--anon", "--provider", NPUB, "--encrypt", "--model", "llama3.2", "--max-tokens", "5", "--json", "--timeout", "20"], customerDir),
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.content).toStartWith("echo: encrypted hello");
    expect(result.feedback.map((f: { status: string }) => f.status)).toContain("processing");
    // The request really was encrypted on the relay: no plaintext prompt in any 5050.
    const req = relay.events().find((e) => e.id === result.requestId)!;
    expect(req.tags).toContainEqual(["encrypted"]);
    expect(JSON.stringify(req)).not.toContain("encrypted hello");
    // max_tokens reached Ollama as num_predict.
    expect(ollama.requests("/api/generate").some((q) => (q.body as any)?.options?.num_predict === 5)).toBe(true);
  }, 30_000);

  test("a model the provider does not offer: exit 1 with the provider's reason", async () => {
    const r = await output(run(["ask", "hi", "--relay", relay.url, "--anon", "--provider", NPUB, "--model", "llama9", "--timeout", "20"], customerDir));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("model llama9 is not offered here");
  }, 30_000);

  test("usage errors exit 2", async () => {
    expect((await output(run(["ask"], customerDir))).code).toBe(2);
    expect((await output(run(["ask", "x", "--provider", "nonsense", "--relay", relay.url], customerDir))).code).toBe(2);
  });
});

describe("selftest, earnings, password", () => {
  test("selftest reports the round trip through the relay", async () => {
    const r = await output(run(["selftest", "--json", "--relay", relay.url, "--timeout", "20"], providerDir));
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.npub).toBe(NPUB);
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({ relay: relay.url, ok: true });
    expect(report.results[0].resultMs).toBeGreaterThan(0);
    // Discoverable: the relay returns our announcement for #k=5050 and a fresh heartbeat.
    expect(report.results[0].discoverable).toMatchObject({ announcement: true, heartbeatFresh: true });
  }, 30_000);

  test("earnings (from the running instance) counts the jobs served today", async () => {
    const r = await output(run(["earnings", "--json"], providerDir));
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(e.todayJobs).toBeGreaterThanOrEqual(3); // the two asks and the selftest
    expect(e.days).toHaveLength(14);
  });

  test("password refuses while compute runs, then changes it once stopped", async () => {
    const busy = await output(run(["password"], providerDir, { COMPUTE_PASSWORD: PASSWORD, COMPUTE_NEW_PASSWORD: "a brand new password" }));
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain("stop it before changing the password");
    provider.kill("SIGTERM");
    expect(await provider.exited).toBe(0);
    const wrong = await output(run(["password"], providerDir, { COMPUTE_PASSWORD: "not it at all", COMPUTE_NEW_PASSWORD: "a brand new password" }));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("The vault password is wrong.");
    const ok = await output(run(["password"], providerDir, { COMPUTE_PASSWORD: PASSWORD, COMPUTE_NEW_PASSWORD: "a brand new password" }));
    expect(ok.code).toBe(0);
    // The old password no longer opens it; the new one does.
    const status = await output(run(["ask", "x", "--relay", `ws://127.0.0.1:1`, "--timeout", "1"], providerDir, { COMPUTE_PASSWORD: PASSWORD }));
    expect(status.stderr).toContain("The vault password is wrong.");
  }, 30_000);
});
