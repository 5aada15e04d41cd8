// main() from src/index.ts with arbitrary argv, RUNS times: it returns 0, 1 or 2 and never throws
// or hangs, prints no stack trace, and every failure ends with one "compute: <sentence>" line.
// The calls run in a separate process (test/fixtures/stress-cli-fuzz.ts) with a scratch cwd and
// data dir, no display, relays and Ollama on closed local ports, and stdin closed.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROPERTY_TIMEOUT_MS, RUNS } from "../fixtures/stress-fc.ts";

const scratch = mkdtempSync(join(tmpdir(), "compute-cli-fuzz-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const RUNNER = new URL("../fixtures/stress-cli-fuzz.ts", import.meta.url).pathname;
const SEED = Number(process.env.COMPUTE_FC_SEED ?? Math.floor(Math.random() * 2 ** 31));

interface Summary {
  runs: number;
  seed: number;
  codes: Record<string, number>;
  slowest: { ms: number; argv: string[] };
  multilineCount: number;
  multiline: { argv: string[]; stderr: string } | null;
  failure: string | null;
}

async function fuzz(mode: "general" | "proto", runs: number): Promise<Summary> {
  const cwd = join(scratch, mode);
  mkdirSync(join(cwd, "data"), { recursive: true });
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(DISPLAY|WAYLAND_DISPLAY|COMPUTE_|OLLAMA_|BREEZ_)/.test(k)) env[k] = v;
  Object.assign(env, {
    HOME: cwd,
    XDG_DATA_HOME: join(cwd, "xdg"),
    COMPUTE_DATA_DIR: join(cwd, "data"),
    COMPUTE_RELAYS: "ws://127.0.0.1:1",
    OLLAMA_HOST: "127.0.0.1:1",
    COMPUTE_LOG_LEVEL: "error",
    FUZZ_RUNS: String(runs),
    FUZZ_SEED: String(SEED),
    FUZZ_MODE: mode,
  });
  const proc = Bun.spawn([process.execPath, RUNNER], { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect({ code, err: err.slice(-2000) }).toEqual({ code: 0, err: expect.any(String) });
  const line = out.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as Summary;
}

test(
  `main() with arbitrary argv (${RUNS} runs): exit 0/1/2, no throw, no hang, a clear "compute: …" line on failure`,
  async () => {
    const s = await fuzz("general", RUNS);
    console.log(
      `cli: seed ${s.seed} (COMPUTE_FC_SEED=${s.seed} replays); exit codes ${JSON.stringify(s.codes)}; slowest call ${s.slowest.ms} ms ` +
        `(${JSON.stringify(s.slowest.argv).slice(0, 200)}); messages longer than one line: ${s.multilineCount}` +
        (s.multiline ? `, e.g. ${JSON.stringify(s.multiline.argv)} → ${JSON.stringify(s.multiline.stderr)}` : ""),
    );
    expect(s.failure).toBeNull();
    expect(Object.values(s.codes).reduce((a, b) => a + b, 0)).toBe(RUNS);
  },
  PROPERTY_TIMEOUT_MS,
);

// Known bug (src/index.ts, main): `first in COMMANDS` is true for names every object has
// (constructor, toString, __proto__ …), so `compute constructor` calls Object's own property and
// prints a raw runtime error ("… is not a function") with exit 1 instead of "unknown command",
// exit 2. Use Object.hasOwn(COMMANDS, first). Fixed.
test(
  "a command named like an Object property is an unknown command: exit 2 with a clear line",
  async () => {
    const s = await fuzz("proto", 50);
    expect(s.failure).toBeNull();
    expect(s.codes).toEqual({ "2": 50 });
  },
  PROPERTY_TIMEOUT_MS,
);

// Known bug (src/cli/common.ts, parse): only Node's "To specify a positional argument" tail is cut
// from parseArgs' messages; an option given a value that starts with a dash gets three lines
// ("argument is ambiguous", "Did you forget …", "To specify an option argument …"). The CLI means
// to print one sentence. Fixed.
test("an option whose value looks like a flag: one line on stderr", async () => {
  const cwd = join(scratch, "ambiguous");
  mkdirSync(cwd, { recursive: true });
  const proc = Bun.spawn([process.execPath, new URL("../../src/index.ts", import.meta.url).pathname, "status", "--data-dir", "--json"], {
    cwd,
    env: { ...process.env, COMPUTE_DATA_DIR: join(cwd, "data") },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [err, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect(code).toBe(2);
  expect(err.trimEnd().split("\n")).toHaveLength(1);
});
