// Attacks on the vault file and its creation: a planted vault that asks for huge KDF costs, and
// two creates racing for the same path (the check-then-rename race let both "win").
import { expect, test } from "bun:test";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AppError } from "../../src/errors.ts";
import { DEFAULT_SCRYPT, Vault } from "../../src/identity/vault.ts";
import { appErrorAsync as appError, caseDirs } from "../fixtures/common.ts";

const FAST = { N: 2 ** 10, r: 8, p: 1 };
const PW = "correct horse battery";
const A = { mnemonic: "leader monkey parrot ring guide accident before fence cannon height naive bean", passphrase: "" };
const B = { mnemonic: "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", passphrase: "" };

let dir: string;
let path: string;
caseDirs("compute-vault-attacks-", (d) => {
  dir = d;
  path = join(d, "vault.json");
});

function plant(edit: (kdf: Record<string, unknown>) => void): void {
  const v = JSON.parse(readFileSync(path, "utf8"));
  edit(v.kdf);
  writeFileSync(path, JSON.stringify(v), { mode: 0o600 });
}

test("an attacker's planted vault asking for 4 GiB of scrypt memory (N=2^20, r=32) is refused before any key derivation", async () => {
  await Vault.create(path, A, PW, { scrypt: FAST });
  plant((k) => {
    k.N = 2 ** 20;
    k.r = 32;
  });
  // inspect() reads and checks the header without deriving anything: safe to run on any code.
  expect(() => Vault.inspect(path)).toThrow(/kdf\.(N|r)/);
});

for (const [name, edit, field] of [
  ["r = 32 (4x the memory compute writes)", (k: Record<string, unknown>) => (k.r = 32), /kdf\.r/],
  ["p = 16 (16x the CPU compute writes)", (k: Record<string, unknown>) => (k.p = 16), /kdf\.p/],
  ["N = 2^19", (k: Record<string, unknown>) => (k.N = 2 ** 19), /kdf\.N/],
] as const) {
  test(`a planted vault with ${name} is a damaged file, not a costly wrong password`, async () => {
    await Vault.create(path, A, PW, { scrypt: FAST });
    plant(edit);
    if (field.source.includes("N")) {
      expect(() => Vault.inspect(path)).toThrow(field);
      return;
    }
    const err = await appError(Vault.open(path, PW));
    expect(err.code).toBe("invalid_input");
    expect(err.message).toMatch(field);
  });
}

test("what compute itself writes stays within the bounds (N=2^17, r=8, p=1 opens)", async () => {
  await Vault.create(path, A, PW, { scrypt: DEFAULT_SCRYPT });
  expect(Vault.inspect(path).kdf).toMatchObject(DEFAULT_SCRYPT);
  expect((await Vault.open(path, PW)).mnemonic).toBe(A.mnemonic);
});

test("two creates racing for one path: exactly one wins, and the vault holds the winner's phrase", async () => {
  for (let round = 0; round < 5; round++) {
    const p = join(dir, `race-${round}.json`);
    const results = await Promise.allSettled([Vault.create(p, A, PW, { scrypt: FAST }), Vault.create(p, B, PW, { scrypt: FAST })]);
    const won = results.filter((r) => r.status === "fulfilled");
    expect(won.length).toBe(1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect((lost.reason as AppError).code).toBe("conflict");
    const winner = results[0]!.status === "fulfilled" ? A : B;
    expect((await Vault.open(p, PW)).mnemonic).toBe(winner.mnemonic);
  }
  // No temp files left behind by the loser.
  expect(readdirSync(dir).filter((f) => f.includes("tmp"))).toEqual([]);
});

test("create refuses an existing vault and leaves it untouched; force replaces it", async () => {
  await Vault.create(path, A, PW, { scrypt: FAST });
  const before = readFileSync(path);
  expect((await appError(Vault.create(path, B, PW, { scrypt: FAST }))).code).toBe("conflict");
  expect(readFileSync(path).equals(before)).toBe(true);
  await Vault.create(path, B, PW, { scrypt: FAST, force: true });
  expect((await Vault.open(path, PW)).mnemonic).toBe(B.mnemonic);
});
