// `compute init`: create the identity (a new BIP39 phrase or an imported one) in an encrypted vault.
import { existsSync, unlinkSync } from "node:fs";
import { paths, writePublicIdentity } from "../paths.ts";
import { AppError } from "../errors.ts";
import { UnifiedIdentity } from "../identity/identity.ts";
import { Vault } from "../identity/vault.ts";
import { generateMnemonic } from "../identity/mnemonic.ts";
import { readLock } from "../util/lock.ts";
import { COMMON_HELP, applyLogLevel, dataDirFrom, intFlag, parse, printJson, promptHidden, readPassword, readStdin } from "./common.ts";

const HELP = `Usage: compute init [--import] [--words 12|24] [--passphrase] [--force]

Creates your identity: one BIP39 seed phrase that gives both your Nostr key (NIP-06) and your
Lightning wallet, stored encrypted with your vault password.

Options:
  --import          read an existing seed phrase from standard input (or a prompt on a terminal)
  --words 12|24     length of a new phrase (default 12)
  --passphrase      also use a BIP39 passphrase ("25th word"): asked on a terminal, or from
                    the environment variable COMPUTE_PASSPHRASE
  --force           replace an existing identity (the old phrase is gone unless you wrote it down)
${COMMON_HELP}

The vault password comes from --password-file, COMPUTE_PASSWORD, or a prompt on a terminal.`;

export async function init(args: string[]): Promise<number> {
  const { values } = parse(args, {
    import: { type: "boolean" },
    words: { type: "string" },
    passphrase: { type: "boolean" },
    force: { type: "boolean" },
  });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  applyLogLevel(values);
  const words = intFlag(values.words, "words", 12, 24) ?? 12;
  if (words !== 12 && words !== 24) throw new AppError("usage", "--words must be 12 or 24.");
  if (values.import && values.words) throw new AppError("usage", "--words applies to a new phrase, not to --import.");
  const dataDir = dataDirFrom(values);
  const p = paths(dataDir);
  if (Vault.exists(p.vault) && !values.force) {
    throw new AppError("conflict", `An identity already exists in ${dataDir}; pass --force to replace it (its seed phrase is lost unless you wrote it down).`);
  }
  const running = readLock(dataDir);
  if (running) throw new AppError("conflict", `compute is running on this data dir (pid ${running.pid}); stop it before changing the identity.`);

  let mnemonic: string;
  if (values.import) {
    mnemonic = process.stdin.isTTY ? await promptHidden("Seed phrase (words separated by spaces): ") : await readStdin();
  } else {
    mnemonic = generateMnemonic(words);
  }
  let passphrase = "";
  if (values.passphrase) {
    passphrase = process.env.COMPUTE_PASSPHRASE ?? (process.stdin.isTTY ? await promptHidden("BIP39 passphrase: ") : "");
    if (!passphrase) throw new AppError("usage", "--passphrase given but no passphrase: set COMPUTE_PASSPHRASE or run in a terminal.");
  }
  const identity = await UnifiedIdentity.fromMnemonic(mnemonic, passphrase); // validates, naming a bad word
  const password = (await readPassword(values, { prompt: "New vault password (at least 8 characters): ", confirm: true, required: true }))!;
  await Vault.create(p.vault, identity.walletSeed(), password, { force: Boolean(values.force) });
  if (values.force && existsSync(p.publicIdentity)) unlinkSync(p.publicIdentity);
  writePublicIdentity(dataDir, identity);

  if (values.json) {
    printJson({ npub: identity.npub, pubkey: identity.pubkey, ...(values.import ? {} : { mnemonic: identity.walletSeed().mnemonic }) });
  } else {
    if (!values.import) {
      const list = identity
        .walletSeed()
        .mnemonic.split(" ")
        .map((w, i) => `${String(i + 1).padStart(2)}. ${w}`)
        .join("\n");
      process.stdout.write(
        `\nYour seed phrase (shown ONCE; write it down on paper and keep it safe):\n\n${list}\n\n` +
          `Anyone with these words controls your earnings and your Nostr identity.\n` +
          `Without them, a lost password or disk means lost funds. compute will not show them again\n` +
          `except through the dashboard's reveal, which asks for your password.\n\n`,
      );
    }
    process.stdout.write(`Identity ready: ${identity.npub}\nStart with: compute --headless (or compute)\n`);
  }
  identity.wipe();
  return 0;
}
