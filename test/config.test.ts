import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfigSchema,
  DEFAULT_OLLAMA_URL,
  DEFAULT_PORT,
  DEFAULT_RELAYS,
  configPath,
  defaultDataDir,
  loadConfig,
  ollamaUrlFromHost,
  readConfigFile,
  updateConfigFile,
} from "../src/config.ts";
import { AppError } from "../src/errors.ts";

const root = mkdtempSync(join(tmpdir(), "compute-config-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dir(file?: string | object): string {
  const d = join(root, `d${++n}`);
  if (file !== undefined) {
    mkdirSync(d, { recursive: true });
    writeFileSync(configPath(d), typeof file === "string" ? file : JSON.stringify(file));
  }
  return d;
}

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error("expected an error");
}

describe("loadConfig layers", () => {
  test("defaults when there is no file, no env, no flags", () => {
    const c = loadConfig({ dataDir: dir(), env: {} });
    expect(c.relays).toEqual(DEFAULT_RELAYS);
    expect(c.ollamaUrl).toBe(DEFAULT_OLLAMA_URL);
    expect(c.port).toBe(DEFAULT_PORT);
    expect(c.host).toBe("127.0.0.1");
    expect(c.online).toBe(false);
    expect(c.network).toBe("mainnet");
    expect(c.breezApiKey).toBeUndefined();
    expect(c.limits.maxConcurrentJobs).toBe(2);
    expect(c.limits.queueSize).toBe(16);
    expect(c.pricing.mode).toBe("upfront");
    expect(c.pricing.perJobMsats).toBe(10_000);
    expect(c.provider.servedModels).toBeNull();
    expect(c).toEqual(ConfigSchema.parse({}));
  });

  test("file values are used and nested defaults fill the rest", () => {
    const d = dir({ port: 9000, relays: ["ws://127.0.0.1:1"], limits: { maxConcurrentJobs: 3 }, pricing: { mode: "free" } });
    const c = loadConfig({ dataDir: d, env: {} });
    expect(c.port).toBe(9000);
    expect(c.relays).toEqual(["ws://127.0.0.1:1"]);
    expect(c.limits.maxConcurrentJobs).toBe(3);
    expect(c.limits.queueSize).toBe(16);
    expect(c.pricing.mode).toBe("free");
    expect(c.pricing.perJobMsats).toBe(10_000);
  });

  test("env overrides the file", () => {
    const d = dir({ port: 9000, relays: ["ws://127.0.0.1:1"], ollamaUrl: "http://10.0.0.1:1", logLevel: "warn" });
    const c = loadConfig({
      dataDir: d,
      env: {
        OLLAMA_HOST: "192.168.1.20:11500",
        COMPUTE_RELAYS: " ws://127.0.0.1:2 , wss://relay.example ,,",
        COMPUTE_PORT: "9100",
        COMPUTE_LOG_LEVEL: "debug",
        COMPUTE_NETWORK: "regtest",
        BREEZ_API_KEY: "key-123",
      },
    });
    expect(c.ollamaUrl).toBe("http://192.168.1.20:11500");
    expect(c.relays).toEqual(["ws://127.0.0.1:2", "wss://relay.example"]);
    expect(c.port).toBe(9100);
    expect(c.logLevel).toBe("debug");
    expect(c.network).toBe("regtest");
    expect(c.breezApiKey).toBe("key-123");
  });

  test("OLLAMA_HOST with a scheme is kept as given", () => {
    expect(loadConfig({ dataDir: dir(), env: { OLLAMA_HOST: "https://ollama.lan:8443" } }).ollamaUrl).toBe("https://ollama.lan:8443");
    expect(loadConfig({ dataDir: dir(), env: { OLLAMA_HOST: "http://127.0.0.1:4000" } }).ollamaUrl).toBe("http://127.0.0.1:4000");
  });

  test("OLLAMA_HOST is read the way Ollama reads it", () => {
    // No scheme: http and port 11434; a wildcard listen address means this machine.
    expect(ollamaUrlFromHost("127.0.0.1:5000")).toBe("http://127.0.0.1:5000");
    expect(ollamaUrlFromHost("gpu-box")).toBe("http://gpu-box:11434");
    expect(ollamaUrlFromHost("0.0.0.0")).toBe("http://127.0.0.1:11434");
    expect(ollamaUrlFromHost("0.0.0.0:8080")).toBe("http://127.0.0.1:8080");
    expect(ollamaUrlFromHost(":11500")).toBe("http://127.0.0.1:11500");
    expect(ollamaUrlFromHost("[::1]:7")).toBe("http://[::1]:7");
    expect(ollamaUrlFromHost("https://x.example")).toBe("https://x.example");
    expect(loadConfig({ dataDir: dir(), env: { OLLAMA_HOST: "0.0.0.0" } }).ollamaUrl).toBe("http://127.0.0.1:11434");
    expect(loadConfig({ dataDir: dir(), env: { OLLAMA_HOST: "   " } }).ollamaUrl).toBe(DEFAULT_OLLAMA_URL);
  });

  test("flags override env and file; pricing flags merge into the file's pricing", () => {
    const d = dir({ port: 9000, pricing: { mode: "after", per1kTokensMsats: 7, freeJobsPerCustomer: 2 } });
    const c = loadConfig({
      dataDir: d,
      env: { COMPUTE_PORT: "9100", OLLAMA_HOST: "127.0.0.1:1", COMPUTE_RELAYS: "ws://127.0.0.1:2" },
      flags: { port: 0, ollamaUrl: "http://127.0.0.1:3", relays: ["ws://127.0.0.1:4"], online: true, priceMsats: 5, host: "::1", network: "regtest", logLevel: "error" },
    });
    expect(c.port).toBe(0);
    expect(c.ollamaUrl).toBe("http://127.0.0.1:3");
    expect(c.relays).toEqual(["ws://127.0.0.1:4"]);
    expect(c.online).toBe(true);
    expect(c.host).toBe("::1");
    expect(c.network).toBe("regtest");
    expect(c.logLevel).toBe("error");
    expect(c.pricing).toMatchObject({ mode: "after", perJobMsats: 5, per1kTokensMsats: 7, freeJobsPerCustomer: 2 });
  });

  test("empty flag values do not wipe lower layers", () => {
    const d = dir({ relays: ["ws://127.0.0.1:1"], online: true });
    const c = loadConfig({ dataDir: d, env: {}, flags: { relays: [], online: undefined } });
    expect(c.relays).toEqual(["ws://127.0.0.1:1"]);
    expect(c.online).toBe(true);
  });

  test("a bad flag is a usage error naming the key", () => {
    const e = thrown(() => loadConfig({ dataDir: dir(), env: {}, flags: { paymentMode: "sometimes" } }));
    expect(e.code).toBe("usage");
    // Named the way the user typed it.
    expect(e.message).toContain("--payment-mode");
    const e2 = thrown(() => loadConfig({ dataDir: dir(), env: {}, flags: { relays: ["http://not-a-relay"] } }));
    expect(e2.message).toContain("--relay");
    expect(e2.message).toContain("ws://");
    const e3 = thrown(() => loadConfig({ dataDir: dir(), env: {}, flags: { ollamaUrl: "http://127.0.0.1:1 trailing" } }));
    expect(e3.message).toContain("--ollama-url");
  });

  test("a bad env value names the variable", () => {
    const e = thrown(() => loadConfig({ dataDir: dir(), env: { COMPUTE_PORT: "eighty" } }));
    expect(e.code).toBe("invalid_input");
    expect(e.message).toContain("environment");
    expect(e.message).toContain("COMPUTE_PORT");
    expect(thrown(() => loadConfig({ dataDir: dir(), env: { COMPUTE_NETWORK: "testnet" } })).message).toContain("COMPUTE_NETWORK");
    expect(thrown(() => loadConfig({ dataDir: dir(), env: { OLLAMA_HOST: "bad host" } })).message).toContain("OLLAMA_HOST");
    expect(thrown(() => loadConfig({ dataDir: dir(), env: { OLLAMA_HOST: "x:99999" } })).message).toContain("OLLAMA_HOST");
    expect(thrown(() => loadConfig({ dataDir: dir(), env: { COMPUTE_RELAYS: "ws://127.0.0.1:1,wss://" } })).message).toContain("COMPUTE_RELAYS");
  });

  test("URLs must parse whole", () => {
    expect(ConfigSchema.safeParse({ relays: ["ws://a b"] }).success).toBe(false);
    expect(ConfigSchema.safeParse({ relays: ["ws://"] }).success).toBe(false);
    expect(ConfigSchema.safeParse({ relays: ["wss://relay.example/path", "ws://[::1]:7"] }).success).toBe(true);
    expect(ConfigSchema.safeParse({ ollamaUrl: "ftp://x" }).success).toBe(false);
    expect(ConfigSchema.safeParse({ ollamaUrl: "http://x:1/" }).success).toBe(true);
  });
});

