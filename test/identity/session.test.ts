// IdentitySession's warm-up: what the app starts while the vault's KDF runs (module loads, relay
// connections, the NIP-06 derivation's rehearsal) is told when the KDF is over, so a step not
// begun by then is dropped instead of holding the thread after it (app.ts: the rehearsal waits
// DERIVATION_REHEARSAL_DELAY_MS so start-up's first HTTP answers don't wait for it).
import { expect, test } from "bun:test";
import { Bus } from "../../src/bus.ts";
import { paths } from "../../src/data-dir.ts";
import { IdentitySession } from "../../src/identity/session.ts";
import { Vault } from "../../src/identity/vault.ts";
import { caseDirs } from "../fixtures/common.ts";

const PW = "correct horse battery";
const SEED = { mnemonic: "leader monkey parrot ring guide accident before fence cannon height naive bean", passphrase: "" };

let dir: string;
caseDirs("compute-session-", (d) => {
  dir = d;
});

function session(log: string[]): IdentitySession {
  return new IdentitySession({
    dataDir: dir,
    bus: new Bus(),
    stopped: () => false,
    onUnlocked: async () => void log.push("unlocked"),
    onLocking: async () => void log.push("locking"),
    warmUp: () => {
      log.push("warm-up");
      return () => log.push("KDF over");
    },
    unlockFailed: () => void log.push("unlock failed"),
  });
}

test("the warm-up hears the KDF is over before the keys are derived and the services start", async () => {
  await Vault.create(paths(dir).vault, SEED, PW, { scrypt: { N: 2 ** 10, r: 8, p: 1 } });
  const log: string[] = [];
  const s = session(log);
  await s.unlock(PW);
  expect(log).toEqual(["warm-up", "KDF over", "unlocked"]);
  expect(s.current?.npub).toBe( // NIP-06 test vector
    "npub1zutzeysacnf9rru6zqwmxd54mud0k44tst6l70ja5mhv8jjumytsd2x7nu");
  // Already unlocked: the password is checked again, and nothing is warmed.
  await s.unlock(PW);
  expect(log).toEqual(["warm-up", "KDF over", "unlocked"]);
  await s.lock();
});

test("a wrong password: the warm-up hears the KDF is over, then the failed unlock undoes it", async () => {
  await Vault.create(paths(dir).vault, SEED, PW, { scrypt: { N: 2 ** 10, r: 8, p: 1 } });
  const log: string[] = [];
  const s = session(log);
  await expect(s.unlock("not the password at all")).rejects.toThrow();
  expect(log).toEqual(["warm-up", "KDF over", "unlock failed"]);
  expect(s.current).toBeNull();
});
