// `compute market` and `compute price suggest` as real processes: without a running compute they
// read the relay themselves; with one they ask its API (GET /api/market), whose reader subscribed
// on the app's own pool. The figures are checked against the simulated market's plan.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { hexToBytes } from "@noble/hashes/utils.js";
import { closedPort } from "../fixtures/common.ts";
import { buildMarketSim } from "../fixtures/market-sim.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "../nostr/helpers.ts";

const REPO = resolve(import.meta.dir, "../..");
let relay: TestRelay;
let ollama: FakeOllama;
// Our own provider in the simulation is the test app's identity (TEST_MNEMONIC, NIP-06 vector).
const sim = buildMarketSim(undefined, hexToBytes("7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a"));

async function cli(args: string[], dataDir: string) {
  const p = Bun.spawn(["bun", "src/index.ts", ...args], { cwd: REPO, env: { ...process.env, COMPUTE_DATA_DIR: dataDir, COMPUTE_LOG_LEVEL: "error" }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { stdout, stderr, code };
}

beforeAll(async () => {
  relay = await startRelay();
  for (const e of sim.events) await relay.inject(e as never);
  ollama = await startOllamaServer({ models: [{ name: "llama3.2:3b" }], instant: true });
});
afterAll(async () => {
  await relay?.stop();
  await ollama?.stop();
});

test("compute market with no running compute reads the relay itself (and keeps it for next time)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "market-cli-"));
  const flags = ["--relay", relay.url, "--ollama-url", `http://127.0.0.1:${closedPort()}`, "--timeout", "10"];
  const r = await cli(["market", "--json", ...flags], dir);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const view = JSON.parse(r.stdout);
  expect(view.report.demand.requests).toBe(sim.expected.requests);
  expect(view.report.demand.answered).toBe(sim.expected.answered);
  expect(view.report.demand.unserved.requests).toBe(sim.expected.unserved);
  // This data dir has no identity: "me" of the simulation is one more provider here.
  expect(view.report.prices.find((p: { model: string }) => p.model === "llama3.2:3b").medianPerJobMsats).toBe(sim.expected.llamaMedianAllMsats);
  const text = await cli(["market", ...flags], dir);
  expect(text.code).toBe(0);
  expect(text.stdout).toContain("PROVIDERS");
  expect(text.stdout).toContain("Alpha");
  expect(text.stdout).toContain(`DEMAND  ${sim.expected.requests} requests from ${sim.expected.customers} customers`);
  // A price for a model asked by name, without a running compute: the market's median, not applied.
  const price = await cli(["price", "suggest", "--model", "llama3.2:3b", "--json", ...flags], dir);
  expect(price.code).toBe(0);
  const s = JSON.parse(price.stdout).suggestions[0];
  expect(s.marketPerJobMsats).toBe(sim.expected.llamaMedianAllMsats);
  expect(s.reason).toContain("Median of 4 providers serving llama3.2:3b is 23 sats/job");
  expect(JSON.parse(price.stdout).applied).toBeNull();
}, 60_000);

test("bad input: --since junk, a model name with markup", async () => {
  const dir = mkdtempSync(join(tmpdir(), "market-cli-"));
  const bad = await cli(["market", "--since", "forever", "--relay", relay.url], dir);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("--since takes a duration like 7d");
  const model = await cli(["price", "suggest", "--model", "<b>x</b>", "--relay", relay.url], dir);
  expect(model.code).toBe(2);
  expect(model.stderr).toContain("--model: not a model name");
}, 30_000);

test("with a running compute: GET /api/market from its own reader; price suggest --apply saves through its API", async () => {
  let t: TestApp | null = null;
  try {
    t = await startTestApp({ flags: { relays: [relay.url], ollamaUrl: ollama.url } });
    const app = t.app;
    const base = app.url.replace(/\/\?token=.*$/, "");
    const auth = { authorization: `Bearer ${app.token}` };
    const get = async (q: string) => {
      const res = await fetch(`${base}/api/market${q}`, { headers: auth });
      return { status: res.status, body: (await res.json()) as any };
    };
    await until(() => app.controller.marketView().report.demand.requests === sim.expected.requests, 15_000, "reader caught up");
    const { status, body } = await get("?since=24h");
    expect(status).toBe(200);
    expect(body.report.demand.answered).toBe(sim.expected.answered);
    expect(body.report.demand.unserved.forMe).toBe(sim.expected.unservedForMe);
    expect(body.reader.running).toBe(true);
    expect(body.suggestions.map((s: { model: string }) => s.model)).toEqual(["llama3.2:3b"]);
    expect((await get("?since=bogus")).status).toBe(400);
    expect((await get("?model=%3Cscript%3E")).status).toBe(400);

    const r = await cli(["price", "suggest", "--apply", "--json"], t.dataDir);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const applied = JSON.parse(r.stdout).suggestions[0];
    expect(app.controller.settings().pricing.perJobMsats).toBe(applied.perJobMsats);
    expect(applied.perJobMsats).toBe(sim.expected.llamaMedianMsats);
  } finally {
    await t?.stop();
  }
}, 60_000);
