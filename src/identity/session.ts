// Who is unlocked: creating, unlocking and locking the identity, one at a time. The keys' services
// (pool, wallet, engine) are the app's: it starts them on unlock and stops them on lock (hooks).
import type { Bus } from "../bus.ts";
import { AppError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { paths, readPublicIdentity, writePublicIdentity } from "../paths.ts";
import { IdentityChanged, type IdentityView } from "./events.ts";
import type { UnifiedIdentity } from "./identity.ts";
import { generateMnemonic, parseMnemonic, suggestWords } from "./mnemonic.ts";
import { Vault } from "./vault.ts";

const log = createLogger("app");

export interface IdentitySessionDeps {
  dataDir: string;
  bus: Bus;
  /** The app is stopping: unlocking is refused. */
  stopped: () => boolean;
  /** Starts what needs the keys; a throw locks again. */
  onUnlocked: () => Promise<void>;
  /** Stops what needs the keys, before they are wiped. */
  onLocking: () => Promise<void>;
  /**
   * Evaluates the modules the unlocked services need while the vault's KDF runs. What it returns
   * is called once the KDF is over (opened or refused): a warm-up step not begun by then is late.
   */
  warmUp?: () => (() => void) | void;
  /** An unlock that started the warm-up failed (a wrong password): undo what it started. */
  unlockFailed?: () => void;
}

export type MnemonicCheck = { ok: true } | { ok: false; error: string; word?: string; suggestions?: string[] };

export class IdentitySession {
  private identity: UnifiedIdentity | null = null;
  /**
   * Unlock, lock and create run one at a time, in order: three unlocks in parallel would start
   * three pools, wallets and engines, and lock would stop only the last (the others would keep
   * running with the keys). A second caller waits for the first to finish.
   */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: IdentitySessionDeps) {}

  /** The unlocked identity, or null. */
  get current(): UnifiedIdentity | null {
    return this.identity;
  }

  private get vault(): string {
    return paths(this.deps.dataDir).vault;
  }

  view(): IdentityView {
    if (this.identity) return { state: "unlocked", npub: this.identity.npub };
    if (Vault.exists(this.vault)) return { state: "locked", npub: readPublicIdentity(this.deps.dataDir)?.npub ?? null };
    return { state: "none", npub: null };
  }

  /** Like view().state without reading the public identity file. */
  state(): IdentityView["state"] {
    return this.identity ? "unlocked" : Vault.exists(this.vault) ? "locked" : "none";
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  private async unlocked(identity: UnifiedIdentity): Promise<void> {
    this.identity = identity;
    writePublicIdentity(this.deps.dataDir, identity);
    this.deps.bus.publish(IdentityChanged, { identity: this.view() });
    try {
      await this.deps.onUnlocked();
    } catch (err) {
      // Half-started services (a pool without an engine, …) must not run on with the keys.
      await this.lockNow();
      throw err;
    }
  }

  private async lockNow(): Promise<void> {
    if (!this.identity) return;
    await this.deps.onLocking();
    this.identity.wipe();
    this.identity = null;
    this.deps.bus.publish(IdentityChanged, { identity: this.view() });
  }

  create(input: { mnemonic: string; passphrase?: string; password: string }): Promise<{ npub: string }> {
    return this.serial(async () => {
      if (Vault.exists(this.vault)) throw new AppError("conflict", "An identity already exists; unlock it, or replace it with `compute init --force`.");
      const { UnifiedIdentity } = await import("./identity.ts");
      const identity = await UnifiedIdentity.fromMnemonic(input.mnemonic, input.passphrase ?? "");
      await Vault.create(this.vault, identity.walletSeed(), input.password);
      await this.unlocked(identity);
      return { npub: identity.npub };
    });
  }

  unlock(password: string): Promise<void> {
    return this.serial(async () => {
      const vault = this.vault;
      if (!Vault.exists(vault)) throw new AppError("not_found", "No identity yet: run `compute init` (or create one in the dashboard).");
      if (this.deps.stopped()) throw new AppError("unavailable", "compute is stopping.");
      // The modules the unlocked services need are evaluated while the KDF runs on its worker
      // thread, not after it: the time from start to taking jobs is the longer of the two, not the sum.
      const warming = !this.identity;
      const kdfOver = warming ? this.deps.warmUp?.() : undefined;
      let identity: UnifiedIdentity;
      try {
        // Already unlocked: the password is still checked (a wrong one is refused, not "ok").
        const t0 = performance.now();
        const seed = await Vault.open(vault, password).finally(() => kdfOver?.());
        log.debug("vault opened", { ms: Math.round(performance.now() - t0) });
        if (this.identity) return;
        const { UnifiedIdentity } = await import("./identity.ts");
        const t1 = performance.now();
        identity = await UnifiedIdentity.fromMnemonic(seed.mnemonic, seed.passphrase);
        log.debug("identity derived", { ms: Math.round(performance.now() - t1) });
      } catch (err) {
        if (warming) this.deps.unlockFailed?.();
        throw err;
      }
      await this.unlocked(identity);
    });
  }

  lock(): Promise<void> {
    return this.serial(() => this.lockNow());
  }

  /** Checks the vault password (wrong → AppError "unauthorized"). */
  async checkPassword(password: string): Promise<void> {
    await Vault.open(this.vault, password);
  }

  async revealMnemonic(password: string): Promise<string> {
    const seed = await Vault.open(this.vault, password);
    return seed.mnemonic;
  }
}

export { generateMnemonic };

export function validateMnemonic(mnemonic: string): MnemonicCheck {
  try {
    parseMnemonic(mnemonic);
    return { ok: true as const };
  } catch (err) {
    const e = err as AppError;
    return { ok: false as const, error: e.message, word: e.data?.word as string | undefined, suggestions: e.data?.suggestions as string[] | undefined };
  }
}

export function suggestMnemonicWords(prefix: string): string[] {
  return suggestWords(prefix, 8);
}
