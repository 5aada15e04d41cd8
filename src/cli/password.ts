// `compute password`: change the vault password. The old vault stays in place until the new one
// is completely written (atomic rename), so a crash leaves one of the two, never neither.
import { paths } from "../paths.ts";
import { AppError } from "../errors.ts";
import { Vault } from "../identity/vault.ts";
import { readLock } from "../util/lock.ts";
import { applyLogLevel, COMMON_HELP, dataDirFrom, parse, promptHidden, takeEnvSecret, warnIfShared } from "./common.ts";
import { readFileSync } from "node:fs";

const HELP = `Usage: compute password [--new-password-file F]

Changes the password that encrypts your seed phrase. The current password comes from
--password-file, COMPUTE_PASSWORD or a prompt; the new one from --new-password-file,
COMPUTE_NEW_PASSWORD or a prompt (asked twice).
${COMMON_HELP}`;

export async function password(args: string[]): Promise<number> {
  const { values } = parse(args, { "new-password-file": { type: "string" } });
  if (values.help) {
    process.stdout.write(HELP + "\n");
    return 0;
  }
  applyLogLevel(values);
  const dataDir = dataDirFrom(values);
  const vault = paths(dataDir).vault;
  if (!Vault.exists(vault)) throw new AppError("not_found", "No identity here yet: run `compute init` first.");
  const running = readLock(dataDir);
  if (running) throw new AppError("conflict", `compute is running on this data dir (pid ${running.pid}); stop it before changing the password.`);
  const tty = process.stdin.isTTY;
  if (values["password-file"]) warnIfShared(values["password-file"]);
  if (values["new-password-file"]) warnIfShared(values["new-password-file"]);
  const current = values["password-file"]
    ? readFileSync(values["password-file"], "utf8").replace(/\r?\n$/, "")
    : (takeEnvSecret("COMPUTE_PASSWORD") ?? (tty ? await promptHidden("Current vault password: ") : null));
  if (!current) throw new AppError("usage", "No current password: set COMPUTE_PASSWORD, pass --password-file FILE, or run in a terminal.");
  let next = values["new-password-file"] ? readFileSync(values["new-password-file"], "utf8").replace(/\r?\n$/, "") : takeEnvSecret("COMPUTE_NEW_PASSWORD");
  if (!next) {
    if (!tty) throw new AppError("usage", "No new password: set COMPUTE_NEW_PASSWORD, pass --new-password-file FILE, or run in a terminal.");
    next = await promptHidden("New vault password (at least 8 characters): ");
    if ((await promptHidden("Repeat it: ")) !== next) throw new AppError("invalid_input", "The two passwords differ; run the command again.");
  }
  await Vault.changePassword(vault, current, next);
  process.stdout.write("The vault password is changed.\n");
  return 0;
}
