// The pretty log format on a real pseudo-terminal: util-linux `script` gives the child a pty for
// stdin/stdout/stderr, as a person's terminal does; a pipe (a service, a file) gets JSON lines.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config.ts";

const DEMO = join(import.meta.dir, "fixtures", "log-demo.ts");
const ESC = "\u001b";

/** The test run's env (its preload sets COMPUTE_LOG_LEVEL=error) with the log settings cleared. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !["COMPUTE_LOG_FORMAT", "COMPUTE_LOG_LEVEL", "NO_COLOR"].includes(k)) env[k] = v;
  return { ...env, ...extra };
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs the demo under a pty; returns what the terminal received (stdout and stderr together). */
async function onTerminal(args: string[], env: Record<string, string> = {}): Promise<string> {
  const cmd = [process.execPath, DEMO, ...args].map(shellQuote).join(" ");
  const proc = Bun.spawn(["script", "-qfec", cmd, "/dev/null"], { env: childEnv(env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  expect(await proc.exited).toBe(0);
  return out.replace(/\r\n/g, "\n");
}

async function throughPipe(args: string[], env: Record<string, string> = {}): Promise<{ stderr: string; code: number }> {
  const proc = Bun.spawn([process.execPath, DEMO, ...args], { env: childEnv(env), stdout: "pipe", stderr: "pipe" });
  const stderr = await new Response(proc.stderr).text();
  return { stderr, code: await proc.exited };
}

const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "");

describe("logs on a terminal (a real pty via script)", () => {
  test("print short coloured lines: time, level, service, message, key=value", async () => {
    const out = await onTerminal([]);
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(out).toContain(`${ESC}[36mINFO `); // coloured level
    const plain = lines.map(stripAnsi);
    expect(plain[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} DEBUG demo checking relays relays=3$/);
    expect(plain[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  demo listening port=7750 url=http:\/\/127\.0\.0\.1:7750\/\?token=\[redacted\]$/);
    expect(plain[2]).toMatch(/ WARN  demo relay slow relay=ws:\/\/127\.0\.0\.1:7000 latencyMs=812\.5 password=\[redacted\]$/);
    expect(plain[3]).toContain(" ERROR demo peer said [redacted]");
    expect(plain[3]).toContain('err="AppError: Wallet unreachable (unavailable)"');
    expect(out).not.toContain("hunter22");
    expect(out).not.toContain("nsec1u5y");
    expect(out).not.toContain("abcdef");
  });

  test("a peer's text with a newline and a terminal escape stays on its line, escaped", async () => {
    const out = await onTerminal([]);
    expect(out.trimEnd().split("\n")).toHaveLength(4);
    expect(out).not.toContain(`${ESC}[2J`);
    expect(out).not.toContain(`${ESC}]0;`);
    expect(stripAnsi(out)).toContain(String.raw`peer said [redacted]\n12:00:00.000 INFO  demo forged\u001b]0;title\u0007 `);
    expect(stripAnsi(out)).toContain(String.raw`text="line one\n{\"level\":\"info\",\"msg\":\"forged\"}\u001b[2J"`);
  });

  test("NO_COLOR keeps the short lines without colour", async () => {
    const out = await onTerminal([], { NO_COLOR: "1" });
    expect(out).not.toContain(ESC);
    expect(out).toMatch(/ INFO  demo listening /);
  });

  test("--log-format json and COMPUTE_LOG_FORMAT=json give JSON lines even on a terminal", async () => {
    for (const out of [await onTerminal(["--log-format", "json"]), await onTerminal([], { COMPUTE_LOG_FORMAT: "json" })]) {
      const records = out.trimEnd().split("\n").map((l) => JSON.parse(l));
      expect(records.map((r) => r.level)).toEqual(["debug", "info", "warn", "error"]);
      expect(records[2].password).toBe("[redacted]");
      expect(out).not.toContain("hunter22");
    }
  });

  test("--log-level still filters in the pretty format", async () => {
    const out = await onTerminal(["--log-level", "warn"]);
    expect(stripAnsi(out).trimEnd().split("\n").map((l) => l.split(" ")[1])).toEqual(["WARN", "ERROR"]);
  });
});

describe("logs into a pipe (a service, a file)", () => {
  test("are JSON lines, redacted", async () => {
    const { stderr, code } = await throughPipe([]);
    expect(code).toBe(0);
    const records = stderr.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(records).toHaveLength(4);
    expect(records[1]).toMatchObject({ level: "info", service: "demo", msg: "listening", port: 7750 });
    expect(records[3].text).toBe('line one\n{"level":"info","msg":"forged"}\u001b[2J'); // JSON escapes it
    expect(stderr).not.toContain("hunter22");
  });

  test("--log-format pretty prints short lines without colour", async () => {
    const { stderr } = await throughPipe(["--log-format", "pretty"]);
    expect(stderr).not.toContain(ESC);
    expect(stderr.trimEnd().split("\n")[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  demo listening port=7750 /);
  });

  test("a bad --log-format is a usage error naming the choices", async () => {
    const { stderr, code } = await throughPipe(["--log-format", "yaml"]);
    expect(code).not.toBe(0);
    expect(stderr).toContain("--log-format must be one of json, pretty, not 'yaml'");
  });
});

describe("logFormat in the config", () => {
  test("flag over env over file; unset means auto; a bad value names where it came from", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "compute-logfmt-"));
    try {
      expect(loadConfig({ dataDir, env: {} }).logFormat).toBeUndefined();
      expect(loadConfig({ dataDir, env: { COMPUTE_LOG_FORMAT: "json" } }).logFormat).toBe("json");
      expect(loadConfig({ dataDir, env: { COMPUTE_LOG_FORMAT: "json" }, flags: { logFormat: "pretty" } }).logFormat).toBe("pretty");
      expect(() => loadConfig({ dataDir, env: { COMPUTE_LOG_FORMAT: "xml" } })).toThrow(/COMPUTE_LOG_FORMAT/);
      expect(() => loadConfig({ dataDir, env: {}, flags: { logFormat: "xml" } })).toThrow(/--log-format/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
