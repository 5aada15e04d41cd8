// The HTTP API through app.request(): every route against a recording controller, and the guards
// (token, Host, Origin, bodies, CSP, password limiter).
import { beforeEach, describe, expect, test } from "bun:test";
import { Bus } from "../../src/bus.ts";
import { getLogLevel, setLogLevel, setLogSink } from "../../src/log.ts";
import { AppError } from "../../src/errors.ts";
import type { Controller, SendPreview, Settings, SettingsPatch } from "../../src/server/controller.ts";
import { NotOffered } from "../fixtures/not-offered.ts";
import { AttemptLimiter, CSP, COOKIE, allowedHosts } from "../../src/server/security.ts";
import { createServer } from "../../src/server/server.ts";
import type { Snapshot } from "../../src/server/snapshot.ts";

const TOKEN = "t".repeat(64);
const BASE = "http://127.0.0.1:7750";
const ASSETS = { html: "<!doctype html><title>test page</title>", js: "console.log('app')", css: "body{color:red}" };
const RIGHT_PASSWORD = "correct horse";
const JOB_ID = "ab".repeat(32);

type Call = [string, ...unknown[]];

class FakeController extends NotOffered implements Controller {
  readonly bus = new Bus();
  calls: Call[] = [];
  /** Set to make the next call throw. */
  failWith: Error | null = null;
  unlockDelayMs = 0;
  online = false;
  relays = ["ws://127.0.0.1:1"];

  private rec(name: string, ...args: unknown[]) {
    this.calls.push([name, ...args]);
    const e = this.failWith;
    this.failWith = null;
    if (e) throw e;
  }
  snapshot(): Snapshot {
    this.calls.push(["snapshot"]);
    return {
      version: "0.0.0-test",
      identity: { state: "locked", npub: "npub1test" },
      provider: { online: this.online, blockers: [], paymentMode: "upfront", perJobMsats: 1000, per1kTokensMsats: 0, announcementId: null },
      wallet: { state: "locked", network: "regtest", balanceSats: null, lightningAddress: null, message: null },
      earnings: { todaySats: 0, todayJobs: 0, weekSats: 0, weekJobs: 0, allSats: 0, allJobs: 0, days: [], byModel: [] },
      jobs: [],
      ollama: { url: "http://127.0.0.1:1", reachable: false, version: null, error: null },
      models: [{ name: "m1", family: null, parameterSize: null, quantization: null, sizeBytes: 1, served: true }],
      relays: this.relays.map((url) => ({ url, state: "connected" as const, latencyMs: 1, error: null, since: 0 })),
    };
  }
  async setOnline(online: boolean) {
    this.rec("setOnline", online);
    this.online = online;
  }
  async setServedModels(models: string[] | null) {
    this.rec("setServedModels", models);
  }
  async pullModel(model: string) {
    this.rec("pullModel", model);
  }
  async addRelay(url: string) {
    this.rec("addRelay", url);
    this.relays.push(url);
  }
  async removeRelay(url: string) {
    this.rec("removeRelay", url);
    this.relays = this.relays.filter((r) => r !== url);
  }
  settings(): Settings {
    this.rec("settings");
    return { relays: this.relays, ollamaUrl: "http://127.0.0.1:1", pricing: { mode: "upfront" }, limits: { queueSize: 1 } };
  }
  async updateSettings(patch: SettingsPatch) {
    this.rec("updateSettings", patch);
    return { relays: this.relays, ollamaUrl: "http://127.0.0.1:1", pricing: { mode: "upfront", ...patch.pricing }, limits: { ...patch.limits } };
  }
  generateMnemonic(words: 12 | 24) {
    this.rec("generateMnemonic", words);
    return Array.from({ length: words }, () => "abandon").join(" ");
  }
  validateMnemonic(mnemonic: string): ReturnType<Controller["validateMnemonic"]> {
    this.rec("validateMnemonic", mnemonic);
    return mnemonic === "good" ? { ok: true } : { ok: false, error: "bad word", word: "xx", suggestions: ["ox"] };
  }
  suggestWords(prefix: string) {
    this.rec("suggestWords", prefix);
    return [`${prefix}1`, `${prefix}2`];
  }
  async createIdentity(input: { mnemonic: string; passphrase?: string; password: string }) {
    this.rec("createIdentity", input);
    return { npub: "npub1created" };
  }
  async unlock(password: string) {
    this.rec("unlock", password);
    if (this.unlockDelayMs) await Bun.sleep(this.unlockDelayMs);
    if (password !== RIGHT_PASSWORD) throw new AppError("unauthorized", "wrong password");
  }
  async lock() {
    this.rec("lock");
  }
  async revealMnemonic(password: string) {
    this.rec("revealMnemonic", password);
    if (password !== RIGHT_PASSWORD) throw new AppError("unauthorized", "wrong password");
    return "the secret words";
  }
  async walletReceive(amountSats?: number) {
    this.rec("walletReceive", amountSats);
    return { bolt11: "lnbcrt1test", address: null };
  }
  async walletPrepareSend(destination: string, amountSats?: number): Promise<SendPreview> {
    this.rec("walletPrepareSend", destination, amountSats);
    return { id: "prep-1", feeSats: 2, amountSats: amountSats ?? 10, destinationType: "bolt11" };
  }
  async walletConfirmSend(id: string, password: string) {
    this.rec("walletConfirmSend", id);
    if (password !== RIGHT_PASSWORD) throw new AppError("unauthorized", "wrong password");
    return { id: "pay-1", status: "pending" as const, amountSats: 5, feeSats: 2 };
  }
  async cancelJob(id: string) {
    this.rec("cancelJob", id);
  }
}

