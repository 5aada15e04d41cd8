// libsecp256k1 compiled to WebAssembly: the module nostr-wasm ships (a dependency of nostr-tools),
// with a binding of our own around its exports. nostr-wasm's wrapper rebuilds the keypair from the
// secret key on every signature, hashes the event inside the module, and converts hex one byte at a
// time; that is over half of what a signature costs there (BENCHMARKS.md, issue 16). Here the event
// id is hashed natively by the caller, hex goes through Buffer, and the keypair of a key in use is
// kept inside the module's memory (at most two keys: ours, and the warm-up's throwaway one) until
// forgetKeys() wipes it. Only 32- and 64-byte values enter the module, so event size has no limit.
//
// The module's binary is embedded as a file (inside the compiled binary too) and read when it is
// loaded, not kept as text. (nostr-wasm's package exports only its JS entry, which carries the
// same binary as base64: a 290 KB string that would stay in memory for good; the path below is its
// own copy of the binary, reached inside node_modules.) Its export names are the minified ones of
// the pinned nostr-wasm version: a mismatch fails loadSecp256k1() or the signer's self-test, and
// the pure-JS code stays.
import wasmPath from "../../node_modules/nostr-wasm/public/out/secp256k1.wasm" with { type: "file" };

/** A secret key ready to sign with: its x-only public key and BIP-340 signatures of 32-byte hashes. */
export interface SigningKey {
  /** The x-only public key, lowercase hex. */
  readonly pubkey: string;
  /** The 64-byte signature of a 32-byte message (the event id), with fresh auxiliary randomness. */
  sign(msg32: Uint8Array): Uint8Array;
}

export interface Secp256k1 {
  /** The key as a keypair inside the module (built once per key while it is in use). Throws on an invalid key. */
  key(secretKey: Uint8Array): SigningKey;
  /** Whether `sig64` is a valid BIP-340 signature of `msg32` by the x-only key `pub32`. */
  verify(sig64: Uint8Array, msg32: Uint8Array, pub32: Uint8Array): boolean;
  /** Zeroes every kept keypair and key copy (the vault was locked). */
  forgetKeys(): void;
}

/** libsecp256k1's flags for a context that signs and verifies. */
const CONTEXT_SIGN_VERIFY = 513 | 257;
const KEYPAIR_BYTES = 96;
const XONLY_BYTES = 64;
const KEPT_KEYS = 2;

type Fn = (...args: number[]) => number;

