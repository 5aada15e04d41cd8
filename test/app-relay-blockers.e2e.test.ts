// GO ONLINE's blockers tell a relay that has not answered yet apart from no relay at all: with
// only a silent relay (it takes the websocket, never answers) the app says it is waiting for the
// relays; once that relay is gone, that no relay is connected. Real relay fixture, real App.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "../src/app.ts";
import { Vault } from "../src/identity/vault.ts";
import { paths } from "../src/paths.ts";
import { startOllamaServer, type FakeOllama } from "./fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "./fixtures/relay.ts";
import { until } from "./jobs/harness.ts";

let fake: FakeOllama;
let silent: TestRelay;
let app: App;
let dataDir: string;

beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
  silent = await startRelay({ mode: "silent" });
  dataDir = mkdtempSync(join(tmpdir(), "compute-blockers-"));
  await Vault.create(paths(dataDir).vault, { mnemonic: "leader monkey parrot ring guide accident before fence cannon height naive bean", passphrase: "" }, "pw-blockers", { scrypt: { N: 1024, r: 8, p: 1 } });
  app = await App.start({
    dataDir,
    env: {},
    password: "pw-blockers",
    flags: { port: 0, relays: [silent.url], ollamaUrl: fake.url, paymentMode: "free", logLevel: "error" },
    ollamaProbeMs: 200,
  });
});

afterAll(async () => {
  await app?.stop();
  await silent?.stop();
  await fake?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const blockers = () => app.snapshot().provider.blockers.join(" | ");

test("a silent relay reads as 'waiting for your relays', a missing one as 'no relay is connected'", async () => {
  await until(() => blockers().includes("Waiting for your relays to answer"), 5_000, "waiting blocker");
  expect(blockers()).not.toContain("No relay is connected");
  expect(app.snapshot().relays.every((r) => r.state !== "connected")).toBe(true);
  await silent.stop();
  await until(() => blockers().includes("No relay is connected"), 10_000, "no-relay blocker");
  expect(blockers()).not.toContain("Waiting for your relays");
}, 30_000);
