// One seed phrase, two uses: the Nostr key (NIP-06) and the Spark wallet (the Breez SDK derives its
// own keys from the same mnemonic + passphrase on another path), so one phrase restores both.
//
// The secret parts live in private fields and are only reachable through explicit method calls;
// JSON.stringify, util.inspect, console output and string conversion all show the npub alone.
import { HDKey } from "@scure/bip32";
import { mnemonicToSeedSync, mnemonicToSeedWebcrypto } from "@scure/bip39";
import { inspect } from "node:util";
import { npubEncode, nsecEncode } from "nostr-tools/nip19";
import { AppError } from "../errors.ts";
import { parseMnemonic } from "./mnemonic.ts";

/** NIP-06: BIP32 path for the first Nostr account (SLIP-44 coin type 1237 is Nostr). */
export const NOSTR_DERIVATION_PATH = "m/44'/1237'/0'/0/0";

/** What the wallet needs to restore the same funds: exactly what the user wrote down. */
export interface WalletSeed {
  mnemonic: string;
  passphrase: string;
}

export class UnifiedIdentity {
  readonly #mnemonic: string;
  readonly #passphrase: string;
  readonly #secretKey: Uint8Array;
  /** 32-byte x-only public key, hex (the form Nostr events carry). */
  readonly pubkey: string;
  /** NIP-19 bech32 public key: safe to show and share. */
  readonly npub: string;

  private constructor(mnemonic: string, passphrase: string, seed: Uint8Array) {
    const node = HDKey.fromMasterSeed(seed).derive(NOSTR_DERIVATION_PATH);
    seed.fill(0);
    if (!node.privateKey) throw new AppError("internal", "NIP-06 derivation gave no private key.");
    this.#mnemonic = mnemonic;
    this.#passphrase = passphrase;
    this.#secretKey = Uint8Array.from(node.privateKey);
    // The derivation computed the public key already (compressed: a parity byte, then x); Nostr's
    // is x alone. Asking nostr-tools again costs one more multiplication (and from source, where it
    // has its own copy of noble-curves, a second base-point table).
    if (node.publicKey?.length !== 33) throw new AppError("internal", "NIP-06 derivation gave no public key.");
    this.pubkey = Buffer.from(node.publicKey.subarray(1)).toString("hex");
    node.wipePrivateData();
    this.npub = npubEncode(this.pubkey);
  }

  /**
   * Validates the phrase (AppError "invalid_input" naming what is wrong) and derives the keys.
   * The BIP39 seed uses native PBKDF2, so this does not hold the event loop.
   */
  static async fromMnemonic(mnemonic: string, passphrase = ""): Promise<UnifiedIdentity> {
    const phrase = parseMnemonic(mnemonic);
    checkPassphrase(passphrase);
    return new UnifiedIdentity(phrase, passphrase, await mnemonicToSeedWebcrypto(phrase, passphrase));
  }

  /**
   * Runs the NIP-06 derivation once on a throwaway seed, so the one that follows the vault's key
   * derivation doesn't pay for first use: the curve code's base-point table (tens of ms, built on
   * its first multiplication and kept for good whichever derivation builds it) and the hashing
   * code's compilation. Called while the KDF runs; nothing is kept.
   */
  static warmUpDerivation(): void {
    const seed = new Uint8Array(64).fill(0x5a);
    const node = HDKey.fromMasterSeed(seed).derive(NOSTR_DERIVATION_PATH);
    node.wipePrivateData();
  }

  /** Same as fromMnemonic, synchronously (pure-JS PBKDF2, a few tens of ms). */
  static fromMnemonicSync(mnemonic: string, passphrase = ""): UnifiedIdentity {
    const phrase = parseMnemonic(mnemonic);
    checkPassphrase(passphrase);
    return new UnifiedIdentity(phrase, passphrase, mnemonicToSeedSync(phrase, passphrase));
  }

  /** A copy of the 32-byte secret key (callers may wipe their copy). */
  secretKey(): Uint8Array {
    return Uint8Array.from(this.#secretKey);
  }

  /** The secret key as NIP-19 nsec. Never log it; show it only when the user asks. */
  nsec(): string {
    return nsecEncode(this.#secretKey);
  }

  /** The normalized mnemonic and the BIP39 passphrase, for the wallet SDK and the vault. */
  walletSeed(): WalletSeed {
    return { mnemonic: this.#mnemonic, passphrase: this.#passphrase };
  }

  /** Zeroes the secret key held by this object (strings can't be wiped in JS; drop the object). */
  wipe(): void {
    this.#secretKey.fill(0);
  }

  toJSON(): { npub: string } {
    return { npub: this.npub };
  }

  toString(): string {
    return `UnifiedIdentity(${this.npub})`;
  }

  [inspect.custom](): { npub: string } {
    return { npub: this.npub };
  }
}

function checkPassphrase(passphrase: unknown): asserts passphrase is string {
  if (typeof passphrase !== "string") throw new AppError("invalid_input", "The seed passphrase must be text.");
  // BIP39 allows any passphrase; only an absurd size is refused (it is hashed every unlock).
  if (passphrase.length > 1024) throw new AppError("invalid_input", "The seed passphrase is longer than 1024 characters.");
}