describe("the config file", () => {
  test("bad JSON names the file", () => {
    const d = dir("{ port: 1 ");
    const e = thrown(() => loadConfig({ dataDir: d, env: {} }));
    expect(e.code).toBe("invalid_input");
    expect(e.message).toContain(configPath(d));
    expect(e.message).toContain("not valid JSON");
  });

  test("a JSON value that is not an object names the file", () => {
    for (const body of ["[1,2]", "null", "42", '"x"']) {
      const d = dir(body);
      const e = thrown(() => loadConfig({ dataDir: d, env: {} }));
      expect(e.message).toContain(configPath(d));
      expect(e.message).toContain("object");
    }
  });

  test("a bad value names the key path", () => {
    const d = dir({ limits: { maxConcurrentJobs: 0 } });
    const e = thrown(() => loadConfig({ dataDir: d, env: {} }));
    expect(e.message).toContain(configPath(d));
    expect(e.message).toContain("limits.maxConcurrentJobs");
    const e2 = thrown(() => loadConfig({ dataDir: dir({ limits: { maxConcurrentJobs: 1.5 } }), env: {} }));
    expect(e2.message).toContain("limits.maxConcurrentJobs");
    const e3 = thrown(() => loadConfig({ dataDir: dir({ pricing: { mode: "x" } }), env: {} }));
    expect(e3.message).toContain("pricing.mode");
  });

  test("unknown keys are rejected, at the top and nested", () => {
    const e = thrown(() => loadConfig({ dataDir: dir({ prot: 7750 }), env: {} }));
    expect(e.message).toContain("prot");
    const e2 = thrown(() => loadConfig({ dataDir: dir({ limits: { maxJobs: 2 } }), env: {} }));
    expect(e2.message).toContain("limits");
    expect(e2.message).toContain("maxJobs");
    const e3 = thrown(() => loadConfig({ dataDir: dir('{"__proto__": {"port": 1}}'), env: {} }));
    expect(e3.message).toContain("__proto__");
  });

  test("a file that is bad stays bad even when env and flags would cover the key", () => {
    const d = dir({ port: "x" });
    expect(() => loadConfig({ dataDir: d, env: { COMPUTE_PORT: "1" }, flags: { port: 2 } })).toThrow(/port/);
  });

  test("loadConfig never rewrites the file", () => {
    const original = '{   "port":9001 ,\n\n"limits" : {"queueSize": 3}}\n\n';
    const d = dir(original);
    const before = statSync(configPath(d)).mtimeMs;
    loadConfig({ dataDir: d, env: { COMPUTE_PORT: "9002" }, flags: { port: 9003, priceMsats: 1 } });
    readConfigFile(d);
    expect(readFileSync(configPath(d), "utf8")).toBe(original);
    expect(statSync(configPath(d)).mtimeMs).toBe(before);
    expect(readdirSync(d)).toEqual(["config.json"]);
  });
});

