// `compute init` as a real subprocess: import (NIP-06 test vector), generate, password sources,
// and the errors a person can hit.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "../..");
const root = mkdtempSync(join(tmpdir(), "compute-cli-init-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const newDir = () => join(root, `d${++n}`);

// NIP-06 test vector.
const MNEMONIC = "leader monkey parrot ring guide accident before fence cannon height naive bean";
const NPUB = "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu";
const PASSWORD = "correct horse battery";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
async function cli(args: string[], o: { dataDir: string; password?: string; env?: Record<string, string>; stdin?: string }): Promise<Result> {
  const env: Record<string, string | undefined> = { ...process.env, COMPUTE_DATA_DIR: o.dataDir, COMPUTE_LOG_LEVEL: "error", ...o.env };
  delete env.COMPUTE_PASSWORD;
  delete env.COMPUTE_PASSPHRASE;
  if (o.password !== undefined) env.COMPUTE_PASSWORD = o.password;
  if (o.env?.COMPUTE_PASSPHRASE) env.COMPUTE_PASSPHRASE = o.env.COMPUTE_PASSPHRASE;
  const p = Bun.spawn(["bun", "src/index.ts", "init", ...args], {
    cwd: REPO,
    env,
    stdin: o.stdin === undefined ? "ignore" : new TextEncoder().encode(o.stdin),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 15_000,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

function expectPlainError(r: Result, code: number): string {
  expect(r.code).toBe(code);
  const lines = r.stderr.trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(/^compute: \S.*[.?]$/);
  return lines[0]!;
}

const shownWords = (stdout: string) => [...stdout.matchAll(/^\s*\d+\. ([a-z]+)$/gm)].map((m) => m[1]!);
const shownNpub = (stdout: string) => stdout.match(/npub1[02-9ac-hj-np-z]{58}/)?.[0];

describe("init --import", () => {
  test("the NIP-06 test vector gives its npub; the vault and public identity are written", async () => {
    const d = newDir();
    const r = await cli(["--import"], { dataDir: d, password: PASSWORD, stdin: `  ${MNEMONIC.toUpperCase().replaceAll(" ", "\n")}\n` });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(NPUB);
    // An imported phrase is not echoed back.
    expect(r.stdout).not.toContain("leader");
    const vault = readFileSync(join(d, "vault.json"), "utf8");
    expect(vault).not.toContain("leader");
    expect(vault).not.toContain(PASSWORD);
    expect(JSON.parse(readFileSync(join(d, "identity.json"), "utf8")).npub).toBe(NPUB);
    if (process.platform !== "win32") expect(statSync(join(d, "vault.json")).mode & 0o077).toBe(0);

    // Again without --force: refused, vault untouched.
    const again = await cli(["--import"], { dataDir: d, password: PASSWORD, stdin: MNEMONIC });
    const line = expectPlainError(again, 1);
    expect(line).toContain("--force");
    expect(readFileSync(join(d, "vault.json"), "utf8")).toBe(vault);

    // With --force and a new phrase: replaced.
    const forced = await cli(["--force", "--json"], { dataDir: d, password: PASSWORD });
    expect(forced.code).toBe(0);
    const j = JSON.parse(forced.stdout);
    expect(j.npub).not.toBe(NPUB);
    expect(j.mnemonic.split(" ").length).toBe(12);
    expect(JSON.parse(readFileSync(join(d, "identity.json"), "utf8")).npub).toBe(j.npub);
  });

  test("--json prints npub and pubkey but not the imported phrase", async () => {
    const r = await cli(["--import", "--json"], { dataDir: newDir(), password: PASSWORD, stdin: MNEMONIC });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toEqual({ npub: NPUB, pubkey: "17162c921dc4d2518f9a101db33695df1afb56ab82f5ff3e5da6eec3ca5cd917" });
  });

  test("a word not in the list is named, exit 1, nothing written", async () => {
    const d = newDir();
    const r = await cli(["--import"], { dataDir: d, password: PASSWORD, stdin: MNEMONIC.replace("parrot", "parott") });
    const line = expectPlainError(r, 1);
    expect(line).toContain("'parott'");
    expect(line).toContain("Word 3");
    expect(existsSync(join(d, "vault.json"))).toBe(false);
  });

  test("a bad checksum, exit 1", async () => {
    const d = newDir();
    // Swap two words: every word valid, checksum wrong.
    const r = await cli(["--import"], { dataDir: d, password: PASSWORD, stdin: MNEMONIC.replace("leader monkey", "monkey leader") });
    expect(expectPlainError(r, 1)).toContain("checksum");
    expect(existsSync(join(d, "vault.json"))).toBe(false);
  });

  test("a wrong word count, exit 1", async () => {
    const r = await cli(["--import"], { dataDir: newDir(), password: PASSWORD, stdin: "leader monkey parrot" });
    expect(expectPlainError(r, 1)).toContain("3");
  });

  test("--import with --words is a usage error", async () => {
    expectPlainError(await cli(["--import", "--words", "24"], { dataDir: newDir(), password: PASSWORD, stdin: MNEMONIC }), 2);
  });

  test("a BIP39 passphrase changes the identity", async () => {
    const r = await cli(["--import", "--passphrase", "--json"], { dataDir: newDir(), password: PASSWORD, stdin: MNEMONIC, env: { COMPUTE_PASSPHRASE: "extra words" } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).npub).not.toBe(NPUB);
    const none = await cli(["--import", "--passphrase"], { dataDir: newDir(), password: PASSWORD, stdin: MNEMONIC });
    expect(expectPlainError(none, 2)).toContain("COMPUTE_PASSPHRASE");
  });
});

describe("init (generate)", () => {
  test("prints 12 words once and the npub; the words are the identity", async () => {
    const r = await cli([], { dataDir: newDir(), password: PASSWORD });
    expect(r.code).toBe(0);
    const words = shownWords(r.stdout);
    expect(words.length).toBe(12);
    const npub = shownNpub(r.stdout);
    expect(npub).toBeDefined();
    // Importing the shown words elsewhere gives the same npub: what was shown is what was stored.
    const back = await cli(["--import"], { dataDir: newDir(), password: PASSWORD, stdin: words.join(" ") });
    expect(back.code).toBe(0);
    expect(shownNpub(back.stdout)).toBe(npub);
  });

  test("--words 24 gives 24 words; other counts are usage errors", async () => {
    const r = await cli(["--words", "24"], { dataDir: newDir(), password: PASSWORD });
    expect(r.code).toBe(0);
    expect(shownWords(r.stdout).length).toBe(24);
    expect(new Set(shownWords(r.stdout)).size).toBeGreaterThan(12);
    for (const w of ["13", "18", "twelve"]) expect(expectPlainError(await cli(["--words", w], { dataDir: newDir(), password: PASSWORD }), 2)).toContain("--words");
  });

  test("two runs give different phrases", async () => {
    const a = await cli(["--json"], { dataDir: newDir(), password: PASSWORD });
    const b = await cli(["--json"], { dataDir: newDir(), password: PASSWORD });
    expect(JSON.parse(a.stdout).mnemonic).not.toBe(JSON.parse(b.stdout).mnemonic);
  });
});

describe("init password", () => {
  test("too short is refused, nothing written", async () => {
    const d = newDir();
    const r = await cli([], { dataDir: d, password: "short" });
    expect(expectPlainError(r, 1)).toContain("8 characters");
    expect(existsSync(join(d, "vault.json"))).toBe(false);
  });

  test("--password-file works (one trailing newline dropped)", async () => {
    const d = newDir();
    mkdirSync(d, { recursive: true });
    const pwFile = join(d, "..", `pw${n}`);
    writeFileSync(pwFile, `${PASSWORD}\n`);
    const r = await cli(["--import", "--password-file", pwFile], { dataDir: d, stdin: MNEMONIC });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(NPUB);
    // The vault opens with the file's password (without the newline).
    const script = `import { Vault } from "./src/identity/vault.ts"; const s = await Vault.open(${JSON.stringify(join(d, "vault.json"))}, ${JSON.stringify(PASSWORD)}); console.log(s.mnemonic);`;
    const check = Bun.spawnSync(["bun", "-e", script], { cwd: REPO, env: { ...process.env, COMPUTE_LOG_LEVEL: "error" } });
    expect(check.stdout.toString().trim()).toBe(MNEMONIC);
  });

  test("a missing or empty --password-file is an error naming it", async () => {
    const missing = join(root, "no-such-file");
    expect(expectPlainError(await cli(["--password-file", missing], { dataDir: newDir() }), 1)).toContain(missing);
    const empty = join(root, "empty-pw");
    writeFileSync(empty, "\n");
    expect(expectPlainError(await cli(["--password-file", empty], { dataDir: newDir() }), 1)).toContain("empty");
  });

  test("no password and no terminal: usage error saying how to give one, exit 2", async () => {
    const d = newDir();
    const r = await cli([], { dataDir: d });
    const line = expectPlainError(r, 2);
    expect(line).toContain("COMPUTE_PASSWORD");
    expect(line).toContain("--password-file");
    expect(existsSync(join(d, "vault.json"))).toBe(false);
    // The generated phrase was never shown, since it was not saved.
    expect(shownWords(r.stdout)).toEqual([]);
  });
});
