// Encryption for private DVM jobs. NIP-90 says encrypted params use NIP-04; newer clients send
// NIP-44 v2 instead. We accept both, tell them apart by the payload's form, and always answer in
// the scheme the customer used so the customer's client can read our reply.
import * as nip04 from "nostr-tools/nip04";
import * as nip44 from "nostr-tools/nip44";
import { z } from "zod";
import { AppError, errorMessage } from "../errors.ts";

export const EncryptionScheme = z.enum(["nip04", "nip44"]);
export type EncryptionScheme = z.infer<typeof EncryptionScheme>;

/** NIP-44 v2 pads plaintexts of 1..65535 bytes; anything longer cannot be encrypted with it. */
export const NIP44_MAX_PLAINTEXT_BYTES = 65_535;
/**
 * The longest prefix of `text` that NIP-44 can encrypt (at most 65,535 UTF-8 bytes, cut between
 * characters, never inside one); `truncated` says whether anything was cut.
 */
export function fitNip44(text: string): { text: string; truncated: boolean } {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= NIP44_MAX_PLAINTEXT_BYTES) return { text, truncated: false };
  let end = NIP44_MAX_PLAINTEXT_BYTES;
  // Back up to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return { text: new TextDecoder().decode(bytes.subarray(0, end)), truncated: true };
}

/** NIP-44: a valid v2 payload is 132..87472 base64 characters. */
const NIP44_MAX_PAYLOAD_CHARS = 87_472;
/**
 * NIP-04 has no size limit of its own. Relays cap events far below this; the cap only keeps a
 * hostile payload from costing us a large decryption.
 */
const NIP04_MAX_PAYLOAD_CHARS = 16_000_000;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Which scheme produced this payload, from its form alone: NIP-04 is `<base64>?iv=<base64>`;
 * NIP-44 is plain base64 whose first decoded byte is the version, 2. Anything else → null.
 */
export function detectScheme(payload: string): EncryptionScheme | null {
  if (typeof payload !== "string" || payload.length === 0) return null;
  const parts = payload.split("?iv=");
  if (parts.length === 2) {
    const [ct, iv] = parts as [string, string];
    return BASE64.test(ct) && BASE64.test(iv) ? "nip04" : null;
  }
  if (payload.length < 4 || !BASE64.test(payload)) return null;
  try {
    // One base64 quantum (4 chars) decodes to the first 3 bytes; byte 0 is the NIP-44 version.
    return atob(payload.slice(0, 4)).charCodeAt(0) === 2 ? "nip44" : null;
  } catch {
    return null;
  }
}

function checkPubkey(pubkey: string): void {
  if (!HEX64.test(pubkey)) throw new AppError("invalid_input", "the public key must be 64 lowercase hex characters");
}

/** Encrypts `plaintext` from us (secretKey) to `recipientPubkey`. Throws AppError when it can't. */
export function encryptFor(
  scheme: EncryptionScheme,
  secretKey: Uint8Array,
  recipientPubkey: string,
  plaintext: string,
): string {
  checkPubkey(recipientPubkey);
  if (scheme === "nip44") {
    const bytes = new TextEncoder().encode(plaintext).length;
    if (bytes === 0) {
      // NIP-44 cannot encrypt an empty message (minimum 1 byte); an empty reply is still a reply.
      plaintext = " ";
    } else if (bytes > NIP44_MAX_PLAINTEXT_BYTES) {
      throw new AppError(
        "invalid_input",
        `the text is ${bytes} bytes; NIP-44 can encrypt at most ${NIP44_MAX_PLAINTEXT_BYTES} bytes`,
        { bytes },
      );
    }
  }
  try {
    if (scheme === "nip04") return nip04.encrypt(secretKey, recipientPubkey, plaintext);
    return nip44.encrypt(plaintext, nip44.getConversationKey(secretKey, recipientPubkey));
  } catch (err) {
    throw new AppError("invalid_input", `could not encrypt with ${scheme}: ${errorMessage(err)}`);
  }
}

/**
 * Decrypts a payload sent to us (secretKey) by `senderPubkey`. Bad ciphertext, a wrong key or a
 * failed MAC all become AppError("invalid_input"), never a crash.
 */
export function decryptFrom(
  scheme: EncryptionScheme,
  secretKey: Uint8Array,
  senderPubkey: string,
  payload: string,
): string {
  checkPubkey(senderPubkey);
  const max = scheme === "nip44" ? NIP44_MAX_PAYLOAD_CHARS : NIP04_MAX_PAYLOAD_CHARS;
  if (payload.length > max) {
    throw new AppError("invalid_input", `the ${scheme} payload is too long (${payload.length} characters)`);
  }
  let text: string;
  try {
    text =
      scheme === "nip04"
        ? nip04.decrypt(secretKey, senderPubkey, payload)
        : nip44.decrypt(payload, nip44.getConversationKey(secretKey, senderPubkey));
  } catch (err) {
    throw new AppError("invalid_input", `could not decrypt the ${scheme} payload: ${errorMessage(err)}`);
  }
  return text;
}
