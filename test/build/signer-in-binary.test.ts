// nostr-wasm inside the compiled binary: its loader embeds the wasm as text, so it should load with
// no node_modules in reach; if it did not, the signer would quietly fall back to pure JS (about
// twice the CPU per job, BENCHMARKS.md). The binary runs from a temp folder, online, against a
// local relay and the fake Ollama, with debug logs, and must say which implementation signs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";

const ROOT = join(import.meta.dir, "../..");
const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
let dir: string;
let bin: string;
let relay: TestRelay;
let ollama: FakeOllama;

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist/compute"))) {
    const b = Bun.spawnSync(["bun", "build.ts", "--host-only"], { cwd: ROOT, stdout: "ignore", stderr: "inherit" });
    if (b.exitCode !== 0) throw new Error("build failed");
  }
  dir = mkdtempSync(join(tmpdir(), "compute-signer-bin-"));
  bin = join(dir, "compute");
  copyFileSync(join(ROOT, "dist/compute"), bin);
  Bun.spawnSync(["chmod", "755", bin]);
  relay = await startRelay();
  ollama = await startOllamaServer({ instant: true });
}, 60_000);

afterAll(async () => {
  await relay?.stop();
  await ollama?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the compiled binary signs with nostr-wasm, and the relay accepts what it signs", async () => {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, COMPUTE_DATA_DIR: join(dir, "data"), COMPUTE_PASSWORD: "signer-bin-pw", COMPUTE_LOG_LEVEL: "debug" };
  const init = Bun.spawnSync([bin, "init", "--import"], { cwd: dir, env, stdin: Buffer.from(MNEMONIC), stdout: "pipe", stderr: "pipe" });
  expect(init.exitCode).toBe(0);
  // What the relay said to each event the binary published (it checks every signature).
  const accepted: number[] = [];
  const off = relay.onEvent((e, outcome) => outcome?.ok && accepted.push(e.kind));
  const proc = Bun.spawn([bin, "--headless", "--online", "--payment-mode", "free", "--port", "0", "--relay", relay.url, "--ollama-url", ollama.url], { cwd: dir, env, stdout: "ignore", stderr: "pipe" });
  let log = "";
  try {
    const reader = proc.stderr.getReader();
    const deadline = Date.now() + 15_000;
    // Until the signer has spoken and the announcement (NIP-89, kind 31990) is on the relay.
    while (Date.now() < deadline && !(/nostr\.signer/.test(log) && accepted.includes(31990))) {
      const chunk = await Promise.race([reader.read(), Bun.sleep(250).then(() => null)]);
      if (chunk?.value) log += new TextDecoder().decode(chunk.value);
      if (chunk?.done) break;
    }
    reader.releaseLock();
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    off();
  }
  const signerLines = log.split("\n").filter((l) => l.includes('"service":"nostr.signer"'));
  expect(signerLines.map((l) => JSON.parse(l).msg)).toEqual(["signing with nostr-wasm"]);
  // The announcement (NIP-89) was signed after the wasm loaded or before (then in JS): either way valid.
  expect(accepted).toContain(31990);
}, 30_000);
