// Unlock, lock and create are serialized, and lock really locks: through the real App's HTTP API
// with the relay fixture (which counts its open websockets) and wallets counted as they are made
// and disconnected (the Lightning test double: settlement can't happen offline).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "../../src/app.ts";
import { Vault } from "../../src/identity/vault.ts";
import { loadSecp256k1 } from "../../src/nostr/secp256k1-wasm.ts";
import { initSigner, resetSigner, signEvent } from "../../src/nostr/signer.ts";
import { paths } from "../../src/paths.ts";
import { LightningDouble } from "../fixtures/lightning-double.ts";
import { startRelay, type TestRelay } from "../fixtures/relay.ts";
import { TEST_MNEMONIC } from "../fixtures/test-app.ts";
import { until } from "../jobs/harness.ts";

const PASSWORD = "test-app-password";
const OTHER_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
let relay: TestRelay;
const dirs: string[] = [];
const apps: App[] = [];

beforeEach(async () => {
  // One relay per test: its open sockets are this test's App's alone.
  relay = await startRelay();
});
afterEach(async () => {
  for (const a of apps.splice(0)) await a.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  await relay?.stop();
});

/** A real App with the Lightning test double; `live()` = wallets made and not yet disconnected. */
async function start(withVault: boolean) {
  const dataDir = mkdtempSync(join(tmpdir(), "compute-unlock-"));
  dirs.push(dataDir);
  if (withVault) await Vault.create(paths(dataDir).vault, { mnemonic: TEST_MNEMONIC, passphrase: "" }, PASSWORD, { scrypt: { N: 1024, r: 8, p: 1 } });
  let made = 0;
  let gone = 0;
  const app = await App.start({
    dataDir,
    env: {},
    flags: { port: 0, logLevel: "error", relays: [relay.url], ollamaUrl: "http://127.0.0.1:9", paymentMode: "free" },
    walletFactory: () => {
      made++;
      const w = new LightningDouble();
      const disconnect = w.disconnect.bind(w);
      w.disconnect = async () => {
        gone++;
        await disconnect();
      };
      return w;
    },
  });
  apps.push(app);
  const origin = new URL(app.url).origin;
  const post = (path: string, body?: unknown) =>
    fetch(`${origin}/api${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${app.token}`, "content-type": "application/json" },
      body: JSON.stringify(body ?? {}),
    });
  return { app, dataDir, post, live: () => made - gone, made: () => made };
}

const openSockets = () => relay.connections().filter((c) => c.open).length;

test("three parallel unlocks with the right password start one set of services; after lock no relay socket and no wallet is left", async () => {
  const t = await start(true);
  const results = await Promise.all([1, 2, 3].map(() => t.post("/unlock", { password: PASSWORD })));
  // One unlocks; the others wait their turn and find it unlocked (same password: ok).
  expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
  expect(t.made()).toBe(1);
  await until(() => openSockets() === 1, 5000, "one relay connection");
  expect((await t.post("/lock")).status).toBe(200);
  expect(t.app.controller.snapshot().identity.state).toBe("locked");
  // Give orphaned pools the time to reconnect if any were left.
  await Bun.sleep(1500);
  expect(openSockets()).toBe(0);
  expect(t.live()).toBe(0);
}, 30_000);

test("lock wipes the keypair the signer kept between signatures", async () => {
  // The real wasm binding, watched: which keys it holds, and when they are forgotten.
  const real = await loadSecp256k1();
  let forgotten = 0;
  resetSigner();
  await initSigner({ load: async () => ({ ...real, forgetKeys: () => (forgotten++, real.forgetKeys()) }) });
  try {
    const t = await start(true);
    expect((await t.post("/unlock", { password: PASSWORD })).status).toBe(200);
    const before = forgotten;
    expect((await t.post("/lock")).status).toBe(200);
    expect(forgotten).toBe(before + 1);
    // Signing still works afterwards (a key is kept again when it is used).
    expect(signEvent({ kind: 1, created_at: 1_700_000_000, tags: [], content: "after lock" }, new Uint8Array(32).fill(3)).sig).toMatch(/^[0-9a-f]{128}$/);
  } finally {
    resetSigner();
  }
}, 30_000);

test("unlock while already unlocked with a wrong password is refused, not ok", async () => {
  const t = await start(true);
  expect((await t.post("/unlock", { password: PASSWORD })).status).toBe(200);
  const wrong = await t.post("/unlock", { password: "not-the-password" });
  expect(wrong.status).toBe(401);
  expect(t.app.controller.snapshot().identity.state).toBe("unlocked");
  expect((await t.post("/unlock", { password: PASSWORD })).status).toBe(200);
  expect(t.made()).toBe(1);
}, 30_000);

