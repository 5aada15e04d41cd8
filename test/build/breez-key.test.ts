// The Breez API key a build carries (src/wallet/breez-key.ts, build.ts): compiled with BREEZ_API_KEY
// in the build's environment, the binary has the key; compiled without, it has none; a key in this
// run's config or environment overrides the built-in one; and the repository itself holds no key.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { breezKeyDefine, builtInBreezApiKey, maskBreezApiKey, resolveBreezApiKey } from "../../src/wallet/breez-key.ts";

const ROOT = join(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "compute-breez-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PROBE_KEY = "probe-breez-key-" + crypto.randomUUID();

/** A small program compiled as build.ts compiles compute: prints the key it would use. */
async function compileProbe(buildEnv: Record<string, string | undefined>, name: string): Promise<string> {
  const entry = join(dir, `${name}.ts`);
  writeFileSync(
    entry,
    `import { resolveBreezApiKey } from ${JSON.stringify(join(ROOT, "src/wallet/breez-key.ts"))};\n` +
      `console.log(JSON.stringify(resolveBreezApiKey(process.env.BREEZ_API_KEY)));\n`,
  );
  const outfile = join(dir, name);
  const r = await Bun.build({ entrypoints: [entry], compile: { outfile }, minify: true, define: { "process.env.COMPUTE_COMPILED": '"1"', ...breezKeyDefine(buildEnv) } });
  if (!r.success) throw new Error(r.logs.join("\n"));
  return outfile;
}

function run(bin: string, env: Record<string, string> = {}): unknown {
  const p = Bun.spawnSync([bin], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe" });
  expect(p.exitCode).toBe(0);
  return JSON.parse(p.stdout.toString());
}

describe("the Breez API key in a build", () => {
  test("built with BREEZ_API_KEY set: the binary carries it and uses it; a key in the run's environment overrides it", async () => {
    const bin = await compileProbe({ BREEZ_API_KEY: PROBE_KEY }, "with-key");
    expect(readFileSync(bin).includes(Buffer.from(PROBE_KEY))).toBe(true);
    expect(run(bin)).toEqual({ key: PROBE_KEY, source: "build" });
    expect(run(bin, { BREEZ_API_KEY: "the-owners-own-key-0123456789" })).toEqual({ key: "the-owners-own-key-0123456789", source: "config" });
  }, 60_000);

  test("built without it: no key, so the wallet asks for one", async () => {
    const bin = await compileProbe({}, "without-key");
    expect(run(bin)).toBeNull();
    expect(readFileSync(bin).includes(Buffer.from(PROBE_KEY))).toBe(false);
  }, 60_000);

  test("the repository holds no key: run from source there is none built in, and no tracked file sets one", () => {
    expect(builtInBreezApiKey()).toBeNull();
    expect(resolveBreezApiKey(undefined)).toBeNull();
    expect(resolveBreezApiKey("  ")).toBeNull();
    const files = Bun.spawnSync(["git", "ls-files", "-z"], { cwd: ROOT }).stdout.toString().split("\0").filter(Boolean);
    expect(files.length).toBeGreaterThan(50);
    const assigned = /(BREEZ_API_KEY|breezApiKey|apiKey)\s*[:=]\s*["'`]([A-Za-z0-9+/=_.-]{24,})["'`]/;
    const buildKey = process.env.BREEZ_API_KEY?.trim();
    const offenders: string[] = [];
    for (const f of files) {
      if (f.startsWith("node_modules/") || /\.(png|jpg|wasm|zst|lock)$/.test(f)) continue;
      let text: string;
      try {
        text = readFileSync(join(ROOT, f), "utf8");
      } catch {
        continue; // listed but not present in this checkout
      }
      const m = assigned.exec(text);
      if (m && !/probe|test|example|your|owners/i.test(m[2]!)) offenders.push(`${f}: ${m[0].slice(0, 40)}`);
      if (buildKey && buildKey.length >= 16 && text.includes(buildKey)) offenders.push(`${f}: holds this machine's BREEZ_API_KEY`);
    }
    expect(offenders).toEqual([]);
  });

  test("a key is shown only by its last characters", () => {
    expect(maskBreezApiKey("abcdefghijklmnopqrstuvwxyz")).toBe("…wxyz");
    expect(maskBreezApiKey("short")).toBe("…");
  });
});
