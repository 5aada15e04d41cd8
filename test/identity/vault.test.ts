import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateMnemonic } from "../../src/identity/mnemonic.ts";
import { DEFAULT_SCRYPT, Vault } from "../../src/identity/vault.ts";
import { atomicWriteFile } from "../../src/util/atomic.ts";
import { appErrorAsync as appError, caseDirs } from "../fixtures/common.ts";

// Cheap KDF for most tests; the default (N = 2^17) is exercised once below.
const FAST = { N: 2 ** 10, r: 8, p: 1 };
const PW = "correct horse battery";
const SECRET = {
  mnemonic: "leader monkey parrot ring guide accident before fence cannon height naive bean",
  passphrase: "secondfactorphrase",
};

let dir: string;
let path: string;
caseDirs("compute-vault-", (d) => {
  dir = d;
  path = join(d, "vault.json");
});

const mode = (p: string) => statSync(p).mode & 0o777;

describe("Vault", () => {
  test("round trip with the default KDF cost (N = 2^17, r = 8, p = 1)", async () => {
    expect(Vault.exists(path)).toBe(false);
    await Vault.create(path, SECRET, PW);
    expect(Vault.exists(path)).toBe(true);
    const header = Vault.inspect(path);
    expect(header.kdf).toMatchObject({ name: "scrypt", N: 2 ** 17, r: 8, p: 1 });
    expect(DEFAULT_SCRYPT).toEqual({ N: 2 ** 17, r: 8, p: 1 });
    expect(header.cipher.name).toBe("aes-256-gcm");
    expect(await Vault.open(path, PW)).toEqual(SECRET);
  });

  test("file format: version, base64 salt (16 B) and nonce (12 B), ISO time, mode 0600", async () => {
    await Vault.create(path, SECRET, PW, { scrypt: FAST });
    const file = JSON.parse(readFileSync(path, "utf8"));
    expect(file.version).toBe(1);
    expect(Buffer.from(file.kdf.salt, "base64")).toHaveLength(16);
    expect(Buffer.from(file.cipher.nonce, "base64")).toHaveLength(12);
    expect(new Date(file.createdAt).getTime()).toBeGreaterThan(0);
    expect(mode(path)).toBe(0o600);
  });

  test("two vaults of the same secret share no salt, nonce or ciphertext", async () => {
    const other = join(dir, "other.json");
    await Vault.create(path, SECRET, PW, { scrypt: FAST });
    await Vault.create(other, SECRET, PW, { scrypt: FAST });
    const a = JSON.parse(readFileSync(path, "utf8"));
    const b = JSON.parse(readFileSync(other, "utf8"));
    expect(a.kdf.salt).not.toBe(b.kdf.salt);
    expect(a.cipher.nonce).not.toBe(b.cipher.nonce);
    expect(a.cipher.ciphertext).not.toBe(b.cipher.ciphertext);
  });

  test("plaintext never on disk, and 12 vs 24 words give the same file size", async () => {
    const long = { mnemonic: generateMnemonic(24), passphrase: "" };
    const longPath = join(dir, "long.json");
    await Vault.create(path, SECRET, PW, { scrypt: FAST });
    await Vault.create(longPath, long, PW, { scrypt: FAST });
    await Vault.changePassword(path, PW, "another password", { scrypt: FAST });
    const everything = readdirSync(dir)
      .map((f) => readFileSync(join(dir, f), "latin1"))
      .join("\n");
    for (const secret of [SECRET, long]) {
      expect(everything).not.toContain(secret.mnemonic);
      for (const w of secret.mnemonic.split(" ")) if (w.length >= 6) expect(everything).not.toContain(w);
    }
    expect(everything).not.toContain(SECRET.passphrase);
    expect(everything).not.toContain(PW);
    expect(readdirSync(dir).sort()).toEqual(["long.json", "vault.json"]); // no temp files left
    const len = (p: string) => JSON.parse(readFileSync(p, "utf8")).cipher.ciphertext.length;
    expect(len(path)).toBe(len(longPath));
  });

  test("wrong password: unauthorized, file unchanged", async () => {
    await Vault.create(path, SECRET, PW, { scrypt: FAST });
    const before = readFileSync(path);
    const err = await appError(Vault.open(path, "wrong password!"));
    expect(err.code).toBe("unauthorized");
    expect(err.message).toBe("The vault password is wrong.");
    expect(readFileSync(path).equals(before)).toBe(true);
    // Passwords are compared after NFKC: a composed and a decomposed "é" are the same password.
    await Vault.create(path, SECRET, "caf\u00e9 au lait", { scrypt: FAST, force: true });
    expect(await Vault.open(path, "cafe\u0301 au lait")).toEqual(SECRET);
  });

  test("create refuses to overwrite unless forced", async () => {
    await Vault.create(path, SECRET, PW, { scrypt: FAST });
    const before = readFileSync(path);
    const err = await appError(Vault.create(path, { mnemonic: generateMnemonic(), passphrase: "" }, PW, { scrypt: FAST }));
    expect(err.code).toBe("conflict");
    expect(readFileSync(path).equals(before)).toBe(true);
    const next = { mnemonic: generateMnemonic(), passphrase: "" };
    await Vault.create(path, next, "new password", { scrypt: FAST, force: true });
    expect(await Vault.open(path, "new password")).toEqual(next);
  });

  test("password rules: at least 8 characters; nothing written when refused", async () => {
    const err = await appError(Vault.create(path, SECRET, "short12", { scrypt: FAST }));
    expect(err.code).toBe("invalid_input");
    expect(err.message).toContain("at least 8");
    expect(existsSync(path)).toBe(false);
    await Vault.create(path, SECRET, "ünïcödé!", { scrypt: FAST }); // 8 characters, more bytes
    expect(await Vault.open(path, "ünïcödé!")).toEqual(SECRET);
    const bad = await appError(Vault.create(path, { mnemonic: 5 } as never, PW, { scrypt: FAST, force: true }));
    expect(bad.code).toBe("invalid_input");
    const typo = await appError(Vault.create(path, { mnemonic: SECRET.mnemonic.replace("leader monkey", "monkey leader"), passphrase: "" }, PW, { scrypt: FAST, force: true }));
    expect(typo.message).toContain("checksum");
    expect(await Vault.open(path, "ünïcödé!")).toEqual(SECRET); // the refused create changed nothing
  });

  test("missing vault: not_found", async () => {
    expect((await appError(Vault.open(path, PW))).code).toBe("not_found");
  });

  test("changePassword: new works, old doesn't, mode stays 0600", async () => {
    await Vault.create(path, SECRET, PW, { scrypt: FAST });
    const saltBefore = JSON.parse(readFileSync(path, "utf8")).kdf.salt;
    await Vault.changePassword(path, PW, "brand new password", { scrypt: FAST });
    expect(await Vault.open(path, "brand new password")).toEqual(SECRET);
    expect((await appError(Vault.open(path, PW))).code).toBe("unauthorized");
    expect(JSON.parse(readFileSync(path, "utf8")).kdf.salt).not.toBe(saltBefore);
    expect(mode(path)).toBe(0o600);
  });

  test("changePassword with a wrong old password or a too-short new one changes nothing", async () => {
    await Vault.create(path, SECRET, PW, { scrypt: FAST });
    const before = readFileSync(path);
    expect((await appError(Vault.changePassword(path, "not the password", "whatever123", { scrypt: FAST }))).code).toBe(
      "unauthorized",
    );
    expect((await appError(Vault.changePassword(path, PW, "short", { scrypt: FAST }))).code).toBe("invalid_input");
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(["vault.json"]);
  });

  describe("damaged files are refused with invalid_input naming the file, and left byte for byte", () => {
    type Damage = (bytes: Buffer) => Buffer | string;
    const edit = (f: (v: Record<string, any>) => void): Damage => (bytes) => {
      const v = JSON.parse(bytes.toString("utf8"));
      f(v);
      return JSON.stringify(v);
    };
    const flipCiphertextBit = (index: (len: number) => number): Damage =>
      edit((v) => {
        const ct = Buffer.from(v.cipher.ciphertext, "base64");
        ct[index(ct.length)]! ^= 0x01;
        v.cipher.ciphertext = ct.toString("base64");
      });
    const cases: [string, Damage, RegExp][] = [
      ["a bit flipped in the ciphertext", flipCiphertextBit(() => 3), /integrity/],
      ["a bit flipped in the GCM tag", flipCiphertextBit((len) => len - 1), /integrity/],
      [
        "one base64 character of the ciphertext changed in place",
        (bytes) => {
          const text = bytes.toString("latin1");
          const at = text.indexOf('"ciphertext": "') + 40;
          return text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
        },
        /integrity/,
      ],
      ["the ciphertext cut short", edit((v) => (v.cipher.ciphertext = v.cipher.ciphertext.slice(0, 64))), /integrity/],
      ["the nonce replaced", edit((v) => (v.cipher.nonce = Buffer.alloc(12, 7).toString("base64"))), /integrity/],
      ["the header's createdAt edited (it is AAD)", edit((v) => (v.createdAt = "2001-01-01T00:00:00.000Z")), /integrity/],
      ["the file truncated in half", (b) => b.subarray(0, b.length >> 1), /not valid JSON/],
      ["an empty file", () => "", /empty/],
      ["garbage bytes", () => Buffer.from([0xff, 0x00, 0x13, 0x37, 0x42]), /not valid JSON/],
      ["JSON of another shape", () => JSON.stringify({ hello: "world" }), /version|kdf|cipher/],
      ["an array", () => "[1,2,3]", /invalid|expected/i],
      ["a newer version", edit((v) => (v.version = 2)), /version 2/],
      ["an unknown cipher", edit((v) => (v.cipher.name = "aes-128-cbc")), /cipher\.name/],
      ["an absurd KDF cost", edit((v) => (v.kdf.N = 2 ** 30)), /kdf\.N/],
      ["salt not base64", edit((v) => (v.kdf.salt = "not base64!")), /kdf\.salt/],
      ["a short salt", edit((v) => (v.kdf.salt = "AAAA")), /wrong length/],
    ];
    for (const [name, damage, message] of cases) {
      test(name, async () => {
        await Vault.create(path, SECRET, PW, { scrypt: FAST });
        writeFileSync(path, damage(readFileSync(path)), { mode: 0o600 });
        const before = readFileSync(path);
        const err = await appError(Vault.open(path, PW));
        expect(err.code).toBe("invalid_input");
        expect(err.message).toContain(path);
        expect(err.message).toMatch(message);
        expect(readFileSync(path).equals(before)).toBe(true);
        // changePassword doesn't touch a damaged vault either.
        await appError(Vault.changePassword(path, PW, "something else", { scrypt: FAST }));
        expect(readFileSync(path).equals(before)).toBe(true);
        expect(readdirSync(dir)).toEqual(["vault.json"]);
      });
    }

    test("a changed KDF parameter can only look like a wrong password, and changes nothing", async () => {
      await Vault.create(path, SECRET, PW, { scrypt: FAST });
      writeFileSync(path, edit((v) => (v.kdf.r = 4))(readFileSync(path)));
      const before = readFileSync(path);
      expect((await appError(Vault.open(path, PW))).code).toBe("unauthorized");
      expect(readFileSync(path).equals(before)).toBe(true);
    });

    test("a huge file is not read", async () => {
      atomicWriteFile(path, "x".repeat(200_000));
      const err = await appError(Vault.open(path, PW));
      expect(err.code).toBe("invalid_input");
      expect(err.message).toContain("bytes");
    });
  });

  test("a stray temp file from an interrupted write doesn't affect the vault", async () => {
    await Vault.create(path, SECRET, PW, { scrypt: FAST });
    // What atomicWriteFile leaves behind if killed between writing the temp file and renaming it.
    const stray = join(dir, ".vault.json.99999.1700000000000.tmp");
    writeFileSync(stray, '{"version":1,"kdf":{"na', { mode: 0o600 });
    expect(await Vault.open(path, PW)).toEqual(SECRET);
    await Vault.changePassword(path, PW, "after the crash", { scrypt: FAST });
    expect(await Vault.open(path, "after the crash")).toEqual(SECRET);
    expect(readFileSync(stray, "utf8")).toBe('{"version":1,"kdf":{"na'); // not ours to read or delete
  });

  test("SIGKILL in the middle of changePassword loops always leaves a vault that opens", async () => {
    const A = "password number A";
    const B = "password number B";
    await Vault.create(path, SECRET, A, { scrypt: FAST });
    const script = join(import.meta.dir, "vault-churn.ts");
    for (let round = 0; round < 5; round++) {
      const child = Bun.spawn([process.execPath, script, path, A, B], {
        stdout: "pipe",
        stderr: "inherit",
        env: { ...process.env, COMPUTE_LOG_LEVEL: "silent" },
      });
      // Wait for a few completed changes, then kill at a varying moment.
      const reader = child.stdout.getReader();
      let lines = 0;
      let text = "";
      while (lines < 3 + round * 2) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        lines = text.split("\n").length - 1;
      }
      await Bun.sleep(round); // 0–4 ms: lands in a different phase of a change each round
      child.kill("SIGKILL");
      await child.exited;
      expect(lines).toBeGreaterThanOrEqual(3);
      const results = await Promise.allSettled([Vault.open(path, A), Vault.open(path, B)]);
      const opened = results.filter((r) => r.status === "fulfilled");
      expect(opened).toHaveLength(1);
      expect((opened[0] as PromiseFulfilledResult<unknown>).value).toEqual(SECRET);
      const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      expect(failed.reason.code).toBe("unauthorized");
      // Whatever temp files the killed process left hold no plaintext.
      for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f), "latin1")).not.toContain("leader monkey");
      // Continue the next round from whichever password is current.
      if (results[1]!.status === "fulfilled") await Vault.changePassword(path, B, A, { scrypt: FAST });
    }
  }, 20_000);
});
