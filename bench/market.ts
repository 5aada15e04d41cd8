// The market reader must not slow the job path: job latency (request published → result received)
// through the real App, a relay and the Ollama test server, with the market reader on and off,
// while other providers' traffic (5050/7000/6050 from many keys) streams into the same relay at a
// steady rate. Run alone: `bun bench/market.ts [--quick]`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { finalizeEvent, generateSecretKey, getPublicKey, type Event } from "nostr-tools/pure";
import { App } from "../src/app.ts";
import { Vault } from "../src/identity/vault.ts";
import { setLogLevel } from "../src/log.ts";
import { paths } from "../src/paths.ts";
import { startCustomer } from "../test/fixtures/customer.ts";
import { startOllamaServer } from "../test/fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../test/fixtures/relay.ts";
import { fmt, median, percentile, table } from "./util.ts";

const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const PASSWORD = "bench-market";

export interface MarketBenchRow {
  reader: "on" | "off";
  jobs: number;
  medianMs: number;
  p90Ms: number;
  trafficPerSec: number;
  marketKept: number;
}

/** Other providers' traffic at `perSec` (a fixed pool of pre-signed events, re-signed ids not needed: the relay stores each once). */
function trafficSource(relay: TestRelay, perSec: number): { stop(): void; sent(): number } {
  const keys = Array.from({ length: 20 }, () => generateSecretKey());
  let n = 0;
  let stopped = false;
  const tick = async () => {
    while (!stopped) {
      const t0 = performance.now();
      const batch = Math.max(1, Math.round(perSec / 10));
      for (let i = 0; i < batch; i++) {
        const k = keys[n % keys.length]!;
        const now = Math.floor(Date.now() / 1000);
        // Addressed to another provider (p tag), which answers with payment-required: our engine
        // leaves them alone, the market reader reads them.
        const other = keys[(n + 1) % keys.length]!;
        const req: Event = finalizeEvent({ kind: 5050, created_at: now, tags: [["param", "model", "llama3.2:3b"], ["bid", "21000"], ["p", getPublicKey(other)]], content: `market traffic ${n}` }, k);
        void relay.inject(req as never);
        if (n % 2 === 0) void relay.inject(finalizeEvent({ kind: 7000, created_at: now, tags: [["e", req.id], ["p", getPublicKey(k)], ["status", "payment-required"], ["amount", "21000"]], content: "" }, other) as never);
        n++;
      }
      await Bun.sleep(Math.max(0, 100 - (performance.now() - t0)));
    }
  };
  void tick();
  return { stop: () => (stopped = true), sent: () => n };
}

async function run(reader: boolean, jobs: number, perSec: number): Promise<MarketBenchRow> {
  const relay = await startRelay();
  const ollama = await startOllamaServer({ models: [{ name: "llama3.2:3b" }], tokensPerSec: 2000, responseTokens: 20 });
  const dataDir = mkdtempSync(join(tmpdir(), "bench-market-"));
  await Vault.create(paths(dataDir).vault, { mnemonic: MNEMONIC, passphrase: "" }, PASSWORD, { scrypt: { N: 1024, r: 8, p: 1 } });
  writeFileSync(join(dataDir, "config.json"), JSON.stringify({ market: { enabled: reader }, limits: { perCustomerPerMinute: 10_000 } }));
  const app = await App.start({ dataDir, env: {}, password: PASSWORD, flags: { port: 0, logLevel: "error", relays: [relay.url], ollamaUrl: ollama.url, paymentMode: "free" } });
  const customer = await startCustomer([relay.url]);
  const traffic = trafficSource(relay, perSec);
  try {
    await app.controller.setOnline(true);
    await Bun.sleep(1000);
    const lat: number[] = [];
    for (let i = 0; i < jobs; i++) {
      const req = customer.request({ params: { model: "llama3.2:3b", max_tokens: 20 }, inputs: [[`bench job ${i}`, "text"]] });
      const t0 = performance.now();
      await customer.publish(req);
      await customer.waitForResult(req.id, 20_000);
      lat.push(performance.now() - t0);
    }
    const kept = reader ? app.controller.marketView().report.records : 0;
    return { reader: reader ? "on" : "off", jobs, medianMs: median(lat), p90Ms: percentile(lat, 90), trafficPerSec: perSec, marketKept: kept };
  } finally {
    traffic.stop();
    customer.close();
    await app.stop();
    await relay.stop();
    await ollama.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchMarket(quick = false): Promise<MarketBenchRow[]> {
  setLogLevel("error");
  const jobs = quick ? 15 : 40;
  const perSec = 100;
  const rows: MarketBenchRow[] = [];
  // Alternate so drift on a shared machine hits both sides.
  for (const reader of [false, true, false, true]) rows.push(await run(reader, jobs, perSec));
  return rows;
}

if (import.meta.main) {
  const rows = await benchMarket(process.argv.includes("--quick"));
  process.stdout.write(
    table(
      ["reader", "jobs", "median ms", "p90 ms", "traffic ev/s", "market events kept"],
      rows.map((r) => [r.reader, String(r.jobs), fmt(r.medianMs), fmt(r.p90Ms), String(r.trafficPerSec), String(r.marketKept)]),
    ) + "\n",
  );
  process.exit(0);
}
