import { afterEach, describe, expect, test } from "bun:test";
import { createLogger, formatPretty, getLogLevel, redact, setLogLevel, setLogSink } from "../src/log.ts";
import { AppError } from "../src/errors.ts";

// An nsec-shaped bech32 string (NIP-19), the kind of text that must never reach a log.
const NSEC = "nsec1u5yez7a7jpx0g6gq64fa0pz5h0qg3v2aegh9wfvldxv5pywhp4gsqp6hy4";
const TOKEN = "a".repeat(64);

let lines: string[] = [];
let prevSink: ((line: string) => void) | null = null;
const prevLevel = getLogLevel();
function capture() {
  lines = [];
  prevSink = setLogSink((l) => lines.push(l));
}
afterEach(() => {
  if (prevSink) setLogSink(prevSink);
  prevSink = null;
  setLogLevel(prevLevel);
});

describe("redact", () => {
  test("fields named like secrets are replaced, at any depth it walks", () => {
    const out = redact({
      password: "hunter22",
      newPassword: "x",
      mnemonic: "leader monkey parrot",
      seedPhrase: "…",
      walletSeed: { mnemonic: "a", passphrase: "b" },
      nsec: "anything",
      passphrase: "p",
      apiKey: "k",
      api_key: "k",
      breezApiKey: "k",
      token: "t",
      authToken: "t",
      authorization: "Bearer x",
      cookie: "compute_token=x",
      privateKey: "pk",
      clientSecret: "s",
      preimage: "00",
      nested: { deeper: { password: "p2" } },
      list: [{ secret: 1 }, "plain"],
    }) as Record<string, unknown>;
    for (const k of ["password", "newPassword", "mnemonic", "seedPhrase", "walletSeed", "nsec", "passphrase", "apiKey", "api_key", "breezApiKey", "token", "authToken", "authorization", "cookie", "privateKey", "clientSecret", "preimage"]) {
      expect(out[k]).toBe("[redacted]");
    }
    expect(out.nested).toEqual({ deeper: { password: "[redacted]" } });
    expect(out.list).toEqual([{ secret: "[redacted]" }, "plain"]);
  });

  test("token counts and ordinary fields stay readable", () => {
    const input = { maxTokens: 100, outputTokens: 5, tokensPerSecond: 12.5, model: "llama3.2", npub: "npub1xyz", pubkey: "ab".repeat(32), amountSats: 3 };
    expect(redact(input)).toEqual(input);
  });

  test("an nsec is removed from any string, alone or inside text", () => {
    expect(redact(NSEC)).toBe("[redacted]");
    expect(redact({ note: `key was ${NSEC}.` })).toEqual({ note: "key was [redacted]." });
    expect(redact([`${NSEC.toUpperCase()}`])).toEqual(["[redacted]"]);
    // npubs and short lookalikes are not secrets.
    expect(redact("npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu")).toBe("npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu");
    expect(redact("nsec1 is the prefix")).toBe("nsec1 is the prefix");
  });

  test("a ?token= in a URL is removed, the rest of the URL kept", () => {
    expect(redact(`http://127.0.0.1:7750/?token=${TOKEN}`)).toBe("http://127.0.0.1:7750/?token=[redacted]");
    expect(redact(`http://x/?a=1&token=${TOKEN}&b=2`)).toBe("http://x/?a=1&token=[redacted]&b=2");
  });

  test("errors keep name, message (redacted) and code, nothing else", () => {
    const e = new AppError("unauthorized", `bad key ${NSEC}`, { password: "x" });
    expect(redact({ err: e })).toEqual({ err: { name: "AppError", message: "bad key [redacted]", code: "unauthorized" } });
    const sys = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED", config: { password: "p" } });
    expect(redact(sys)).toEqual({ name: "Error", message: "connect ECONNREFUSED", code: "ECONNREFUSED" });
  });

  test("bytes are summarized, bigints stringified, too-deep objects not dumped", () => {
    expect(redact({ buf: new Uint8Array(32) })).toEqual({ buf: "[32 bytes]" });
    expect(redact({ b: Buffer.from("secret") })).toEqual({ b: "[6 bytes]" });
    expect(redact({ n: 10n ** 20n })).toEqual({ n: "100000000000000000000" });
    const deep = { a: { b: { c: { d: { e: { f: { password: "p", nsec: NSEC } } } } } } };
    const text = JSON.stringify(redact(deep));
    expect(text).not.toContain(NSEC);
    expect(text).not.toContain('"p"');
    expect(text).toContain("[nested]");
  });

  test("cycles do not hang", () => {
    const a: Record<string, unknown> = { name: "a" };
    a.self = a;
    expect(() => JSON.stringify(redact(a))).not.toThrow();
  });
});

