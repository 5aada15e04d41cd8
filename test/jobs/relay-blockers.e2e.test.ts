// GO ONLINE's blockers tell a relay that has not answered yet apart from no relay at all: with
// only a silent relay (it takes the websocket, never answers) the app says it is waiting for the
// relays; once that relay is gone, that no relay is connected. Real relay fixture, real App.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "./harness.ts";

let fake: FakeOllama;
let silent: TestRelay;
let started: TestApp;

beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
  silent = await startRelay({ mode: "silent" });
  started = await startTestApp({ flags: { relays: [silent.url], ollamaUrl: fake.url, paymentMode: "free" }, options: { ollamaProbeMs: 200 } });
});

afterAll(async () => {
  await started?.stop();
  await silent?.stop();
  await fake?.stop();
});

const blockers = () => started.app.controller.snapshot().provider.blockers.join(" | ");

test("a silent relay reads as 'waiting for your relays', a missing one as 'no relay is connected'", async () => {
  await until(() => blockers().includes("Waiting for your relays to answer"), 5_000, "waiting blocker");
  expect(blockers()).not.toContain("No relay is connected");
  expect(started.app.controller.snapshot().relays.every((r) => r.state !== "connected")).toBe(true);
  await silent.stop();
  await until(() => blockers().includes("No relay is connected"), 10_000, "no-relay blocker");
  expect(blockers()).not.toContain("Waiting for your relays");
}, 30_000);
