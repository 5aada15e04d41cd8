// nostr-wasm inside the compiled binary: its loader embeds the wasm as text, so it should load with
// no node_modules in reach; if it did not, the signer would quietly fall back to pure JS (about
// twice the CPU per job, BENCHMARKS.md). The binary runs from a temp folder, online, against a
// local relay and the fake Ollama, with debug logs, and must say which implementation signs: once
// online it loads nostr-wasm and warms it up with no traffic at all (issue 16: the first burst must
// not pay for the compile), and signs its answers to a job with it (src/nostr/signer.ts).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCustomer } from "../fixtures/customer.ts";
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

test("the compiled binary warms nostr-wasm up once online, before any job, and the relay accepts what it then signs", async () => {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, COMPUTE_DATA_DIR: join(dir, "data"), COMPUTE_PASSWORD: "signer-bin-pw", COMPUTE_LOG_LEVEL: "debug" };
  const init = Bun.spawnSync([bin, "init", "--import"], { cwd: dir, env, stdin: Buffer.from(MNEMONIC), stdout: "pipe", stderr: "pipe" });
  expect(init.exitCode).toBe(0);
  // What the relay said to each event the binary published (it checks every signature).
  const accepted: number[] = [];
  const off = relay.onEvent((e, outcome) => outcome?.ok && accepted.push(e.kind));
  const proc = Bun.spawn([bin, "--headless", "--online", "--payment-mode", "free", "--port", "0", "--relay", relay.url, "--ollama-url", ollama.url], { cwd: dir, env, stdout: "ignore", stderr: "pipe" });
  let log = "";
  const customer = await startCustomer([relay.url]);
  try {
    const reader = proc.stderr.getReader();
    // One read in flight at a time, kept across waits (a read dropped on a timeout loses its chunk).
    let pending: ReturnType<typeof reader.read> | null = null;
    let ended = false;
    const readUntil = async (done: () => boolean, ms: number) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline && !done() && !ended) {
        pending ??= reader.read();
        const chunk = await Promise.race([pending, Bun.sleep(250).then(() => null)]);
        if (!chunk) continue;
        pending = null;
        if (chunk.value) log += new TextDecoder().decode(chunk.value);
        if (chunk.done) ended = true;
      }
    };
    // Online and announced (NIP-89, kind 31990), then the signer loads and warms up with no job.
    await readUntil(() => accepted.includes(31990) && log.includes('"msg":"online"'), 15_000);
    await readUntil(() => log.includes('"msg":"signer warmed up"'), 30_000);
    // A job for this provider: its feedback and result are signed with nostr-wasm, and the relay checks them.
    const pubkey = (JSON.parse(readFileSync(join(dir, "data", "identity.json"), "utf8")) as { pubkey: string }).pubkey;
    const ok = (await customer.publish(customer.request({ inputs: [["warm signer", "text"]], provider: pubkey }))).filter((r) => r.ok).length;
    expect(ok).toBe(1);
    const deadline = Date.now() + 15_000;
    while (!accepted.includes(6050) && Date.now() < deadline) await Bun.sleep(50);
    expect(accepted).toContain(6050);
  } finally {
    customer.close();
    proc.kill("SIGTERM");
    await proc.exited;
    off();
  }
  const signerLines = log.split("\n").filter((l) => l.includes('"service":"nostr.signer"'));
  expect(signerLines.map((l) => JSON.parse(l).msg)).toEqual(["signing with nostr-wasm", "signer warmed up"]);
  expect(JSON.parse(signerLines[1]!).kind).toBe("wasm");
  // The announcement (NIP-89) was signed in JS before the warm-up: the relay checked and took it.
  expect(accepted).toContain(31990);
  expect(accepted).toContain(7000);
}, 60_000);
