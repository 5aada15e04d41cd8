// The encrypted seed file. The mnemonic and BIP39 passphrase are sealed with AES-256-GCM under a key
// stretched from the user's password with scrypt (RFC 7914). The header (version, KDF parameters,
// salt, nonce, creation time) is the GCM additional data, so any edit to it makes decryption fail.
//
// Reads never modify the file; writes go through atomicWriteFile (temp file + fsync + rename), so
// a crash leaves either the old vault or the new one. The plaintext never touches the disk.
import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { z } from "zod";
import { AppError, issueText } from "../errors.ts";
import { createLogger } from "../log.ts";
import { atomicCreateFile, atomicWriteFile } from "../util/atomic.ts";
import type { WalletSeed } from "./identity.ts";
import { parseMnemonic } from "./mnemonic.ts";

const log = createLogger("vault");

export const VAULT_VERSION = 1;
export const MIN_PASSWORD_LENGTH = 8;
const MAX_PASSWORD_LENGTH = 1024;
/** A vault is well under a kilobyte; anything huge is not ours and is not read into memory. */
const MAX_FILE_BYTES = 64 * 1024;
/** Plaintext is padded to a multiple of this so the file size does not tell 12 words from 24. */
const PAD_TO = 512;

/** OWASP's interactive-login guidance for scrypt is N=2^17, r=8, p=1 (128 MiB, ~0.3 s here). */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };

const b64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64")
  .refine((s) => s.length % 4 === 0, "must be base64");

const ScryptHeader = z.strictObject({
  name: z.literal("scrypt"),
  // Bounds keep a planted file from asking for gigabytes of memory or minutes of CPU: at most
  // twice what compute writes (N=2^17, r=8, p=1: 128 MiB), i.e. 256 MiB and two passes.
  N: z
    .int()
    .min(2 ** 10)
    .max(2 ** 18)
    .refine((n) => (n & (n - 1)) === 0, "must be a power of two"),
  r: z.int().min(1).max(8),
  p: z.int().min(1).max(2),
  salt: b64,
  /** 16 bytes from the KDF output: tells a wrong password apart from a damaged ciphertext. */
  check: b64,
});

export const VaultFile = z.strictObject({
  version: z.literal(VAULT_VERSION),
  kdf: ScryptHeader,
  cipher: z.strictObject({ name: z.literal("aes-256-gcm"), nonce: b64, ciphertext: b64 }),
  createdAt: z.string(),
});
export type VaultFile = z.infer<typeof VaultFile>;

const Secret = z.strictObject({ mnemonic: z.string().min(1), passphrase: z.string() });

export interface CreateOptions {
  /** Replace an existing vault (the old one is gone once this returns). */
  force?: boolean;
  /** KDF cost; defaults to DEFAULT_SCRYPT. Lower values exist for tests. */
  scrypt?: ScryptParams;
}

