// A profile saved on the dashboard while online goes out at once, without a restart: a new kind 0
// profile (when publishing is on) and a new NIP-89 announcement (its content carries name, about
// and picture) reach the relay; saving the same profile again sends neither. Real App over its
// HTTP API, real relay, the Ollama test server, all on 127.0.0.1.
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Event } from "nostr-tools/core";
import { HANDLER_INFO, PROFILE } from "../../src/nostr/kinds.ts";
import { startOllamaServer, type FakeOllama } from "../fixtures/ollama-server.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";
import { until } from "../jobs/harness.ts";

let fake: FakeOllama;
let relay: TestRelay;
let started: TestApp;
/** Every event the app sent to the relay, in order (the relay keeps only the latest kind 0). */
const sent: Event[] = [];

beforeAll(async () => {
  fake = await startOllamaServer({ models: [{ name: "llama3.2" }], instant: true });
  relay = await startRelay();
  relay.onEvent((e) => sent.push(e));
  started = await startTestApp({
    flags: {},
    config: {
      relays: [relay.url],
      ollamaUrl: fake.url,
      pricing: { mode: "free" },
      provider: { name: "First Name", about: "first about", publishProfile: true },
    },
    options: { ollamaProbeMs: 100 },
  });
});

afterAll(async () => {
  await started?.stop();
  await relay?.stop();
  await fake?.stop();
});

/** The app is the relay's only client. */
const ours = (kind: number) => sent.filter((e) => e.kind === kind);
const content = (e: Event) => JSON.parse(e.content) as { name?: string; about?: string; picture?: string };

async function save(body: unknown): Promise<void> {
  const res = await fetch(`${new URL(started.app.url).origin}/api/settings`, {
    method: "PUT",
    headers: { authorization: `Bearer ${started.app.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

test("online: a saved profile change publishes a new kind 0 and 31990 at once; the same profile again publishes nothing", async () => {
  await until(() => started.app.controller.snapshot().provider.blockers.length === 0, 10_000, "nothing blocking going online");
  await started.app.controller.setOnline(true);
  await until(() => ours(PROFILE).length === 1 && ours(HANDLER_INFO).length === 1, 5_000, "profile and announcement on going online");
  expect(content(ours(PROFILE)[0]!)).toMatchObject({ name: "First Name", about: "first about" });

  // A new name (and picture) saved while online: both events go out again, saying so.
  await save({ provider: { name: "Second Name", picture: "https://example.test/p.png" } });
  await until(() => ours(PROFILE).length === 2 && ours(HANDLER_INFO).length === 2, 5_000, "new profile and announcement");
  const profile = ours(PROFILE)[1]!;
  expect(content(profile)).toMatchObject({ name: "Second Name", about: "first about", picture: "https://example.test/p.png" });
  expect(content(ours(HANDLER_INFO)[1]!)).toMatchObject({ name: "Second Name", picture: "https://example.test/p.png" });
  // Later than the first profile even within the same second, so the relay keeps the new one.
  expect(profile.created_at).toBeGreaterThan(ours(PROFILE)[0]!.created_at);
  const stored = relay.events().filter((e) => e.kind === PROFILE);
  expect(stored.map((e) => content(e).name)).toEqual(["Second Name"]);

  // Saving the same profile (and an unrelated limit) again publishes nothing new.
  await save({ provider: { name: "Second Name", about: "first about", picture: "https://example.test/p.png", publishProfile: true }, limits: { partialIntervalMs: 500 } });
  await Bun.sleep(500);
  expect(ours(PROFILE)).toHaveLength(2);
  expect(ours(HANDLER_INFO)).toHaveLength(2);

  // Publishing switched off: a name change re-announces (its content has the name) but sends no kind 0.
  await save({ provider: { publishProfile: false, name: "Third Name" } });
  await until(() => ours(HANDLER_INFO).length === 3, 5_000, "announcement with the third name");
  expect(content(ours(HANDLER_INFO)[2]!).name).toBe("Third Name");
  await Bun.sleep(300);
  expect(ours(PROFILE)).toHaveLength(2);

  // Switched back on with that name: the profile goes out.
  await save({ provider: { publishProfile: true } });
  await until(() => ours(PROFILE).length === 3, 5_000, "profile when publishing is switched on");
  expect(content(ours(PROFILE)[2]!).name).toBe("Third Name");
  expect(ours(HANDLER_INFO)).toHaveLength(3);
}, 30_000);