let ctl: FakeController;
let app: ReturnType<typeof createServer>;
beforeEach(() => {
  ctl = new FakeController();
  app = createServer(ctl, { token: TOKEN, allowedHosts: () => allowedHosts("127.0.0.1", 7750), assets: ASSETS, heartbeatMs: 60_000 });
});

interface Opts {
  method?: string;
  json?: unknown;
  body?: string;
  contentType?: string;
  auth?: "bearer" | "cookie" | "none" | string;
  origin?: string;
  host?: string;
}
function req(path: string, o: Opts = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  const auth = o.auth ?? "bearer";
  if (auth === "bearer") headers.authorization = `Bearer ${TOKEN}`;
  else if (auth === "cookie") headers.cookie = `${COOKIE}=${TOKEN}`;
  else if (auth !== "none") headers.authorization = auth;
  if (o.origin) headers.origin = o.origin;
  if (o.host) headers.host = o.host;
  let body: string | undefined = o.body;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers["content-type"] = "application/json";
  }
  if (o.contentType) headers["content-type"] = o.contentType;
  return Promise.resolve(app.request(`${BASE}${path}`, { method: o.method ?? (body !== undefined ? "POST" : "GET"), headers, body }));
}

async function expectError(res: Response, status: number, name: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/json");
  const j = (await res.json()) as { error: { name: string; message: string } };
  expect(Object.keys(j)).toEqual(["error"]);
  expect(j.error.name).toBe(name);
  expect(typeof j.error.message).toBe("string");
  expect(j.error.message.length).toBeGreaterThan(5);
  return j.error.message;
}

function expectSecurityHeaders(res: Response) {
  expect(res.headers.get("content-security-policy")).toBe(CSP);
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
}

