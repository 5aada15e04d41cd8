// Every route of the HTTP API (listed from the Hono app itself, so new routes are covered too)
// against arbitrary requests, RUNS times: arbitrary JSON bodies (and keys the routes know, with
// arbitrary values), bodies that aren't JSON, wrong content types, odd path parameters and query
// strings, with and without the token. Through createServer's app.request with a recording
// controller. Never a 500 (an unhandled error), every refusal a JSON error with a clear message,
// and a controller method is called only with the types its signature promises.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { Bus } from "../../src/bus.ts";
import type { Controller, SendPreview, Settings, WalletPayment } from "../../src/server/controller.ts";
import { NotOffered } from "../fixtures/not-offered.ts";
import { AppError } from "../../src/errors.ts";
import { AttemptLimiter } from "../../src/server/security.ts";
import { createServer } from "../../src/server/server.ts";
import type { Snapshot } from "../../src/server/snapshot.ts";
import { PROPERTY_TIMEOUT_MS, RUNS, fcParams, nastyString, unclearMessage } from "../fixtures/stress-fc.ts";

const TOKEN = "f".repeat(64);
const ORIGIN = "http://127.0.0.1:7750";

/** Records every call with its arguments; answers like a healthy app would. */
class Recorder extends NotOffered implements Controller {
  readonly bus = new Bus();
  calls: Array<{ name: string; args: unknown[] }> = [];
  private rec(name: string, ...args: unknown[]) {
    this.calls.push({ name, args });
  }
  snapshot(): Snapshot {
    return {
      version: "0.0.0-prop",
      identity: { state: "unlocked", npub: "npub1prop" },
      provider: { online: false, blockers: [], paymentMode: "free", perJobMsats: 0, per1kTokensMsats: 0, announcementId: null },
      wallet: { state: "ready", network: "regtest", balanceSats: 0, lightningAddress: null, message: null },
      earnings: { todaySats: 0, todayJobs: 0, weekSats: 0, weekJobs: 0, allSats: 0, allJobs: 0, days: [], byModel: [] },
      jobs: [],
      ollama: { url: "http://127.0.0.1:1", reachable: true, version: "0", error: null },
      models: [],
      relays: [],
    } as unknown as Snapshot;
  }
  async setOnline(online: boolean) {
    this.rec("setOnline", online);
  }
  async setServedModels(models: string[] | null) {
    this.rec("setServedModels", models);
  }
  async pullModel(model: string) {
    this.rec("pullModel", model);
  }
  async addRelay(url: string) {
    this.rec("addRelay", url);
  }
  async removeRelay(url: string) {
    this.rec("removeRelay", url);
  }
  settings(): Settings {
    return { relays: [], ollamaUrl: "http://127.0.0.1:1", pricing: {}, limits: {} };
  }
  async updateSettings(patch: { pricing?: Record<string, unknown>; limits?: Record<string, unknown> }) {
    this.rec("updateSettings", patch);
    return this.settings();
  }
  generateMnemonic(words: 12 | 24) {
    this.rec("generateMnemonic", words);
    return Array.from({ length: words }, () => "abandon").join(" ");
  }
  validateMnemonic(mnemonic: string) {
    this.rec("validateMnemonic", mnemonic);
    return { ok: false as const, error: "not a phrase" };
  }
  suggestWords(prefix: string) {
    this.rec("suggestWords", prefix);
    return [];
  }
  async createIdentity(input: { mnemonic: string; passphrase?: string; password: string }) {
    this.rec("createIdentity", input);
    return { npub: "npub1new" };
  }
  async unlock(password: string) {
    this.rec("unlock", password);
    throw new AppError("unauthorized", "The vault password is wrong.");
  }
  async lock() {
    this.rec("lock");
  }
  async revealMnemonic(password: string): Promise<string> {
    this.rec("revealMnemonic", password);
    throw new AppError("unauthorized", "The vault password is wrong.");
  }
  async walletReceive(amountSats?: number) {
    this.rec("walletReceive", amountSats);
    return { bolt11: null, address: "sp1prop" };
  }
  async walletPrepareSend(destination: string, amountSats?: number): Promise<SendPreview> {
    this.rec("walletPrepareSend", destination, amountSats);
    return { id: "q1", feeSats: 1, amountSats: amountSats ?? 1, destinationType: "bolt11" };
  }
  async walletConfirmSend(id: string, password: string) {
    this.rec("walletConfirmSend", id, password);
    return { id, status: "completed" as const, amountSats: 1, feeSats: 1 };
  }
  async walletBalance() {
    this.rec("walletBalance");
    return { sats: 0, network: "regtest" };
  }
  async walletPayments(limit?: number): Promise<WalletPayment[]> {
    this.rec("walletPayments", limit);
    return [];
  }
  async walletLightningAddress() {
    this.rec("walletLightningAddress");
    return null;
  }
  async walletSetLightningAddress(username: string) {
    this.rec("walletSetLightningAddress", username);
    return { address: `${username}@prop.invalid`, lnurl: null };
  }
  async walletDeleteLightningAddress() {
    this.rec("walletDeleteLightningAddress");
  }
  async cancelJob(id: string) {
    this.rec("cancelJob", id);
    throw new AppError("not_found", "No such active job.");
  }
}