describe("createLogger", () => {
  test("writes one JSON line with time, level, service, msg and redacted fields", () => {
    capture();
    setLogLevel("debug");
    createLogger("svc").info(`unlocked with ${NSEC}`, { password: "hunter22", url: `http://127.0.0.1:1/?token=${TOKEN}`, jobs: 2 });
    expect(lines.length).toBe(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({ level: "info", service: "svc", msg: "unlocked with [redacted]", password: "[redacted]", url: "http://127.0.0.1:1/?token=[redacted]", jobs: 2 });
    expect(new Date(rec.t).getTime()).toBeGreaterThan(0);
    expect(lines[0]).not.toContain("hunter22");
    expect(lines[0]).not.toContain(TOKEN);
  });

  test("fields can't overwrite the record's own keys", () => {
    capture();
    setLogLevel("debug");
    createLogger("svc").warn("real message", { level: "debug", msg: "fake", service: "other", t: 0, extra: true });
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warn", msg: "real message", service: "svc", extra: true });
  });

  test("levels below the threshold are dropped; silent drops everything", () => {
    capture();
    const log = createLogger("lv");
    setLogLevel("warn");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["w", "e"]);
    setLogLevel("silent");
    log.error("nope");
    expect(lines.length).toBe(2);
  });
});

describe("formatPretty", () => {
  const record = { t: "2026-01-02T03:04:05.006Z", level: "warn" as const, service: "pool", msg: "relay slow" };
  test("time, level, service, message, then key=value in the record's order", () => {
    const line = formatPretty({ ...record, relay: "ws://127.0.0.1:7000", ms: 812, ok: false, list: [1, "a b"], nothing: null }, { colour: false });
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.006 WARN  pool relay slow relay=ws:\/\/127\.0\.0\.1:7000 ms=812 ok=false list=\[1,"a b"\] nothing=null$/);
  });

  test("text with spaces or quotes is quoted; a redacted error reads as its message", () => {
    const line = formatPretty({ ...record, reason: 'said "no"', err: { name: "Error", message: "boom" }, e2: { name: "AppError", message: "x", extra: 1 } }, { colour: false });
    expect(line).toContain(String.raw`reason="said \"no\""`);
    expect(line).toContain('err="boom"');
    expect(line).toContain('e2={"name":"AppError","message":"x","extra":1}');
  });

  test("colour wraps time, level, service and keys; values stay uncoloured", () => {
    const line = formatPretty({ ...record, level: "error", n: 1 }, { colour: true });
    expect(line).toContain("\u001b[1;31mERROR\u001b[0m");
    expect(line).toContain("\u001b[35mpool\u001b[0m");
    expect(line).toContain("\u001b[2mn=\u001b[0m1");
  });

  test("a sink gets the JSON line and the record; the redaction is the same in both", () => {
    capture();
    const records: unknown[] = [];
    setLogSink((l, r) => {
      lines.push(l);
      records.push(r);
    });
    createLogger("t").error("x", { password: "hunter22", note: `see ${NSEC}` });
    expect(JSON.parse(lines[0]!)).toEqual(records[0]);
    expect(formatPretty(records[0] as Parameters<typeof formatPretty>[0], { colour: false })).not.toMatch(/hunter22|nsec1/);
  });
});
