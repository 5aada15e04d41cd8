// What the idle memory is made of: the compiled binary online without a wallet (free mode), idle
// for 15 s, with one part switched off at a time through its own config or environment (the market
// reader, nostr-wasm). `bun bench/idle-what.ts [BINARY]`. Prints VmRSS / RssAnon per variant.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateMnemonic } from "@scure/bip39";
import { wordlist } from "@scure/bip39/wordlists/english.js";
import { startOllamaServer } from "../test/fixtures/ollama-server.ts";
import { startRelay } from "../test/fixtures/relay.ts";
import { dashboardToken } from "./startup.ts";
import { dropPageCache, freePort, procStatusKb } from "./util.ts";

const bin = Bun.argv[2] ?? join(import.meta.dir, "../dist/compute");
const relay = await startRelay();
const fake = await startOllamaServer();
const dir = mkdtempSync(join(tmpdir(), "compute-idle-what-"));
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, COMPUTE_DATA_DIR: join(dir, "data"), COMPUTE_PASSWORD: "bench-vault-password" };
const init = Bun.spawnSync([bin, "init", "--import"], { cwd: dir, env, stdin: Buffer.from(generateMnemonic(wordlist)), stdout: "pipe", stderr: "pipe" });
if (init.exitCode !== 0) throw new Error(init.stderr.toString());
const variants: [string, Record<string, unknown>, Record<string, string>][] = [
  ["as shipped", {}, {}],
  ["market reader off", { market: { enabled: false } }, {}],
  ["nostr-wasm off", {}, { COMPUTE_NOSTR_WASM: "0" }],
  ["both off", { market: { enabled: false } }, { COMPUTE_NOSTR_WASM: "0" }],
];
for (const [name, config, extraEnv] of variants) {
  writeFileSync(join(dir, "data", "config.json"), JSON.stringify(config));
  rmSync(join(dir, "data", "market.sqlite"), { force: true });
  const port = freePort();
  dropPageCache(bin);
  const proc = Bun.spawn([bin, "--headless", "--port", String(port), "--relay", relay.url, "--ollama-url", fake.url, "--online", "--payment-mode", "free"], { cwd: dir, env: { ...env, ...extraEnv }, stdout: "pipe", stderr: "ignore" });
  await dashboardToken(proc.stdout, 20_000);
  await Bun.sleep(15_000);
  console.log(`${name.padEnd(20)} VmRSS ${((procStatusKb(proc.pid, "VmRSS") ?? 0) / 1024).toFixed(1)} MiB  RssAnon ${((procStatusKb(proc.pid, "RssAnon") ?? 0) / 1024).toFixed(1)} MiB  RssFile ${((procStatusKb(proc.pid, "RssFile") ?? 0) / 1024).toFixed(1)} MiB`);
  proc.kill("SIGTERM");
  await proc.exited;
}
void readFileSync;
await relay.stop();
await fake.stop();
rmSync(dir, { recursive: true, force: true });
