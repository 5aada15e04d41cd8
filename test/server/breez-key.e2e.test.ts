// Pasting a Breez API key on a build that carries none, through the real App and server with the
// real Breez Spark wallet on mainnet. The internet is blocked for the whole file (fetch refuses every
// host but loopback), so the wallet can try to connect with the key but never reaches Breez.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loopbackOnlyFetch } from "../fixtures/common.ts";
import { startTestApp, type TestApp } from "../fixtures/test-app.ts";

const DEAD = 9; // discard port: relays and Ollama are simply unreachable
const KEY = "MIIBfzCCATGgAwIBAgIHPmJ4aTest" + "x".repeat(40) + "tail";
const realFetch = globalThis.fetch;

describe("a build without a Breez API key: the owner pastes one (real App, real Spark wallet, offline)", () => {
  let t: TestApp;
  let base: string;
  let token: string;
  beforeAll(async () => {
    globalThis.fetch = loopbackOnlyFetch(realFetch);
    t = await startTestApp({ flags: { relays: [`ws://127.0.0.1:${DEAD}`], ollamaUrl: `http://127.0.0.1:${DEAD}`, paymentMode: "free", network: "mainnet" } });
    const url = new URL(t.app.url);
    base = url.origin;
    token = url.searchParams.get("token")!;
    for (let i = 0; i < 100 && t.app.controller.snapshot().wallet.state !== "not_configured"; i++) await Bun.sleep(20);
  }, 30_000);
  afterAll(async () => {
    await t?.stop();
    globalThis.fetch = realFetch;
  }, 30_000);

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await realFetch(`${base}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  };

  test("not set up, and said so; a bad key is refused; a good one is saved to config.json, answered masked, and the wallet starts", async () => {
    expect(t.app.controller.snapshot().wallet.state).toBe("not_configured");
    expect(JSON.parse((await call("GET", "/wallet/breez-key")).text)).toEqual({ set: false, source: null, hint: null });
    const bad = await call("PUT", "/wallet/breez-key", { apiKey: "not a key" });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("doesn't look like a Breez API key");
    const ok = await call("PUT", "/wallet/breez-key", { apiKey: `  ${KEY}\n` });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toEqual({ set: true, source: "config", hint: "…tail" });
    expect(ok.text).not.toContain(KEY.slice(0, 12));
    expect(JSON.parse(readFileSync(join(t.dataDir, "config.json"), "utf8")).breezApiKey).toBe(KEY);
    // The wallet no longer waits for a key (offline it may not get further than trying).
    expect(t.app.controller.snapshot().wallet.state).not.toBe("not_configured");
    // Nothing the dashboard reads shows the key.
    for (const path of ["/wallet/breez-key", "/state", "/settings"]) expect((await call("GET", path)).text).not.toContain(KEY.slice(0, 12));
  }, 30_000);
});
