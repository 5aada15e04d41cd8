// The CLI as a user runs it: real `bun src/index.ts` subprocesses, exit codes 0 / 1 / 2, errors as
// one plain sentence on stderr prefixed "compute: ".
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { closedPort } from "../fixtures/common.ts";

const REPO = resolve(import.meta.dir, "../..");
const root = mkdtempSync(join(tmpdir(), "compute-cli-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDir = () => join(root, `d${++n}`);
const VERSION = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version as string;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
async function cli(args: string[], o: { dataDir?: string; env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {}): Promise<Result> {
  const env: Record<string, string | undefined> = { ...process.env, COMPUTE_DATA_DIR: o.dataDir ?? newDir(), COMPUTE_LOG_LEVEL: "error", ...o.env };
  delete env.COMPUTE_PASSWORD;
  if (o.env?.COMPUTE_PASSWORD) env.COMPUTE_PASSWORD = o.env.COMPUTE_PASSWORD;
  const p = Bun.spawn(["bun", "src/index.ts", ...args], {
    cwd: REPO,
    env,
    stdin: o.stdin === undefined ? "ignore" : new TextEncoder().encode(o.stdin),
    stdout: "pipe",
    stderr: "pipe",
    timeout: o.timeoutMs ?? 10_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}


/** An error: exit code, one line on stderr starting "compute: ", a sentence ending in a period. */
function expectPlainError(r: Result, code: number): string {
  expect(r.code).toBe(code);
  const lines = r.stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(/^compute: \S.*[.?]$/);
  expect(lines[0]).not.toContain("    at "); // no stack trace
  return lines[0]!;
}

describe("argv", () => {
  test("--version prints the version, exit 0", async () => {
    for (const arg of ["--version", "-v", "version"]) {
      const r = await cli([arg]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`compute ${VERSION}\n`);
    }
  });
  test("--help lists the commands, exit 0", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    for (const word of ["init", "status", "--headless", "--version"]) expect(r.stdout).toContain(word);
    expect(r.stderr).toBe("");
  });
  test("a command's --help, exit 0", async () => {
    for (const cmd of ["init", "status"]) {
      const r = await cli([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: compute ${cmd}`);
      expect(r.stdout).toContain("--data-dir");
    }
  });
  test("an unknown command is a usage error, exit 2", async () => {
    const line = expectPlainError(await cli(["frobnicate"]), 2);
    expect(line).toContain("frobnicate");
  });
  test("an unknown flag is a usage error naming it, exit 2", async () => {
    const line = expectPlainError(await cli(["status", "--frob"]), 2);
    expect(line).toContain("--frob");
    expectPlainError(await cli(["init", "--wrods", "24"]), 2);
    expectPlainError(await cli(["status", "extra"]), 2);
  });
  test("bad flag values are usage errors, exit 2", async () => {
    expect(expectPlainError(await cli(["status", "--port", "0x10"]), 2)).toContain("--port");
    expect(expectPlainError(await cli(["status", "--port", "70000"]), 2)).toContain("--port");
    expect(expectPlainError(await cli(["status", "--log-level", "loud"]), 2)).toContain("--log-level");
    expect(expectPlainError(await cli(["status", "--relay", "http://127.0.0.1:1"]), 2)).toContain("--relay");
  });
  test("a broken config file is an error naming the file, exit 1", async () => {
    const d = newDir();
    await Bun.write(join(d, "config.json"), '{"limits": {"maxConcurrentJobs": 0}}');
    const line = expectPlainError(await cli(["status", "--json"], { dataDir: d }), 1);
    expect(line).toContain(join(d, "config.json"));
    expect(line).toContain("limits.maxConcurrentJobs");
  });
});

describe("status without a running instance", () => {
  test("--json reports no identity, Ollama unreachable, exit 0", async () => {
    const port = closedPort();
    const r = await cli(["status", "--json", "--ollama-url", `http://127.0.0.1:${port}`, "--relay", `ws://127.0.0.1:${port}`]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ running: false, pid: null, dashboard: null, npub: null, identity: "none", online: false, models: [] });
    expect(s.ollama).toMatchObject({ url: `http://127.0.0.1:${port}`, reachable: false, version: null });
    expect(s.relays).toEqual([{ url: `ws://127.0.0.1:${port}`, state: "not connected", latencyMs: null }]);
    expect(s.earnings).toEqual({ todaySats: 0, todayJobs: 0, weekSats: 0, weekJobs: 0, allSats: 0, allJobs: 0 });
  });
  test("plain text says what to do", async () => {
    const port = closedPort();
    const r = await cli(["status", "--ollama-url", `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("not running");
    expect(r.stdout).toContain("compute init");
    expect(r.stdout).toContain(`not reachable at http://127.0.0.1:${port}`);
  });
  test("OLLAMA_HOST is used when no flag is given", async () => {
    const port = closedPort();
    const r = await cli(["status", "--json"], { env: { OLLAMA_HOST: `127.0.0.1:${port}` } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).ollama.url).toBe(`http://127.0.0.1:${port}`);
  });
});

describe("status with a lock file", () => {
  test("a live instance that does not answer: exit 1 with a sentence naming its address", async () => {
    const d = newDir();
    const sleeper = Bun.spawn(["bun", "-e", "setInterval(() => {}, 1000)"], { stdout: "ignore", stderr: "ignore" });
    try {
      const port = closedPort();
      await Bun.write(join(d, "compute.lock"), JSON.stringify({ pid: sleeper.pid, startedAt: Date.now(), url: `http://127.0.0.1:${port}`, token: "t" }));
      const line = expectPlainError(await cli(["status", "--json"], { dataDir: d }), 1);
      expect(line).toContain(`http://127.0.0.1:${port}`);
      expect(line).toContain("did not answer");
    } finally {
      sleeper.kill("SIGKILL");
    }
  });
  test("a stale lock (dead pid) is ignored", async () => {
    const d = newDir();
    const dead = Bun.spawn(["bun", "-e", ""], { stdout: "ignore", stderr: "ignore" });
    await dead.exited;
    await Bun.write(join(d, "compute.lock"), JSON.stringify({ pid: dead.pid, startedAt: 1, url: "http://127.0.0.1:1", token: "t" }));
    const r = await cli(["status", "--json", "--ollama-url", `http://127.0.0.1:${closedPort()}`], { dataDir: d });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).running).toBe(false);
  });
});