export async function loadSecp256k1(): Promise<Secp256k1> {
  const binary = await Bun.file(wasmPath).bytes();
  let heap = new Uint8Array(0);
  const imports = {
    a: {
      a: () => {
        throw new Error("libsecp256k1 aborted");
      },
      f: (dst: number, src: number, n: number) => heap.copyWithin(dst, src, src + n),
      d: () => {
        throw new Error("libsecp256k1 ran out of memory");
      },
      e: () => 52,
      c: () => 70,
      // Its write(): libsecp256k1 prints only on illegal arguments, which the callers rule out.
      b: () => 0,
    },
  };
  const { instance } = await WebAssembly.instantiate(binary, imports);
  const ex = instance.exports as Record<string, unknown>;
  const fn = (name: string): Fn => {
    if (typeof ex[name] !== "function") throw new Error(`nostr-wasm's module has no export "${name}"`);
    return ex[name] as Fn;
  };
  const memory = ex.g;
  if (!(memory instanceof WebAssembly.Memory)) throw new Error("nostr-wasm's module exports no memory");
  const [init, malloc, contextCreate, xonlyParse, xonlySerialize, keypairCreate, keypairXonly, sign32, verify] = ["h", "i", "o", "p", "q", "r", "s", "t", "u"].map(fn) as Fn[];
  heap = new Uint8Array(memory.buffer);
  init!();
  const ctx = contextCreate!(CONTEXT_SIGN_VERIFY);
  const alloc = (n: number) => {
    const p = malloc!(n);
    if (!p) throw new Error("libsecp256k1: no memory");
    return p;
  };
  const pSecret = alloc(32);
  const pAux = alloc(32);
  const pMsg = alloc(32);
  const pPub = alloc(32);
  const pSig = alloc(64);
  const pXonly = alloc(XONLY_BYTES);
  // The memory is fixed in size (it never grows), so the view made above stays valid.
  const bytes = (p: number, n: number) => heap.subarray(p, p + n);

  interface Kept extends SigningKey {
    secret: Uint8Array;
    keypair: number;
    /** False once wiped: its slot may hold another key's keypair by then. */
    live: boolean;
  }
  const kept: Kept[] = [];
  /** Keypair slots allocated and not in use (after forgetKeys). */
  const spare: number[] = [];
  const wipe = (k: Kept) => {
    k.live = false;
    k.secret.fill(0);
    bytes(k.keypair, KEYPAIR_BYTES).fill(0);
  };

  const makeKey = (secretKey: Uint8Array, slot: number): Kept => {
    bytes(pSecret, 32).set(secretKey);
    try {
      if (keypairCreate!(ctx, slot, pSecret) !== 1) throw new Error("invalid secret key");
    } finally {
      bytes(pSecret, 32).fill(0);
    }
    keypairXonly!(ctx, pXonly, 0, slot);
    xonlySerialize!(ctx, pPub, pXonly);
    const pubkey = Buffer.from(bytes(pPub, 32)).toString("hex");
    const k: Kept = {
      secret: Uint8Array.from(secretKey),
      keypair: slot,
      live: true,
      pubkey,
      sign(msg32: Uint8Array): Uint8Array {
        // A handle kept past its key's eviction or forgetKeys() must not sign with the slot's new key.
        if (!k.live) throw new Error("this signing key was forgotten; ask for it again");
        if (msg32.length !== 32) throw new Error("a message to sign is 32 bytes");
        bytes(pMsg, 32).set(msg32);
        crypto.getRandomValues(bytes(pAux, 32));
        if (sign32!(ctx, pSig, pMsg, slot, pAux) !== 1) throw new Error("libsecp256k1 could not sign");
        return bytes(pSig, 64).slice();
      },
    };
    return k;
  };

  const sameKey = (a: Uint8Array, b: Uint8Array) => {
    let d = 0;
    for (let i = 0; i < 32; i++) d |= a[i]! ^ b[i]!;
    return d === 0;
  };

  return {
    key(secretKey: Uint8Array): SigningKey {
      if (secretKey.length !== 32) throw new Error("a secret key is 32 bytes");
      const i = kept.findIndex((k) => sameKey(k.secret, secretKey));
      if (i >= 0) {
        const k = kept[i]!;
        if (i > 0) kept.unshift(...kept.splice(i, 1));
        return k;
      }
      // The least recently used slot is reused (its keypair overwritten, its key copy wiped).
      const old = kept.length >= KEPT_KEYS ? kept.pop()! : null;
      if (old) wipe(old);
      const slot = old?.keypair ?? spare.pop() ?? alloc(KEYPAIR_BYTES);
      let k: Kept;
      try {
        k = makeKey(secretKey, slot);
      } catch (err) {
        spare.push(slot);
        throw err;
      }
      kept.unshift(k);
      return k;
    },
    verify(sig64: Uint8Array, msg32: Uint8Array, pub32: Uint8Array): boolean {
      if (sig64.length !== 64 || msg32.length !== 32 || pub32.length !== 32) return false;
      bytes(pSig, 64).set(sig64);
      bytes(pMsg, 32).set(msg32);
      bytes(pPub, 32).set(pub32);
      if (xonlyParse!(ctx, pXonly, pPub) !== 1) return false;
      return verify!(ctx, pSig, pMsg, 32, pXonly) === 1;
    },
    forgetKeys(): void {
      // The slots stay allocated for the next keys.
      for (const k of kept.splice(0)) {
        wipe(k);
        spare.push(k.keypair);
      }
    },
  };
}