export const Vault = {
  exists(path: string): boolean {
    return existsSync(path);
  },

  /** Validates the phrase, encrypts and writes a new vault (mode 0600). Refuses to overwrite unless `force`. */
  async create(path: string, secret: WalletSeed, password: string, opts: CreateOptions = {}): Promise<void> {
    const parsed = Secret.safeParse(secret);
    if (!parsed.success) throw new AppError("invalid_input", "The vault secret must be {mnemonic, passphrase} text.");
    const pw = checkNewPassword(password);
    if (!opts.force && existsSync(path)) {
      throw new AppError("conflict", `A vault already exists at ${path}; refusing to overwrite it.`);
    }
    // A vault holding a phrase that can't restore anything would only fail later, at unlock.
    const seed = { mnemonic: parseMnemonic(parsed.data.mnemonic), passphrase: parsed.data.passphrase };
    const file = await seal(seed, pw, opts.scrypt ?? DEFAULT_SCRYPT);
    if (opts.force) atomicWriteFile(path, serialize(file), 0o600);
    // The check above is only a fast answer: another create may have written one during the
    // seal. The write itself refuses an existing file in one atomic step (a hard link).
    else if (!atomicCreateFile(path, serialize(file), 0o600)) throw new AppError("conflict", `A vault already exists at ${path}; refusing to overwrite it.`);
    log.info("vault written", { path });
  },

  /** Decrypts the vault. Wrong password → AppError("unauthorized"); a bad file → "invalid_input". */
  async open(path: string, password: string): Promise<WalletSeed> {
    const file = readVault(path);
    return unseal(path, file, normalizePassword(password));
  },

  /**
   * Re-encrypts under a new password with a fresh salt and nonce. The old file stays in place
   * until the new one is fully written and renamed over it.
   */
  async changePassword(
    path: string,
    oldPassword: string,
    newPassword: string,
    opts: { scrypt?: ScryptParams } = {},
  ): Promise<void> {
    const pw = checkNewPassword(newPassword);
    const secret = await Vault.open(path, oldPassword);
    const file = await seal(secret, pw, opts.scrypt ?? DEFAULT_SCRYPT);
    atomicWriteFile(path, serialize(file), 0o600);
    log.info("vault password changed", { path });
  },

  /** The header as stored (no secrets, nothing decrypted), e.g. for status output. */
  inspect(path: string): Omit<VaultFile, "cipher"> & { cipher: { name: string } } {
    const file = readVault(path);
    return { version: file.version, kdf: file.kdf, cipher: { name: file.cipher.name }, createdAt: file.createdAt };
  },
};

/** NFKC so the same password typed through different keyboards/input methods matches. */
function normalizePassword(password: unknown): string {
  if (typeof password !== "string") throw new AppError("invalid_input", "The password must be text.");
  return password.normalize("NFKC");
}

