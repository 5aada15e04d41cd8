// Config files of arbitrary content, RUNS times: loadConfig either returns a config the schema
// accepts or throws an AppError whose sentence names the file and the offending key; it never
// crashes and never touches the file. updateConfigFile with an arbitrary patch either saves a
// valid file or refuses with a sentence and leaves the old file byte for byte.
import { afterAll, expect, test } from "bun:test";
import fc from "fast-check";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigSchema, configPath, loadConfig, updateConfigFile } from "../../src/config.ts";
import { AppError } from "../../src/errors.ts";
import { PROPERTY_TIMEOUT_MS, RUNS, fcParams, nastyString, unclearMessage } from "../fixtures/stress-fc.ts";

const dir = mkdtempSync(join(tmpdir(), "compute-config-prop-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = configPath(dir);

// Values shaped like the real config (its keys, nested), with arbitrary leaves; or anything at all.
const leaf = fc.oneof(fc.jsonValue({ maxDepth: 2 }), nastyString, fc.integer(), fc.double(), fc.constantFrom(0, -1, 65_536, 1e400, 2 ** 53, "ws://127.0.0.1:1", "http://127.0.0.1:1", "free", "upfront", "after", "debug", null, true));
const section = (keys: string[]) => fc.dictionary(fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...keys) }, { weight: 1, arbitrary: nastyString }), leaf, { maxKeys: 4 });
const configLike = fc.record(
  {
    relays: fc.oneof(fc.array(fc.oneof(nastyString, fc.constantFrom("ws://127.0.0.1:1", "wss://relay.invalid", "ws://a b", "http://x")), { maxLength: 3 }), leaf),
    ollamaUrl: leaf,
    host: leaf,
    port: leaf,
    online: leaf,
    logLevel: leaf,
    network: leaf,
    breezApiKey: leaf,
    provider: fc.oneof(section(["name", "about", "picture", "servedModels", "defaultModel", "publishProfile"]), leaf),
    limits: fc.oneof(section(["maxConcurrentJobs", "queueSize", "maxQueuedPerCustomer", "maxInputBytes", "maxTokensCap", "perCustomerPerMinute", "jobTimeoutSecs", "partialIntervalMs", "allow", "deny", "allowPrivateUrls", "onOffline"]), leaf),
    pricing: fc.oneof(section(["mode", "perJobMsats", "per1kTokensMsats", "models", "invoiceExpirySecs", "freeJobsPerCustomer"]), leaf),
  },
  { requiredKeys: [] },
);
// Mostly right, so the accepting side is exercised as well: valid values per key, sometimes off by one.
const nearlyValid = fc.record(
  {
    relays: fc.array(fc.constantFrom("ws://127.0.0.1:1", "wss://relay.invalid", "wss://relay.invalid/path"), { maxLength: 3 }),
    port: fc.integer({ min: -1, max: 65_536 }),
    logLevel: fc.constantFrom("debug", "info", "warn", "error", "silent", "loud"),
    online: fc.boolean(),
    provider: fc.record({ name: fc.string({ maxLength: 101 }), servedModels: fc.option(fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 })) }, { requiredKeys: [] }),
    limits: fc.record(
      { queueSize: fc.integer({ min: -1, max: 10_001 }), maxQueuedPerCustomer: fc.integer({ min: 0, max: 10_001 }), perCustomerPerMinute: fc.integer({ min: 0, max: 100 }), maxConcurrentJobs: fc.integer({ min: 0, max: 65 }), onOffline: fc.constantFrom("finish", "cancel", "stop") },
      { requiredKeys: [] },
    ),
    pricing: fc.record({ mode: fc.constantFrom("free", "upfront", "after", "later"), perJobMsats: fc.integer({ min: -1, max: 1e9 }), invoiceExpirySecs: fc.integer({ min: 29, max: 86_401 }) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);
const text = fc.oneof(
  { weight: 3, arbitrary: nearlyValid.map((o) => JSON.stringify(o)) },
  { weight: 6, arbitrary: configLike.map((o) => JSON.stringify(o)) },
  { weight: 2, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.dictionary(nastyString, leaf).map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: nastyString }, // mostly not JSON at all
  { weight: 1, arbitrary: configLike.map((o) => JSON.stringify(o).slice(0, -1)) }, // truncated
);

/** Top-level keys of a JSON object text, if it is one. */
function topKeys(t: string): string[] | null {
  try {
    const v = JSON.parse(t);
    return v && typeof v === "object" && !Array.isArray(v) ? Object.keys(v) : null;
  } catch {
    return null;
  }
}

function expectGoodRefusal(err: unknown, keys: string[] | null, lead: RegExp): void {
  expect(err).toBeInstanceOf(AppError);
  const msg = (err as AppError).message;
  expect(unclearMessage(msg)).toBeNull();
  expect(msg).toMatch(lead);
  // Refusing an object names (one of) its keys: the path of the bad value, or the unknown key.
  if (keys && keys.length && /is invalid/.test(msg)) expect(keys.some((k) => msg.includes(k) || msg.includes(JSON.stringify(k)))).toBe(true);
}

test(
  `loadConfig on arbitrary files (${RUNS} runs): a valid config or a sentence naming the key; the file untouched`,
  () => {
    let accepted = 0;
    fc.assert(
      fc.property(text, (t) => {
        writeFileSync(file, t);
        const before = readFileSync(file);
        try {
          const cfg = loadConfig({ dataDir: dir, env: {} });
          expect(ConfigSchema.safeParse(cfg).success).toBe(true);
          accepted++;
        } catch (err) {
          expectGoodRefusal(err, topKeys(t), /config file .*(is invalid|is not valid JSON|must hold a JSON object)/s);
        }
        expect(readFileSync(file).equals(before)).toBe(true);
      }),
      fcParams(),
    );
    console.log(`config: ${accepted} of ${RUNS} arbitrary files were valid configs`);
    expect(accepted).toBeGreaterThan(0);
  },
  PROPERTY_TIMEOUT_MS,
);

test(
  `updateConfigFile with arbitrary patches (${RUNS} runs): a valid file saved, or refused with the old file byte for byte`,
  () => {
    const valid = JSON.stringify({ relays: ["ws://127.0.0.1:1"], pricing: { mode: "free" }, limits: { queueSize: 4 } }, null, 2);
    let saved = 0;
    fc.assert(
      fc.property(fc.oneof(configLike, nearlyValid), (patch) => {
        writeFileSync(file, valid);
        const before = readFileSync(file);
        try {
          updateConfigFile(dir, patch as Record<string, unknown>);
          saved++;
          expect(ConfigSchema.safeParse(JSON.parse(readFileSync(file, "utf8"))).success).toBe(true);
          expect(() => loadConfig({ dataDir: dir, env: {} })).not.toThrow();
        } catch (err) {
          expectGoodRefusal(err, Object.keys(patch), /new settings are invalid/);
          expect(readFileSync(file).equals(before)).toBe(true);
        }
        // No temp file left behind either way.
        expect(readdirSync(dir).filter((f) => f !== "config.json")).toEqual([]);
      }),
      fcParams(),
    );
    console.log(`config: ${saved} of ${RUNS} arbitrary patches were saved`);
    expect(saved).toBeGreaterThan(0);
    expect(existsSync(file)).toBe(true);
  },
  PROPERTY_TIMEOUT_MS,
);