/** What each recorded call's arguments must look like (the Controller signature). */
const argChecks: Record<string, (args: unknown[]) => boolean> = {
  setOnline: ([a]) => typeof a === "boolean",
  setServedModels: ([a]) => a === null || (Array.isArray(a) && a.every((m) => typeof m === "string" && m.length > 0)),
  pullModel: ([a]) => typeof a === "string" && /^[\w.:/-]+$/.test(a),
  addRelay: ([a]) => typeof a === "string" && /^wss?:\/\//i.test(a),
  removeRelay: ([a]) => typeof a === "string" && /^wss?:\/\//i.test(a),
  updateSettings: ([a]) => typeof a === "object" && a !== null && Object.keys(a).every((k) => k === "pricing" || k === "limits"),
  generateMnemonic: ([a]) => a === 12 || a === 24,
  validateMnemonic: ([a]) => typeof a === "string",
  suggestWords: ([a]) => typeof a === "string" && a.length <= 20,
  createIdentity: ([a]) => typeof a === "object" && a !== null && typeof (a as { password?: unknown }).password === "string",
  unlock: ([a]) => typeof a === "string" && a.length > 0,
  revealMnemonic: ([a]) => typeof a === "string" && a.length > 0,
  walletReceive: ([a]) => a === undefined || (Number.isSafeInteger(a) && (a as number) > 0),
  walletPrepareSend: ([d, a]) => typeof d === "string" && d.trim().length > 0 && (a === undefined || (Number.isSafeInteger(a) && (a as number) > 0)),
  walletConfirmSend: ([a, p]) => typeof a === "string" && a.length > 0 && typeof p === "string" && p.length > 0,
  walletPayments: ([a]) => Number.isInteger(a) && (a as number) >= 0 && (a as number) <= 1000,
  walletSetLightningAddress: ([a]) => typeof a === "string" && a.trim().length > 0,
  cancelJob: ([a]) => typeof a === "string" && /^[0-9a-f]{64}$/.test(a),
  lock: () => true,
  walletBalance: () => true,
  walletLightningAddress: () => true,
  walletDeleteLightningAddress: () => true,
};

const KEYS = ["online", "models", "model", "url", "pricing", "limits", "words", "mnemonic", "passphrase", "password", "amountSats", "destination", "id", "username", "limit"];
const value = fc.oneof(fc.jsonValue(), nastyString, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(nastyString, { maxLength: 3 }));
const body = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 4 }).map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: nastyString },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const contentType = fc.oneof({ weight: 6, arbitrary: fc.constant("application/json") }, { weight: 1, arbitrary: fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=utf-8") });
// Path and query pieces: encoded arbitrary text, or raw percent-escapes that may be malformed.
const urlPart = fc.oneof(
  nastyString.map((s) => encodeURIComponent(s.toWellFormed())),
  fc.stringMatching(/^(%[0-9A-Fa-f]{0,2}|[a-zA-Z0-9._~-]){0,12}$/),
  fc.constantFrom("ab".repeat(32), "%", "%zz", "%E0%A4%A", "%C0%AF", "..%2F..%2Fetc"),
);
const auth = fc.oneof({ weight: 8, arbitrary: fc.constant(`Bearer ${TOKEN}`) }, { weight: 1, arbitrary: fc.constantFrom(undefined, "Bearer nope", `bearer ${TOKEN}`, `Basic ${TOKEN}`) });

test(
  `every API route against arbitrary requests (${RUNS} runs): never a 500, every refusal a clear JSON error`,
  async () => {
    const ctl = new Recorder();
    const app = createServer(ctl, {
      token: TOKEN,
      allowedHosts: () => new Set(["127.0.0.1:7750"]),
      assets: { html: "<!doctype html>", js: "", css: "" },
      // No limit on wrong passwords here: every fuzzed unlock would otherwise end as 429 early on.
      attemptLimiter: new AttemptLimiter(Number.MAX_SAFE_INTEGER),
    });
    const routes = app.routes.filter((r) => ["GET", "POST", "PUT", "DELETE"].includes(r.method) && r.path !== "/api/events");
    const unique = [...new Map(routes.map((r) => [`${r.method} ${r.path}`, r])).values()];
    expect(unique.length).toBeGreaterThan(20);
    const statuses = new Map<number, number>();
    const hit = new Set<string>();

    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...unique), urlPart, body, contentType, auth, fc.option(urlPart), async (route, param, raw, type, authorization, query) => {
        const path = route.path.replace(/:[a-z]+/g, () => param || "x");
        const qs = query === null ? "" : `?prefix=${query}&limit=${query}`;
        const headers: Record<string, string> = { host: "127.0.0.1:7750", origin: ORIGIN };
        if (authorization) headers.authorization = authorization;
        if (type) headers["content-type"] = type;
        const withBody = route.method !== "GET" && raw !== undefined;
        const before = ctl.calls.length;
        const res = await app.request(`http://127.0.0.1:7750${path}${qs}`, { method: route.method, headers, body: withBody ? raw : undefined });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        hit.add(`${route.method} ${route.path} ${res.status}`);
        expect(res.status).not.toBe(500);
        if (res.status >= 400) {
          const json = (await res.json()) as { error?: { name?: unknown; message?: unknown } };
          expect(typeof json.error?.name).toBe("string");
          expect(unclearMessage(json.error?.message)).toBeNull();
        }
        // The controller only ever sees what its signature promises.
        for (const call of ctl.calls.slice(before)) {
          const check = argChecks[call.name];
          expect(check ? check(call.args) : false).toBe(true);
        }
        expect(ctl.calls.length - before).toBeLessThanOrEqual(1);
      }),
      fcParams(),
    );
    const ok = [...hit].filter((h) => /\s2\d\d$/.test(h));
    console.log(`API: ${unique.length} routes; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ${ok.length} route×2xx pairs reached`);
    // The fuzz must get past validation somewhere, not only collect 400s.
    expect(ok.length).toBeGreaterThan(5);
  },
  PROPERTY_TIMEOUT_MS,
);