describe("updateConfigFile", () => {
  test("creates the file with only the patched keys, mode 0600", () => {
    const d = dir();
    const c = updateConfigFile(d, { pricing: { perJobMsats: 2000 } });
    expect(c.pricing.perJobMsats).toBe(2000);
    expect(c.port).toBe(DEFAULT_PORT);
    expect(JSON.parse(readFileSync(configPath(d), "utf8"))).toEqual({ pricing: { perJobMsats: 2000 } });
    if (process.platform !== "win32") expect(statSync(configPath(d)).mode & 0o777).toBe(0o600);
  });

  test("merges into the file's own keys, deeply, and leaves no temp files", () => {
    const d = dir({ relays: ["ws://127.0.0.1:1"], pricing: { mode: "after", perJobMsats: 1 }, limits: { queueSize: 3 } });
    const c = updateConfigFile(d, { pricing: { perJobMsats: 99 }, limits: { maxTokensCap: 100 } });
    expect(c.relays).toEqual(["ws://127.0.0.1:1"]);
    expect(c.pricing.mode).toBe("after");
    expect(c.pricing.perJobMsats).toBe(99);
    expect(c.limits.queueSize).toBe(3);
    expect(c.limits.maxTokensCap).toBe(100);
    expect(JSON.parse(readFileSync(configPath(d), "utf8"))).toEqual({
      relays: ["ws://127.0.0.1:1"],
      pricing: { mode: "after", perJobMsats: 99 },
      limits: { queueSize: 3, maxTokensCap: 100 },
    });
    expect(readdirSync(d)).toEqual(["config.json"]);
    // And what it wrote loads back to the same config.
    expect(loadConfig({ dataDir: d, env: {} })).toEqual(c);
  });

  test("arrays replace rather than merge; null removes a key and its default applies", () => {
    const d = dir({ relays: ["ws://127.0.0.1:1", "ws://127.0.0.1:2"], provider: { servedModels: ["a"] }, pricing: { models: { a: { perJobMsats: 5 }, b: { perJobMsats: 7 } } } });
    const c = updateConfigFile(d, { relays: ["ws://127.0.0.1:3"], provider: { servedModels: null }, pricing: { models: { a: null } } });
    expect(c.relays).toEqual(["ws://127.0.0.1:3"]);
    expect(c.provider.servedModels).toBeNull();
    expect(c.pricing.models).toEqual({ b: { perJobMsats: 7 } });
    expect(JSON.parse(readFileSync(join(d, "config.json"), "utf8")).pricing.models).toEqual({ b: { perJobMsats: 7 } });
    // A new entry's nulls are dropped too (nothing to remove there).
    const c2 = updateConfigFile(d, { pricing: { models: { c: { perJobMsats: 9, per1kTokensMsats: null } } } });
    expect(c2.pricing.models).toEqual({ b: { perJobMsats: 7 }, c: { perJobMsats: 9 } });
  });

  test("an invalid patch is refused and the file is left byte for byte", () => {
    const original = '{"pricing": {"perJobMsats": 5}}';
    const d = dir(original);
    const e = thrown(() => updateConfigFile(d, { limits: { maxConcurrentJobs: -1 } }));
    expect(e.code).toBe("invalid_input");
    expect(e.message).toContain("limits.maxConcurrentJobs");
    const e2 = thrown(() => updateConfigFile(d, { pricing: { bogus: 1 } }));
    expect(e2.message).toContain("bogus");
    thrown(() => updateConfigFile(d, { relays: "ws://127.0.0.1:1" }));
    expect(readFileSync(configPath(d), "utf8")).toBe(original);
    expect(readdirSync(d)).toEqual(["config.json"]);
  });

  test("a bad file is not overwritten by an update", () => {
    const original = '{"port": "nope"}';
    const d = dir(original);
    const e = thrown(() => updateConfigFile(d, { port: 1 }));
    expect(e.message).toContain(configPath(d));
    expect(readFileSync(configPath(d), "utf8")).toBe(original);
  });

  test("env and flags of the run are not saved", () => {
    const d = dir();
    const prev = process.env.COMPUTE_PORT;
    process.env.COMPUTE_PORT = "1234";
    try {
      updateConfigFile(d, { online: true });
    } finally {
      if (prev === undefined) delete process.env.COMPUTE_PORT;
      else process.env.COMPUTE_PORT = prev;
    }
    expect(JSON.parse(readFileSync(configPath(d), "utf8"))).toEqual({ online: true });
  });
});