describe("static routes", () => {
  test("GET / serves the page without a token", async () => {
    const res = await req("/", { auth: "none" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toBe(ASSETS.html);
  });
  test("/app.js and /app.css with their types", async () => {
    const js = await req("/app.js", { auth: "none" });
    expect(js.headers.get("content-type")).toContain("text/javascript");
    expect(await js.text()).toBe(ASSETS.js);
    const css = await req("/app.css", { auth: "none" });
    expect(css.headers.get("content-type")).toContain("text/css");
    expect(await css.text()).toBe(ASSETS.css);
  });
  test("/healthz needs no token", async () => {
    const res = await req("/healthz", { auth: "none" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
  test("unknown routes are a JSON 404", async () => {
    expect(await expectError(await req("/nope"), 404, "not_found")).toContain("/nope");
    await expectError(await req("/api/nope"), 404, "not_found");
  });
});

describe("token", () => {
  test("/api without a token is 401", async () => {
    await expectError(await req("/api/state", { auth: "none" }), 401, "unauthorized");
    expect(ctl.calls).toEqual([]);
  });
  test("a wrong Bearer token, a prefix of it, or a wrong scheme is 401", async () => {
    for (const auth of [`Bearer ${"x".repeat(64)}`, `Bearer ${TOKEN.slice(0, 10)}`, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN, "Bearer "]) {
      await expectError(await req("/api/state", { auth }), 401, "unauthorized");
    }
    await expectError(await app.request(`${BASE}/api/state`, { headers: { cookie: `${COOKIE}=wrong` } }), 401, "unauthorized");
    expect(ctl.calls).toEqual([]);
  });
  test("the Bearer token works; the scheme name is case-insensitive", async () => {
    const res = await req("/api/state");
    expect(res.status).toBe(200);
    expect(((await res.json()) as Snapshot).version).toBe("0.0.0-test");
    expect((await req("/api/state", { auth: `bearer ${TOKEN}` })).status).toBe(200);
  });
  test("the cookie works", async () => {
    const res = await req("/api/state", { auth: "cookie" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Snapshot).identity.npub).toBe("npub1test");
  });
  test("/?token=good trades the token for an HttpOnly SameSite=Strict cookie and redirects", async () => {
    const res = await req(`/?token=${TOKEN}`, { auth: "none" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toContain(`${COOKIE}=${TOKEN}`);
    expect(cookie).toMatch(/;\s*HttpOnly/i);
    expect(cookie).toMatch(/;\s*SameSite=Strict/i);
    expect(cookie).toMatch(/;\s*Path=\//i);
    expectSecurityHeaders(res);
    // The cookie it set opens the API.
    const cookiePair = cookie.split(";")[0]!;
    const api = await app.request(`${BASE}/api/state`, { headers: { cookie: cookiePair } });
    expect(api.status).toBe(200);
  });
  test("/?token=bad is 401 and sets no cookie", async () => {
    for (const t of ["bad", "", TOKEN.toUpperCase()]) {
      const res = await req(`/?token=${t}`, { auth: "none" });
      await expectError(res, 401, "unauthorized");
      expect(res.headers.get("set-cookie")).toBeNull();
    }
  });
});

describe("Host check (DNS rebinding)", () => {
  test("a foreign Host is refused everywhere, even with the token", async () => {
    for (const host of ["evil.example:7750", "evil.example", "127.0.0.1:7751", "127.0.0.1", "localhost.evil.example:7750"]) {
      const res = await req("/api/state", { host });
      await expectError(res, 403, "forbidden");
      expectSecurityHeaders(res);
      await expectError(await req("/", { host, auth: "none" }), 403, "forbidden");
      await expectError(await req("/healthz", { host, auth: "none" }), 403, "forbidden");
    }
    expect(ctl.calls).toEqual([]);
  });
  test("loopback names with the right port are accepted, in any case", async () => {
    for (const host of ["127.0.0.1:7750", "localhost:7750", "[::1]:7750", "LOCALHOST:7750"]) {
      expect((await req("/api/state", { host })).status).toBe(200);
    }
  });
});

describe("Origin check on state changes", () => {
  const online = { method: "POST", json: { online: true } } as const;
  test("cookie without Origin is 403", async () => {
    await expectError(await req("/api/provider/online", { ...online, auth: "cookie" }), 403, "forbidden");
    expect(ctl.calls).toEqual([]);
  });
  test("cookie with a foreign, null, https or malformed Origin is 403", async () => {
    for (const origin of ["http://evil.example", "http://evil.example:7750", "null", "https://127.0.0.1:7750", "http://127.0.0.1:7751", "not a url"]) {
      await expectError(await req("/api/provider/online", { ...online, auth: "cookie", origin }), 403, "forbidden");
    }
    expect(ctl.calls).toEqual([]);
  });
  test("cookie with our own Origin is accepted", async () => {
    for (const origin of ["http://127.0.0.1:7750", "http://localhost:7750"]) {
      const res = await req("/api/provider/online", { ...online, auth: "cookie", origin });
      expect(res.status).toBe(200);
    }
    expect(ctl.calls.filter((c) => c[0] === "setOnline")).toEqual([["setOnline", true], ["setOnline", true]]);
  });
  test("Bearer without Origin (the CLI) is accepted; Bearer with a foreign Origin is not", async () => {
    expect((await req("/api/provider/online", online)).status).toBe(200);
    await expectError(await req("/api/provider/online", { ...online, origin: "http://evil.example" }), 403, "forbidden");
  });
  test("GET with a cookie needs no Origin", async () => {
    expect((await req("/api/settings", { auth: "cookie" })).status).toBe(200);
  });
});

describe("bodies", () => {
  test("not JSON is 400", async () => {
    const msg = await expectError(await req("/api/provider/online", { body: "{online:", contentType: "application/json" }), 400, "invalid_input");
    expect(msg).toContain("JSON");
  });
  test("a wrong or missing content-type is 400", async () => {
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", undefined]) {
      const msg = await expectError(await req("/api/provider/online", { body: '{"online":true}', contentType }), 400, "invalid_input");
      expect(msg).toContain("application/json");
    }
  });
  test("schema violations name the field", async () => {
    expect(await expectError(await req("/api/provider/online", { json: { online: "yes" } }), 400, "invalid_input")).toContain("online");
    expect(await expectError(await req("/api/provider/online", { json: {} }), 400, "invalid_input")).toContain("online");
    expect(await expectError(await req("/api/provider/online", { json: [true] }), 400, "invalid_input")).toContain("body");
    expect(await expectError(await req("/api/models/pull", { json: { model: "bad name; rm -rf" } }), 400, "invalid_input")).toContain("model");
    expect(await expectError(await req("/api/relays", { json: { url: "http://x" } }), 400, "invalid_input")).toContain("url");
    expect(await expectError(await req("/api/relays", { json: { url: "ws://a b" } }), 400, "invalid_input")).toContain("url");
    expect(await expectError(await req("/api/onboarding/generate", { json: { words: 13 } }), 400, "invalid_input")).toContain("words");
    expect(await expectError(await req("/api/wallet/receive", { json: { amountSats: -1 } }), 400, "invalid_input")).toContain("amountSats");
    expect(await expectError(await req("/api/wallet/receive", { json: { amountSats: 1.5 } }), 400, "invalid_input")).toContain("amountSats");
    expect(await expectError(await req("/api/unlock", { json: { password: "" } }), 400, "invalid_input")).toContain("password");
    expect(await expectError(await req("/api/unlock", { json: { password: "x".repeat(1025) } }), 400, "invalid_input")).toContain("password");
  });
  test("extra keys are refused", async () => {
    const msg = await expectError(await req("/api/provider/online", { json: { online: true, admin: true } }), 400, "invalid_input");
    expect(msg).toContain("admin");
    await expectError(await req("/api/settings", { method: "PUT", json: { pricing: {}, port: 1 } }), 400, "invalid_input");
    expect(ctl.calls).toEqual([]);
  });
});

describe("every route calls the controller", () => {
  test("GET /api/state and /api/settings", async () => {
    expect(((await (await req("/api/state")).json()) as Snapshot).models[0]!.name).toBe("m1");
    expect(await (await req("/api/settings")).json()).toEqual({ relays: ["ws://127.0.0.1:1"], ollamaUrl: "http://127.0.0.1:1", pricing: { mode: "upfront" }, limits: { queueSize: 1 } });
  });
  test("POST /api/provider/online returns the provider view", async () => {
    const res = await req("/api/provider/online", { json: { online: true } });
    expect(((await res.json()) as { online: boolean }).online).toBe(true);
    expect(ctl.calls[0]).toEqual(["setOnline", true]);
  });
  test("PUT /api/models/served with a list and with null", async () => {
    const res = await req("/api/models/served", { method: "PUT", json: { models: ["m1", "m2"] } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { models: unknown[] }).models.length).toBe(1);
    await req("/api/models/served", { method: "PUT", json: { models: null } });
    expect(ctl.calls.filter((c) => c[0] === "setServedModels")).toEqual([["setServedModels", ["m1", "m2"]], ["setServedModels", null]]);
  });
  test("POST /api/models/pull answers 202 at once; a failing pull does not crash", async () => {
    const res = await req("/api/models/pull", { json: { model: " llama3.2:1b " } });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ started: true });
    expect(ctl.calls[0]).toEqual(["pullModel", "llama3.2:1b"]);
    ctl.pullModel = async () => {
      throw new AppError("unavailable", "ollama down");
    };
    expect((await req("/api/models/pull", { json: { model: "hf.co/org/model:Q4_K_M" } })).status).toBe(202);
    await Bun.sleep(5);
  });
  test("POST and DELETE /api/relays", async () => {
    const add = await req("/api/relays", { json: { url: "ws://127.0.0.1:2" } });
    expect(((await add.json()) as { relays: Array<{ url: string }> }).relays.map((r) => r.url)).toEqual(["ws://127.0.0.1:1", "ws://127.0.0.1:2"]);
    const del = await req("/api/relays", { method: "DELETE", json: { url: "ws://127.0.0.1:1" } });
    expect(((await del.json()) as { relays: Array<{ url: string }> }).relays.map((r) => r.url)).toEqual(["ws://127.0.0.1:2"]);
    expect(ctl.calls.filter((c) => c[0] !== "snapshot")).toEqual([["addRelay", "ws://127.0.0.1:2"], ["removeRelay", "ws://127.0.0.1:1"]]);
  });
  test("PUT /api/settings passes the patch", async () => {
    const res = await req("/api/settings", { method: "PUT", json: { pricing: { perJobMsats: 5 }, limits: { queueSize: 2 } } });
    expect(((await res.json()) as Settings).pricing).toEqual({ mode: "upfront", perJobMsats: 5 });
    expect(ctl.calls[0]).toEqual(["updateSettings", { pricing: { perJobMsats: 5 }, limits: { queueSize: 2 } }]);
  });
  test("PUT /api/settings passes the profile, trimmed; null removes a key", async () => {
    const provider = { name: "  GPU Alice ", about: "fast\n", picture: " https://example.test/a.png ", publishProfile: true };
    expect((await req("/api/settings", { method: "PUT", json: { provider, limits: { partialIntervalMs: 500 } } })).status).toBe(200);
    expect(ctl.calls[0]).toEqual([
      "updateSettings",
      { provider: { name: "GPU Alice", about: "fast", picture: "https://example.test/a.png", publishProfile: true }, limits: { partialIntervalMs: 500 } },
    ]);
    expect((await req("/api/settings", { method: "PUT", json: { provider: { picture: "", about: null } } })).status).toBe(200);
    expect(ctl.calls[1]).toEqual(["updateSettings", { provider: { picture: "", about: null } }]);
  });
  test("PUT /api/settings refuses a bad profile, naming the field, without calling the controller", async () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ picture: "not a url" }, "provider.picture"],
      [{ picture: "ftp://example.test/a.png" }, "provider.picture"],
      [{ picture: "javascript:alert(1)" }, "provider.picture"],
      [{ picture: `https://example.test/${"a".repeat(2000)}` }, "provider.picture"],
      [{ name: "n".repeat(101) }, "provider.name"],
      [{ name: "", publishProfile: true }, "provider.name"],
      [{ about: "a".repeat(1001) }, "provider.about"],
      [{ publishProfile: "yes" }, "provider.publishProfile"],
      [{ servedModels: ["m1"] }, "servedModels"],
      [{ name: 7 }, "provider.name"],
    ];
    for (const [provider, field] of bad) {
      expect(await expectError(await req("/api/settings", { method: "PUT", json: { provider } }), 400, "invalid_input")).toContain(field);
    }
    expect(ctl.calls).toEqual([]);
  });
  test("onboarding: generate (12 by default, 24), validate, suggest, create", async () => {
    expect(((await (await req("/api/onboarding/generate", { json: {} })).json()) as { mnemonic: string }).mnemonic.split(" ").length).toBe(12);
    expect(((await (await req("/api/onboarding/generate", { json: { words: 24 } })).json()) as { mnemonic: string }).mnemonic.split(" ").length).toBe(24);
    expect(await (await req("/api/onboarding/validate", { json: { mnemonic: "good" } })).json()).toEqual({ ok: true });
    expect(await (await req("/api/onboarding/validate", { json: { mnemonic: "bad" } })).json()).toEqual({ ok: false, error: "bad word", word: "xx", suggestions: ["ox"] });
    expect(await (await req("/api/onboarding/suggest?prefix=%20AbC%20")).json()).toEqual({ words: ["abc1", "abc2"] });
    expect(await (await req("/api/onboarding/suggest")).json()).toEqual({ words: ["1", "2"] });
    const created = await req("/api/onboarding/create", { json: { mnemonic: "m", password: "p".repeat(8) } });
    expect(await created.json()).toEqual({ npub: "npub1created" });
    expect(ctl.calls).toContainEqual(["createIdentity", { mnemonic: "m", password: "p".repeat(8) }]);
    expect(ctl.calls).toContainEqual(["generateMnemonic", 12]);
    expect(ctl.calls).toContainEqual(["generateMnemonic", 24]);
  });
  test("unlock, lock, reveal", async () => {
    expect(await (await req("/api/unlock", { json: { password: RIGHT_PASSWORD } })).json()).toEqual({ ok: true });
    expect(await (await req("/api/lock", { method: "POST" })).json()).toEqual({ ok: true });
    expect(await (await req("/api/identity/reveal", { json: { password: RIGHT_PASSWORD } })).json()).toEqual({ mnemonic: "the secret words" });
    await expectError(await req("/api/identity/reveal", { json: { password: "wrong-one" } }), 401, "unauthorized");
    expect(ctl.calls.map((c) => c[0])).toEqual(["unlock", "lock", "revealMnemonic", "revealMnemonic"]);
  });
  test("wallet: receive, prepare, confirm", async () => {
    expect(await (await req("/api/wallet/receive", { json: { amountSats: 100 } })).json()).toEqual({ bolt11: "lnbcrt1test", address: null });
    await req("/api/wallet/receive", { json: {} });
    const prep = await req("/api/wallet/send/prepare", { json: { destination: " lnbcrt1x ", amountSats: 5 } });
    expect(await prep.json()).toEqual({ id: "prep-1", feeSats: 2, amountSats: 5, destinationType: "bolt11" });
    // No password: refused before the controller is asked; a pending send is said as pending.
    await expectError(await req("/api/wallet/send/confirm", { json: { id: "prep-1" } }), 400, "invalid_input");
    await expectError(await req("/api/wallet/send/confirm", { json: { id: "prep-1", password: "wrong-one" } }), 401, "unauthorized");
    expect(await (await req("/api/wallet/send/confirm", { json: { id: "prep-1", password: RIGHT_PASSWORD } })).json()).toEqual({ ok: true, id: "pay-1", status: "pending", amountSats: 5, feeSats: 2 });
    expect(ctl.calls).toEqual([
      ["walletReceive", 100],
      ["walletReceive", undefined],
      ["walletPrepareSend", "lnbcrt1x", 5],
      ["walletConfirmSend", "prep-1"],
      ["walletConfirmSend", "prep-1"],
    ]);
  });
  test("POST /api/jobs/:id/cancel checks the id", async () => {
    expect(await (await req(`/api/jobs/${JOB_ID}/cancel`, { method: "POST" })).json()).toEqual({ ok: true });
    expect(ctl.calls).toEqual([["cancelJob", JOB_ID]]);
    await expectError(await req(`/api/jobs/xyz/cancel`, { method: "POST" }), 400, "invalid_input");
    await expectError(await req(`/api/jobs/${JOB_ID.toUpperCase()}/cancel`, { method: "POST" }), 400, "invalid_input");
  });
});

describe("errors", () => {
  test("an AppError from the controller keeps its name and gets its status", async () => {
    const cases: Array<[AppError, number]> = [
      [new AppError("unavailable", "Ollama is not running."), 503],
      [new AppError("conflict", "Already exists."), 409],
      [new AppError("not_found", "No such job."), 404],
      [new AppError("locked", "Unlock first please."), 423],
    ];
    for (const [err, status] of cases) {
      ctl.failWith = err;
      const msg = await expectError(await req("/api/provider/online", { json: { online: true } }), status, err.code);
      expect(msg).toBe(err.message);
    }
  });
  test("an unexpected error is a 500 that does not leak its message", async () => {
    ctl.failWith = new Error("secret internals at /home/x");
    const logged: string[] = [];
    const prev = setLogSink((l) => logged.push(l));
    const level = getLogLevel();
    setLogLevel("error");
    let res: Response;
    try {
      res = await req("/api/provider/online", { json: { online: true } });
    } finally {
      setLogSink(prev);
      setLogLevel(level);
    }
    // The details go to the log, not to the client.
    expect(logged.some((l) => l.includes("secret internals"))).toBe(true);
    const msg = await expectError(res, 500, "internal");
    expect(msg).not.toContain("secret internals");
    expectSecurityHeaders(res);
  });
});

describe("security headers", () => {
  test("CSP and friends on every kind of response", async () => {
    const responses = [
      await req("/", { auth: "none" }),
      await req("/app.js", { auth: "none" }),
      await req("/healthz", { auth: "none" }),
      await req("/api/state"),
      await req("/api/state", { auth: "none" }),
      await req("/nope"),
      await req("/api/state", { host: "evil.example:7750" }),
      await req("/api/provider/online", { json: { online: 1 } }),
      await req(`/?token=${TOKEN}`, { auth: "none" }),
    ];
    for (const res of responses) expectSecurityHeaders(res);
    expect(CSP).toContain("default-src 'self'");
    expect(CSP).toContain("frame-ancestors 'none'");
    expect(CSP).not.toContain("unsafe-inline");
  });
});

describe("password attempts", () => {
  test("5 wrong unlocks, then 429 even for the right password", async () => {
    for (let i = 0; i < 5; i++) await expectError(await req("/api/unlock", { json: { password: `wrong-${i}` } }), 401, "unauthorized");
    const msg = await expectError(await req("/api/unlock", { json: { password: RIGHT_PASSWORD } }), 429, "rate_limited");
    expect(msg).toMatch(/try again in \d+ s/);
    // Reveal shares the limit; the controller was not asked again.
    await expectError(await req("/api/identity/reveal", { json: { password: RIGHT_PASSWORD } }), 429, "rate_limited");
    expect(ctl.calls.length).toBe(5);
  });
  test("right passwords and errors that are not a wrong password do not count", async () => {
    for (let i = 0; i < 10; i++) expect((await req("/api/unlock", { json: { password: RIGHT_PASSWORD } })).status).toBe(200);
    for (let i = 0; i < 10; i++) {
      ctl.failWith = new AppError("not_found", "No identity yet.");
      await expectError(await req("/api/unlock", { json: { password: "whatever" } }), 404, "not_found");
    }
    for (let i = 0; i < 4; i++) await expectError(await req("/api/unlock", { json: { password: "wrong" } }), 401, "unauthorized");
    expect((await req("/api/unlock", { json: { password: RIGHT_PASSWORD } })).status).toBe(200);
  });
  test("parallel guesses can't slip past the limit while the first ones are being checked", async () => {
    ctl.unlockDelayMs = 50;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => req("/api/unlock", { json: { password: `guess-${i}` } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 401).length).toBe(5);
    expect(statuses.filter((s) => s === 429).length).toBe(7);
    expect(ctl.calls.filter((c) => c[0] === "unlock").length).toBe(5);
  });
  test("a shared limiter can be passed in", async () => {
    const limiter = new AttemptLimiter(1, 60_000);
    const app2 = createServer(ctl, { token: TOKEN, allowedHosts: () => allowedHosts("127.0.0.1", 7750), assets: ASSETS, attemptLimiter: limiter });
    const post = (password: string) =>
      app2.request(`${BASE}/api/unlock`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ password }) });
    expect((await post("nope-nope")).status).toBe(401);
    expect((await post(RIGHT_PASSWORD)).status).toBe(429);
  });
});