function checkNewPassword(password: unknown): string {
  const pw = normalizePassword(password);
  const length = [...pw].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw new AppError("invalid_input", `The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  }
  if (length > MAX_PASSWORD_LENGTH) {
    throw new AppError("invalid_input", `The password must be at most ${MAX_PASSWORD_LENGTH} characters long.`);
  }
  return pw;
}

function checkParams(p: ScryptParams): ScryptParams {
  const r = ScryptHeader.pick({ N: true, r: true, p: true }).safeParse(p);
  if (!r.success) throw new AppError("invalid_input", "Invalid scrypt parameters for the vault.");
  return r.data;
}

interface DerivedKeys {
  key: Buffer;
  check: Buffer;
}

async function deriveKeys(password: string, salt: Buffer, params: ScryptParams): Promise<DerivedKeys> {
  // Asynchronous scrypt runs on the thread pool: the server stays responsive during the ~0.3 s.
  const out = await new Promise<Buffer>((resolve, reject) =>
    scrypt(
      password,
      salt,
      64,
      // scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is below N=2^17, r=8.
      { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
  // The second half of the output is never used as a key; a hash of it is the password check.
  const check = createHash("sha256").update("compute-vault-check").update(out.subarray(32)).digest().subarray(0, 16);
  const key = Buffer.from(out.subarray(0, 32));
  out.fill(0);
  return { key, check };
}

/** The additional data: every header field in a fixed order, so a reordered JSON still verifies. */
function headerAad(file: Pick<VaultFile, "version" | "kdf" | "createdAt"> & { cipher: { name: string; nonce: string } }) {
  const { kdf } = file;
  return Buffer.from(
    JSON.stringify([
      "compute-vault",
      file.version,
      kdf.name,
      kdf.N,
      kdf.r,
      kdf.p,
      kdf.salt,
      kdf.check,
      file.cipher.name,
      file.cipher.nonce,
      file.createdAt,
    ]),
    "utf8",
  );
}

async function seal(secret: WalletSeed, password: string, params: ScryptParams): Promise<VaultFile> {
  const { N, r, p } = checkParams(params);
  const salt = randomBytes(16);
  const nonce = randomBytes(12); // 96-bit nonce, the size GCM is specified for (NIST SP 800-38D)
  const { key, check } = await deriveKeys(password, salt, { N, r, p });
  const header = {
    version: VAULT_VERSION as typeof VAULT_VERSION,
    kdf: { name: "scrypt" as const, N, r, p, salt: salt.toString("base64"), check: check.toString("base64") },
    cipher: { name: "aes-256-gcm" as const, nonce: nonce.toString("base64") },
    createdAt: new Date().toISOString(),
  };
  const json = JSON.stringify({ mnemonic: secret.mnemonic, passphrase: secret.passphrase });
  const plain = Buffer.alloc(Math.ceil((Buffer.byteLength(json) + 1) / PAD_TO) * PAD_TO, 0x20); // JSON allows trailing spaces
  plain.write(json, "utf8");
  try {
    const c = createCipheriv("aes-256-gcm", key, nonce);
    c.setAAD(headerAad(header));
    const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
    return { ...header, cipher: { ...header.cipher, ciphertext: ct.toString("base64") } };
  } finally {
    key.fill(0);
    plain.fill(0);
  }
}

async function unseal(path: string, file: VaultFile, password: string): Promise<WalletSeed> {
  const salt = Buffer.from(file.kdf.salt, "base64");
  const nonce = Buffer.from(file.cipher.nonce, "base64");
  const ct = Buffer.from(file.cipher.ciphertext, "base64");
  const storedCheck = Buffer.from(file.kdf.check, "base64");
  if (salt.length < 16 || nonce.length !== 12 || storedCheck.length !== 16 || ct.length < 16 + 1) {
    throw damaged(path, "a salt, nonce, check or ciphertext has the wrong length");
  }
  const { key, check } = await deriveKeys(password, salt, file.kdf);
  try {
    if (!timingSafeEqual(check, storedCheck)) throw new AppError("unauthorized", "The vault password is wrong.");
    let plain: Buffer;
    try {
      const d = createDecipheriv("aes-256-gcm", key, nonce);
      d.setAAD(headerAad(file));
      d.setAuthTag(ct.subarray(ct.length - 16));
      plain = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]);
    } catch {
      // The password is right (the check matched), so the ciphertext or header was altered.
      throw damaged(path, "its contents fail the integrity check (the file was altered or damaged)");
    }
    try {
      const secret = Secret.safeParse(JSON.parse(plain.toString("utf8")));
      if (!secret.success) throw damaged(path, "the decrypted contents are not a seed");
      return secret.data;
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw damaged(path, "the decrypted contents are not a seed");
    } finally {
      plain.fill(0);
    }
  } finally {
    key.fill(0);
  }
}

function damaged(path: string, why: string): AppError {
  return new AppError("invalid_input", `The vault file ${path} is unreadable: ${why}. It was left as it is.`, { path });
}

/** Reads and checks the file's shape; never writes. Missing → not_found; anything odd → invalid_input. */
function readVault(path: string): VaultFile {
  let size: number;
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw damaged(path, "it is not a regular file");
    size = st.size;
    mode = st.mode;
  } catch (err) {
    if (err instanceof AppError) throw err;
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new AppError("not_found", `There is no vault at ${path}; create one first.`, { path });
    }
    throw new AppError("unavailable", `The vault file ${path} can't be read (${(err as Error).message}).`, { path });
  }
  if (size > MAX_FILE_BYTES) throw damaged(path, `it is ${size} bytes, far larger than a vault`);
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    log.warn("vault file is readable by other users; expected mode 0600", { path, mode: (mode & 0o777).toString(8) });
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new AppError("unavailable", `The vault file ${path} can't be read (${(err as Error).message}).`, { path });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw damaged(path, size === 0 ? "it is empty" : "it is not valid JSON (truncated or damaged)");
  }
  if (raw && typeof raw === "object" && "version" in raw && raw.version !== VAULT_VERSION) {
    const v = typeof raw.version === "number" ? raw.version : JSON.stringify(raw.version);
    throw damaged(path, `it has version ${v}, this build reads version ${VAULT_VERSION}`);
  }
  const parsed = VaultFile.safeParse(raw);
  if (!parsed.success) throw damaged(path, issueText(parsed.error));
  return parsed.data;
}

function serialize(file: VaultFile): string {
  return JSON.stringify(file, null, 2) + "\n";
}