describe("defaultDataDir", () => {
  test("COMPUTE_DATA_DIR wins on every platform", () => {
    for (const p of ["linux", "darwin", "win32"] as const) expect(defaultDataDir({ COMPUTE_DATA_DIR: "/x/y", HOME: "/h" }, p)).toBe("/x/y");
  });
  test("Linux: XDG_DATA_HOME, else ~/.local/share", () => {
    expect(defaultDataDir({ HOME: "/home/u", XDG_DATA_HOME: "/xdg" }, "linux")).toBe(join("/xdg", "compute"));
    expect(defaultDataDir({ HOME: "/home/u" }, "linux")).toBe(join("/home/u", ".local", "share", "compute"));
    expect(defaultDataDir({ HOME: "/home/u", XDG_DATA_HOME: "" }, "linux")).toBe(join("/home/u", ".local", "share", "compute"));
  });
  test("macOS: Application Support", () => {
    expect(defaultDataDir({ HOME: "/Users/u" }, "darwin")).toBe(join("/Users/u", "Library", "Application Support", "compute"));
  });
  test("Windows: APPDATA, else AppData/Roaming under home", () => {
    expect(defaultDataDir({ APPDATA: "C:/Users/u/AppData/Roaming", HOME: "C:/Users/u" }, "win32")).toBe(join("C:/Users/u/AppData/Roaming", "compute"));
    expect(defaultDataDir({ HOME: "C:/Users/u" }, "win32")).toBe(join("C:/Users/u", "AppData", "Roaming", "compute"));
  });
  test("the test preload points the default at a temp dir", () => {
    expect(defaultDataDir()).toBe(process.env.COMPUTE_DATA_DIR!);
    expect(defaultDataDir().startsWith(tmpdir())).toBe(true);
  });
});