test("a lock racing an unlock leaves nothing running", async () => {
  const t = await start(true);
  const unlocking = t.post("/unlock", { password: PASSWORD });
  await Bun.sleep(5);
  const locking = t.post("/lock");
  await Promise.all([unlocking, locking]);
  await t.post("/lock");
  await Bun.sleep(1500);
  expect(t.app.controller.snapshot().identity.state).toBe("locked");
  expect(openSockets()).toBe(0);
  expect(t.live()).toBe(0);
}, 30_000);

test("two parallel dashboard creates with different phrases: exactly one wins and the running identity is the vault's", async () => {
  const t = await start(false);
  const [a, b] = await Promise.all([
    t.post("/onboarding/create", { mnemonic: TEST_MNEMONIC, password: PASSWORD }),
    t.post("/onboarding/create", { mnemonic: OTHER_MNEMONIC, password: PASSWORD }),
  ]);
  expect([a.status, b.status].sort()).toEqual([200, 409]);
  const seed = await Vault.open(paths(t.dataDir).vault, PASSWORD);
  const winner = a.status === 200 ? TEST_MNEMONIC : OTHER_MNEMONIC;
  expect(seed.mnemonic).toBe(winner);
  const { UnifiedIdentity } = await import("../../src/identity/identity.ts");
  const expected = await UnifiedIdentity.fromMnemonic(winner, "");
  expect(t.app.controller.snapshot().identity).toEqual({ state: "unlocked", npub: expected.npub });
  expect(t.made()).toBe(1);
}, 60_000);

/** An App whose vault has the product's own scrypt parameters (the key derivation takes ~1 s here). */
async function startSlowKdf() {
  const dataDir = mkdtempSync(join(tmpdir(), "compute-unlock-kdf-"));
  dirs.push(dataDir);
  await Vault.create(paths(dataDir).vault, { mnemonic: TEST_MNEMONIC, passphrase: "" }, PASSWORD);
  const app = await App.start({
    dataDir,
    env: {},
    flags: { port: 0, logLevel: "error", relays: [relay.url], ollamaUrl: "http://127.0.0.1:9", paymentMode: "free" },
    walletFactory: () => new LightningDouble(),
  });
  apps.push(app);
  const origin = new URL(app.url).origin;
  const unlock = (password: string) =>
    fetch(`${origin}/api/unlock`, { method: "POST", headers: { authorization: `Bearer ${app.token}`, "content-type": "application/json" }, body: JSON.stringify({ password }) });
  return { app, unlock };
}

test("the relays are connected while the vault's key derivation runs, not after it", async () => {
  const t = await startSlowKdf();
  // When the vault's key derivation ends (Vault.open resolves), seen from inside.
  let openedAt: number | null = null;
  const open = Vault.open;
  Vault.open = async (...args: Parameters<typeof Vault.open>) => {
    const seed = await open.apply(Vault, args);
    openedAt ??= performance.now();
    return seed;
  };
  let connectedAt: number | null = null;
  let polling = true;
  const poll = (async () => {
    while (polling && connectedAt === null) {
      if (openSockets() > 0) connectedAt = performance.now();
      await Bun.sleep(2);
    }
  })();
  try {
    const res = await t.unlock(PASSWORD);
    polling = false;
    await poll;
    expect(res.status).toBe(200);
  } finally {
    Vault.open = open;
    polling = false;
  }
  expect(connectedAt).not.toBeNull();
  expect(openedAt).not.toBeNull();
  // The relay was reached before the derivation ended (it takes most of a second here).
  expect(connectedAt!).toBeLessThan(openedAt!);
  expect(openSockets()).toBe(1);
}, 30_000);

test("a wrong password closes the relay connections opened while the key derivation ran", async () => {
  const t = await startSlowKdf();
  const res = await t.unlock("not the password at all");
  expect(res.status).toBe(401);
  await until(() => openSockets() === 0, 5000, "the early relay connection closed");
  // Nothing reconnects afterwards.
  await Bun.sleep(1500);
  expect(openSockets()).toBe(0);
  // The right password then unlocks as usual, with one connection.
  expect((await t.unlock(PASSWORD)).status).toBe(200);
  await until(() => openSockets() === 1, 5000, "one relay connection");
}, 30_000);
