// Records the profile build.ts lays the binary's bytecode out by (Bun's `bytecodeOrder`): the
// compiled dist/compute is started the way a headless provider runs (online, free jobs, against a
// local test relay and test Ollama), answers a few jobs, idles, and is stopped; Bun writes which
// functions it ran to scripts/bytecode-order.txt. The bytecode those runs use then sits together at
// the front of the executable: fewer of its pages are touched, so the provider idles in less
// memory (BENCHMARKS.md). A profile from an older build still applies (functions it doesn't know
// go last), so it is re-recorded now and then, not on every build:
//   bun build.ts --host-only && bun scripts/record-bytecode-order.ts && bun build.ts
// Everything stays on 127.0.0.1.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { Customers } from "../bench/load.ts";
import { dashboardToken } from "../bench/startup.ts";
import { freePort } from "../bench/util.ts";
import { startOllamaServer } from "../test/fixtures/ollama-server.ts";
import { startRelay } from "../test/fixtures/relay.ts";

const ROOT = join(import.meta.dir, "..");
const ORDER_FILE = join(ROOT, "scripts/bytecode-order.txt");

const bin = Bun.argv[2] ?? join(ROOT, "dist/compute");
const relay = await startRelay();
const fake = await startOllamaServer({ instant: true });
const dir = mkdtempSync(join(tmpdir(), "compute-bytecode-order-"));
const out = join(dir, "order.txt");
try {
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, COMPUTE_DATA_DIR: join(dir, "data"), COMPUTE_PASSWORD: "record-vault-password" };
  const init = Bun.spawnSync([bin, "init", "--import"], { cwd: dir, env, stdin: Buffer.from(generateMnemonic(wordlist)), stdout: "pipe", stderr: "pipe" });
  if (init.exitCode !== 0) throw new Error(`compute init failed: ${init.stderr.toString().slice(0, 300)}`);
  const port = freePort();
  const proc = Bun.spawn([bin, "--headless", "--port", String(port), "--relay", relay.url, "--ollama-url", fake.url, "--online", "--payment-mode", "free"], {
    cwd: dir,
    env: { ...env, BUN_BYTECODE_ORDER_OUT: out },
    stdout: "pipe",
    stderr: "ignore",
  });
  await dashboardToken(proc.stdout, 20_000);
  const state = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).text()).slice(0, 80);
  // A few jobs from a few customers, so the job path is in the profile too.
  const pubkey = (JSON.parse(readFileSync(join(dir, "data", "identity.json"), "utf8")) as { pubkey: string }).pubkey;
  const customers = await Customers.start(relay.url, 4, 2);
  const r = await customers.run(customers.sign(20, pubkey), null, 20_000, { inFlight: 4 });
  customers.close();
  await Bun.sleep(3000);
  proc.kill("SIGTERM");
  await proc.exited;
  copyFileSync(out, ORDER_FILE);
  console.log(`recorded ${ORDER_FILE} (${(statSync(ORDER_FILE).size / 1024).toFixed(0)} KiB) from one start, ${r.results} jobs and an idle spell (healthz: ${state})`);
} finally {
  await relay.stop();
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
}
